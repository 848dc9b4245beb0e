//! REST storage: one verb trait per verb (as kube-apiserver's `rest.Getter`,
//! `rest.Creater`, ...), the generic typed storage that implements them over
//! any [`Storage`](crate::storage::Storage), and the installer that detects the
//! verbs a resource implements and records one endpoint per verb.

pub mod config_data;
pub mod events;
pub mod install;
pub mod leases;
pub mod meta;
pub mod options;
pub mod store;
pub mod strategy;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use kapi_generated::ApiResource;
use serde_json::Value;

use crate::error::ApiError;
pub use options::{DeleteOpts, FieldValidation, ListOptions, PatchBody, PatchType, RequestScope};

/// A list read.
#[derive(Debug, Clone, Default)]
pub struct ObjectList {
    /// The objects, with their resourceVersions.
    pub items: Vec<Value>,
    /// The revision the list was read at.
    pub resource_version: u64,
    /// A token for the next page, if there is one.
    pub continue_token: Option<String>,
    /// How many objects follow this page (`metadata.remainingItemCount`):
    /// known, as upstream, only for a limited list without selectors.
    pub remaining_item_count: Option<u64>,
    /// The cached objects (JSON bytes, and a protobuf cell) instead of
    /// `items`, when the list came from the watch cache: JSON output
    /// concatenates them without a parse, protobuf output their messages.
    pub raw_items: Option<Vec<std::sync::Arc<crate::watch::cache::CachedObject>>>,
}

impl ObjectList {
    /// The objects as values, wherever the list came from (the cached
    /// objects of a list from the watch cache are parsed).
    pub fn into_items(self) -> Result<Vec<Value>, ApiError> {
        let Some(raw) = self.raw_items else {
            return Ok(self.items);
        };
        raw.iter()
            .map(|o| {
                serde_json::from_slice(&o.json)
                    .map_err(|e| ApiError::internal(format!("a cached object does not parse: {e}")))
            })
            .collect()
    }
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored (or as it would be, for a dry run).
    pub object: Value,
    /// Whether the write created the object (201).
    pub created: bool,
    /// `Warning` headers for the response.
    pub warnings: Vec<String>,
}

/// The result of a delete.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone: a `Status` of success is the answer.
    Gone {
        /// The deleted object's uid.
        uid: String,
    },
    /// The object stays (finalizers, a terminating namespace): it is the answer.
    Pending(Value),
}

/// One watch event.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
    pub type_: &'static str,
    /// The object (a `Status` for ERROR), shared by the watchers of one event.
    pub object: std::sync::Arc<Value>,
    /// The event's JSON line (`{"type":…,"object":…}\n`) when it was
    /// serialised once for every watcher.
    pub line: Option<bytes::Bytes>,
}

impl WatchEvent {
    /// An event serialised by whoever writes it.
    pub fn new(type_: &'static str, object: Value) -> Self {
        WatchEvent {
            type_,
            object: std::sync::Arc::new(object),
            line: None,
        }
    }
}

/// A stream of watch events; it ends when the watch does.
pub type WatchStream = BoxStream<'static, WatchEvent>;

/// `get`.
#[async_trait]
pub trait Getter: Send + Sync {
    /// Reads one object.
    async fn get(&self, scope: &RequestScope, name: &str) -> Result<Value, ApiError>;
}

/// `list`.
#[async_trait]
pub trait Lister: Send + Sync {
    /// Reads a collection.
    async fn list(&self, scope: &RequestScope, opts: &ListOptions) -> Result<ObjectList, ApiError>;
}

