//! The `Storage` trait: a key-value store with etcd's semantics (one global
//! revision, create-if-absent, compare-and-swap on a key's modification
//! revision, range reads, watch from a revision). The REST layer is generic
//! code on top of it; [`embedded`] is the default backend, [`etcd`] the one
//! chosen with `--etcd-servers`.

pub mod embedded;
pub mod etcd;
pub mod etcd_process;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A revision of the store: the resourceVersion clients see.
pub type Rev = u64;

/// A stored object with its revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, e.g. `/registry/configmaps/default/x`.
    pub key: String,
    /// The object, as stored.
    pub value: Bytes,
    /// The revision that created the key.
    pub create_rev: Rev,
    /// The revision of the last change.
    pub mod_rev: Rev,
}

/// A change, as watch reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A key was created (`kv.create_rev == kv.mod_rev`) or changed.
    Put {
        /// The new state.
        kv: KeyValue,
    },
    /// A key was deleted at `rev`; `prev` is its last state.
    Delete {
        /// The state before the delete.
        prev: KeyValue,
        /// The revision of the delete.
        rev: Rev,
    },
}

impl Event {
    /// The revision of the change.
    pub fn rev(&self) -> Rev {
        match self {
            Event::Put { kv } => kv.mod_rev,
            Event::Delete { rev, .. } => *rev,
        }
    }

    /// The key that changed.
    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// A range read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResult {
    /// The keys found, in key order.
    pub items: Vec<KeyValue>,
    /// The store's revision the read saw.
    pub rev: Rev,
    /// Whether keys remain after the last one returned.
    pub more: bool,
    /// How many keys of the range remain after the last one returned, when
    /// the store counted them (a limited read: etcd's range count; the
    /// embedded store counts the rest of the range).
    pub remaining: Option<u64>,
}

/// What can go wrong in a store.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StorageError {
    /// The key does not exist.
    #[error("key not found: {0}")]
    NotFound(String),
    /// Create found the key already there.
    #[error("key exists: {0}")]
    AlreadyExists(String),
    /// The key's modification revision is not the one expected.
    #[error("revision conflict on {key}: expected {expected}, found {found}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Rev,
        /// The key's revision now.
        found: Rev,
    },
    /// A watch asked for history that compaction removed.
    #[error("revision {requested} is compacted (oldest kept: {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Rev,
        /// The compacted revision.
        compacted: Rev,
    },
    /// A watcher fell too far behind and was cut off.
    #[error("watch fell behind")]
    WatcherTooSlow,
    /// The store cannot be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("storage error: {0}")]
    Internal(String),
}

/// A stream of changes.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, StorageError>> + Send>>;

/// `events` up to and including its first error, then nothing: a watch
/// reports one error and ends.
pub fn through_first_error(
    events: impl Stream<Item = Result<Event, StorageError>> + Send + 'static,
) -> EventStream {
    use futures::StreamExt;
    let mut failed = false;
    Box::pin(events.take_while(move |item| {
        let keep = !failed;
        if item.is_err() {
            failed = true;
        }
        futures::future::ready(keep)
    }))
}

/// A storage watch that reports its progress when asked (etcd's watch
/// progress requests): [`Storage::watch_with_progress`].
pub struct ProgressWatch {
    /// The changes, as [`Storage::watch`] gives them.
    pub events: EventStream,
    /// Asks for a report.
    pub requester: ProgressRequester,
    /// The reports: a revision R is sent only after `events` has yielded
    /// every change up to R under the prefix, and only while `events` is
    /// polled. So a consumer that handles each change before it polls for
    /// the next one has seen every change up to R when it receives R.
    pub reports: tokio::sync::mpsc::UnboundedReceiver<Rev>,
}

/// Asks a [`ProgressWatch`] for a report.
#[derive(Clone, Debug)]
pub struct ProgressRequester(pub(crate) tokio::sync::mpsc::Sender<()>);

impl ProgressRequester {
    /// Asks for a report; one request still pending covers this one too.
    pub fn request(&self) {
        // Full: a request is already pending. Closed: the watch has ended
        // (its stream then ends too).
        let _ = self.0.try_send(());
    }
}

/// A key-value store with etcd's semantics.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The root every key lives under (`/registry`; for etcd, `--etcd-prefix`).
    fn key_prefix(&self) -> &str {
        "/registry"
    }

    /// Whether the store can serve now (`/readyz` asks).
    async fn health(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Whether a watch cache always catches up with [`Storage::current_rev`]
    /// by itself (true for a local store, where every write is under the
    /// watched root; on etcd other writers move the revision too, and the
    /// cache learns of that only through progress reports, if at all).
    fn serves_consistent_reads_from_cache(&self) -> bool {
        false
    }

    /// Reads one key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StorageError>;

    /// Reads the keys under `prefix` (after `start_after`, if given), at most
    /// `limit` of them (0: all), at one revision.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<ListResult, StorageError>;

    /// Reads like [`Storage::list`], but the keys as they were at revision
    /// `rev` (a page after the first of a paginated list reads the first
    /// page's snapshot, as upstream's pages on etcd do); `ListResult::rev` is
    /// `rev`. `Err(Compacted)` when the store no longer knows that state.
    async fn list_at(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        rev: Rev,
    ) -> Result<ListResult, StorageError>;

    /// Creates a key that must not exist.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError>;

    /// Replaces a key whose modification revision is `expected_mod_rev`.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_rev: Rev,
    ) -> Result<KeyValue, StorageError>;

    /// Deletes a key (whose modification revision is `expected_mod_rev`, if given);
    /// returns its last state and the revision of the delete.
    async fn delete(
        &self,
        key: &str,
        expected_mod_rev: Option<Rev>,
    ) -> Result<(KeyValue, Rev), StorageError>;

    /// Streams the changes under `prefix` with a revision greater than `after`.
    async fn watch(&self, prefix: &str, after: Rev) -> Result<EventStream, StorageError>;

    /// A watch like [`Storage::watch`] that reports its progress when asked,
    /// so a watch cache can learn that it is current without a change to see
    /// (etcd's watch progress requests). `None` where the store has no
    /// reliable progress reports (the default; etcd before 3.4.31 / 3.5.13).
    async fn watch_with_progress(
        &self,
        prefix: &str,
        after: Rev,
    ) -> Result<Option<ProgressWatch>, StorageError> {
        let _ = (prefix, after);
        Ok(None)
    }

    /// The store's current revision.
    async fn current_rev(&self) -> Result<Rev, StorageError>;

    /// Drops the history at and below `rev` (never the current objects);
    /// returns the compacted revision now in effect.
    async fn compact(&self, rev: Rev) -> Result<Rev, StorageError>;

    /// `Err(Compacted)` when the history after `rev` is no longer complete
    /// (a watch or a continue token from `rev` would miss changes).
    async fn check_history(&self, rev: Rev) -> Result<(), StorageError>;
}

#[cfg(test)]
pub(crate) mod conformance;
