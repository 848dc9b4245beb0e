//! The embedded default backend on redb: durable on disk, one global revision,
//! an event log for watch history, and group commit (one writer thread
//! gathers the writes waiting for it into one durable transaction, so
//! throughput is not capped at one fsync per write; every write is
//! acknowledged only after its transaction is durable).
//!
//! Tables: `objects` (key → create_rev, mod_rev, value), `events` (rev → the
//! change, for watches that resume from an old revision) and `meta` (the
//! current revision and the compacted revision).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    Event, EventStream, KeyValue, ListResult, Rev, Storage, StorageError, through_first_error,
};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The store's current revision, as `META` records it (1 in a new store).
fn meta_rev(meta: &impl ReadableTable<&'static str, u64>) -> Result<Rev, StorageError> {
    Ok(meta
        .get("rev")
        .map_err(internal)?
        .map(|v| v.value())
        .unwrap_or(1))
}

/// The revision the event log is compacted up to, as `META` records it.
fn meta_compacted(meta: &impl ReadableTable<&'static str, u64>) -> Result<Rev, StorageError> {
    Ok(meta
        .get("compacted")
        .map_err(internal)?
        .map(|v| v.value())
        .unwrap_or(0))
}

/// How many writes one commit gathers at most.
const MAX_BATCH: usize = 512;
/// redb's page cache (read cache and write buffer together). redb's default
/// is 1 GiB, which a store of 10,000 ConfigMaps fills to ≈ 35 MiB with the
/// pages its writes leave behind; reads that miss it are served from the
/// kernel's page cache. 4 MiB keeps kapi with 10,000 ConfigMaps, its watch
/// cache filled and 100 watches open under 50 MiB, for ≈ 4 µs more CPU per
/// GET by name (BENCHMARKS.md, "Memory and watch fan-out").
const CACHE_BYTES: usize = 4 << 20;

/// How many events a watcher may fall behind before it is cut off.
const WATCH_BUFFER: usize = 8192;

enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Rev,
    },
    Delete {
        key: String,
        expected: Option<Rev>,
    },
}

type Reply = oneshot::Sender<Result<(KeyValue, Rev), StorageError>>;

