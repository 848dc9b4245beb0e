//! One API watch served from a [`WatchCache`]: initial events, then the live
//! events that pass its namespace and selectors, bookmarks, its timeout, and
//! the cut-off of a watcher that fell behind.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::{Interval, Sleep};

use super::cache::{CachedEvent, event_line};
use crate::error::ApiError;
use crate::rest::store::set_resource_version;
use crate::rest::{ListOptions, WatchEvent, WatchStream};
use crate::storage::Rev;

/// What one watcher sees of the cache's events.
pub struct Filter {
    /// Keys outside it are not this watcher's (a namespace, or the whole type).
    pub prefix: String,
    /// The label and field selectors.
    pub opts: ListOptions,
}

impl Filter {
    fn unfiltered(&self) -> bool {
        self.opts.label_selector.is_empty() && self.opts.field_selector.0.is_empty()
    }

    fn passes(&self, obj: &Value) -> bool {
        self.opts.label_selector.matches_object(obj) && self.opts.field_selector.matches_object(obj)
    }

    /// The event this watcher gets for `ev`, if any: upstream's rules, where
    /// an object modified out of the selector is DELETED (with its previous
    /// content at the event's resourceVersion) and one modified into it is ADDED.
    pub fn convert(&self, ev: &CachedEvent) -> Option<WatchEvent> {
        if !ev.key.starts_with(&self.prefix) {
            return None;
        }
        if self.unfiltered() {
            return Some(shared(ev));
        }
        let cur = ev.type_ != "DELETED" && self.passes(&ev.object);
        let old = match (&ev.prev, ev.type_) {
            (_, "DELETED") => self.passes(&ev.object),
            (Some(p), _) => self.passes(p),
            (None, _) => false,
        };
        match (cur, old) {
            (true, false) if ev.type_ == "ADDED" => Some(shared(ev)),
            (true, false) => {
                let line = event_line("ADDED", &ev.object);
                Some(WatchEvent {
                    type_: "ADDED",
                    object: ev.object.clone(),
                    line: Some(line),
                })
            }
            (true, true) => Some(shared(ev)),
            (false, true) if ev.type_ == "DELETED" => Some(shared(ev)),
            (false, true) => {
                let mut obj = ev.prev.as_deref().cloned().unwrap_or(Value::Null);
                set_resource_version(&mut obj, ev.rev);
                let line = event_line("DELETED", &obj);
                Some(WatchEvent {
                    type_: "DELETED",
                    object: Arc::new(obj),
                    line: Some(line),
                })
            }
            (false, false) => None,
        }
    }
}

fn shared(ev: &CachedEvent) -> WatchEvent {
    WatchEvent {
        type_: ev.type_,
        object: ev.object.clone(),
        line: Some(ev.line.clone()),
    }
}

/// How a watch is shaped.
pub struct WatchPlan {
    /// Events sent before the live ones (synthetic ADDED, a replay, the
    /// initial-events-end bookmark).
    pub initial: VecDeque<WatchEvent>,
    /// The revision the watcher has seen once the initial events are sent.
    pub rev: Rev,
    /// The live events.
    pub rx: broadcast::Receiver<Arc<CachedEvent>>,
    /// Who the watcher is.
    pub filter: Filter,
    /// When the watch ends.
    pub timeout: Duration,
    /// Periodic bookmarks, if asked for: a bookmark object of the kind, and the interval.
    pub bookmarks: Option<(Value, Duration)>,
}

struct Running {
    initial: VecDeque<WatchEvent>,
    rev: Rev,
    rx: broadcast::Receiver<Arc<CachedEvent>>,
    filter: Filter,
    deadline: Pin<Box<Sleep>>,
    bookmarks: Option<(Value, Interval)>,
    done: bool,
}

fn too_slow(rev: Rev) -> WatchEvent {
    let status = ApiError::expired(format!(
        "too old resource version: {rev} ({rev}): the watcher fell behind and was cut off"
    ))
    .status();
    WatchEvent::new("ERROR", serde_json::to_value(status).unwrap_or(Value::Null))
}

/// The stream of one watcher.
pub fn stream(plan: WatchPlan) -> WatchStream {
    let bookmarks = plan.bookmarks.map(|(b, every)| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        (b, t)
    });
    let state = Running {
        initial: plan.initial,
        rev: plan.rev,
        rx: plan.rx,
        filter: plan.filter,
        deadline: Box::pin(tokio::time::sleep(plan.timeout)),
        bookmarks,
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(ev) = st.initial.pop_front() {
            return Some((ev, st));
        }
        loop {
            let tick = async {
                match &mut st.bookmarks {
                    Some((_, t)) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = &mut st.deadline => return None,
                _ = tick => {
                    if let Some((b, _)) = &st.bookmarks {
                        let mut b = b.clone();
                        b["metadata"]["resourceVersion"] = Value::String(st.rev.to_string());
                        return Some((WatchEvent::new("BOOKMARK", b), st));
                    }
                }
                next = st.rx.recv() => match next {
                    Ok(ev) => {
                        st.rev = ev.rev;
                        if let Some(out) = st.filter.convert(&ev) {
                            return Some((out, st));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        st.done = true;
                        let ev = too_slow(st.rev);
                        return Some((ev, st));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    })
    .boxed()
}

/// The objects of a snapshot (JSON) that pass `keep`, as synthetic ADDED events.
pub fn added(objects: Vec<Bytes>, keep: impl Fn(&Value) -> bool) -> VecDeque<WatchEvent> {
    objects
        .into_iter()
        .filter_map(|json| {
            let o: Value = serde_json::from_slice(&json).ok()?;
            if !keep(&o) {
                return None;
            }
            // The line from the stored bytes: no second serialisation.
            let mut line = Vec::with_capacity(json.len() + 32);
            line.extend_from_slice(br#"{"type":"ADDED","object":"#);
            line.extend_from_slice(&json);
            line.extend_from_slice(b"}\n");
            Some(WatchEvent {
                type_: "ADDED",
                object: Arc::new(o),
                line: Some(Bytes::from(line)),
            })
        })
        .collect()
}
