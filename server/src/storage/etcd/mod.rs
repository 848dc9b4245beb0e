//! The etcd v3 backend (`--etcd-servers`), speaking etcd's gRPC API through
//! `tonic` with the few messages kapi needs written in [`rpc`] (so building
//! kapi needs no `protoc`).
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
//! with one error so its client relists. The channel connects lazily and
//! reconnects by itself, so service resumes when etcd returns.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tonic::transport::{Channel, Endpoint};

mod rpc;

use rpc::{
    Client, CompactionRequest, Compare, CompareResult, EventType, RangeRequest, RequestOp,
    TxnRequest, TxnResponse, WatchCreateRequest, WatchProgressRequest, WatchRequest,
    response_op::Response as OpResponse, watch_request::RequestUnion,
};

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
const GRPC_UNREACHABLE: [tonic::Code; 4] = [
    tonic::Code::Cancelled,
    tonic::Code::Unknown,
    tonic::Code::DeadlineExceeded,
    tonic::Code::Unavailable,
];

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
    responses: tonic::Streaming<rpc::WatchResponse>,
    /// Kept: dropping it would end the watch.
    sender: tokio::sync::mpsc::Sender<WatchRequest>,
    progress: Option<Progress>,
    failed: bool,
}

impl WatchState {
    /// etcd's next answer that carries events or ends the watch. Progress
    /// requests are passed on meanwhile, and progress notifications (answers
    /// without events) reported: they arrive in order with the events, and
    /// this runs only when the consumer asks for the next event, so every
    /// change up to the reported revision has been yielded before.
    async fn next_response(&mut self) -> Result<Option<rpc::WatchResponse>, StorageError> {
        loop {
            let answer = match &mut self.progress {
                None => self.responses.message().await,
                Some((requests, _)) => tokio::select! {
                    answer = self.responses.message() => answer,
                    asked = requests.recv() => {
                        match asked {
                            Some(()) => self.request_progress().await?,
                            // Nobody can ask any more.
                            None => self.progress = None,
                        }
                        continue;
                    }
                },
            };
            let answer = answer.map_err(map_err)?;
            if let Some(r) = &answer
                && r.events.is_empty()
                && !r.canceled
                && r.compact_revision == 0
            {
                if let (Some((_, reports)), Some(h)) = (&self.progress, &r.header) {
                    // The consumer may have gone: then nobody wants it.
                    let _ = reports.send(rev(h.revision));
                }
                continue;
            }
            return Ok(answer);
        }
    }

    /// Sends etcd a progress request on this watch's stream.
    async fn request_progress(&self) -> Result<(), StorageError> {
        let request = WatchRequest {
            request_union: Some(RequestUnion::Progress(WatchProgressRequest {})),
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, self.sender.send(request)).await {
            Ok(Ok(())) => Ok(()),
            // The request stream is gone only when the call has ended.
            Ok(Err(_)) => Err(StorageError::Unavailable("etcd closed the watch".into())),
            Err(_) => Err(timed_out()),
        }
    }
}

fn map_err(s: tonic::Status) -> StorageError {
    if s.message().contains("required revision has been compacted") {
        StorageError::Compacted {
            requested: 0,
            compacted: 0,
        }
    } else if GRPC_UNREACHABLE.contains(&s.code()) {
        StorageError::Unavailable(format!("etcd: {}", s.message()))
    } else {
        StorageError::Internal(format!("etcd: {}", s.message()))
    }
}

fn timed_out() -> StorageError {
    StorageError::Unavailable(format!(
        "etcd did not answer within {}s",
        REQUEST_TIMEOUT.as_secs()
    ))
}

/// Runs one etcd call within [`REQUEST_TIMEOUT`].
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(r) => r.map_err(map_err),
        Err(_) => Err(timed_out()),
    }
}

fn rev(r: i64) -> Rev {
    u64::try_from(r).unwrap_or(0)
}

fn irev(r: Rev) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

