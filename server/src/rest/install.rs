//! The installer: for each resource, detect the verbs its type implements
//! (`StaticResource::visit_verbs`) and record the matching handler of its
//! typed storage, as kube-apiserver's installer registers one route per verb
//! interface a storage implements. The compiler checks the wiring: a verb's
//! handler can only be recorded when the storage implements that verb's trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use kapi_generated::resource::{ResourceVisitor, StaticResource, VerbVisitor, verbs};

use super::store::{TypedStore, resource_prefix};
use super::strategy;
use super::{Creater, Endpoint};
use crate::snapshot::Snapshot;
use crate::storage::Storage;

/// What serves a kind's verbs.
enum Backing<K: StaticResource> {
    /// The typed storage: every verb the kind implements.
    Stored(Arc<TypedStore<K>>),
    /// A review kind (`crate::review`): `create` computes the answer and
    /// nothing is stored, so no other verb can be served.
    Computed(Arc<dyn Creater>),
}

struct Installer<K: StaticResource> {
    backing: Backing<K>,
    endpoint: Endpoint,
}

impl<K: StaticResource> Installer<K> {
    /// The typed storage for a verb other than create; none for a computed
    /// kind, whose schema may only declare `create`.
    fn stored(&self, verb: &str) -> Option<Arc<TypedStore<K>>> {
        match &self.backing {
            Backing::Stored(s) => Some(s.clone()),
            Backing::Computed(_) => {
                tracing::error!(
                    kind = %self.endpoint.resource.kind,
                    verb,
                    "a review kind serves only create; the verb is not served"
                );
                None
            }
        }
    }
}

impl<K: StaticResource> VerbVisitor<K> for Installer<K> {
    fn get(&mut self)
    where
        K: verbs::Get,
    {
        self.endpoint.getter = self.stored("get").map(|s| s as _);
    }
    fn list(&mut self)
    where
        K: verbs::List,
    {
        self.endpoint.lister = self.stored("list").map(|s| s as _);
    }
    fn watch(&mut self)
    where
        K: verbs::Watch,
    {
        self.endpoint.watcher = self.stored("watch").map(|s| s as _);
    }
    fn create(&mut self)
    where
        K: verbs::Create,
    {
        self.endpoint.creater = Some(match &self.backing {
            Backing::Stored(s) => s.clone(),
            Backing::Computed(c) => c.clone(),
        });
    }
    fn update(&mut self)
    where
        K: verbs::Update,
    {
        self.endpoint.updater = self.stored("update").map(|s| s as _);
    }
    fn patch(&mut self)
    where
        K: verbs::Patch,
    {
        self.endpoint.patcher = self.stored("patch").map(|s| s as _);
    }
    fn delete(&mut self)
    where
        K: verbs::Delete,
    {
        self.endpoint.deleter = self.stored("delete").map(|s| s as _);
    }
    fn delete_collection(&mut self)
    where
        K: verbs::DeleteCollection,
    {
        self.endpoint.collection_deleter = self.stored("deletecollection").map(|s| s as _);
    }
}

/// (group, version, plural).
pub type ResourceKey = (String, String, String);

/// Every served resource, by group, version and plural.
#[derive(Clone, Default)]
pub struct Registry {
    endpoints: BTreeMap<ResourceKey, Arc<Endpoint>>,
    namespace_content: Arc<Snapshot<Vec<String>>>,
}

impl Registry {
    /// The endpoint of a resource.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<Endpoint>> {
        self.endpoints
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Key prefixes of every namespaced resource, compiled-in and custom
    /// (the CRD server updates it): what deleting a namespace deletes.
    pub fn namespace_content(&self) -> &Arc<Snapshot<Vec<String>>> {
        &self.namespace_content
    }

    /// Every endpoint, ordered by group, version and plural.
    pub fn endpoints(&self) -> impl Iterator<Item = &Arc<Endpoint>> {
        self.endpoints.values()
    }

    /// This registry plus `extra` endpoints (the custom resources served now);
    /// a compiled-in endpoint wins over an extra one with the same key.
    pub fn with_endpoints(&self, extra: impl IntoIterator<Item = Arc<Endpoint>>) -> Registry {
        let mut endpoints = self.endpoints.clone();
        for e in extra {
            let r = &e.resource;
            endpoints
                .entry((r.group.clone(), r.version.clone(), r.plural.clone()))
                .or_insert(e);
        }
        Registry {
            endpoints,
            namespace_content: self.namespace_content.clone(),
        }
    }
}

/// Builds a [`Registry`] on one storage.
pub struct RegistryBuilder {
    storage: Arc<dyn Storage>,
    endpoints: Vec<Endpoint>,
    namespace_content: Arc<Snapshot<Vec<String>>>,
}

impl RegistryBuilder {
    /// A builder whose resources will live in `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        RegistryBuilder {
            storage,
            endpoints: Vec::new(),
            namespace_content: Arc::new(Snapshot::new(Vec::new())),
        }
    }

    /// Serves `K`, generated or hand-written, with the verbs it implements:
    /// from its typed storage, or for a review kind from its computing handler.
    pub fn add<K: StaticResource>(&mut self) -> &mut Self {
        let resource = K::resource().clone();
        if let Some(creater) = crate::review::storage_for(&resource) {
            let mut installer = Installer::<K> {
                backing: Backing::Computed(creater),
                endpoint: Endpoint::new(resource),
            };
            K::visit_verbs(&mut installer);
            self.endpoints.push(installer.endpoint);
            return self;
        }
        let strategy = strategy::for_resource(&resource, &self.namespace_content);
        let schema =
            crate::patch::PatchSchema::for_kind(&resource.group, &resource.version, &resource.kind);
        let store = Arc::new(
            TypedStore::<K>::new(self.storage.clone(), (), strategy).with_patch_schema(schema),
        );
        let mut endpoint = Endpoint::new(resource);
        endpoint.facts.stored = true;
        let mut installer = Installer {
            backing: Backing::Stored(store),
            endpoint,
        };
        K::visit_verbs(&mut installer);
        self.endpoints.push(installer.endpoint);
        self
    }

    /// Serves every kind the schema files declare.
    pub fn add_generated(&mut self) -> &mut Self {
        kapi_generated::api::visit_resources(self);
        self
    }

    /// The registry.
    pub fn build(self) -> Registry {
        let prefixes = self
            .endpoints
            .iter()
            .filter(|e| e.resource.namespaced() && !crate::review::is_review(&e.resource))
            .map(|e| resource_prefix(self.storage.key_prefix(), &e.resource))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        self.namespace_content.store(prefixes);
        let endpoints = self
            .endpoints
            .into_iter()
            .map(|e| {
                (
                    (
                        e.resource.group.clone(),
                        e.resource.version.clone(),
                        e.resource.plural.clone(),
                    ),
                    Arc::new(e),
                )
            })
            .collect();
        Registry {
            endpoints,
            namespace_content: self.namespace_content,
        }
    }
}

impl ResourceVisitor for RegistryBuilder {
    fn visit<K: StaticResource>(&mut self) {
        self.add::<K>();
    }
}
