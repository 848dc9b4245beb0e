//! The watch cache of one resource type: one storage watch feeds the current
//! objects and a bounded window of recent events; every API watch of the
//! type is served from it (upstream: apiserver `pkg/storage/cacher`).
//!
//! Each event is decoded and serialised once, when it is applied; watchers
//! share the bytes. Events reach watchers through a bounded broadcast
//! channel: a watcher that falls `FANOUT_CAPACITY` events behind is cut off
//! with an ERROR 410 so that its client relists, and never slows the others
//! or grows memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::error::ApiError;
use crate::rest::store::decode_stored;
use crate::storage::{Event, ProgressRequester, Rev, Storage, StorageError};

/// How many recent events the cache keeps for watches that resume from a
/// resourceVersion.
pub const WINDOW_CAPACITY: usize = 1024;
/// How many events a watcher may fall behind before it is cut off.
pub const FANOUT_CAPACITY: usize = 4096;

/// How many objects one read of the cache's initial fill brings.
const FILL_PAGE: usize = 500;

/// How often a cache behind the store's revision asks for a progress report.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// How long it asks before the caller reads storage instead.
pub const PROGRESS_WAIT: Duration = Duration::from_secs(1);

/// What the storage watch gave the feeder.
enum Fed {
    Change(Option<Result<Event, StorageError>>),
    Progress(Rev),
}

/// One change, decoded and serialised once for every watcher.
#[derive(Debug)]
pub struct CachedEvent {
    /// The revision of the change.
    pub rev: Rev,
    /// The storage key.
    pub key: String,
    /// ADDED, MODIFIED or DELETED, as an unfiltered watch reports it.
    pub type_: &'static str,
    /// The object the event carries (for DELETED: the last state, at the
    /// delete's resourceVersion).
    pub object: Arc<Value>,
    /// The state before the change, if the key existed.
    pub prev: Option<Arc<Value>>,
    /// `{"type":…,"object":…}\n`, the JSON line of the event.
    pub line: Bytes,
}

/// The object's JSON, in an allocation of its own size (`serde_json::to_vec`
/// grows by doubling, and `Bytes` keeps the whole capacity: up to twice the
/// memory for every cached object).
fn encode(v: &Value, size_hint: usize) -> Bytes {
    let mut out = Vec::with_capacity(size_hint + 64);
    crate::wire_json::write(&mut out, v);
    out.shrink_to_fit();
    Bytes::from(out)
}

/// Where the object starts in a line made by [`event_line`] for `type_`.
fn object_start(type_: &str) -> usize {
    br#"{"type":""#.len() + type_.len() + br#"","object":"#.len()
}

/// The JSON line of a watch event: `{"type":…,"object":…}` in upstream's key
/// order (clients that scan the start of a line for the type rely on it).
pub fn event_line(type_: &str, object: &Value) -> Bytes {
    event_line_sized(type_, object, 512)
}

