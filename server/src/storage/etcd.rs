//! The etcd v3 backend (`--etcd-servers`), through the `etcd-client` crate.
//!
//! Keys are stored as given: the REST layer builds them under the store's
//! [`Storage::key_prefix`] (`--etcd-prefix`, default `/registry`), so an
//! operator reading etcd finds upstream's layout. A resourceVersion is an etcd
//! revision; create, update and delete are transactions comparing the key's
//! create or modification revision; watch starts at a revision with
//! `prev_kv` so deletes carry the last state; a compacted revision becomes
//! [`StorageError::Compacted`] (410 Expired upstream).
//!
//! Reads are etcd's default linearizable (quorum) range reads. Upstream serves
//! consistent reads from its watch cache when etcd supports watch progress
//! requests (etcd ≥ 3.4.31 / 3.5.13); [`EtcdStore::progress_requests`] reports
//! whether the server does (from its version, at the first health check).
//! Where it does, [`Storage::watch_with_progress`] gives the watch cache a
//! watch that passes its progress requests on and reports etcd's progress
//! notifications, so the cache can tell it is at etcd's current revision
//! even when another writer moved it. Without that support (Debian's 3.4.23)
//! the cache knows it only when it reaches etcd's current revision (read
//! with a one-key quorum read) from writes under kapi's root, which it
//! watches whole, within 20 ms; otherwise a consistent list is a quorum read,
//! what upstream falls back to as well.
//!
//! Every call is bounded by [`REQUEST_TIMEOUT`]; an unreachable etcd gives
//! [`StorageError::Unavailable`] (503), and a watch whose stream breaks ends
//! with one error so its client relists. The client reconnects by itself, so
//! service resumes when etcd returns.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, PutOptions,
    Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use futures::StreamExt;

use super::{
    Event, EventStream, KeyValue, ListResult, ProgressRequester, ProgressWatch, Rev, Storage,
    StorageError, through_first_error,
};

/// The bound on one etcd call (upstream's storage requests use a similar budget).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on a readiness check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// gRPC status codes that mean "etcd cannot be reached right now": Cancelled,
/// Unknown (tonic's code for a broken connection), DeadlineExceeded, Unavailable.
const GRPC_UNREACHABLE: [i32; 4] = [1, 2, 4, 14];

/// The etcd-backed store.
pub struct EtcdStore {
    client: Client,
    prefix: String,
    progress_requests: std::sync::OnceLock<bool>,
}

/// Progress requests in, progress reports (revisions) out.
type Progress = (
    tokio::sync::mpsc::Receiver<()>,
    tokio::sync::mpsc::UnboundedSender<Rev>,
);

/// One storage watch's state between its answers.
struct WatchState {
    responses: etcd_client::WatchResponseStream,
    /// Kept: dropping it would end the watch.
    sender: etcd_client::WatchRequestSender,
    progress: Option<Progress>,
    failed: bool,
}

impl WatchState {
    /// etcd's next answer that carries events or ends the watch. Progress
    /// requests are passed on meanwhile, and progress notifications (answers
    /// without events) reported: they arrive in order with the events, and
    /// this runs only when the consumer asks for the next event, so every
    /// change up to the reported revision has been yielded before.
    async fn next_response(&mut self) -> Result<Option<etcd_client::WatchResponse>, StorageError> {
        loop {
            let answer = match &mut self.progress {
                None => self.responses.message().await,
                Some((requests, _)) => tokio::select! {
                    answer = self.responses.message() => answer,
                    asked = requests.recv() => {
                        match asked {
                            Some(()) => bounded(self.sender.request_progress()).await?,
                            // Nobody can ask any more.
                            None => self.progress = None,
                        }
                        continue;
                    }
                },
            };
            let answer = answer.map_err(map_err)?;
            if let Some(r) = &answer
                && r.events().is_empty()
                && !r.canceled()
                && r.compact_revision() == 0
            {
                if let (Some((_, reports)), Some(h)) = (&self.progress, r.header()) {
                    // The consumer may have gone: then nobody wants it.
                    let _ = reports.send(rev(h.revision()));
                }
                continue;
            }
            return Ok(answer);
        }
    }
}

