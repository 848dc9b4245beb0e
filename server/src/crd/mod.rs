//! The CRD server: kapi's delegate for requests no compiled-in route serves,
//! as kube-apiserver's apiextensions server. It watches
//! CustomResourceDefinitions through the [`Storage`] ([`controller`]), keeps a
//! registry of the custom resources they define — each served by the same
//! generic `TypedStore` as compiled-in kinds, over [`kapi_generated::Unstructured`]
//! — sets their status ([`status`]), and keeps discovery and OpenAPI current.
//! [`handler`] answers requests through the ordinary dispatcher path.

pub mod cel;
pub mod cel_eval;
pub mod cel_value;
pub mod controller;
pub mod defaults;
pub mod definition;
pub mod embedded;
pub mod handler;
pub mod invariants;
pub mod openapi;
pub mod schema;
pub mod selectable;
pub mod status;
pub mod strategy;
pub mod structural;
pub mod validation;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::discovery::Discovery;
use crate::openapi::OpenApi;
use crate::rest::Endpoint;
use crate::rest::install::{Registry, ResourceKey};
use crate::snapshot::Snapshot;
use crate::storage::Storage;

/// One served custom resource version.
#[derive(Clone)]
pub struct Route {
    /// The endpoint (a `TypedStore<Unstructured>` for every verb).
    pub endpoint: Arc<Endpoint>,
    /// The `Warning` of a deprecated version.
    pub warning: Option<String>,
    /// Whether its CRD is being deleted (creates are refused).
    pub terminating: bool,
}

/// The custom resources served now, by (group, version, plural).
#[derive(Clone, Default)]
pub struct Routes {
    /// The routes.
    pub routes: BTreeMap<ResourceKey, Route>,
}

/// The CRD server's shared state.
pub struct CrdServer {
    storage: Arc<dyn Storage>,
    builtin: Registry,
    routes: Snapshot<Routes>,
    discovery: Arc<Snapshot<Discovery>>,
    openapi: Arc<Snapshot<OpenApi>>,
    server_version: String,
}

impl CrdServer {
    /// A CRD server on `storage`, next to the compiled-in `builtin` registry,
    /// updating the shared discovery and OpenAPI documents.
    pub fn new(
        storage: Arc<dyn Storage>,
        builtin: Registry,
        discovery: Arc<Snapshot<Discovery>>,
        openapi: Arc<Snapshot<OpenApi>>,
        server_version: String,
    ) -> Arc<Self> {
        Arc::new(CrdServer {
            storage,
            builtin,
            routes: Snapshot::new(Routes::default()),
            discovery,
            openapi,
            server_version,
        })
    }

    /// The route of a custom resource, if served.
    pub fn route(&self, group: &str, version: &str, plural: &str) -> Option<Route> {
        self.routes
            .load()
            .routes
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }
}
