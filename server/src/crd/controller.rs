//! The CRD controller: lists and then watches CustomResourceDefinitions
//! through the [`Storage`](crate::storage::Storage) (so every replica on a
//! shared store converges), sets each one's status, (re)builds the endpoints
//! of its served versions and publishes routes, discovery and — for the
//! touched group/versions only — OpenAPI documents.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use kapi_generated::Unstructured;
use serde_json::Value;

use super::definition::{Definition, Names, Version};
use super::schema::CrSchema;
use super::strategy::CustomResources;
use super::{CrdServer, Route, Routes, status};
use crate::discovery::Discovery;
use crate::patch::managed_fields;
use crate::patch::schema::PatchSchema;
use crate::rest::install::ResourceKey;
use crate::rest::store::TypedStore;
use crate::rest::{Endpoint, ResourceFacts};
use crate::storage::{Event, Rev, StorageError};

/// Records a status the controller writes in the CRD's managedFields, as
/// upstream's apiextensions controllers' `UpdateStatus` calls are recorded:
/// manager `kube-apiserver` (their User-Agent), operation Update,
/// subresource `status`, with the CRD status strategy's reset fields.
fn record_status_write(live: &Value, new: &mut Value) {
    static SCHEMA: std::sync::OnceLock<Option<Arc<PatchSchema>>> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        PatchSchema::for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    });
    let reset = managed_fields::FieldSet::of(&[&["f:metadata"], &["f:spec"]]);
    let now = crate::rest::meta::now_rfc3339();
    let entries = managed_fields::update(
        live,
        new,
        "kube-apiserver",
        &managed_fields::Write {
            schema: schema.as_ref().map(|s| s.root()),
            api_version: "apiextensions.k8s.io/v1",
            subresource: Some("status"),
            reset: &reset,
            now: &now,
        },
    );
    managed_fields::write(new, &entries);
}

/// Where CRDs live under the store's key prefix.
const CRD_KEYS: &str = "/apiextensions.k8s.io/customresourcedefinitions/";

struct Served {
    key: ResourceKey,
    route: Route,
    def: Definition,
    version: Version,
}

/// What the controller knows.
#[derive(Default)]
pub struct State {
    crds: BTreeMap<String, Value>,
    served: BTreeMap<String, Vec<Served>>,
    /// Statuses to write once the routes, discovery and OpenAPI they
    /// announce are published (so `Established` is never seen early).
    pending_status: Vec<(String, Value)>,
}

type Gv = (String, String);

fn gvs(served: Option<&Vec<Served>>) -> BTreeSet<Gv> {
    served
        .into_iter()
        .flatten()
        .map(|s| (s.key.0.clone(), s.key.1.clone()))
        .collect()
}

impl CrdServer {
    /// The key prefix of the CRD objects themselves.
    fn crd_prefix(&self) -> String {
        format!("{}{CRD_KEYS}", self.storage.key_prefix())
    }

    /// Reads every CRD, serves the established ones, then follows changes in
    /// the background. Returns once the initial state is published.
    pub async fn start(self: &Arc<Self>) -> Result<(), StorageError> {
        let mut st = State::default();
        let rev = self.resync(&mut st).await?;
        let me = self.clone();
        tokio::spawn(async move { me.run(st, rev).await });
        Ok(())
    }

    async fn resync(&self, st: &mut State) -> Result<Rev, StorageError> {
        let list = self.storage.list(&self.crd_prefix(), None, 0).await?;
        let mut touched: BTreeSet<Gv> = st.served.values().flat_map(|v| gvs(Some(v))).collect();
        st.crds.clear();
        for kv in &list.items {
            if let Ok(v) = serde_json::from_slice::<Value>(&kv.value) {
                let name = kv
                    .key
                    .trim_start_matches(self.crd_prefix().as_str())
                    .to_string();
                st.crds.insert(name, v);
            }
        }
        st.served.retain(|name, _| st.crds.contains_key(name));
        let names: Vec<String> = st.crds.keys().cloned().collect();
        for name in &names {
            self.accept_names(st, name).await;
        }
        for name in names {
            touched.extend(self.reconcile(st, &name).await);
        }
        self.publish(st, &touched);
        self.write_pending_status(st).await;
        Ok(list.rev)
    }