fn to_kv(kv: rpc::KeyValue) -> Result<KeyValue, StorageError> {
    Ok(KeyValue {
        key: String::from_utf8(kv.key)
            .map_err(|e| StorageError::Internal(format!("etcd key is not UTF-8: {e}")))?,
        value: Bytes::from(kv.value),
        create_rev: rev(kv.create_revision),
        mod_rev: rev(kv.mod_revision),
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

fn header_rev(h: Option<&rpc::ResponseHeader>) -> Result<Rev, StorageError> {
    h.map(|h| rev(h.revision))
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

/// The channel settings for one `--etcd-servers` URL (`http://` assumed
/// without a scheme; kapi has no TLS to etcd).
fn endpoint(url: &str) -> Result<Endpoint, StorageError> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    if !url.starts_with("http://") {
        return Err(StorageError::Internal(format!(
            "etcd server {url}: only http:// URLs are supported"
        )));
    }
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| StorageError::Internal(format!("etcd server {url}: {e}")))?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true))
}

impl EtcdStore {
    /// A store on the etcd servers at `endpoints` (`http://host:port`), with
    /// keys under `prefix`. Connects lazily: an unreachable etcd is reported by
    /// the calls (and [`Storage::health`]), not here.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Self, StorageError> {
        if endpoints.is_empty() {
            return Err(StorageError::Internal("no etcd server given".into()));
        }
        let endpoints = endpoints
            .iter()
            .map(|url| endpoint(url))
            .collect::<Result<Vec<_>, _>>()?;
        // Every endpoint connects lazily, when a call needs it, and reconnects
        // after a failure; calls go to the ready ones.
        let client = Client::new(Channel::balance_list(endpoints.into_iter()));
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
        let create = WatchRequest {
            request_union: Some(RequestUnion::Create(WatchCreateRequest {
                key: prefix.as_bytes().to_vec(),
                range_end: prefix_end(prefix),
                start_revision: irev(after + 1),
                prev_kv: true,
            })),
        };
        // Room for the creation and one pending progress request.
        let (sender, requests) = tokio::sync::mpsc::channel(2);
        sender
            .try_send(create)
            .map_err(|e| StorageError::Internal(format!("etcd watch request: {e}")))?;
        let mut responses = bounded(self.client.watch(requests)).await?;
        // The first answer says whether the watch was created or the start is compacted.
        let first = bounded(responses.message()).await?;
        match &first {
            Some(r) if r.canceled || r.compact_revision > 0 => {
                if r.compact_revision > 0 {
                    return Err(StorageError::Compacted {
                        requested: after,
                        compacted: rev(r.compact_revision),
                    });
                }
                return Err(StorageError::Internal(format!(
                    "etcd cancelled the watch: {}",
                    r.cancel_reason
                )));
            }
            Some(_) => {}
            None => return Err(StorageError::Unavailable("etcd closed the watch".into())),
        }
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
                Ok(Some(r)) if r.canceled || r.compact_revision > 0 => {
                    vec![Err(if r.compact_revision > 0 {
                        StorageError::Compacted {
                            requested: after,
                            compacted: rev(r.compact_revision),
                        }
                    } else {
                        StorageError::Unavailable(format!(
                            "etcd cancelled the watch: {}",
                            r.cancel_reason
                        ))
                    })]
                }
                Ok(Some(r)) => r.events.into_iter().map(convert_event).collect(),
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

    async fn txn(&self, txn: TxnRequest) -> Result<TxnResponse, StorageError> {
        bounded(self.client.txn(txn)).await
    }

    /// Runs `op` on `key` in a transaction that requires the key to exist
    /// (and, with `expected`, to be at that modification revision); when it
    /// does not, the `else` branch reads the key to tell NotFound from a
    /// Conflict.
    async fn on_existing(
        &self,
        key: &str,
        expected: Option<Rev>,
        op: RequestOp,
    ) -> Result<TxnResponse, StorageError> {
        let mut compare = vec![Compare::create_revision(key, CompareResult::NotEqual, 0)];
        if let Some(e) = expected {
            compare.push(Compare::mod_revision(key, CompareResult::Equal, irev(e)));
        }
        let resp = self
            .txn(TxnRequest {
                compare,
                success: vec![op],
                failure: vec![RequestOp::get(key)],
            })
            .await?;
        if resp.succeeded {
            return Ok(resp);
        }
        Err(match Self::current_from(resp)? {
            None => StorageError::NotFound(key.to_string()),
            Some(cur) => StorageError::Conflict {
                key: key.to_string(),
                expected: expected.unwrap_or(0),
                found: cur.mod_rev,
            },
        })
    }