fn map_err(e: etcd_client::Error) -> StorageError {
    match &e {
        etcd_client::Error::GRpcStatus(s) => {
            let code = s.code() as i32;
            if s.message().contains("required revision has been compacted") {
                StorageError::Compacted {
                    requested: 0,
                    compacted: 0,
                }
            } else if GRPC_UNREACHABLE.contains(&code) {
                StorageError::Unavailable(format!("etcd: {}", s.message()))
            } else {
                StorageError::Internal(format!("etcd: {}", s.message()))
            }
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
            StorageError::Unavailable(format!("etcd: {e}"))
        }
        _ => StorageError::Internal(format!("etcd: {e}")),
    }
}

/// Runs one etcd call within [`REQUEST_TIMEOUT`].
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(r) => r.map_err(map_err),
        Err(_) => Err(StorageError::Unavailable(format!(
            "etcd did not answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

fn rev(r: i64) -> Rev {
    u64::try_from(r).unwrap_or(0)
}

fn irev(r: Rev) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

fn to_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue, StorageError> {
    Ok(KeyValue {
        key: kv
            .key_str()
            .map_err(|e| StorageError::Internal(format!("etcd key is not UTF-8: {e}")))?
            .to_string(),
        value: Bytes::copy_from_slice(kv.value()),
        create_rev: rev(kv.create_revision()),
        mod_rev: rev(kv.mod_revision()),
    })
}

/// The first key after every key that starts with `prefix` (etcd's range end).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: to the end of the keyspace.
    vec![0]
}

fn header_rev(h: Option<&etcd_client::ResponseHeader>) -> Result<Rev, StorageError> {
    h.map(|h| rev(h.revision()))
        .ok_or_else(|| StorageError::Internal("etcd response without a header".into()))
}

/// Whether an etcd version serves watch progress requests correctly
/// (3.4.31+, 3.5.13+, 3.6+), as upstream's feature check decides.
pub fn supports_progress_requests(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    match (major, minor) {
        (3, 4) => patch >= 31,
        (3, 5) => patch >= 13,
        (3, m) => m > 5,
        (m, _) => m > 3,
    }
}

impl EtcdStore {
    /// A store on the etcd servers at `endpoints` (`http://host:port`), with
    /// keys under `prefix`. Connects lazily: an unreachable etcd is reported by
    /// the calls (and [`Storage::health`]), not here.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Self, StorageError> {
        if endpoints.is_empty() {
            return Err(StorageError::Internal("no etcd server given".into()));
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5));
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|e| StorageError::Unavailable(format!("etcd {endpoints:?}: {e}")))?;
        let prefix = prefix.trim_end_matches('/');
        let prefix = if prefix.starts_with('/') {
            prefix.to_string()
        } else {
            format!("/{prefix}")
        };
        Ok(EtcdStore {
            client,
            prefix,
            progress_requests: std::sync::OnceLock::new(),
        })
    }

    /// Whether the etcd server supports watch progress requests; `None` until
    /// a health check has reached it (or [`EtcdStore::with_progress_requests`]
    /// decided).
    pub fn progress_requests(&self) -> Option<bool> {
        self.progress_requests.get().copied()
    }

    /// Turns watch progress requests on or off whatever the server's version
    /// says: for an etcd build with the fix backported (the version check
    /// cannot see that), and for tests on Debian's 3.4.23, whose progress
    /// reports are right whenever the watch is not behind.
    pub fn with_progress_requests(self, on: bool) -> Self {
        let _ = self.progress_requests.set(on);
        self
    }

    /// [`Storage::watch_with_progress`] whatever the server's version.
    pub async fn watch_reporting_progress(
        &self,
        prefix: &str,
        after: Rev,
    ) -> Result<ProgressWatch, StorageError> {
        // One pending request is enough: the report answers every request
        // made before it.
        let (requests_tx, requests) = tokio::sync::mpsc::channel(1);
        let (reports_tx, reports) = tokio::sync::mpsc::unbounded_channel();
        let events = self
            .watch_from(prefix, after, Some((requests, reports_tx)))
            .await?;
        Ok(ProgressWatch {
            events,
            requester: ProgressRequester(requests_tx),
            reports,
        })
    }

    /// The watch behind [`Storage::watch`] and [`Storage::watch_with_progress`]:
    /// with `progress`, requests arriving on its receiver become etcd progress
    /// requests and etcd's progress notifications go to its sender.
    async fn watch_from(
        &self,
        prefix: &str,
        after: Rev,
        progress: Option<Progress>,
    ) -> Result<EventStream, StorageError> {
        let options = WatchOptions::new()
            .with_range(prefix_end(prefix))
            .with_start_revision(irev(after + 1))
            .with_prev_key();
        let mut wc = self.client.watch_client();
        let mut stream = bounded(wc.watch(prefix, Some(options))).await?;
        // The first answer says whether the watch was created or the start is compacted.
        let first = bounded(stream.message()).await?;
        match &first {
            Some(r) if r.canceled() || r.compact_revision() > 0 => {
                if r.compact_revision() > 0 {
                    return Err(StorageError::Compacted {
                        requested: after,
                        compacted: rev(r.compact_revision()),
                    });
                }
                return Err(StorageError::Internal(format!(
                    "etcd cancelled the watch: {}",
                    r.cancel_reason()
                )));
            }
            Some(_) => {}
            None => return Err(StorageError::Unavailable("etcd closed the watch".into())),
        }
        let (sender, responses) = stream.split();
        let state = WatchState {
            responses,
            sender,
            progress,
            failed: false,
        };
        // Events of one response come out in order; the first error ends the stream.
        let events = futures::stream::unfold(state, move |mut st| async move {
            if st.failed {
                return None;
            }
            let batch: Vec<Result<Event, StorageError>> = match st.next_response().await {
                Ok(Some(r)) if r.canceled() || r.compact_revision() > 0 => {
                    vec![Err(if r.compact_revision() > 0 {
                        StorageError::Compacted {
                            requested: after,
                            compacted: rev(r.compact_revision()),
                        }
                    } else {
                        StorageError::Unavailable(format!(
                            "etcd cancelled the watch: {}",
                            r.cancel_reason()
                        ))
                    })]
                }
                Ok(Some(r)) => r.events().iter().map(convert_event).collect(),
                Ok(None) => vec![Err(StorageError::Unavailable(
                    "etcd closed the watch".into(),
                ))],
                Err(e) => vec![Err(e)],
            };
            st.failed = batch.iter().any(Result::is_err);
            Some((futures::stream::iter(batch), st))
        })
        .flatten();
        Ok(through_first_error(events))
    }

    async fn txn(&self, txn: Txn) -> Result<etcd_client::TxnResponse, StorageError> {
        let mut kv = self.client.kv_client();
        bounded(kv.txn(txn)).await
    }

    /// The key's current state, from the `else` branch of a failed transaction.
    fn current_from(resp: &etcd_client::TxnResponse) -> Result<Option<KeyValue>, StorageError> {
        for op in resp.op_responses() {
            if let TxnOpResponse::Get(g) = op {
                return g.kvs().first().map(to_kv).transpose();
            }
        }
        Ok(None)
    }
}