fn event_line_sized(type_: &str, object: &Value, size_hint: usize) -> Bytes {
    let mut line = Vec::with_capacity(size_hint + 96);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(type_.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    crate::wire_json::write(&mut line, object);
    line.extend_from_slice(b"}\n");
    line.shrink_to_fit();
    Bytes::from(line)
}

/// One cached object version: its JSON (shared with its event line) and,
/// once a protobuf client has asked for it, its protobuf message bytes (the
/// kind's message, without the `runtime.Unknown` envelope), made at most once
/// per version. JSON-only users pay an empty cell.
#[derive(Debug, Default)]
pub struct CachedObject {
    /// The object's JSON, its resourceVersion set.
    pub json: Bytes,
    proto: OnceLock<Bytes>,
}

impl CachedObject {
    /// A cached object of these JSON bytes.
    pub fn new(json: Bytes) -> Arc<CachedObject> {
        Arc::new(CachedObject {
            json,
            proto: OnceLock::new(),
        })
    }

    /// The object's protobuf message, made by `make` from the JSON the first
    /// time (sized exactly); `None` if it cannot be made (then not kept).
    pub fn protobuf(&self, make: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> Option<Bytes> {
        if let Some(b) = self.proto.get() {
            return Some(b.clone());
        }
        let mut v = make(&self.json)?;
        v.shrink_to_fit();
        // Two requests may both make it the first time; one value is kept.
        Some(self.proto.get_or_init(|| Bytes::from(v)).clone())
    }

    /// Whether the protobuf form has been made.
    pub fn has_protobuf(&self) -> bool {
        self.proto.get().is_some()
    }
}

struct State {
    /// Current objects by key, as JSON with their resourceVersion set (bytes,
    /// not parsed values: a third of the memory).
    objects: BTreeMap<String, Arc<CachedObject>>,
    /// Recent events, oldest first; it covers every change after `window_start`.
    window: VecDeque<Arc<CachedEvent>>,
    window_start: Rev,
    /// The revision the cache reflects.
    rev: Rev,
    /// Dropped when the storage watch fails: every receiver then ends.
    tx: Option<broadcast::Sender<Arc<CachedEvent>>>,
}

/// What a new watcher starts from.
pub enum Start {
    /// The current objects at `rev`, then the live events.
    Snapshot {
        /// The objects as JSON, in key order.
        objects: Vec<Bytes>,
        /// The revision of the snapshot.
        rev: Rev,
        /// Live events after `rev`.
        rx: broadcast::Receiver<Arc<CachedEvent>>,
    },
    /// The window's events after the revision asked for, then the live events.
    Replay {
        /// Events after the revision asked for.
        events: Vec<Arc<CachedEvent>>,
        /// The revision of the last of them (or the one asked for).
        rev: Rev,
        /// Live events after `rev`.
        rx: broadcast::Receiver<Arc<CachedEvent>>,
    },
    /// The revision is older than the window: the caller reads storage.
    TooOld,
}

/// The cache of one key prefix (one resource type, all namespaces).
pub struct WatchCache {
    state: RwLock<State>,
    progress: watch::Sender<Rev>,
    prefix: String,
    /// Asks the storage watch where it is, if the store can say
    /// ([`Storage::watch_with_progress`]).
    requester: Option<ProgressRequester>,
}

impl WatchCache {
    /// Lists `prefix`, starts the storage watch after the list's revision and
    /// returns the cache it feeds.
    pub async fn start(
        storage: Arc<dyn Storage>,
        prefix: String,
    ) -> Result<Arc<WatchCache>, StorageError> {
        Self::start_sized(storage, prefix, FANOUT_CAPACITY, FILL_PAGE).await
    }

    /// [`WatchCache::start`] with watchers cut off `fanout` events behind and
    /// a fill of pages of `fill_page` objects (tests make both small).
    async fn start_sized(
        storage: Arc<dyn Storage>,
        prefix: String,
        fanout: usize,
        fill_page: usize,
    ) -> Result<Arc<WatchCache>, StorageError> {
        // Filled page by page, every page at the first one's revision (as
        // upstream's cacher lists in pages): the stored copies of at most
        // one page exist beside the cache at any time, not a second copy of
        // every object, which the allocator would keep afterwards.
        let mut page = storage.list(&prefix, None, fill_page).await?;
        let list_rev = page.rev;
        let mut objects = BTreeMap::new();
        loop {
            let more = page.more;
            let mut last = None;
            for kv in page.items {
                if let Ok(v) = decode_stored(&kv, kv.mod_rev) {
                    let json = encode(&v, kv.value.len());
                    objects.insert(kv.key.clone(), CachedObject::new(json));
                }
                last = Some(kv.key);
            }
            match (more, last) {
                (true, Some(after)) => {
                    page = storage
                        .list_at(&prefix, Some(&after), fill_page, list_rev)
                        .await?;
                }
                _ => break,
            }
        }
        // The watch covers the store's whole root, not just the prefix: every
        // write then moves the cache's revision, so "caught up with the
        // store's revision" can be known (a watch of the prefix alone would
        // never see the revisions of other types' writes).
        let root = format!("{}/", storage.key_prefix());
        let (events, requester, mut reports) =
            match storage.watch_with_progress(&root, list_rev).await? {
                Some(w) => (w.events, Some(w.requester), Some(w.reports)),
                None => (storage.watch(&root, list_rev).await?, None, None),
            };
        let (tx, _) = broadcast::channel(fanout);
        let (progress, _) = watch::channel(list_rev);
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State {
                objects,
                window: VecDeque::new(),
                window_start: list_rev,
                rev: list_rev,
                tx: Some(tx),
            }),
            progress,
            prefix,
            requester,
        });
        let feeder = Arc::downgrade(&cache);
        tokio::spawn(async move {
            let mut events = events;
            loop {
                // A report R comes only after every change up to R was
                // yielded, and each change is applied before the next poll.
                let next = match &mut reports {
                    None => Fed::Change(events.next().await),
                    Some(r) => tokio::select! {
                        next = events.next() => Fed::Change(next),
                        Some(rev) = r.recv() => Fed::Progress(rev),
                    },
                };
                let Some(cache) = feeder.upgrade() else {
                    return;
                };
                match next {
                    Fed::Change(Some(Ok(ev))) => cache.apply(ev),
                    Fed::Progress(rev) => cache.advance(rev),
                    Fed::Change(Some(Err(e))) => {
                        tracing::warn!(prefix = %cache.prefix, error = %e, "watch cache lost its storage watch");
                        break;
                    }
                    Fed::Change(None) => break,
                }
            }
            if let Some(cache) = feeder.upgrade() {
                cache.fail();
            }
        });
        Ok(cache)
    }

    /// Whether the storage watch behind the cache has ended.
    pub fn failed(&self) -> bool {
        self.state.read().map(|s| s.tx.is_none()).unwrap_or(true)
    }

    fn fail(&self) {
        if let Ok(mut s) = self.state.write() {
            s.tx = None;
        }
    }

    /// The store reported that the watch has yielded every change up to
    /// `rev`: the cache reflects `rev` now.
    fn advance(&self, rev: Rev) {
        let Ok(mut s) = self.state.write() else {
            return;
        };
        if rev > s.rev {
            s.rev = rev;
            drop(s);
            self.progress.send_replace(rev);
        }
    }

    fn apply(&self, ev: Event) {
        let Ok(mut s) = self.state.write() else {
            return;
        };
        let rev = ev.rev();
        if rev <= s.rev {
            return;
        }
        if !ev.key().starts_with(&self.prefix) {
            // Another type's write: only the revision moves.
            s.rev = rev;
            drop(s);
            self.progress.send_replace(rev);
            return;
        }
        let key = ev.key().to_string();
        let prev = s
            .objects
            .get(&key)
            .and_then(|b| serde_json::from_slice::<Value>(&b.json).ok())
            .map(Arc::new);
        let (type_, object, line) = match &ev {
            Event::Put { kv } => {
                let Ok(obj) = decode_stored(kv, kv.mod_rev) else {
                    s.rev = rev;
                    return;
                };
                let type_ = if prev.is_some() { "MODIFIED" } else { "ADDED" };
                let line = event_line_sized(type_, &obj, kv.value.len());
                // The cached object is the line's object part: one
                // allocation for both.
                let json = line.slice(object_start(type_)..line.len() - 2);
                s.objects.insert(key.clone(), CachedObject::new(json));
                (type_, Arc::new(obj), line)
            }
            Event::Delete { prev: last, rev } => {
                s.objects.remove(&key);
                let Ok(obj) = decode_stored(last, *rev) else {
                    s.rev = *rev;
                    return;
                };
                let line = event_line_sized("DELETED", &obj, last.value.len());
                ("DELETED", Arc::new(obj), line)
            }
        };
        let cached = Arc::new(CachedEvent {
            rev,
            key,
            type_,
            object,
            prev,
            line,
        });
        s.window.push_back(cached.clone());
        while s.window.len() > WINDOW_CAPACITY {
            if let Some(old) = s.window.pop_front() {
                s.window_start = old.rev;
            }
        }
        s.rev = rev;
        if let Some(tx) = &s.tx {
            // No receiver is not an error: nobody watches right now.
            let _ = tx.send(cached);
        }
        drop(s);
        self.progress.send_replace(rev);
    }

    /// The revision the cache reflects.
    pub fn rev(&self) -> Rev {
        *self.progress.borrow()
    }

    /// Waits (at most `within`) until the cache reflects revision `rev`.
    pub async fn wait_for(&self, rev: Rev, within: Duration) -> Result<(), ApiError> {
        let mut rx = self.progress.subscribe();
        let wait = rx.wait_for(|r| *r >= rev);
        match tokio::time::timeout(within, wait).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::timeout(format!(
                "Too large resource version: {rev}, current: {}",
                self.rev()
            ))),
        }
    }

    /// Whether the cache reaches `rev` (a revision the store has reached):
    /// within `quick` from the changes it watches alone; then, where the
    /// store reports progress, by asking it every [`PROGRESS_INTERVAL`] for
    /// up to [`PROGRESS_WAIT`] (upstream's cacher does the same for
    /// consistent reads). `false`: the caller reads storage instead.
    pub async fn catch_up(&self, rev: Rev, quick: Duration) -> bool {
        if self.wait_for(rev, quick).await.is_ok() {
            return true;
        }
        let Some(requester) = &self.requester else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + PROGRESS_WAIT;
        while tokio::time::Instant::now() < deadline {
            requester.request();
            if self.wait_for(rev, PROGRESS_INTERVAL).await.is_ok() {
                return true;
            }
        }
        false
    }

    /// The current objects under `prefix` (as JSON) and the revision they are at.
    pub fn snapshot(&self, prefix: &str) -> Result<(Vec<Arc<CachedObject>>, Rev), ApiError> {
        let s = self
            .state
            .read()
            .map_err(|_| ApiError::internal("watch cache lock poisoned"))?;
        let items = s
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok((items, s.rev))
    }

    /// One object (as JSON) and the revision the cache is at.
    pub fn get(&self, key: &str) -> Result<(Option<Arc<CachedObject>>, Rev), ApiError> {
        let s = self
            .state
            .read()
            .map_err(|_| ApiError::internal("watch cache lock poisoned"))?;
        Ok((s.objects.get(key).cloned(), s.rev))
    }

    /// Registers a watcher: from a snapshot (`after` = None) or after a revision.
    pub fn subscribe(&self, prefix: &str, after: Option<Rev>) -> Result<Start, ApiError> {
        let s = self
            .state
            .read()
            .map_err(|_| ApiError::internal("watch cache lock poisoned"))?;
        let Some(tx) = &s.tx else {
            return Err(ApiError::unavailable("the watch cache is restarting"));
        };
        // Subscribing under the read lock: `apply` sends under the write lock,
        // so the live stream starts right after what the snapshot/window shows.
        let rx = tx.subscribe();
        match after {
            None => {
                let objects = s
                    .objects
                    .range(prefix.to_string()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(_, v)| v.json.clone())
                    .collect();
                Ok(Start::Snapshot {
                    objects,
                    rev: s.rev,
                    rx,
                })
            }
            Some(after) if after < s.window_start => Ok(Start::TooOld),
            Some(after) => {
                let events = s
                    .window
                    .iter()
                    .filter(|e| e.rev > after && e.key.starts_with(prefix))
                    .cloned()
                    .collect();
                Ok(Start::Replay {
                    events,
                    rev: s.rev.max(after),
                    rx,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::ListOptions;
    use crate::selector::LabelSelector;
    use crate::storage::embedded::EmbeddedStore;
    use crate::watch::watcher::{self, Filter, WatchPlan};
    use serde_json::json;

    const P: &str = "/registry/configmaps/";

    fn cm(name: &str, app: &str) -> Bytes {
        Bytes::from(
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}}})
            .to_string(),
        )
    }

    fn key(name: &str) -> String {
        format!("{P}ns/{name}")
    }

    /// An in-memory store: these tests are about fan-out, not durability,
    /// and thousands of fsyncs would make them as slow as the disk.
    async fn setup() -> Arc<dyn Storage> {
        Arc::new(EmbeddedStore::open_in_memory().unwrap())
    }

    fn plan(rx: broadcast::Receiver<Arc<CachedEvent>>, rev: Rev, selector: &str) -> WatchPlan {
        WatchPlan {
            initial: VecDeque::new(),
            rev,
            rx,
            filter: Filter {
                prefix: P.into(),
                opts: ListOptions {
                    label_selector: LabelSelector::parse(selector).unwrap(),
                    ..Default::default()
                },
            },
            // Long enough for thousands of durable writes on a loaded machine.
            timeout: Duration::from_secs(300),
            bookmarks: None,
        }
    }

    async fn next(s: &mut crate::rest::WatchStream) -> crate::rest::WatchEvent {
        tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
    }

    #[tokio::test]
    async fn snapshot_then_events_serialised_once_for_all_watchers() {
        let store = setup().await;
        store.create(&key("a"), cm("a", "x")).await.unwrap();
        let cache = WatchCache::start(store.clone(), P.into()).await.unwrap();
        let Start::Snapshot { objects, rev, rx } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        assert_eq!(objects.len(), 1);
        let Start::Snapshot { rx: rx2, .. } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        let mut w1 = watcher::stream(plan(rx, rev, ""));
        let mut w2 = watcher::stream(plan(rx2, rev, ""));
        store.create(&key("b"), cm("b", "x")).await.unwrap();
        let (e1, e2) = (next(&mut w1).await, next(&mut w2).await);
        assert_eq!(e1.type_, "ADDED");
        let (l1, l2) = (e1.line.unwrap(), e2.line.unwrap());
        // The same bytes, not two serialisations.
        assert_eq!(l1.as_ptr(), l2.as_ptr());
        let line: Value = serde_json::from_slice(&l1).unwrap();
        assert_eq!(line["object"]["metadata"]["name"], "b");
        assert_eq!(
            line["object"]["metadata"]["resourceVersion"],
            cache.rev().to_string()
        );
    }

    #[tokio::test]
    async fn the_cached_object_shares_the_event_line() {
        let store = setup().await;
        let cache = WatchCache::start(store.clone(), P.into()).await.unwrap();
        let Start::Snapshot { rev, rx, .. } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        let mut w = watcher::stream(plan(rx, rev, ""));
        store.create(&key("a"), cm("a", "x")).await.unwrap();
        let line = next(&mut w).await.line.unwrap();
        let (objects, _) = cache.snapshot(P).unwrap();
        let line_obj: Value = serde_json::from_slice(&line).unwrap();
        let cached: Value = serde_json::from_slice(&objects[0].json).unwrap();
        assert_eq!(line_obj["object"], cached);
        let start = objects[0].json.as_ptr() as usize - line.as_ptr() as usize;
        assert_eq!(start, object_start("ADDED"));
    }

    #[tokio::test]
    async fn selector_transitions_as_upstream() {
        let store = setup().await;
        let cache = WatchCache::start(store.clone(), P.into()).await.unwrap();
        let Start::Snapshot { rev, rx, .. } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        let mut w = watcher::stream(plan(rx, rev, "app=a"));
        let kv = store.create(&key("o"), cm("o", "b")).await.unwrap();
        store.create(&key("other"), cm("other", "b")).await.unwrap();
        let kv = store
            .update(&key("o"), cm("o", "a"), kv.mod_rev)
            .await
            .unwrap();
        let ev = next(&mut w).await;
        assert_eq!(
            (ev.type_, ev.object["metadata"]["labels"]["app"].as_str()),
            ("ADDED", Some("a"))
        );
        let moved = store
            .update(&key("o"), cm("o", "c"), kv.mod_rev)
            .await
            .unwrap();
        let ev = next(&mut w).await;
        // Out of the selector: DELETED with the previous content at the new revision.
        assert_eq!(ev.type_, "DELETED");
        assert_eq!(ev.object["metadata"]["labels"]["app"], "a");
        assert_eq!(
            ev.object["metadata"]["resourceVersion"],
            moved.mod_rev.to_string()
        );
        let kv = store
            .update(&key("o"), cm("o", "a"), moved.mod_rev)
            .await
            .unwrap();
        assert_eq!(next(&mut w).await.type_, "ADDED");
        let kv = store
            .update(&key("o"), cm("o", "a"), kv.mod_rev)
            .await
            .unwrap();
        assert_eq!(next(&mut w).await.type_, "MODIFIED");
        store.delete(&key("o"), Some(kv.mod_rev)).await.unwrap();
        let ev = next(&mut w).await;
        assert_eq!(ev.type_, "DELETED");
        assert_eq!(ev.object["metadata"]["name"], "o");
    }

    /// On etcd a revision moved by another writer reaches the cache only
    /// through a progress report; without them it never gets there.
    #[tokio::test]
    async fn catches_up_with_other_writers_through_progress_reports() {
        use crate::storage::etcd::EtcdStore;
        use crate::storage::etcd_process::EtcdProcess;
        let etcd = EtcdProcess::start();
        let plain = EtcdStore::connect(&[etcd.url()], "/registry")
            .await
            .unwrap();
        plain.health().await.unwrap();
        let plain: Arc<dyn Storage> = Arc::new(plain);
        let reporting: Arc<dyn Storage> = Arc::new(
            EtcdStore::connect(&[etcd.url()], "/registry")
                .await
                .unwrap()
                .with_progress_requests(true),
        );
        let without = WatchCache::start(plain.clone(), P.into()).await.unwrap();
        let with = WatchCache::start(reporting.clone(), P.into())
            .await
            .unwrap();
        // A write of kapi's: both see it from their watch.
        let mine = plain.create(&key("a"), cm("a", "x")).await.unwrap();
        assert!(without.catch_up(mine.mod_rev, Duration::from_secs(5)).await);
        assert!(with.catch_up(mine.mod_rev, Duration::from_secs(5)).await);
        // Another writer's, outside kapi's root.
        let other = plain
            .create("/elsewhere/x", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert!(
            !without
                .catch_up(other.mod_rev, Duration::from_millis(20))
                .await,
            "no progress reports: the cache cannot know"
        );
        assert!(
            with.catch_up(other.mod_rev, Duration::from_millis(20))
                .await
        );
        assert!(with.rev() >= other.mod_rev);
        // The cache's objects are what they were: a report moves only the revision.
        let (objects, _) = with.snapshot(P).unwrap();
        assert_eq!(objects.len(), 1);
    }

    #[tokio::test]
    async fn fills_page_by_page_at_one_revision() {
        let store = setup().await;
        // Pages of 4: the same paging as with FILL_PAGE, with fewer writes.
        const PAGE: usize = 4;
        let n = PAGE * 2 + 3;
        for i in 0..n {
            let name = format!("o{i:05}");
            store.create(&key(&name), cm(&name, "x")).await.unwrap();
        }
        // Another type's keys after the prefix's, and before it.
        store
            .create("/registry/secrets/ns/s", cm("s", "x"))
            .await
            .unwrap();
        store
            .create("/registry/apps/ns/a", cm("a", "x"))
            .await
            .unwrap();
        let rev = store.current_rev().await.unwrap();
        let cache = WatchCache::start_sized(store.clone(), P.into(), FANOUT_CAPACITY, PAGE)
            .await
            .unwrap();
        let (objects, at) = cache.snapshot(P).unwrap();
        assert_eq!(at, rev);
        assert_eq!(objects.len(), n);
        let names: Vec<String> = objects
            .iter()
            .map(|o| {
                let v: Value = serde_json::from_slice(&o.json).unwrap();
                v["metadata"]["name"].as_str().unwrap().to_string()
            })
            .collect();
        let want: Vec<String> = (0..n).map(|i| format!("o{i:05}")).collect();
        assert_eq!(names, want, "every object once, in key order");
    }

    #[tokio::test]
    async fn replay_from_window_and_too_old_below_it() {
        let store = setup().await;
        let first = store.create(&key("a"), cm("a", "x")).await.unwrap();
        let cache = WatchCache::start(store.clone(), P.into()).await.unwrap();
        let start = cache.rev();
        let b = store.create(&key("b"), cm("b", "x")).await.unwrap();
        cache
            .wait_for(b.mod_rev, Duration::from_secs(5))
            .await
            .unwrap();
        let Start::Replay { events, rev, .. } = cache.subscribe(P, Some(start)).unwrap() else {
            panic!("replay expected")
        };
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].key, key("b"));
        assert_eq!(rev, b.mod_rev);
        assert!(matches!(
            cache.subscribe(P, Some(first.mod_rev - 1)).unwrap(),
            Start::TooOld
        ));
    }

    #[tokio::test]
    async fn a_slow_watcher_is_cut_off_with_410() {
        let store = setup().await;
        // A small fan-out buffer: the same cut-off as at FANOUT_CAPACITY,
        // without thousands of writes.
        const FANOUT: usize = 16;
        let cache = WatchCache::start_sized(store.clone(), P.into(), FANOUT, FILL_PAGE)
            .await
            .unwrap();
        let Start::Snapshot { rev, rx, .. } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        let Start::Snapshot { rx: fast_rx, .. } = cache.subscribe(P, None).unwrap() else {
            panic!("snapshot expected")
        };
        let mut slow = watcher::stream(plan(rx, rev, ""));
        let mut fast = watcher::stream(plan(fast_rx, rev, ""));
        let n = FANOUT + 10;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..n {
                    store
                        .create(&key(&format!("o{i}")), cm("o", "x"))
                        .await
                        .unwrap();
                }
            })
        };
        // The fast watcher keeps up and sees every event.
        for _ in 0..n {
            assert_eq!(next(&mut fast).await.type_, "ADDED");
        }
        writer.await.unwrap();
        // The slow one never read: it gets a 410 and its stream ends.
        let mut last = next(&mut slow).await;
        while last.type_ == "ADDED" {
            last = next(&mut slow).await;
        }
        assert_eq!(last.type_, "ERROR");
        assert_eq!(last.object["code"], 410);
        assert!(slow.next().await.is_none());
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_object_part_of_a_line_is_the_object_json() {
        let obj = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7"},
                         "data": {"k": "v \"quoted\""}});
        for type_ in ["ADDED", "MODIFIED", "DELETED"] {
            let line = event_line_sized(type_, &obj, 10);
            let part = line.slice(object_start(type_)..line.len() - 2);
            assert_eq!(&part[..], &crate::wire_json::to_vec(&obj)[..]);
            // A slice of the line, not a copy.
            assert_eq!(part.as_ptr(), line[object_start(type_)..].as_ptr());
        }
    }

    #[test]
    fn encoded_objects_hold_no_spare_capacity() {
        let obj = json!({"data": {"k": "x".repeat(1000)}});
        let json = encode(&obj, 0);
        assert_eq!(json, crate::wire_json::to_vec(&obj));
    }

    #[test]
    fn event_lines_put_the_type_first_as_upstream() {
        let line = event_line(
            "ADDED",
            &json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
        );
        assert!(line.starts_with(br#"{"type":"ADDED","object":{"#));
        assert!(line.ends_with(b"}\n"));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["object"]["metadata"]["name"], "a");
    }
}