    /// The key's current state, from the `else` branch of a failed transaction.
    fn current_from(resp: TxnResponse) -> Result<Option<KeyValue>, StorageError> {
        for op in resp.responses {
            if let Some(OpResponse::Range(g)) = op.response {
                return g.kvs.into_iter().next().map(to_kv).transpose();
            }
        }
        Ok(None)
    }

    /// A read of `key` alone, counting only, at `at` (0: the latest revision).
    async fn count_at(&self, key: String, at: i64) -> Result<rpc::RangeResponse, StorageError> {
        bounded(self.client.range(RangeRequest {
            key: key.into_bytes(),
            revision: at,
            count_only: true,
            ..Default::default()
        }))
        .await
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
        let request = RangeRequest {
            key: start,
            range_end: prefix_end(prefix),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            revision: at.map_or(0, irev),
            ..Default::default()
        };
        // The answer may be a whole collection: rpc::Client allows large messages.
        let resp = bounded(self.client.range(request)).await?;
        let returned = resp.kvs.len() as u64;
        Ok(ListResult {
            rev: header_rev(resp.header.as_ref())?,
            more: resp.more,
            remaining: (limit > 0).then(|| {
                u64::try_from(resp.count)
                    .unwrap_or(0)
                    .saturating_sub(returned)
            }),
            items: resp
                .kvs
                .into_iter()
                .map(to_kv)
                .collect::<Result<Vec<_>, _>>()?,
        })
    }
}

#[async_trait]
impl Storage for EtcdStore {
    fn key_prefix(&self) -> &str {
        &self.prefix
    }

    async fn health(&self) -> Result<(), StorageError> {
        match tokio::time::timeout(HEALTH_TIMEOUT, self.client.status()).await {
            Ok(Ok(status)) => {
                let supported = supports_progress_requests(&status.version);
                if self.progress_requests.set(supported).is_ok() {
                    tracing::info!(
                        version = status.version,
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
        let resp = bounded(self.client.range(RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        }))
        .await?;
        resp.kvs.into_iter().next().map(to_kv).transpose()
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
        let txn = TxnRequest {
            compare: vec![Compare::create_revision(key, CompareResult::Equal, 0)],
            success: vec![RequestOp::put(key, value.clone(), false)],
            failure: Vec::new(),
        };
        let resp = self.txn(txn).await?;
        if !resp.succeeded {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        let r = header_rev(resp.header.as_ref())?;
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
        let resp = self
            .on_existing(
                key,
                Some(expected_mod_rev),
                RequestOp::put(key, value.clone(), true),
            )
            .await?;
        let r = header_rev(resp.header.as_ref())?;
        let create_rev = resp
            .responses
            .into_iter()
            .find_map(|op| match op.response {
                Some(OpResponse::Put(p)) => p.prev_kv.map(|kv| rev(kv.create_revision)),
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
        let resp = self
            .on_existing(key, expected_mod_rev, RequestOp::delete(key))
            .await?;
        let r = header_rev(resp.header.as_ref())?;
        let prev = resp
            .responses
            .into_iter()
            .find_map(|op| match op.response {
                Some(OpResponse::DeleteRange(d)) => d.prev_kvs.into_iter().next().map(to_kv),
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
        let resp = self.count_at(format!("{}/", self.prefix), 0).await?;
        header_rev(resp.header.as_ref())
    }

    async fn compact(&self, rev: Rev) -> Result<Rev, StorageError> {
        let request = CompactionRequest {
            revision: irev(rev),
        };
        match bounded(self.client.compact(request)).await {
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
        match self.count_at(format!("{}/", self.prefix), irev(rev)).await {
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

fn convert_event(ev: rpc::Event) -> Result<Event, StorageError> {
    let kind = EventType::try_from(ev.r#type).map_err(|_| {
        StorageError::Internal(format!("etcd watch event of unknown type {}", ev.r#type))
    })?;
    let kv = ev
        .kv
        .ok_or_else(|| StorageError::Internal("etcd watch event without a key".into()))?;
    match kind {
        EventType::Put => Ok(Event::Put { kv: to_kv(kv)? }),
        EventType::Delete => {
            let at = rev(kv.mod_revision);
            let prev = ev.prev_kv.ok_or(StorageError::Compacted {
                requested: at,
                compacted: at,
            })?;
            Ok(Event::Delete {
                prev: to_kv(prev)?,
                rev: at,
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