/// The redb-backed store.
pub struct EmbeddedStore {
    db: Arc<Database>,
    writes: mpsc::UnboundedSender<(Op, Reply)>,
    events: broadcast::Sender<Arc<Event>>,
    /// The last committed revision.
    rev: Arc<AtomicU64>,
    /// Revisions at or below this are gone from the event log.
    compacted: Arc<AtomicU64>,
    /// How many durable commits the writer made (group commit: fewer than writes).
    commits: Arc<AtomicU64>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EmbeddedStore {
    /// Stops the writer (after the writes already queued) so the file can be opened again.
    fn drop(&mut self) {
        let (closed, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.writes, closed));
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

fn internal(e: impl std::fmt::Display) -> StorageError {
    StorageError::Internal(e.to_string())
}

/// Object row: create_rev (8 bytes LE), mod_rev (8 bytes LE), value.
fn encode_object(create_rev: Rev, mod_rev: Rev, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + value.len());
    out.extend_from_slice(&create_rev.to_le_bytes());
    out.extend_from_slice(&mod_rev.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn decode_object(key: &str, row: &[u8]) -> Result<KeyValue, StorageError> {
    if row.len() < 16 {
        return Err(internal(format!("corrupt row for {key}")));
    }
    let create_rev = u64::from_le_bytes(row[0..8].try_into().map_err(internal)?);
    let mod_rev = u64::from_le_bytes(row[8..16].try_into().map_err(internal)?);
    Ok(KeyValue {
        key: key.to_string(),
        value: Bytes::copy_from_slice(&row[16..]),
        create_rev,
        mod_rev,
    })
}

/// Event row: kind (0 put, 1 delete, 2 update), key length (4 bytes LE), key,
/// then the object row (for a delete: the last state). An update (kind 2)
/// has the new object row's length (4 bytes LE) before it and the previous
/// state's object row after it, so a list at an older revision can restore
/// what the update replaced (rows written before kind 2 existed are kind 0).
fn encode_event(ev: &Event, prev: Option<&KeyValue>) -> Vec<u8> {
    let (kind, kv) = match (ev, prev) {
        (Event::Put { kv }, None) => (0u8, kv),
        (Event::Put { kv }, Some(_)) => (2u8, kv),
        (Event::Delete { prev, .. }, _) => (1u8, prev),
    };
    let mut out = vec![kind];
    out.extend_from_slice(&(kv.key.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.key.as_bytes());
    let row = encode_object(kv.create_rev, kv.mod_rev, &kv.value);
    if let (2, Some(p)) = (kind, prev) {
        out.extend_from_slice(&(row.len() as u32).to_le_bytes());
        out.extend_from_slice(&row);
        out.extend_from_slice(&encode_object(p.create_rev, p.mod_rev, &p.value));
    } else {
        out.extend_from_slice(&row);
    }
    out
}

/// An event row's parts: its kind (0: put, 1: delete, 2: update with the
/// previous state), its key and its body.
fn event_parts(rev: Rev, row: &[u8]) -> Result<(u8, &str, &[u8]), StorageError> {
    let bad = || internal(format!("corrupt event {rev}"));
    let kind = *row.first().ok_or_else(bad)?;
    let len = le_u32(row.get(1..5).ok_or_else(bad)?)? as usize;
    let key = std::str::from_utf8(row.get(5..5 + len).ok_or_else(bad)?).map_err(internal)?;
    Ok((kind, key, row.get(5 + len..).ok_or_else(bad)?))
}

/// The new and the previous object rows of an update row's body.
fn update_rows(rev: Rev, body: &[u8]) -> Result<(&[u8], &[u8]), StorageError> {
    let bad = || internal(format!("corrupt event {rev}"));
    let n = le_u32(body.get(0..4).ok_or_else(bad)?)? as usize;
    Ok((
        body.get(4..4 + n).ok_or_else(bad)?,
        body.get(4 + n..).ok_or_else(bad)?,
    ))
}

fn le_u32(bytes: &[u8]) -> Result<u32, StorageError> {
    Ok(u32::from_le_bytes(bytes.try_into().map_err(internal)?))
}

/// What an event row says about its key's state before the event: `Some(None)`:
/// absent (a create), `Some(Some(kv))`: that state (an update or a delete),
/// `None`: unknown (an update row from before kind 2).
fn state_before(ev_row: &[u8], rev: Rev) -> Result<Option<Option<KeyValue>>, StorageError> {
    let (kind, key, body) = event_parts(rev, ev_row)?;
    match kind {
        1 => Ok(Some(Some(decode_object(key, body)?))),
        2 => {
            let (_, prev) = update_rows(rev, body)?;
            Ok(Some(Some(decode_object(key, prev)?)))
        }
        _ => {
            let kv = decode_object(key, body)?;
            Ok(if kv.create_rev == kv.mod_rev {
                Some(None)
            } else {
                None
            })
        }
    }
}

fn decode_event(rev: Rev, row: &[u8]) -> Result<Event, StorageError> {
    let (kind, key, body) = event_parts(rev, row)?;
    Ok(match kind {
        0 => Event::Put {
            kv: decode_object(key, body)?,
        },
        2 => Event::Put {
            kv: decode_object(key, update_rows(rev, body)?.0)?,
        },
        _ => Event::Delete {
            prev: decode_object(key, body)?,
            rev,
        },
    })
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("kapi.redb");
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| internal(format!("cannot open {}: {e}", path.display())))?;
        Self::from_db(db)
    }

    /// A store in memory only (nothing survives it): for the in-process test
    /// server, where start-up time matters and durability does not.
    pub fn open_in_memory() -> Result<Self, StorageError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| internal(format!("cannot create an in-memory store: {e}")))?;
        Self::from_db(db)
    }