/// `watch`.
#[async_trait]
pub trait Watcher: Send + Sync {
    /// Streams changes.
    async fn watch(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<WatchStream, ApiError>;
}

/// `create`.
#[async_trait]
pub trait Creater: Send + Sync {
    /// Creates an object from a request body.
    async fn create(&self, scope: &RequestScope, body: Value) -> Result<Written, ApiError>;
}

/// `update`.
#[async_trait]
pub trait Updater: Send + Sync {
    /// Replaces an object.
    async fn update(
        &self,
        scope: &RequestScope,
        name: &str,
        body: Value,
    ) -> Result<Written, ApiError>;
}

/// `patch`.
#[async_trait]
pub trait Patcher: Send + Sync {
    /// Patches an object.
    async fn patch(
        &self,
        scope: &RequestScope,
        name: &str,
        patch: PatchBody,
    ) -> Result<Written, ApiError>;
}

/// `delete`.
#[async_trait]
pub trait Deleter: Send + Sync {
    /// Deletes an object.
    async fn delete(
        &self,
        scope: &RequestScope,
        name: &str,
        opts: DeleteOpts,
    ) -> Result<Deleted, ApiError>;
}

/// `deletecollection`.
#[async_trait]
pub trait CollectionDeleter: Send + Sync {
    /// Deletes the objects a list would return.
    async fn delete_collection(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
        del: DeleteOpts,
    ) -> Result<ObjectList, ApiError>;
}

/// A served resource: how it is served and one handler per verb it implements.
#[derive(Clone)]
pub struct Endpoint {
    /// Names, scope, subresources, columns.
    pub resource: ApiResource,
    /// `get`, if implemented.
    pub getter: Option<Arc<dyn Getter>>,
    /// `list`, if implemented.
    pub lister: Option<Arc<dyn Lister>>,
    /// `watch`, if implemented.
    pub watcher: Option<Arc<dyn Watcher>>,
    /// `create`, if implemented.
    pub creater: Option<Arc<dyn Creater>>,
    /// `update`, if implemented.
    pub updater: Option<Arc<dyn Updater>>,
    /// `patch`, if implemented.
    pub patcher: Option<Arc<dyn Patcher>>,
    /// `delete`, if implemented.
    pub deleter: Option<Arc<dyn Deleter>>,
    /// `deletecollection`, if implemented.
    pub collection_deleter: Option<Arc<dyn CollectionDeleter>>,
    /// How it is stored and served, beyond its names and verbs.
    pub facts: ResourceFacts,
}

/// How a resource is stored and served, beyond its names and verbs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFacts {
    /// Whether objects are stored (a review kind's answer is computed):
    /// stored kinds publish the hash of their storage version in legacy
    /// discovery.
    pub stored: bool,
    /// A custom resource, served as unstructured JSON, as upstream's
    /// apiextensions server serves it. Two things differ for those from
    /// compiled-in kinds, as upstream: aggregated discovery's `responseKind`
    /// names the group and version (upstream's built-in entries leave both
    /// empty, but for subresources of another group), and list items keep
    /// their `kind` and `apiVersion` (typed lists drop them).
    pub custom_resource: bool,
}

impl Endpoint {
    /// Upstream's `storageVersionHash` of a stored kind: the standard base64
    /// of the first 8 bytes of the SHA-256 of `group/version/kind` of its
    /// storage version.
    pub fn storage_version_hash(&self) -> Option<String> {
        use base64::Engine as _;
        use sha2::Digest as _;
        if !self.facts.stored {
            return None;
        }
        let r = &self.resource;
        let version = r.storage_version.as_ref().unwrap_or(&r.version);
        let digest = sha2::Sha256::digest(format!("{}/{version}/{}", r.group, r.kind).as_bytes());
        Some(base64::engine::general_purpose::STANDARD.encode(&digest[..8]))
    }
}

impl Endpoint {
    /// An endpoint that serves no verb yet.
    pub fn new(resource: ApiResource) -> Self {
        Endpoint {
            resource,
            getter: None,
            lister: None,
            watcher: None,
            creater: None,
            updater: None,
            patcher: None,
            deleter: None,
            collection_deleter: None,
            facts: ResourceFacts::default(),
        }
    }

    /// The verbs served, in discovery's order: sorted for compiled-in kinds
    /// (upstream's installer sorts them), in the apiextensions server's own
    /// order for custom resources (which it lists unsorted).
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.facts.custom_resource {
            const CUSTOM: [&str; 8] = [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ];
            let sorted = self.sorted_verbs();
            return CUSTOM.into_iter().filter(|v| sorted.contains(v)).collect();
        }
        self.sorted_verbs()
    }

    fn sorted_verbs(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.creater.is_some() {
            v.push("create");
        }
        if self.deleter.is_some() {
            v.push("delete");
        }
        if self.collection_deleter.is_some() {
            v.push("deletecollection");
        }
        if self.getter.is_some() {
            v.push("get");
        }
        if self.lister.is_some() {
            v.push("list");
        }
        if self.patcher.is_some() {
            v.push("patch");
        }
        if self.updater.is_some() {
            v.push("update");
        }
        if self.watcher.is_some() {
            v.push("watch");
        }
        v
    }

    /// The verbs of the status subresource: get, patch and update where the resource has them.
    pub fn status_verbs(&self) -> Vec<&'static str> {
        if !self.resource.status_subresource {
            return Vec::new();
        }
        let mut v = Vec::new();
        if self.getter.is_some() {
            v.push("get");
        }
        if self.patcher.is_some() {
            v.push("patch");
        }
        if self.updater.is_some() {
            v.push("update");
        }
        v
    }
}