impl EtcdStore {
    /// A range read of `prefix` after `start_after`, at `at` (None: the latest revision).
    async fn range(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        at: Option<Rev>,
    ) -> Result<ListResult, StorageError> {
        let start: Vec<u8> = match start_after {
            Some(s) if s >= prefix => {
                let mut k = s.as_bytes().to_vec();
                k.push(0);
                k
            }
            _ => prefix.as_bytes().to_vec(),
        };
        let mut options = GetOptions::new().with_range(prefix_end(prefix));
        if limit > 0 {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(at) = at {
            options = options.with_revision(i64::try_from(at).unwrap_or(i64::MAX));
        }
        // A whole collection can exceed gRPC's 4 MiB default (10,000 ConfigMaps
        // of 1 KiB are 14 MB); upstream's client allows up to 2 GiB.
        let mut kv = self
            .client
            .kv_client()
            .max_decoding_message_size(i32::MAX as usize);
        let resp = bounded(kv.get(start, Some(options))).await?;
        let items = resp
            .kvs()
            .iter()
            .map(to_kv)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListResult {
            rev: header_rev(resp.header())?,
            more: resp.more(),
            items,
        })
    }
}

#[async_trait]
impl Storage for EtcdStore {
    fn key_prefix(&self) -> &str {
        &self.prefix
    }