    async fn run(self: Arc<Self>, mut st: State, mut rev: Rev) {
        use futures::FutureExt as _;
        loop {
            match self.storage.watch(&self.crd_prefix(), rev).await {
                Ok(mut events) => {
                    'watching: while let Some(first) = events.next().await {
                        // Every change already there is handled together:
                        // the names of all of them are accepted before any
                        // is built (which compiles schemas and CEL rules).
                        let mut batch = vec![first];
                        while let Some(Some(ev)) = events.next().now_or_never() {
                            batch.push(ev);
                        }
                        let mut ok = Vec::new();
                        let mut failed = None;
                        for ev in batch {
                            match ev {
                                Ok(ev) => ok.push(ev),
                                Err(e) => {
                                    failed = Some(e);
                                    break;
                                }
                            }
                        }
                        if let Some(last) = ok.last() {
                            rev = last.rev();
                        }
                        self.on_events(&mut st, ok).await;
                        if let Some(e) = failed {
                            tracing::warn!(error = %e, "CRD watch ended; resuming");
                            break 'watching;
                        }
                    }
                }
                Err(StorageError::Compacted { .. }) => match self.resync(&mut st).await {
                    Ok(r) => rev = r,
                    Err(e) => tracing::warn!(error = %e, "CRD relist failed"),
                },
                Err(e) => tracing::warn!(error = %e, "CRD watch failed"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn on_events(&self, st: &mut State, events: Vec<Event>) {
        let mut changed = Vec::new();
        let mut touched = BTreeSet::new();
        for ev in events {
            match ev {
                Event::Put { kv } => {
                    let name = kv
                        .key
                        .trim_start_matches(self.crd_prefix().as_str())
                        .to_string();
                    let Ok(v) = serde_json::from_slice::<Value>(&kv.value) else {
                        continue;
                    };
                    if st.crds.get(&name) == Some(&v) {
                        continue;
                    }
                    st.crds.insert(name.clone(), v);
                    if !changed.contains(&name) {
                        changed.push(name);
                    }
                }
                Event::Delete { prev, .. } => {
                    let name = prev
                        .key
                        .trim_start_matches(self.crd_prefix().as_str())
                        .to_string();
                    st.crds.remove(&name);
                    changed.retain(|n| *n != name);
                    touched.extend(gvs(st.served.remove(&name).as_ref()));
                    tracing::info!(crd = %name, "custom resource no longer served");
                }
            }
        }
        for name in &changed {
            self.accept_names(st, name).await;
        }
        for name in &changed {
            touched.extend(self.reconcile(st, name).await);
        }
        self.publish(st, &touched);
        self.write_pending_status(st).await;
    }

    /// A new CRD's first status, as upstream's naming controller writes it
    /// before the CRD is served: its names accepted (or the conflict), and
    /// `Established` False. Until then its `status.conditions` are null
    /// (written at create, as upstream), which `kubectl wait` cannot read.
    async fn accept_names(&self, st: &mut State, name: &str) {
        let Some(crd) = st.crds.get(name).cloned() else {
            return;
        };
        let has_conditions = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        let def = Definition::from_value(&crd);
        if has_conditions || def.terminating {
            return;
        }
        let conflict = status::conflict(&def, &self.taken_names(st, name, &def));
        let named = status::named(&crd, &def, conflict.as_ref());
        self.write_one_status(st, name, &named).await;
    }

    /// The accepted names of the other CRDs of `def`'s group.
    fn taken_names(&self, st: &State, name: &str, def: &Definition) -> Vec<Names> {
        st.crds
            .iter()
            .filter(|(n, _)| n.as_str() != name)
            .filter(|(_, c)| c["spec"]["group"].as_str() == Some(def.group.as_str()))
            .map(|(_, c)| Names::from_value(&c["status"]["acceptedNames"]))
            .filter(|n| !n.plural.is_empty())
            .collect()
    }

    /// Brings one CRD's status and routes up to date; returns the
    /// group/versions whose documents change.
    async fn reconcile(&self, st: &mut State, name: &str) -> BTreeSet<Gv> {
        let Some(crd) = st.crds.get(name).cloned() else {
            return BTreeSet::new();
        };
        let def = Definition::from_value(&crd);
        let conflict = status::conflict(&def, &self.taken_names(st, name, &def));
        let desired = status::desired(&crd, &def, conflict.as_ref());
        if crd.get("status") != Some(&desired) {
            if def.terminating {
                self.write_one_status(st, name, &desired).await;
            } else {
                // Seen at once by the other CRDs' name checks; stored after
                // `publish`, so a client that sees `Established` finds the
                // resource served, in discovery and in /openapi/v3.
                if let Some(v) = st.crds.get_mut(name) {
                    v["status"] = desired.clone();
                }
                st.pending_status.push((name.to_string(), desired));
            }
        }
        if def.terminating {
            // Terminating: refuse creates, delete the objects, then the CRD
            // (its Delete event drops the routes).
            if let Some(served) = st.served.get_mut(name) {
                for s in served.iter_mut() {
                    s.route.terminating = true;
                }
            }
            self.publish(st, &BTreeSet::new());
            if let Err(e) = self.finish_deletion(name, &def).await {
                tracing::warn!(crd = %name, error = %e, "cannot finish deleting CRD");
            }
            return BTreeSet::new();
        }
        let mut touched = gvs(st.served.get(name));
        if conflict.is_some() {
            st.served.remove(name);
            return touched;
        }
        let old = st.served.remove(name).unwrap_or_default();
        let mut now = Vec::new();
        for v in def.versions.iter().filter(|v| v.served) {
            let r = def.api_resource(v, &def.names);
            let key = (r.group.clone(), r.version.clone(), r.plural.clone());
            let reuse = old.iter().find(|o| {
                o.key == key
                    && o.version == *v
                    && o.def.names == def.names
                    && o.def.scope == def.scope
            });
            let route = match reuse {
                Some(o) => o.route.clone(),
                None => {
                    tracing::info!(crd = %name, version = %v.name, "custom resource served");
                    Route {
                        endpoint: Arc::new(self.endpoint(&def, v)),
                        warning: v.warning.clone(),
                        terminating: false,
                    }
                }
            };
            now.push(Served {
                key,
                route,
                // Names and scope only: the schemas live in `version`.
                def: Definition {
                    versions: Vec::new(),
                    ..def.clone()
                },
                version: v.clone(),
            });
        }
        // Documents change only when an endpoint was built or dropped.
        let unchanged = now.len() == old.len()
            && now.iter().all(|n| {
                old.iter()
                    .any(|o| Arc::ptr_eq(&o.route.endpoint, &n.route.endpoint))
            });
        if unchanged {
            touched.clear();
        } else {
            touched.extend(gvs(Some(&now)));
        }
        st.served.insert(name.to_string(), now);
        touched
    }

    fn endpoint(&self, def: &Definition, v: &Version) -> Endpoint {
        let r = def.api_resource(v, &def.names);
        let strategy = Arc::new(CustomResources {
            kind: r.kind.clone(),
            group: r.group.clone(),
            schema: v.schema.clone().map(|s| Arc::new(CrSchema::new(s))),
            rules: v
                .schema
                .as_ref()
                .filter(|s| super::cel::has_rules(s))
                .map(|s| {
                    Arc::new(super::cel::CelRules::new(
                        s,
                        &r.group,
                        &r.api_version(),
                        &r.kind,
                    ))
                }),
            status: v.status,
        });
        let store = Arc::new(
            TypedStore::<Unstructured>::new(self.storage.clone(), r.clone(), strategy)
                // Server-side apply and managedFields follow the schema's list and map types.
                .with_patch_schema(v.schema.clone().map(PatchSchema::for_custom_resource)),
        );
        let mut ep = Endpoint::new(r);
        ep.facts = ResourceFacts {
            stored: true,
            custom_resource: true,
        };
        ep.getter = Some(store.clone());
        ep.lister = Some(store.clone());
        ep.watcher = Some(store.clone());
        ep.creater = Some(store.clone());
        ep.updater = Some(store.clone());
        ep.patcher = Some(store.clone());
        ep.deleter = Some(store.clone());
        ep.collection_deleter = Some(store);
        ep
    }

    /// Deletes every object of a terminating CRD, removes the cleanup
    /// finalizer, and deletes the CRD once no finalizer is left.
    async fn finish_deletion(&self, name: &str, def: &Definition) -> Result<(), StorageError> {
        let prefix = format!(
            "{}/{}/{}/",
            self.storage.key_prefix(),
            def.group,
            def.names.plural
        );
        let found = self.storage.list(&prefix, None, 0).await?;
        for kv in found.items {
            match self.storage.delete(&kv.key, None).await {
                Ok(_) | Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let key = format!("{}{name}", self.crd_prefix());
        for _ in 0..8 {
            let Some(kv) = self.storage.get(&key).await? else {
                return Ok(());
            };
            let Ok(mut v) = serde_json::from_slice::<Value>(&kv.value) else {
                return Ok(());
            };
            let mut left = Vec::new();
            if let Some(list) = v.pointer("/metadata/finalizers").and_then(Value::as_array) {
                left = list
                    .iter()
                    .filter(|f| f.as_str() != Some(super::strategy::CLEANUP_FINALIZER))
                    .cloned()
                    .collect();
            }
            let result = if left.is_empty() {
                self.storage
                    .delete(&key, Some(kv.mod_rev))
                    .await
                    .map(|_| ())
            } else {
                v["metadata"]["finalizers"] = Value::Array(left);
                let bytes = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
                self.storage
                    .update(&key, bytes, kv.mod_rev)
                    .await
                    .map(|_| ())
            };
            match result {
                Ok(()) => return Ok(()),
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes a CRD's status (compare-and-swap, retried); the stored CRD after it.
    async fn write_pending_status(&self, st: &mut State) {
        for (name, status) in std::mem::take(&mut st.pending_status) {
            self.write_one_status(st, &name, &status).await;
        }
    }

    async fn write_one_status(&self, st: &mut State, name: &str, status: &Value) {
        match self.write_status(name, status).await {
            Ok(Some(v)) => {
                st.crds.insert(name.to_string(), v);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(crd = %name, error = %e, "cannot update CRD status"),
        }
    }

    async fn write_status(
        &self,
        name: &str,
        status: &Value,
    ) -> Result<Option<Value>, StorageError> {
        let key = format!("{}{name}", self.crd_prefix());
        for _ in 0..8 {
            let Some(kv) = self.storage.get(&key).await? else {
                return Ok(None);
            };
            let Ok(live) = serde_json::from_slice::<Value>(&kv.value) else {
                return Ok(None);
            };
            let mut v = live.clone();
            v["status"] = status.clone();
            record_status_write(&live, &mut v);
            let bytes = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
            match self.storage.update(&key, bytes, kv.mod_rev).await {
                Ok(_) => return Ok(Some(v)),
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Rebuilds the OpenAPI documents of the `touched` group/versions only,
    /// then publishes the routes and rebuilds discovery — in that order, so
    /// a client that finds a resource in discovery finds its schema too.
    fn publish(&self, st: &State, touched: &BTreeSet<Gv>) {
        let mut routes = Routes::default();
        for s in st.served.values().flatten() {
            routes.routes.insert(s.key.clone(), s.route.clone());
        }
        let eps: Vec<Arc<Endpoint>> = routes.routes.values().map(|r| r.endpoint.clone()).collect();
        if !touched.is_empty() {
            let mut openapi = (*self.openapi.load()).clone();
            for (group, version) in touched {
                if self
                    .builtin
                    .endpoints()
                    .any(|e| e.resource.group == *group && e.resource.version == *version)
                {
                    continue;
                }
                let served: Vec<(&Definition, &Version, &Endpoint)> = st
                    .served
                    .values()
                    .flatten()
                    .filter(|s| s.key.0 == *group && s.key.1 == *version)
                    .map(|s| (&s.def, &s.version, s.route.endpoint.as_ref()))
                    .collect();
                if served.is_empty() {
                    openapi.set_document(group, version, None);
                } else {
                    let doc =
                        super::openapi::document(group, version, &served, &self.server_version);
                    let v2 = super::openapi::fragment(group, version, &served);
                    openapi.set_document(group, version, Some((&doc, v2)));
                }
            }
            self.openapi.store(openapi);
        }
        // Deleting a namespace deletes the custom objects in it too.
        let content: BTreeSet<String> = self
            .builtin
            .endpoints()
            .chain(eps.iter())
            .filter(|e| e.resource.namespaced())
            .map(|e| crate::rest::store::resource_prefix(self.storage.key_prefix(), &e.resource))
            .collect();
        self.builtin
            .namespace_content()
            .store(content.into_iter().collect());
        self.routes.store(routes);
        self.discovery
            .store(Discovery::build(&self.builtin.with_endpoints(eps)));
    }
}
