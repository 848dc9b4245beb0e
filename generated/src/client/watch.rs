//! Watch streams: one request ([`Api::watch`]) or a watch that resumes from
//! the last resourceVersion and relists on 410 ([`Api::watcher`]).

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::{Api, Error, ListParams, WatchParams};
use crate::Resource;
use crate::api::meta::v1::Status;

/// One event of a watch.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent<K> {
    /// An object was created (or is part of the initial state).
    Added(K),
    /// An object changed.
    Modified(K),
    /// An object was deleted (its last state).
    Deleted(K),
    /// Nothing changed for this watch up to a resourceVersion.
    Bookmark(Bookmark),
    /// Only from [`Api::watcher`]: the version it was following was too old
    /// (410 Gone), so it listed again; these are all the objects now, and
    /// anything not among them was deleted in between.
    Relisted {
        /// The current objects.
        objects: Vec<K>,
        /// The version of the list, which the watch follows on from.
        resource_version: String,
    },
}

/// A BOOKMARK: the resourceVersion the watch has reached, and the annotations
/// (`k8s.io/initial-events-end`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bookmark {
    /// The resourceVersion.
    pub resource_version: String,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    object: Value,
}

/// The stream [`Api::watch`] and [`Api::watcher`] return.
pub struct WatchStream<K> {
    inner: BoxStream<'static, Result<WatchEvent<K>, Error>>,
}

impl<K> Stream for WatchStream<K> {
    type Item = Result<WatchEvent<K>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct State<K> {
    api: Api<K>,
    params: WatchParams,
    resume: bool,
    rv: String,
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    buf: Vec<u8>,
    pending: VecDeque<Result<WatchEvent<K>, Error>>,
    /// Consecutive failed attempts, for the backoff.
    failures: u32,
    /// Whether the next step is a list (start of a watcher, or after a 410).
    list: Option<ListKind>,
    done: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ListKind {
    /// The start of a watcher from "" or "0": the objects as ADDED events.
    Initial,
    /// After a 410: one Relisted event.
    Relist,
}

impl<K: Resource> WatchStream<K> {
    pub(crate) fn new(api: Api<K>, params: WatchParams, rv: &str, resume: bool) -> Self {
        let list = (resume && (rv.is_empty() || rv == "0")).then_some(ListKind::Initial);
        let state = State {
            api,
            params,
            resume,
            rv: rv.to_string(),
            body: None,
            buf: Vec::new(),
            pending: VecDeque::new(),
            failures: 0,
            list,
            done: false,
        };
        WatchStream {
            inner: futures::stream::unfold(state, |mut st| async move {
                let item = st.next().await?;
                Some((item, st))
            })
            .boxed(),
        }
    }
}

impl<K: Resource> State<K> {
    async fn next(&mut self) -> Option<Result<WatchEvent<K>, Error>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            if self.failures > 0 {
                tokio::time::sleep(backoff(self.failures)).await;
            }
            if let Some(kind) = self.list {
                self.relist(kind).await;
                continue;
            }
            let Some(body) = self.body.as_mut() else {
                self.connect().await;
                continue;
            };
            match body.next().await {
                Some(Ok(chunk)) => {
                    self.buf.extend_from_slice(&chunk);
                    while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = self.buf.drain(..=pos).collect();
                        self.line(&line);
                    }
                }
                Some(Err(e)) => {
                    self.body = None;
                    self.buf.clear();
                    self.fail(Error::Http(e));
                }
                None => {
                    self.body = None;
                    self.buf.clear();
                    if !self.resume {
                        self.done = true;
                    }
                }
            }
        }
    }

    /// A failure: the last item of a single watch, or yielded and retried by a watcher.
    fn fail(&mut self, e: Error) {
        self.pending.push_back(Err(e));
        if self.resume {
            self.failures = self.failures.saturating_add(1);
        } else {
            self.done = true;
        }
    }

    async fn connect(&mut self) {
        let req = self
            .api
            .client
            .request(reqwest::Method::GET, &self.api.collection_url())
            .query(&self.params.query(&self.rv));
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return self.fail(Error::Http(e)),
        };
        let code = resp.status();
        if !code.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            let e = Error::from_response(code.as_u16(), &body);
            if e.is_gone() && self.resume {
                self.list = Some(ListKind::Relist);
                return;
            }
            return self.fail(e);
        }
        self.body = Some(resp.bytes_stream().boxed());
    }

    async fn relist(&mut self, kind: ListKind) {
        let params = ListParams {
            resource_version: (kind == ListKind::Initial && self.rv == "0").then(|| "0".into()),
            ..self.params.to_list()
        };
        match self.api.list_all(&params).await {
            Ok(list) => {
                self.list = None;
                self.failures = 0;
                self.rv = list.resource_version().to_string();
                match kind {
                    ListKind::Initial => self
                        .pending
                        .extend(list.items.into_iter().map(|o| Ok(WatchEvent::Added(o)))),
                    ListKind::Relist => self.pending.push_back(Ok(WatchEvent::Relisted {
                        objects: list.items,
                        resource_version: self.rv.clone(),
                    })),
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let raw: RawEvent = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => return self.pending.push_back(Err(Error::Decode(e))),
        };
        let rv = raw
            .object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let event = match raw.type_.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let object = match serde_json::from_value::<K>(raw.object) {
                    Ok(o) => o,
                    Err(e) => return self.pending.push_back(Err(Error::Decode(e))),
                };
                match raw.type_.as_str() {
                    "ADDED" => WatchEvent::Added(object),
                    "MODIFIED" => WatchEvent::Modified(object),
                    _ => WatchEvent::Deleted(object),
                }
            }
            "BOOKMARK" => {
                let annotations = raw
                    .object
                    .pointer("/metadata/annotations")
                    .and_then(|a| serde_json::from_value(a.clone()).ok())
                    .unwrap_or_default();
                WatchEvent::Bookmark(Bookmark {
                    resource_version: rv.clone().unwrap_or_default(),
                    annotations,
                })
            }
            "ERROR" => {
                let status: Status = serde_json::from_value(raw.object).unwrap_or_default();
                // The connection is over either way: a watcher starts another
                // (or lists again on 410), a single watch ends with the error.
                self.body = None;
                self.buf.clear();
                if self.resume && status.code == Some(410) {
                    self.list = Some(ListKind::Relist);
                } else {
                    self.fail(Error::Api(Box::new(status)));
                }
                return;
            }
            other => {
                let status = Status {
                    code: Some(500),
                    reason: Some("InternalError".into()),
                    message: Some(format!("unknown watch event type {other:?}")),
                    ..Status::default()
                };
                return self.pending.push_back(Err(Error::Api(Box::new(status))));
            }
        };
        if let Some(rv) = rv.filter(|v| !v.is_empty()) {
            self.rv = rv;
        }
        self.failures = 0;
        self.pending.push_back(Ok(event));
    }
}

/// 100 ms, doubling, at most 2 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(
        100u64
            .saturating_mul(1 << failures.min(6).saturating_sub(1))
            .min(2000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(40), Duration::from_millis(2000));
    }
}