    async fn health(&self) -> Result<(), StorageError> {
        let mut m = self.client.maintenance_client();
        match tokio::time::timeout(HEALTH_TIMEOUT, m.status()).await {
            Ok(Ok(status)) => {
                let supported = supports_progress_requests(status.version());
                if self.progress_requests.set(supported).is_ok() {
                    tracing::info!(
                        version = status.version(),
                        progress_requests = supported,
                        "etcd reached{}",
                        if supported {
                            "; watch progress requests let consistent reads use the watch cache"
                        } else {
                            "; no reliable watch progress requests on this version: consistent reads use the watch cache only when it is current by itself"
                        }
                    );
                }
                Ok(())
            }
            Ok(Err(e)) => Err(map_err(e)),
            Err(_) => Err(StorageError::Unavailable(
                "etcd did not answer a status request".into(),
            )),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StorageError> {
        let mut kv = self.client.kv_client();
        let resp = bounded(kv.get(key, None)).await?;
        resp.kvs().first().map(to_kv).transpose()
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListResult, StorageError> {
        self.range(prefix, start_after, limit, None).await
    }

    async fn list_at(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        rev: Rev,
    ) -> Result<ListResult, StorageError> {
        let mut r = match self.range(prefix, start_after, limit, Some(rev)).await {
            Err(StorageError::Compacted { compacted, .. }) => {
                return Err(StorageError::Compacted {
                    requested: rev,
                    compacted,
                });
            }
            r => r?,
        };
        r.rev = rev;
        Ok(r)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)]);
        let resp = self.txn(txn).await?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        let r = header_rev(resp.header())?;
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_rev: r,
            mod_rev: r,
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_rev: Rev,
    ) -> Result<KeyValue, StorageError> {
        let txn = Txn::new()
            .when([
                Compare::create_revision(key, CompareOp::NotEqual, 0),
                Compare::mod_revision(key, CompareOp::Equal, irev(expected_mod_rev)),
            ])
            .and_then([TxnOp::put(
                key,
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.txn(txn).await?;
        if !resp.succeeded() {
            return Err(match Self::current_from(&resp)? {
                None => StorageError::NotFound(key.to_string()),
                Some(cur) => StorageError::Conflict {
                    key: key.to_string(),
                    expected: expected_mod_rev,
                    found: cur.mod_rev,
                },
            });
        }
        let r = header_rev(resp.header())?;
        let create_rev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Put(p) => p.prev_key().map(|kv| rev(kv.create_revision())),
                _ => None,
            })
            .ok_or_else(|| StorageError::Internal("etcd put returned no previous key".into()))?;
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_rev,
            mod_rev: r,
        })
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_rev: Option<Rev>,
    ) -> Result<(KeyValue, Rev), StorageError> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::NotEqual, 0)];
        if let Some(expected) = expected_mod_rev {
            compares.push(Compare::mod_revision(key, CompareOp::Equal, irev(expected)));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.txn(txn).await?;
        if !resp.succeeded() {
            return Err(match Self::current_from(&resp)? {
                None => StorageError::NotFound(key.to_string()),
                Some(cur) => StorageError::Conflict {
                    key: key.to_string(),
                    expected: expected_mod_rev.unwrap_or(0),
                    found: cur.mod_rev,
                },
            });
        }
        let r = header_rev(resp.header())?;
        let prev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(d) => d.prev_kvs().first().map(to_kv),
                _ => None,
            })
            .ok_or_else(|| {
                StorageError::Internal("etcd delete returned no previous key".into())
            })??;
        Ok((prev, r))
    }

    async fn watch(&self, prefix: &str, after: Rev) -> Result<EventStream, StorageError> {
        self.watch_from(prefix, after, None).await
    }

    async fn watch_with_progress(
        &self,
        prefix: &str,
        after: Rev,
    ) -> Result<Option<ProgressWatch>, StorageError> {
        if self.progress_requests() != Some(true) {
            return Ok(None);
        }
        self.watch_reporting_progress(prefix, after).await.map(Some)
    }

    async fn current_rev(&self) -> Result<Rev, StorageError> {
        // A quorum read of one key gives the store's revision in its header.
        let mut kv = self.client.kv_client();
        let key = format!("{}/", self.prefix);
        let resp = bounded(kv.get(key, Some(GetOptions::new().with_count_only()))).await?;
        header_rev(resp.header())
    }

    async fn compact(&self, rev: Rev) -> Result<Rev, StorageError> {
        let mut kv = self.client.kv_client();
        match bounded(kv.compact(irev(rev), None)).await {
            // Already compacted at or past `rev` (by this or another kapi).
            Ok(_) | Err(StorageError::Compacted { .. }) => Ok(rev),
            Err(e) => Err(e),
        }
    }

    async fn check_history(&self, rev: Rev) -> Result<(), StorageError> {
        if rev == 0 {
            return Ok(());
        }
        // A count-only read at `rev` fails exactly when etcd compacted past it.
        let mut kv = self.client.kv_client();
        let options = GetOptions::new().with_count_only().with_revision(irev(rev));
        match bounded(kv.get(format!("{}/", self.prefix), Some(options))).await {
            Ok(_) => Ok(()),
            Err(StorageError::Compacted { .. }) => Err(StorageError::Compacted {
                requested: rev,
                compacted: 0,
            }),
            // A future revision is not a gap; callers check that bound themselves.
            Err(StorageError::Internal(m)) if m.contains("future revision") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn convert_event(ev: &etcd_client::Event) -> Result<Event, StorageError> {
    let kv = ev
        .kv()
        .ok_or_else(|| StorageError::Internal("etcd watch event without a key".into()))?;
    match ev.event_type() {
        EventType::Put => Ok(Event::Put { kv: to_kv(kv)? }),
        EventType::Delete => {
            let prev = ev.prev_kv().ok_or_else(|| StorageError::Compacted {
                requested: rev(kv.mod_revision()),
                compacted: rev(kv.mod_revision()),
            })?;
            Ok(Event::Delete {
                prev: to_kv(prev)?,
                rev: rev(kv.mod_revision()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::etcd_process::EtcdProcess;

    #[test]
    fn progress_request_support_by_version() {
        assert!(!supports_progress_requests("3.4.23"));
        assert!(supports_progress_requests("3.4.31"));
        assert!(!supports_progress_requests("3.5.12"));
        assert!(supports_progress_requests("3.5.13"));
        assert!(supports_progress_requests("3.6.0"));
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end("/t/"), b"/t0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }

    #[tokio::test]
    async fn conformance() {
        let etcd = EtcdProcess::start();
        let store = EtcdStore::connect(&[etcd.url()], "/registry")
            .await
            .unwrap();
        store.health().await.unwrap();
        assert_eq!(
            store.progress_requests(),
            Some(false),
            "Debian's etcd is 3.4.23"
        );
        crate::storage::conformance::run(&store).await;
    }

    #[tokio::test]
    async fn progress_reports_come_after_the_changes_before_them() {
        let etcd = EtcdProcess::start();
        let plain = EtcdStore::connect(&[etcd.url()], "/kapi").await.unwrap();
        plain.health().await.unwrap();
        assert!(
            plain
                .watch_with_progress("/kapi/", 0)
                .await
                .unwrap()
                .is_none(),
            "no progress watch on Debian's 3.4.23 unless turned on"
        );
        let store = EtcdStore::connect(&[etcd.url()], "/kapi")
            .await
            .unwrap()
            .with_progress_requests(true);
        let start = store.current_rev().await.unwrap();
        let mut w = store
            .watch_with_progress("/kapi/", start)
            .await
            .unwrap()
            .expect("a progress watch");
        let a = store
            .create("/kapi/x/a", Bytes::from_static(b"1"))
            .await
            .unwrap();
        // Another writer's key, outside the watched prefix: no event for it.
        let other = store
            .create("/elsewhere/b", Bytes::from_static(b"2"))
            .await
            .unwrap();
        w.requester.request();
        let mut seen = Vec::new();
        let reported = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                tokio::select! {
                    ev = w.events.next() => seen.push(ev.expect("an event").unwrap().rev()),
                    Some(r) = w.reports.recv() => break r,
                }
            }
        })
        .await
        .expect("a progress report");
        assert!(reported >= other.mod_rev, "{reported} < {}", other.mod_rev);
        assert_eq!(
            seen,
            vec![a.mod_rev],
            "the change before the report came first"
        );
        // Dropping the requester leaves a plain watch.
        drop(w.requester);
        let c = store
            .create("/kapi/x/c", Bytes::from_static(b"3"))
            .await
            .unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(10), w.events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(ev.rev(), c.mod_rev);
    }

    #[tokio::test]
    async fn compacted_watch_and_lost_etcd() {
        let mut etcd = EtcdProcess::start();
        let store = EtcdStore::connect(&[etcd.url()], "/kapi").await.unwrap();
        assert_eq!(store.key_prefix(), "/kapi");
        let a = store
            .create("/kapi/x/a", Bytes::from_static(b"1"))
            .await
            .unwrap();
        let b = store
            .update("/kapi/x/a", Bytes::from_static(b"2"), a.mod_rev)
            .await
            .unwrap();
        assert_eq!(store.compact(b.mod_rev).await.unwrap(), b.mod_rev);
        assert!(matches!(
            store.check_history(a.mod_rev - 1).await,
            Err(StorageError::Compacted { .. })
        ));
        store.check_history(b.mod_rev).await.unwrap();
        // etcd reports a compacted start right away or as the watch's first answer.
        let compacted = match store.watch("/kapi/x/", a.mod_rev - 1).await {
            Err(e) => e,
            Ok(mut w) => tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .expect("an answer to a compacted watch")
                .expect("an item")
                .unwrap_err(),
        };
        match compacted {
            StorageError::Compacted { compacted, .. } => assert_eq!(compacted, b.mod_rev),
            e => panic!("expected Compacted, got {e:?}"),
        }

        // etcd goes away: calls fail as unavailable, a live watch ends with an error.
        let mut w = store.watch("/kapi/x/", b.mod_rev).await.unwrap();
        etcd.stop();
        let err = store.get("/kapi/x/a").await.unwrap_err();
        assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
        assert!(store.health().await.is_err());
        let ended = tokio::time::timeout(Duration::from_secs(30), w.next())
            .await
            .expect("the watch ends when etcd is gone");
        assert!(matches!(ended, Some(Err(_)) | None), "{ended:?}");

        // etcd comes back: service resumes with the data intact.
        etcd.restart();
        let mut value = None;
        crate::testing::wait_until_async(
            "etcd to serve again",
            Duration::from_secs(30),
            async || {
                value = store
                    .get("/kapi/x/a")
                    .await
                    .ok()
                    .flatten()
                    .map(|kv| kv.value);
                value.is_some()
            },
        )
        .await;
        assert_eq!(value, Some(Bytes::from_static(b"2")));
    }
}