    fn from_db(db: Database) -> Result<Self, StorageError> {
        let (rev, compacted) = {
            let txn = db.begin_write().map_err(internal)?;
            let (rev, compacted) = {
                let _ = txn.open_table(OBJECTS).map_err(internal)?;
                let _ = txn.open_table(EVENTS).map_err(internal)?;
                let meta = txn.open_table(META).map_err(internal)?;
                let rev = meta_rev(&meta)?;
                let compacted = meta_compacted(&meta)?;
                (rev, compacted)
            };
            txn.commit().map_err(internal)?;
            (rev, compacted)
        };
        let db = Arc::new(db);
        let (events, _) = broadcast::channel(WATCH_BUFFER);
        let (writes, rx) = mpsc::unbounded_channel();
        let rev = Arc::new(AtomicU64::new(rev));
        let compacted = Arc::new(AtomicU64::new(compacted));
        let commits = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            db: db.clone(),
            events: events.clone(),
            rev: rev.clone(),
            commits: commits.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("kapi-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(internal)?;
        Ok(EmbeddedStore {
            db,
            writes,
            events,
            rev,
            compacted,
            commits,
            writer: Some(writer),
        })
    }

    /// How many durable commits the store made since it was opened.
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Drops the event log up to and including `rev` (in its own transaction,
    /// which redb serialises with the writer's).
    fn compact_blocking(db: &Database, rev: Rev) -> Result<Rev, StorageError> {
        let txn = db.begin_write().map_err(internal)?;
        let compacted = {
            let mut meta = txn.open_table(META).map_err(internal)?;
            let current = meta_rev(&meta)?;
            let old = meta_compacted(&meta)?;
            let target = rev.min(current);
            if target <= old {
                return Ok(old);
            }
            let mut log = txn.open_table(EVENTS).map_err(internal)?;
            log.retain_in(..=target, |_, _| false).map_err(internal)?;
            meta.insert("compacted", target).map_err(internal)?;
            target
        };
        txn.commit().map_err(internal)?;
        Ok(compacted)
    }

    async fn write(&self, op: Op) -> Result<(KeyValue, Rev), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.writes
            .send((op, tx))
            .map_err(|_| StorageError::Unavailable("the store's writer has stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Unavailable("the store's writer has stopped".into()))?
    }

    fn read_list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListResult, StorageError> {
        let txn = self.db.begin_read().map_err(internal)?;
        // Read the revision inside the snapshot: the writer stores it in the same commit.
        let meta = txn.open_table(META).map_err(internal)?;
        let rev = meta_rev(&meta)?;
        let table = txn.open_table(OBJECTS).map_err(internal)?;
        let start = match start_after {
            Some(s) if s >= prefix => format!("{s}\0"),
            _ => prefix.to_string(),
        };
        let mut items = Vec::new();
        let mut remaining = 0u64;
        for entry in table.range(start.as_str()..).map_err(internal)? {
            let (k, v) = entry.map_err(internal)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            if limit > 0 && items.len() == limit {
                // Past the limit the keys are only counted.
                remaining += 1;
                continue;
            }
            items.push(decode_object(key, v.value())?);
        }
        Ok(ListResult {
            items,
            rev,
            more: remaining > 0,
            remaining: (limit > 0).then_some(remaining),
        })
    }

    /// A read snapshot that still knows the history from revision `from`
    /// on, and the store's revision in it; `Compacted` otherwise. The
    /// compaction is checked in the same snapshot as the log is then read,
    /// so a compaction running meanwhile cannot leave a gap.
    fn snapshot_from(&self, from: Rev) -> Result<(redb::ReadTransaction, Rev), StorageError> {
        let txn = self.db.begin_read().map_err(internal)?;
        let meta = txn.open_table(META).map_err(internal)?;
        let rev = meta_rev(&meta)?;
        let compacted = meta_compacted(&meta)?;
        if from < compacted {
            return Err(StorageError::Compacted {
                requested: from,
                compacted,
            });
        }
        drop(meta);
        Ok((txn, rev))
    }

    /// The keys under `prefix` after `start_after` as they were at `at`:
    /// the current objects, with every key changed after `at` put back to
    /// its state before its first change after `at` (from the event log,
    /// in the same read snapshot).
    fn read_list_at(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Rev,
    ) -> Result<ListResult, StorageError> {
        let (txn, rev) = self.snapshot_from(at)?;
        let start = match start_after {
            Some(s) if s >= prefix => format!("{s}\0"),
            _ => prefix.to_string(),
        };
        // Keys changed after `at`: their state at `at` (None: absent).
        let mut restored: BTreeMap<String, Option<KeyValue>> = BTreeMap::new();
        if at < rev {
            let log = txn.open_table(EVENTS).map_err(internal)?;
            for entry in log.range(at + 1..).map_err(internal)? {
                let (k, v) = entry.map_err(internal)?;
                let row = v.value();
                let ev = decode_event(k.value(), row)?;
                let key = ev.key();
                if !key.starts_with(prefix) || key < start.as_str() || restored.contains_key(key) {
                    continue;
                }
                match state_before(row, k.value())? {
                    Some(state) => {
                        restored.insert(key.to_string(), state);
                    }
                    // An update logged without its previous state: not known any more.
                    None => {
                        return Err(StorageError::Compacted {
                            requested: at,
                            compacted: k.value(),
                        });
                    }
                }
            }
        }
        let table = txn.open_table(OBJECTS).map_err(internal)?;
        let mut current = table.range(start.as_str()..).map_err(internal)?.peekable();
        let mut old = restored.into_iter().peekable();
        let mut items = Vec::new();
        let mut remaining = 0u64;
        loop {
            let full = limit > 0 && items.len() == limit;
            let cur_key = match current.peek() {
                Some(Ok((k, _))) if k.value().starts_with(prefix) => Some(k.value().to_string()),
                Some(Err(_)) => {
                    if let Some(Err(e)) = current.next() {
                        return Err(internal(e));
                    }
                    None
                }
                _ => None,
            };
            let old_key = old.peek().map(|(k, _)| k.clone());
            let next = match (cur_key, old_key) {
                (None, None) => break,
                (Some(c), Some(o)) if o <= c => {
                    if o == c {
                        current.next();
                    }
                    old.next().and_then(|(_, state)| state)
                }
                (Some(c), _) => {
                    let (_, v) = current
                        .next()
                        .ok_or_else(|| internal("object row vanished"))?
                        .map_err(internal)?;
                    // Past the limit the keys are only counted.
                    if full {
                        remaining += 1;
                        continue;
                    }
                    Some(decode_object(&c, v.value())?)
                }
                (None, Some(_)) => old.next().and_then(|(_, state)| state),
            };
            let Some(kv) = next else { continue };
            if full {
                remaining += 1;
                continue;
            }
            items.push(kv);
        }
        Ok(ListResult {
            items,
            rev: at.min(rev),
            more: remaining > 0,
            remaining: (limit > 0).then_some(remaining),
        })
    }

    fn read_history(&self, prefix: &str, after: Rev) -> Result<(Vec<Event>, Rev), StorageError> {
        let (txn, rev) = self.snapshot_from(after)?;
        let table = txn.open_table(EVENTS).map_err(internal)?;
        let mut out = Vec::new();
        for entry in table.range(after + 1..).map_err(internal)? {
            let (k, v) = entry.map_err(internal)?;
            let ev = decode_event(k.value(), v.value())?;
            if ev.key().starts_with(prefix) {
                out.push(ev);
            }
        }
        Ok((out, rev))
    }
}

#[async_trait]
impl Storage for EmbeddedStore {
    fn serves_consistent_reads_from_cache(&self) -> bool {
        // One process owns the store: its current revision is what the
        // watch cache must reach to be consistent.
        true
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StorageError> {
        let txn = self.db.begin_read().map_err(internal)?;
        let table = txn.open_table(OBJECTS).map_err(internal)?;
        match table.get(key).map_err(internal)? {
            Some(v) => Ok(Some(decode_object(key, v.value())?)),
            None => Ok(None),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListResult, StorageError> {
        self.read_list(prefix, start_after, limit)
    }

    async fn list_at(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        rev: Rev,
    ) -> Result<ListResult, StorageError> {
        self.read_list_at(prefix, start_after, limit, rev)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        self.write(Op::Create {
            key: key.to_string(),
            value,
        })
        .await
        .map(|(kv, _)| kv)
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_rev: Rev,
    ) -> Result<KeyValue, StorageError> {
        self.write(Op::Update {
            key: key.to_string(),
            value,
            expected: expected_mod_rev,
        })
        .await
        .map(|(kv, _)| kv)
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_rev: Option<Rev>,
    ) -> Result<(KeyValue, Rev), StorageError> {
        self.write(Op::Delete {
            key: key.to_string(),
            expected: expected_mod_rev,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: Rev) -> Result<EventStream, StorageError> {
        let compacted = self.compacted.load(Ordering::Acquire);
        if after < compacted {
            return Err(StorageError::Compacted {
                requested: after,
                compacted,
            });
        }
        // Subscribe before reading history so that nothing falls between the two.
        let live = self.events.subscribe();
        let (history, _) = self.read_history(prefix, after)?;
        let mut last = history.last().map(|e| e.rev()).unwrap_or(after);
        let prefix = prefix.to_string();
        let history = futures::stream::iter(history.into_iter().map(Ok));
        let live = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(move |item| {
            let out = match item {
                Ok(ev) if ev.rev() > last && ev.key().starts_with(&prefix) => {
                    last = ev.rev();
                    Some(Ok((*ev).clone()))
                }
                Ok(_) => None,
                Err(_) => Some(Err(StorageError::WatcherTooSlow)),
            };
            futures::future::ready(out)
        });
        // A watcher that fell behind gets one error and then nothing more.
        Ok(through_first_error(history.chain(live)))
    }

    async fn current_rev(&self) -> Result<Rev, StorageError> {
        Ok(self.rev.load(Ordering::Acquire))
    }

    async fn compact(&self, rev: Rev) -> Result<Rev, StorageError> {
        let db = self.db.clone();
        let done = tokio::task::spawn_blocking(move || Self::compact_blocking(&db, rev))
            .await
            .map_err(internal)??;
        self.compacted.fetch_max(done, Ordering::AcqRel);
        Ok(done)
    }

    async fn check_history(&self, rev: Rev) -> Result<(), StorageError> {
        let compacted = self.compacted.load(Ordering::Acquire);
        if rev < compacted {
            return Err(StorageError::Compacted {
                requested: rev,
                compacted,
            });
        }
        Ok(())
    }
}

struct Writer {
    db: Arc<Database>,
    events: broadcast::Sender<Arc<Event>>,
    rev: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    fn run(self, mut rx: mpsc::UnboundedReceiver<(Op, Reply)>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    /// Applies a batch in one durable transaction and answers every request in it.
    fn commit(&self, batch: Vec<(Op, Reply)>) {
        let mut results: Vec<Result<(KeyValue, Rev), StorageError>> =
            Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        let outcome = (|| -> Result<Rev, StorageError> {
            let mut txn = self.db.begin_write().map_err(internal)?;
            txn.set_durability(Durability::Immediate)
                .map_err(internal)?;
            let mut rev = self.rev.load(Ordering::Acquire);
            {
                let mut objects = txn.open_table(OBJECTS).map_err(internal)?;
                let mut log = txn.open_table(EVENTS).map_err(internal)?;
                for (op, _) in &batch {
                    let result = apply(&mut objects, op, rev + 1);
                    let result = match result {
                        Ok((kv, r, replaced)) => {
                            rev += 1;
                            let ev = match op {
                                Op::Delete { .. } => Event::Delete {
                                    prev: kv.clone(),
                                    rev: r,
                                },
                                _ => Event::Put { kv: kv.clone() },
                            };
                            log.insert(rev, encode_event(&ev, replaced.as_ref()).as_slice())
                                .map_err(internal)?;
                            events.push(ev);
                            Ok((kv, r))
                        }
                        Err(e) => Err(e),
                    };
                    results.push(result);
                }
                let mut meta = txn.open_table(META).map_err(internal)?;
                meta.insert("rev", rev).map_err(internal)?;
            }
            txn.commit().map_err(internal)?;
            self.commits.fetch_add(1, Ordering::AcqRel);
            Ok(rev)
        })();
        match outcome {
            Ok(rev) => {
                self.rev.store(rev, Ordering::Release);
                for ev in events {
                    // No receivers is fine.
                    let _ = self.events.send(Arc::new(ev));
                }
                for ((_, reply), result) in batch.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed");
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Applies one write; also returns the state an update replaced.
fn apply(
    objects: &mut redb::Table<&str, &[u8]>,
    op: &Op,
    rev: Rev,
) -> Result<(KeyValue, Rev, Option<KeyValue>), StorageError> {
    match op {
        Op::Create { key, value } => {
            if objects.get(key.as_str()).map_err(internal)?.is_some() {
                return Err(StorageError::AlreadyExists(key.clone()));
            }
            objects
                .insert(key.as_str(), encode_object(rev, rev, value).as_slice())
                .map_err(internal)?;
            Ok((
                KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_rev: rev,
                    mod_rev: rev,
                },
                rev,
                None,
            ))
        }
        Op::Update {
            key,
            value,
            expected,
        } => {
            let current = match objects.get(key.as_str()).map_err(internal)? {
                Some(v) => decode_object(key, v.value())?,
                None => return Err(StorageError::NotFound(key.clone())),
            };
            if current.mod_rev != *expected {
                return Err(StorageError::Conflict {
                    key: key.clone(),
                    expected: *expected,
                    found: current.mod_rev,
                });
            }
            objects
                .insert(
                    key.as_str(),
                    encode_object(current.create_rev, rev, value).as_slice(),
                )
                .map_err(internal)?;
            let create_rev = current.create_rev;
            Ok((
                KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_rev,
                    mod_rev: rev,
                },
                rev,
                Some(current),
            ))
        }
        Op::Delete { key, expected } => {
            let current = match objects.get(key.as_str()).map_err(internal)? {
                Some(v) => decode_object(key, v.value())?,
                None => return Err(StorageError::NotFound(key.clone())),
            };
            if let Some(expected) = expected
                && current.mod_rev != *expected
            {
                return Err(StorageError::Conflict {
                    key: key.clone(),
                    expected: *expected,
                    found: current.mod_rev,
                });
            }
            objects.remove(key.as_str()).map_err(internal)?;
            Ok((current, rev, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        crate::storage::conformance::run(&store).await;
    }

    #[test]
    fn event_rows_say_what_their_key_was_before() {
        let kv = |create, m, v: &'static [u8]| KeyValue {
            key: "/a/x".into(),
            value: Bytes::from_static(v),
            create_rev: create,
            mod_rev: m,
        };
        let created = encode_event(&Event::Put { kv: kv(5, 5, b"1") }, None);
        assert_eq!(state_before(&created, 5).unwrap(), Some(None));
        let updated = encode_event(&Event::Put { kv: kv(5, 7, b"2") }, Some(&kv(5, 5, b"1")));
        assert_eq!(
            state_before(&updated, 7).unwrap(),
            Some(Some(kv(5, 5, b"1")))
        );
        // The watch path reads the new state of an update row.
        assert_eq!(
            decode_event(7, &updated).unwrap(),
            Event::Put { kv: kv(5, 7, b"2") }
        );
        let deleted = encode_event(
            &Event::Delete {
                prev: kv(5, 7, b"2"),
                rev: 9,
            },
            None,
        );
        assert_eq!(
            state_before(&deleted, 9).unwrap(),
            Some(Some(kv(5, 7, b"2")))
        );
        // An update row from before updates logged what they replaced: unknown.
        let legacy = encode_event(&Event::Put { kv: kv(5, 7, b"2") }, None);
        assert_eq!(state_before(&legacy, 7).unwrap(), None);
        assert_eq!(
            decode_event(7, &legacy).unwrap(),
            Event::Put { kv: kv(5, 7, b"2") }
        );
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let rev = {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .create("/a/x", Bytes::from_static(b"1"))
                .await
                .unwrap()
                .mod_rev
        };
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let kv = store.get("/a/x").await.unwrap().unwrap();
        assert_eq!(kv.value, Bytes::from_static(b"1"));
        assert_eq!(kv.mod_rev, rev);
        assert_eq!(store.current_rev().await.unwrap(), rev);
        // History survives too: a watch from before the write replays it.
        let mut w = store.watch("/a/", rev - 1).await.unwrap();
        let ev = w.next().await.unwrap().unwrap();
        assert_eq!(ev.rev(), rev);
    }

    #[tokio::test]
    async fn compaction_drops_history_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (r1, r3) = {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let r1 = store
                .create("/a/1", Bytes::from_static(b"1"))
                .await
                .unwrap()
                .mod_rev;
            let r2 = store
                .create("/a/2", Bytes::from_static(b"2"))
                .await
                .unwrap()
                .mod_rev;
            let r3 = store
                .create("/a/3", Bytes::from_static(b"3"))
                .await
                .unwrap()
                .mod_rev;
            assert_eq!(store.compact(r2).await.unwrap(), r2);
            // Below the compacted revision: 410; at it: the later history.
            assert_eq!(
                store.watch("/a/", r1).await.err(),
                Some(StorageError::Compacted {
                    requested: r1,
                    compacted: r2
                })
            );
            assert!(store.check_history(r1).await.is_err());
            store.check_history(r2).await.unwrap();
            let mut w = store.watch("/a/", r2).await.unwrap();
            assert_eq!(w.next().await.unwrap().unwrap().rev(), r3);
            // Compacting backwards changes nothing; objects stay.
            assert_eq!(store.compact(r1).await.unwrap(), r2);
            assert_eq!(store.list("/a/", None, 0).await.unwrap().items.len(), 3);
            (r1, r3)
        };
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert!(matches!(
            store.watch("/a/", r1).await.err(),
            Some(StorageError::Compacted { .. })
        ));
        let events = {
            let txn = store.db.begin_read().unwrap();
            let log = txn.open_table(EVENTS).unwrap();
            log.range(0..).unwrap().count()
        };
        assert_eq!(events, 1, "only the event of {r3} is left in the log");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        const WRITES: u64 = 400;
        let before = store.commit_count();
        let writes = (0..WRITES).map(|i| {
            let store = &store;
            async move {
                store
                    .create(&format!("/g/{i:04}"), Bytes::from_static(b"x"))
                    .await
                    .unwrap()
            }
        });
        let done = futures::future::join_all(writes).await;
        assert_eq!(done.len() as u64, WRITES);
        let commits = store.commit_count() - before;
        eprintln!("{WRITES} concurrent writes took {commits} commits");
        assert!(commits >= 1);
        assert!(
            commits * 4 <= WRITES,
            "group commit should share commits: {commits} commits for {WRITES} writes"
        );
        // Every acknowledged write is there.
        assert_eq!(
            store.list("/g/", None, 0).await.unwrap().items.len() as usize,
            WRITES as usize
        );
    }
}
