//! The generic REST storage: one copy of the CRUD, list, watch and patch
//! logic for every resource type `K`, on top of any [`Storage`]. Objects are
//! stored as JSON without their resourceVersion, which is the key's
//! modification revision and is set when they are read, as upstream does.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use kapi_generated::resource::verbs;
use kapi_generated::{ApiResource, Resource};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::options::{ResourceVersionMatch, Subresource};
use super::strategy::Strategy;
use super::{
    CollectionDeleter, Creater, DeleteOpts, Deleted, Deleter, FieldValidation, Getter, ListOptions,
    Lister, ObjectList, PatchBody, PatchType, Patcher, RequestScope, Updater, WatchEvent,
    WatchStream, Watcher, Written,
};
use crate::error::{ApiError, FieldError, Target};
use crate::patch::{PatchSchema, apply, managed_fields, strategic};
use crate::rest::meta;
use crate::selector::FieldLabels;
use crate::storage::{Event, KeyValue, Rev, Storage, StorageError};
use crate::watch::cache::{Start, WatchCache};
use crate::watch::watcher::{self, Filter, WatchPlan};

mod get_from_cache;

/// How many times a write that lost a race is retried.
const RETRIES: usize = 8;
/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// The REST storage of one resource type.
pub struct TypedStore<K: Resource> {
    storage: Arc<dyn Storage>,
    dt: K::DynamicType,
    strategy: Arc<dyn Strategy>,
    /// `/registry/[group/]plural/`.
    prefix: String,
    /// Patch metadata (merge keys, list types); None: strategic merge is refused.
    patch_schema: Option<Arc<PatchSchema>>,
    /// The watch cache of the type, started by the first watch.
    cache: tokio::sync::Mutex<Option<Arc<WatchCache>>>,
    /// The kind's empty object: what a create is compared with for
    /// managedFields (upstream's `Creater.New`).
    zero: Value,
}

/// The key prefix of a resource under the store's root (`/registry`):
/// `/registry/configmaps/`, `/registry/coordination.k8s.io/leases/`.
pub fn resource_prefix(root: &str, r: &ApiResource) -> String {
    if r.group.is_empty() {
        format!("{root}/{}/", r.plural)
    } else {
        format!("{root}/{}/{}/", r.group, r.plural)
    }
}

/// Decodes a request body into `K`: apiVersion and kind must be `r`'s (or
/// absent), unknown and repeated fields are warnings or, under
/// `fieldValidation=Strict`, a 400. Returns the object with its type meta set
/// and the warnings.
pub fn decode_body<K: Resource>(
    r: &ApiResource,
    scope: &RequestScope,
    body: Value,
) -> Result<(K, Vec<String>), ApiError> {
    let api_version = r.api_version();
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body must be a JSON object",
            r.kind, r.version, r.kind
        )));
    }
    if let Some(v) = body.get("apiVersion").and_then(|v| v.as_str())
        && v != api_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = body.get("kind").and_then(|k| k.as_str())
        && k != r.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            r.kind
        )));
    }
    let mut unknown = Vec::new();
    let mut obj: K = serde_ignored::deserialize(body, |path| unknown.push(path.to_string()))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                r.kind, r.version, r.kind
            ))
        })?;
    let warnings: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .chain(
            scope
                .duplicate_fields
                .iter()
                .map(|f| format!("duplicate field \"{f}\"")),
        )
        .collect();
    let warnings = scope
        .field_validation
        .judge(warnings, &r.kind, &r.version)?;
    obj.set_type_meta(api_version, r.kind.clone());
    Ok((obj, warnings))
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(obj: &mut Value, rev: Rev) {
    if let Some(map) = obj.as_object_mut() {
        let meta = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), Value::String(rev.to_string()));
        }
    }
}

fn strip_resource_version(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("resourceVersion");
    }
}

/// Serves a stored object as `api_version` (a custom resource stored in one
/// version is read in every served one: conversion strategy None).
fn rewrite_api_version(obj: &mut Value, api_version: &str) {
    if let Some(v) = obj.get_mut("apiVersion")
        && v.as_str() != Some(api_version)
    {
        *v = Value::String(api_version.to_string());
    }
}

/// Decodes a stored object and gives it its resourceVersion.
pub fn decode_stored(kv: &KeyValue, rev: Rev) -> Result<Value, ApiError> {
    let mut v: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::internal(format!("stored object {} is not JSON: {e}", kv.key)))?;
    set_resource_version(&mut v, rev);
    Ok(v)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    /// The list's revision; -1 (upstream's convention): continue at the latest.
    rv: i64,
    start: String,
}

/// How long a consistent list on etcd waits for the watch cache to reach
/// etcd's current revision from the changes it watches: long enough for the
/// events of writes under kapi's root to arrive. A revision moved by another
/// writer of the same etcd is seen only through a progress report (then the
/// wait goes on, asking for one) or not at all (etcd before 3.4.31 / 3.5.13:
/// the list reads etcd instead).
const ETCD_CACHE_CATCH_UP: Duration = Duration::from_millis(20);

/// Upstream's message for an expired continue token, with a fresh one offered.
const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. \
You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. \
Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk \
was returned and now may show up in the list.";

fn encode_continue(rv: i64, start: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str, prefix: &str) -> Result<ContinueToken, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if !t.start.starts_with(prefix) || t.start.contains("/../") {
        return Err(bad());
    }
    Ok(t)
}

/// How many `metadata.finalizers` an object has.
fn finalizers(obj: &Value) -> usize {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Whether an object is marked for deletion.
fn finalizing(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
}

fn names_in(obj: &Value) -> (&str, Option<&str>) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or("");
    let ns = obj.pointer("/metadata/namespace").and_then(|n| n.as_str());
    (name, ns)
}

/// The object without what does not count for `generation`: metadata and status.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

/// `K` as decoded from `{}` (every field at its default), as JSON; `{}` when
/// `K` needs more than that.
fn zero_object<K: Resource>() -> Value {
    serde_json::from_value::<K>(json!({}))
        .ok()
        .and_then(|k| serde_json::to_value(k).ok())
        .unwrap_or_else(|| json!({}))
}

impl<K: Resource> TypedStore<K> {
    /// A store for `K` on `storage`.
    pub fn new(storage: Arc<dyn Storage>, dt: K::DynamicType, strategy: Arc<dyn Strategy>) -> Self {
        let prefix = resource_prefix(storage.key_prefix(), K::api_resource(&dt));
        TypedStore {
            storage,
            dt,
            strategy,
            prefix,
            patch_schema: None,
            cache: tokio::sync::Mutex::new(None),
            zero: zero_object::<K>(),
        }
    }

    /// Gives the store its kind's patch metadata, enabling strategic merge patch.
    pub fn with_patch_schema(mut self, schema: Option<Arc<PatchSchema>>) -> Self {
        self.patch_schema = schema;
        self
    }

    fn resource(&self) -> &ApiResource {
        K::api_resource(&self.dt)
    }

    /// A stored object as this resource serves it.
    fn decode_stored(&self, kv: &KeyValue, rev: Rev) -> Result<Value, ApiError> {
        let mut v = decode_stored(kv, rev)?;
        rewrite_api_version(&mut v, &self.resource().api_version());
        self.strategy.prepare_for_read(&mut v);
        Ok(v)
    }

    fn target<'a>(&'a self, name: &'a str) -> Target<'a> {
        let r = self.resource();
        Target {
            resource: &r.plural,
            group: &r.group,
            name,
        }
    }

    fn namespace<'a>(&self, scope: &'a RequestScope) -> Option<&'a str> {
        if self.resource().namespaced() {
            scope.namespace.as_deref()
        } else {
            None
        }
    }

    fn key(&self, ns: Option<&str>, name: &str) -> String {
        match ns {
            Some(ns) => format!("{}{ns}/{name}", self.prefix),
            None => format!("{}{name}", self.prefix),
        }
    }

    fn collection_prefix(&self, ns: Option<&str>) -> String {
        match ns {
            Some(ns) => format!("{}{ns}/", self.prefix),
            None => self.prefix.clone(),
        }
    }

    fn storage_error(&self, e: StorageError, name: &str) -> ApiError {
        ApiError::from_storage(e, self.target(name))
    }

    /// Decodes a request body into `K`, checking apiVersion and kind and
    /// reporting unknown fields as `fieldValidation` asks.
    fn decode(&self, scope: &RequestScope, body: Value) -> Result<(K, Vec<String>), ApiError> {
        decode_body(self.resource(), scope, body)
    }

    fn to_value(&self, obj: &K) -> Result<Value, ApiError> {
        serde_json::to_value(obj).map_err(ApiError::internal)
    }

    async fn ensure_namespace(&self, ns: &str, name: &str) -> Result<(), ApiError> {
        let kv = self
            .storage
            .get(&format!("{}/namespaces/{ns}", self.storage.key_prefix()))
            .await
            .map_err(|e| self.storage_error(e, name))?;
        let Some(kv) = kv else {
            return Err(ApiError::not_found(Target {
                resource: "namespaces",
                group: "",
                name: ns,
            }));
        };
        let obj: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
        if obj
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|d| !d.is_null())
        {
            let mut e = ApiError::forbidden(
                self.target(name),
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            );
            if let Some(d) = e.details.as_mut() {
                d.causes = Some(vec![kapi_generated::api::meta::v1::StatusCause {
                    reason: Some("NamespaceTerminating".into()),
                    message: Some(format!("namespace {ns} is being terminated")),
                    field: Some("metadata.namespace".into()),
                }]);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Checks the namespace of an object against the request's.
    fn check_namespace(&self, scope: &RequestScope, obj: &mut K) -> Result<(), ApiError> {
        let url_ns = self.namespace(scope);
        let meta = obj.metadata_mut();
        match url_ns {
            Some(ns) => match meta.namespace.as_deref() {
                None | Some("") => meta.namespace = Some(ns.to_string()),
                Some(n) if n == ns => {}
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            },
            None => meta.namespace = None,
        }
        Ok(())
    }

    /// Validates an object about to be stored as upstream's strategies do:
    /// its metadata, then the kind's fields (`Strategy::field_errors`), then
    /// the strategy's own checks (a custom resource's schema), all in one
    /// 422 in that order; the warnings otherwise.
    fn validated(
        &self,
        name: &str,
        mut meta_errors: Vec<crate::error::FieldError>,
        value: &mut Value,
        old: Option<&Value>,
        field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        meta_errors.extend(self.strategy.field_errors(value, old));
        let kind_checks = self.strategy.validate_object(value, old, field_validation);
        if meta_errors.is_empty() {
            return kind_checks;
        }
        let r = self.resource();
        Err(ApiError::invalid_then(
            &r.kind,
            &r.group,
            name,
            meta_errors,
            kind_checks.as_ref().err(),
        ))
    }

    async fn read(&self, ns: Option<&str>, name: &str) -> Result<(KeyValue, Value), ApiError> {
        let key = self.key(ns, name);
        match self.storage.get(&key).await {
            Ok(Some(kv)) => {
                let v = self.decode_stored(&kv, kv.mod_rev)?;
                Ok((kv, v))
            }
            Ok(None) => Err(ApiError::not_found(self.target(name))),
            Err(e) => Err(self.storage_error(e, name)),
        }
    }

    /// Turns a decoded new state into what is stored, given the current state;
    /// returns None when nothing changes. The strategy's warnings (unknown
    /// fields of a custom resource) are added to `warnings`.
    fn prepare_update(
        &self,
        scope: &RequestScope,
        old: &Value,
        mut new: K,
        applied: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Value>, ApiError> {
        let name = old
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        {
            let r = self.resource();
            let m = new.metadata_mut();
            let old_meta = &old["metadata"];
            let keep = |field: &str| {
                old_meta
                    .get(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            if let (Some(sent), Some(stored)) = (m.uid.as_deref(), keep("uid"))
                && !sent.is_empty()
                && sent != stored
            {
                return Err(ApiError::conflict(
                    self.target(&name),
                    &format!(
                        "Precondition failed: UID in precondition: {sent}, UID in object meta: {stored}"
                    ),
                ));
            }
            m.uid = keep("uid");
            m.creation_timestamp = keep("creationTimestamp");
            m.deletion_timestamp = keep("deletionTimestamp");
            m.deletion_grace_period_seconds = old_meta
                .get("deletionGracePeriodSeconds")
                .and_then(|v| v.as_i64());
            m.generation = old_meta.get("generation").and_then(|v| v.as_i64());
            m.resource_version = None;
            let _ = r;
        }
        let meta_errors = meta::validate(new.metadata(), self.strategy.label_names());
        let mut value = self.to_value(&new)?;
        warnings.extend(
            self.strategy
                .default_object(&mut value, scope.field_validation)?,
        );
        self.omit_empty(&mut value);
        // The field manager sees the request as decoded and defaulted, before
        // the strategy resets or copies anything (upstream runs it first).
        let tracked = (!applied).then(|| self.track_update(scope, old, &value));
        let status_sub = self.resource().status_subresource;
        if let Some(Subresource::Status) = scope.subresource {
            // On /status only the status changes (and the managedFields an
            // apply computed for it).
            let mut merged = old.clone();
            if let Some(m) = merged.as_object_mut() {
                match value.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            if let Some(meta) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
                match value.pointer("/metadata/managedFields") {
                    Some(mf) => meta.insert("managedFields".into(), mf.clone()),
                    None => meta.remove("managedFields"),
                };
            }
            value = merged;
        } else if status_sub {
            // On the main resource status changes are ignored.
            if let Some(m) = value.as_object_mut() {
                match old.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
        }
        self.strategy.prepare_for_update(&mut value, old);
        warnings.extend(self.validated(
            &name,
            meta_errors,
            &mut value,
            Some(old),
            scope.field_validation,
        )?);
        if self.strategy.tracks_generation() && spec_part(&value) != spec_part(old) {
            let gen_ = old
                .pointer("/metadata/generation")
                .and_then(|g| g.as_i64())
                .unwrap_or(0)
                + 1;
            if let Some(m) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                m.insert("generation".into(), json!(gen_));
            }
        }
        if let Some(entries) = tracked {
            managed_fields::write(&mut value, &entries);
        }
        let mut old_cmp = old.clone();
        strip_resource_version(&mut old_cmp);
        strip_resource_version(&mut value);
        if value == old_cmp {
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// Finishes an update: no change answers the stored object (no write, as
    /// upstream skips identical writes), a dry run answers the would-be object,
    /// otherwise the new state is written with compare-and-swap on `current`'s revision.
    async fn finish_update(
        &self,
        scope: &RequestScope,
        name: &str,
        key: &str,
        current: (Value, Rev),
        next: Option<Value>,
        warnings: Vec<String>,
    ) -> Result<Written, ApiError> {
        let (old, mod_rev) = current;
        let object = match next {
            None => old,
            Some(mut v) if scope.dry_run => {
                set_resource_version(&mut v, mod_rev);
                v
            }
            Some(v) => self.write_update(name, key, v, mod_rev).await?,
        };
        Ok(Written {
            object,
            created: false,
            warnings,
        })
    }

    /// Writes `value` over the stored object at `mod_rev`.
    async fn write_update(
        &self,
        name: &str,
        key: &str,
        mut value: Value,
        mod_rev: Rev,
    ) -> Result<Value, ApiError> {
        if finalizing(&value) && finalizers(&value) == 0 {
            // The last finalizer of an object being deleted is gone: delete it.
            let (_, rev) = self
                .storage
                .delete(key, Some(mod_rev))
                .await
                .map_err(|e| self.storage_error(e, name))?;
            self.strategy
                .after_delete(name, self.storage.as_ref())
                .await?;
            set_resource_version(&mut value, rev);
            return Ok(value);
        }
        let bytes = Bytes::from(serde_json::to_vec(&value).map_err(ApiError::internal)?);
        let kv = self
            .storage
            .update(key, bytes, mod_rev)
            .await
            .map_err(|e| self.storage_error(e, name))?;
        set_resource_version(&mut value, kv.mod_rev);
        Ok(value)
    }

    async fn update_inner(
        &self,
        scope: &RequestScope,
        name: &str,
        body: Value,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = self.decode(scope, body)?;
        match obj.metadata().name.as_deref() {
            None | Some("") => obj.metadata_mut().name = Some(name.to_string()),
            Some(n) if n == name => {}
            Some(n) => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
        }
        self.check_namespace(scope, &mut obj)?;
        let ns = self.namespace(scope).map(str::to_string);
        if let Some(ns) = &ns {
            self.ensure_namespace(ns, name).await?;
        }
        let wanted_rv = obj
            .metadata()
            .resource_version
            .clone()
            .filter(|s| !s.is_empty());
        let wanted_rv = match wanted_rv {
            Some(s) => Some(s.parse::<Rev>().map_err(|_| {
                let r = self.resource();
                ApiError::invalid(
                    &r.kind,
                    &r.group,
                    name,
                    vec![FieldError::invalid(
                        "metadata.resourceVersion",
                        &s,
                        "must be a number",
                    )],
                )
            })?),
            None => None,
        };
        if wanted_rv.is_none() && !self.strategy.allow_unconditional_update() {
            let r = self.resource();
            return Err(ApiError::invalid(
                &r.kind,
                &r.group,
                name,
                vec![FieldError::invalid_raw(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                )],
            ));
        }
        let key = self.key(ns.as_deref(), name);
        for _ in 0..RETRIES {
            let (kv, old) = self.read(ns.as_deref(), name).await?;
            if let Some(rv) = wanted_rv
                && rv != kv.mod_rev
            {
                return Err(ApiError::stale(self.target(name)));
            }
            let mut warnings = warnings.clone();
            let next = self.prepare_update(scope, &old, obj.clone(), false, &mut warnings)?;
            match self
                .finish_update(scope, name, &key, (old, kv.mod_rev), next, warnings)
                .await
            {
                Ok(w) => return Ok(w),
                // Lost a race with another writer: an unconditional update tries again.
                Err(e) if e.reason == "Conflict" && wanted_rv.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::stale(self.target(name)))
    }

    /// Creates an object; `applied` when server-side apply already recorded
    /// its managed fields.
    async fn create_inner(
        &self,
        scope: &RequestScope,
        body: Value,
        applied: bool,
    ) -> Result<Written, ApiError> {
        let (mut obj, mut warnings) = self.decode(scope, body)?;
        self.check_namespace(scope, &mut obj)?;
        // Defaults first, then the field manager, on the request as decoded
        // (before a name is generated or the strategy changes anything), as
        // upstream's create handler runs them.
        let mut request = self.to_value(&obj)?;
        warnings.extend(
            self.strategy
                .default_object(&mut request, scope.field_validation)?,
        );
        self.omit_empty(&mut request);
        let tracked = (!applied).then(|| self.track_update(scope, &self.zero, &request));
        let mut obj: K = serde_json::from_value(request).map_err(ApiError::internal)?;
        {
            let m = obj.metadata_mut();
            if m.name.as_deref().unwrap_or("").is_empty()
                && let Some(prefix) = m.generate_name.as_deref().filter(|g| !g.is_empty())
            {
                m.name = Some(meta::generate_name(prefix));
            }
            m.uid = Some(uuid::Uuid::new_v4().to_string());
            m.creation_timestamp = Some(meta::now_rfc3339());
            m.resource_version = None;
            m.generation = self.strategy.tracks_generation().then_some(1);
            m.deletion_timestamp = None;
            m.deletion_grace_period_seconds = None;
        }
        let name = obj.metadata().name_str().to_string();
        let ns = obj.metadata().namespace.clone();
        // A missing or terminating namespace is refused before validation,
        // as upstream's namespace admission runs before the strategy.
        if let Some(ns) = &ns {
            self.ensure_namespace(ns, &name).await?;
        }
        let meta_errors = meta::validate(obj.metadata(), self.strategy.label_names());
        let mut value = self.to_value(&obj)?;
        if self.resource().status_subresource
            && let Some(m) = value.as_object_mut()
        {
            m.remove("status");
        }
        self.strategy.prepare_for_create(&mut value);
        warnings.extend(self.validated(
            &name,
            meta_errors,
            &mut value,
            None,
            scope.field_validation,
        )?);
        if let Some(entries) = tracked {
            managed_fields::write(&mut value, &entries);
        }
        if scope.dry_run {
            return Ok(Written {
                object: value,
                created: true,
                warnings,
            });
        }
        let bytes = Bytes::from(serde_json::to_vec(&value).map_err(ApiError::internal)?);
        let kv = self
            .storage
            .create(&self.key(ns.as_deref(), &name), bytes)
            .await
            .map_err(|e| self.storage_error(e, &name))?;
        set_resource_version(&mut value, kv.mod_rev);
        Ok(Written {
            object: value,
            created: true,
            warnings,
        })
    }

    /// The object as upstream's typed decoding leaves it (see
    /// [`PatchSchema::omit_empty`]).
    fn omit_empty(&self, v: &mut Value) {
        if let Some(s) = &self.patch_schema {
            s.omit_empty(v);
        }
    }

    /// The reset fields of the strategy for this request's subresource.
    fn reset_fields(&self, scope: &RequestScope) -> managed_fields::FieldSet {
        managed_fields::FieldSet::of(self.strategy.reset_fields(scope.subresource))
    }

    /// The managedFields entries of a non-apply write (operation Update) of
    /// `new` (decoded and defaulted) over `live` (the empty object on create).
    fn track_update(
        &self,
        scope: &RequestScope,
        live: &Value,
        new: &Value,
    ) -> Vec<managed_fields::Entry> {
        let manager = managed_fields::manager_name(
            scope.field_manager.as_deref(),
            scope.user_agent.as_deref(),
        );
        let reset = self.reset_fields(scope);
        let api_version = self.resource().api_version();
        let now = meta::now_rfc3339();
        managed_fields::update(
            live,
            new,
            &manager,
            &managed_fields::Write {
                schema: self.patch_schema.as_ref().map(|s| s.root()),
                api_version: &api_version,
                subresource: scope.subresource.map(Subresource::name),
                reset: &reset,
                now: &now,
            },
        )
    }

    /// Server-side apply of `patch` onto `live` by `manager`.
    fn apply_config(
        &self,
        scope: &RequestScope,
        name: &str,
        live: &Value,
        patch: &PatchBody,
        manager: Option<&str>,
    ) -> Result<Value, ApiError> {
        apply::check_config(&patch.patch)?;
        if let Some(n) = patch
            .patch
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let api_version = self.resource().api_version();
        let now = meta::now_rfc3339();
        let reset = self.reset_fields(scope);
        let req = apply::Apply {
            manager: manager.unwrap_or(""),
            force: patch.force,
            kind: &self.resource().kind,
            write: managed_fields::Write {
                schema: self.patch_schema.as_ref().map(|s| s.root()),
                api_version: &api_version,
                subresource: scope.subresource.map(Subresource::name),
                reset: &reset,
                now: &now,
            },
            zero: &self.zero,
        };
        let mut out = apply::apply(live, &patch.patch, &req)?;
        if let Some(m) = out.as_object_mut() {
            let meta = m.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.entry("name")
                    .or_insert_with(|| Value::String(name.to_string()));
            }
        }
        Ok(out)
    }

    fn apply_patch(
        &self,
        name: &str,
        current: &Value,
        patch: &PatchBody,
    ) -> Result<Value, ApiError> {
        let mut doc = current.clone();
        match patch.type_ {
            PatchType::Merge => {
                if !patch.patch.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                json_patch::merge(&mut doc, &patch.patch);
            }
            PatchType::Json => {
                let ops: json_patch::Patch =
                    serde_json::from_value(patch.patch.clone()).map_err(|e| {
                        ApiError::bad_request(format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ))
                    })?;
                // A `test` of the resourceVersion is an optimistic lock
                // (kubectl's managedFields migration): stale → 409.
                let rv = current.pointer("/metadata/resourceVersion");
                let stale = ops.0.iter().any(|op| {
                    matches!(op, json_patch::PatchOperation::Test(t)
                        if t.path.as_str() == "/metadata/resourceVersion" && Some(&t.value) != rv)
                });
                if stale {
                    return Err(ApiError::stale(self.target(name)));
                }
                json_patch::patch(&mut doc, &ops).map_err(|e| {
                    let r = self.resource();
                    ApiError::invalid(
                        &r.kind,
                        &r.group,
                        name,
                        vec![FieldError::invalid_raw(
                            "patch",
                            &patch.patch.to_string(),
                            &e.to_string(),
                        )],
                    )
                })?;
            }
            PatchType::StrategicMerge if !self.strategy.strategic_merge_patch() => {
                return Err(ApiError::unsupported_media_type(&[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ]));
            }
            PatchType::StrategicMerge if self.patch_schema.is_some() => {
                if let Some(schema) = &self.patch_schema {
                    doc = strategic::apply(&doc, &patch.patch, schema.root()).map_err(
                        |e| match e {
                            strategic::SmpError::BadPatch(m) => ApiError::bad_request(m),
                            strategic::SmpError::Invalid(m) => {
                                let r = self.resource();
                                ApiError::invalid(
                                    &r.kind,
                                    &r.group,
                                    name,
                                    vec![FieldError::invalid_raw("patch", "", &m)],
                                )
                            }
                        },
                    )?;
                }
            }
            PatchType::StrategicMerge | PatchType::Apply => {
                return Err(ApiError::unsupported_media_type(&[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                ]));
            }
        }
        Ok(doc)
    }

    async fn patch_inner(
        &self,
        scope: &RequestScope,
        name: &str,
        patch: PatchBody,
    ) -> Result<Written, ApiError> {
        let ns = self.namespace(scope).map(str::to_string);
        let key = self.key(ns.as_deref(), name);
        let applied = patch.type_ == PatchType::Apply;
        let manager = if applied {
            Some(apply::check_manager(scope.field_manager.as_deref())?.to_string())
        } else {
            if patch.force {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    vec![FieldError::forbidden(
                        "force",
                        "may not be specified for non-apply patch",
                    )],
                ));
            }
            None
        };
        for _ in 0..RETRIES {
            let (kv, current) = match self.read(ns.as_deref(), name).await {
                Err(e) if e.code == 404 && applied => {
                    // Create by apply.
                    apply::check_config(&patch.patch)?;
                    let config =
                        self.apply_config(scope, name, &self.zero, &patch, manager.as_deref())?;
                    match self.create_inner(scope, config, true).await {
                        Err(e) if e.reason == "AlreadyExists" => continue,
                        other => return other,
                    }
                }
                other => other?,
            };
            let patched = if applied {
                self.apply_config(scope, name, &current, &patch, manager.as_deref())?
            } else {
                self.apply_patch(name, &current, &patch)?
            };
            // A patch that sets metadata.resourceVersion is a precondition.
            let patched_rv = patched
                .pointer("/metadata/resourceVersion")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            // (A patch that removes it, as kubectl's three-way patch can, is unconditional.)
            let pinned = patched_rv.is_some()
                && patched_rv.as_deref()
                    != current
                        .pointer("/metadata/resourceVersion")
                        .and_then(|v| v.as_str());
            if pinned {
                return Err(ApiError::stale(self.target(name)));
            }
            let (n, _) = names_in(&patched);
            if n != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            let (mut obj, mut warnings) = self.decode(scope, patched)?;
            self.check_namespace(scope, &mut obj)?;
            if let Some(ns) = &ns {
                self.ensure_namespace(ns, name).await?;
            }
            let next = self.prepare_update(scope, &current, obj, applied, &mut warnings)?;
            match self
                .finish_update(scope, name, &key, (current, kv.mod_rev), next, warnings)
                .await
            {
                Ok(w) => return Ok(w),
                // Lost a race with another writer: the patch is applied again to the new state.
                Err(e) if e.reason == "Conflict" => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::stale(self.target(name)))
    }

    /// The options with the field selector checked against the kind's
    /// selectable fields (400 for any other label) and bound to them.
    fn resolve_fields(&self, opts: &ListOptions) -> Result<ListOptions, ApiError> {
        let r = self.resource();
        let labels = if r.selectable_fields.is_empty() && !self.strategy.converts_field_labels() {
            FieldLabels::Default
        } else {
            FieldLabels::Converted {
                namespaced: r.namespaced(),
            }
        };
        let mut opts = opts.clone();
        opts.field_selector.resolve(&r.selectable_fields, labels)?;
        Ok(opts)
    }

    /// A list or watch request's options, checked and with the field
    /// selector bound to the kind, and the key prefix it reads.
    fn list_request(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<(ListOptions, String), ApiError> {
        opts.validate()?;
        let opts = self.resolve_fields(opts)?;
        Ok((opts, self.collection_prefix(self.namespace(scope))))
    }

    fn matches(opts: &ListOptions, obj: &Value) -> bool {
        opts.label_selector.matches_object(obj) && opts.field_selector.matches_object(obj)
    }

    async fn list_inner(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<ObjectList, ApiError> {
        let (opts, prefix) = &self.list_request(scope, opts)?;
        if let Some(list) = self.list_from_cache(prefix, opts).await? {
            return Ok(list);
        }
        let (mut start_after, token_rv) = match &opts.continue_token {
            Some(t) => {
                let t = decode_continue(t, prefix)?;
                let rv = Rev::try_from(t.rv).ok().filter(|r| *r > 0);
                if let Some(rv) = rv
                    && let Err(StorageError::Compacted { .. }) =
                        self.storage.check_history(rv).await
                {
                    let mut e = ApiError::expired(INCONSISTENT_CONTINUE);
                    e.continue_token = Some(encode_continue(-1, &t.start));
                    return Err(e);
                }
                (Some(t.start), rv)
            }
            None => (None, None),
        };
        // The revision every page is read at: the continue token's (the first
        // page's snapshot, as upstream's pages on etcd), an Exact
        // resourceVersion, or the first chunk's.
        let mut at = token_rv;
        if let (Some(rv), Some(ResourceVersionMatch::Exact)) =
            (&opts.resource_version, opts.resource_version_match)
        {
            let current = self
                .storage
                .current_rev()
                .await
                .map_err(|e| self.storage_error(e, ""))?;
            let rv = rv
                .parse::<Rev>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            if rv > current {
                return Err(ApiError::timeout(format!(
                    "Too large resource version: {rv}, current: {current}"
                )));
            }
            at = Some(rv);
        }
        let chunk = if opts.limit > 0 {
            opts.limit.max(64)
        } else {
            0
        };
        let mut items = Vec::new();
        let mut list_rev = None;
        let mut continue_from = None;
        let mut remaining = None;
        let unfiltered = opts.label_selector.is_empty() && opts.field_selector.0.is_empty();
        'pages: loop {
            let read = match at {
                Some(rev) => {
                    self.storage
                        .list_at(prefix, start_after.as_deref(), chunk, rev)
                        .await
                }
                None => {
                    self.storage
                        .list(prefix, start_after.as_deref(), chunk)
                        .await
                }
            };
            let page = match read {
                Ok(p) => p,
                // Compacted since the token was checked: as above.
                Err(StorageError::Compacted { .. }) if token_rv.is_some() => {
                    let mut e = ApiError::expired(INCONSISTENT_CONTINUE);
                    let start = opts
                        .continue_token
                        .as_deref()
                        .and_then(|t| decode_continue(t, prefix).ok())
                        .map(|t| t.start)
                        .unwrap_or_default();
                    e.continue_token = Some(encode_continue(-1, &start));
                    return Err(e);
                }
                Err(StorageError::Compacted { .. }) => {
                    return Err(ApiError::expired(
                        "The resourceVersion for the provided list is too old.",
                    ));
                }
                Err(e) => return Err(self.storage_error(e, "")),
            };
            list_rev.get_or_insert(page.rev);
            at.get_or_insert(page.rev);
            let n = page.items.len();
            for (i, kv) in page.items.iter().enumerate() {
                let obj = self.decode_stored(kv, kv.mod_rev)?;
                if Self::matches(opts, &obj) {
                    items.push(obj);
                    if opts.limit > 0 && items.len() == opts.limit {
                        if i + 1 < n || page.more {
                            continue_from = Some(kv.key.clone());
                            // Upstream counts what follows only when nothing
                            // is filtered out (etcd's range count, less the page).
                            if unfiltered {
                                remaining = page.remaining.map(|r| r + (n - i - 1) as u64);
                            }
                        }
                        break 'pages;
                    }
                }
            }
            if !page.more {
                break;
            }
            start_after = page.items.last().map(|kv| kv.key.clone());
        }
        let rev = token_rv.or(list_rev).unwrap_or(0);
        Ok(ObjectList {
            items,
            resource_version: rev,
            remaining_item_count: remaining,
            raw_items: None,
            continue_token: continue_from.map(|k| {
                // An inconsistent continuation (token rv -1) stays inconsistent.
                let token_rv = if opts.continue_token.is_some() && token_rv.is_none() {
                    -1
                } else {
                    i64::try_from(rev).unwrap_or(-1)
                };
                encode_continue(token_rv, &k)
            }),
        })
    }

    fn bookmark(&self, rev: Rev, initial_end: bool) -> Value {
        let r = self.resource();
        let mut meta = json!({"resourceVersion": rev.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": meta})
    }

    /// The watch cache of the type (started, or restarted after its storage
    /// watch failed, on demand).
    async fn watch_cache(&self) -> Result<Arc<WatchCache>, ApiError> {
        let mut slot = self.cache.lock().await;
        if let Some(c) = slot.as_ref()
            && !c.failed()
        {
            return Ok(c.clone());
        }
        let c = WatchCache::start(self.storage.clone(), self.prefix.clone())
            .await
            .map_err(|e| self.storage_error(e, ""))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// A whole (unpaginated) list from the watch cache, when the request
    /// allows it: `resourceVersion=0` or NotOlderThan a revision (any
    /// backend), or a consistent read once the cache has caught up with the
    /// store's current revision. On the embedded store it always catches up
    /// (every write moves the revision it watches). On etcd the cache learns
    /// of etcd's revisions from writes under kapi's root (its storage watch
    /// covers the root) within [`ETCD_CACHE_CATCH_UP`], and of other writers'
    /// revisions only from progress reports, where etcd has reliable ones
    /// (3.4.31+, 3.5.13+; `WatchCache::catch_up` asks for them). A
    /// consistent read is served from the cache once it reaches etcd's
    /// current revision (then nothing newer can be missing); otherwise it
    /// stays a quorum read, as upstream falls back.
    /// `None`: read storage.
    async fn list_from_cache(
        &self,
        prefix: &str,
        opts: &ListOptions,
    ) -> Result<Option<ObjectList>, ApiError> {
        if opts.limit > 0
            || opts.continue_token.is_some()
            || opts.resource_version_match == Some(ResourceVersionMatch::Exact)
        {
            return Ok(None);
        }
        let min_rev = match opts.resource_version.as_deref() {
            None | Some("") => {
                // A quorum read of the store's revision, after the request began.
                let current = self
                    .storage
                    .current_rev()
                    .await
                    .map_err(|e| self.storage_error(e, ""))?;
                if !self.storage.serves_consistent_reads_from_cache()
                    && !self
                        .watch_cache()
                        .await?
                        .catch_up(current, ETCD_CACHE_CATCH_UP)
                        .await
                {
                    return Ok(None);
                }
                current
            }
            Some(v) => match v.parse::<Rev>() {
                Ok(rv) => rv,
                Err(_) => return Ok(None),
            },
        };
        let cache = self.watch_cache().await?;
        cache.wait_for(min_rev, Duration::from_secs(5)).await?;
        let (objects, rev) = cache.snapshot(prefix)?;
        let filtered = opts.label_selector.is_empty() && opts.field_selector.0.is_empty();
        let raw = if filtered {
            objects
        } else {
            objects
                .into_iter()
                .filter(|b| {
                    serde_json::from_slice::<Value>(&b.json).is_ok_and(|o| Self::matches(opts, &o))
                })
                .collect()
        };
        Ok(Some(ObjectList {
            items: Vec::new(),
            resource_version: rev,
            continue_token: None,
            remaining_item_count: None,
            raw_items: Some(raw),
        }))
    }

    /// A watch served from the watch cache.
    async fn watch_inner(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<WatchStream, ApiError> {
        let (opts, prefix) = &self.list_request(scope, opts)?;
        let requested: Option<Rev> = opts
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v != 0);
        let current = self
            .storage
            .current_rev()
            .await
            .map_err(|e| self.storage_error(e, ""))?;
        if let Some(rev) = requested
            && rev > current
        {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {rev}, current: {current}"
            )));
        }
        let cache = self.watch_cache().await?;
        let catch_up = Duration::from_secs(5);
        let filter = Filter {
            prefix: prefix.clone(),
            opts: opts.clone(),
        };
        let (initial, rev, rx) = match (opts.send_initial_events, requested) {
            (Some(true), _) | (None, None) => {
                // The initial state is at least as new as the storage's now
                // where the cache can know it (every write under the root
                // moves its revision); on etcd, whose revision other writers
                // may move, at least as new as asked, and as etcd's now if
                // the cache gets there (`WatchCache::catch_up`).
                let at_least = if self.storage.serves_consistent_reads_from_cache()
                    || cache.catch_up(current, ETCD_CACHE_CATCH_UP).await
                {
                    current.max(requested.unwrap_or(0))
                } else {
                    requested.unwrap_or(0)
                };
                cache.wait_for(at_least, catch_up).await?;
                let Start::Snapshot { objects, rev, rx } = cache.subscribe(prefix, None)? else {
                    return Err(ApiError::internal("watch cache gave no snapshot"));
                };
                let mut initial = watcher::added(objects, |o| {
                    opts.label_selector.matches_object(o) && opts.field_selector.matches_object(o)
                });
                if opts.send_initial_events == Some(true) {
                    initial.push_back(WatchEvent::new("BOOKMARK", self.bookmark(rev, true)));
                }
                (initial, rev, rx)
            }
            (Some(false), None) | (_, Some(_)) => {
                let after = requested.unwrap_or(current);
                cache.wait_for(after, catch_up).await?;
                match cache.subscribe(prefix, Some(after))? {
                    Start::Replay { events, rev, rx } => (
                        events.iter().filter_map(|e| filter.convert(e)).collect(),
                        rev,
                        rx,
                    ),
                    Start::TooOld => return self.watch_from_storage(scope, opts).await,
                    Start::Snapshot { .. } => {
                        return Err(ApiError::internal("watch cache gave a snapshot"));
                    }
                }
            }
        };
        let timeout = match opts.timeout_seconds {
            Some(t) => Duration::from_secs(t),
            // Upstream picks a random duration between 30 and 60 minutes.
            None => Duration::from_secs(1800 + rand::random::<u64>() % 1800),
        };
        Ok(watcher::stream(WatchPlan {
            initial,
            rev,
            rx,
            filter,
            timeout,
            bookmarks: opts
                .allow_watch_bookmarks
                .then(|| (self.bookmark(0, false), BOOKMARK_INTERVAL)),
        }))
    }

    /// A watch read from storage directly, for a resourceVersion older than
    /// the watch cache's window.
    async fn watch_from_storage(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<WatchStream, ApiError> {
        let prefix = self.collection_prefix(self.namespace(scope));
        let requested: Option<Rev> = opts
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .filter(|v| *v != 0);
        let (initial, start, end_bookmark) = match (opts.send_initial_events, requested) {
            (Some(true), _) | (None, None) => {
                let all = self
                    .list_inner(
                        scope,
                        &ListOptions {
                            label_selector: opts.label_selector.clone(),
                            field_selector: opts.field_selector.clone(),
                            ..Default::default()
                        },
                    )
                    .await?;
                (
                    all.items,
                    all.resource_version,
                    opts.send_initial_events == Some(true),
                )
            }
            (Some(false), None) => {
                let rev = self
                    .storage
                    .current_rev()
                    .await
                    .map_err(|e| self.storage_error(e, ""))?;
                (Vec::new(), rev, false)
            }
            (_, Some(rev)) => (Vec::new(), rev, false),
        };
        let current = self
            .storage
            .current_rev()
            .await
            .map_err(|e| self.storage_error(e, ""))?;
        if start > current {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {start}, current: {current}"
            )));
        }
        let (tx, rx) = mpsc::channel::<WatchEvent>(256);
        let events = match self.storage.watch(&prefix, start).await {
            Ok(s) => s,
            Err(StorageError::Compacted {
                requested,
                compacted,
            }) => {
                let status = ApiError::expired(format!(
                    "too old resource version: {requested} ({compacted})"
                ))
                .status();
                let ev = WatchEvent::new("ERROR", serde_json::to_value(status).unwrap_or_default());
                return Ok(futures::stream::iter([ev]).boxed());
            }
            Err(e) => return Err(self.storage_error(e, "")),
        };
        let timeout = match opts.timeout_seconds {
            Some(t) => Duration::from_secs(t),
            // Upstream picks a random duration between 30 and 60 minutes.
            None => Duration::from_secs(1800 + rand::random::<u64>() % 1800),
        };
        let bookmarks = opts.allow_watch_bookmarks;
        let opts = opts.clone();
        let kind_bookmark = self.bookmark(0, false);
        let end_marker = end_bookmark.then(|| self.bookmark(start, true));
        let api_version = self.resource().api_version();
        let strategy = self.strategy.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut events = events;
            let mut last = start;
            for obj in initial {
                if tx.send(WatchEvent::new("ADDED", obj)).await.is_err() {
                    return;
                }
            }
            if let Some(marker) = end_marker
                && tx.send(WatchEvent::new("BOOKMARK", marker)).await.is_err()
            {
                return;
            }
            let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = &mut deadline => return,
                    _ = tx.closed() => return,
                    _ = ticker.tick(), if bookmarks => {
                        let mut b = kind_bookmark.clone();
                        b["metadata"]["resourceVersion"] = Value::String(last.to_string());
                        if tx.send(WatchEvent::new("BOOKMARK", b)).await.is_err() {
                            return;
                        }
                    }
                    next = events.next() => {
                        let ev = match next {
                            None => return,
                            Some(Err(e)) => {
                                let status = ApiError::from_storage(e, Target { resource: "", group: "", name: "" }).status();
                                let _ = tx.send(WatchEvent::new("ERROR", serde_json::to_value(status).unwrap_or_default())).await;
                                return;
                            }
                            Some(Ok(ev)) => ev,
                        };
                        last = ev.rev();
                        let mut out = match &ev {
                            Event::Put { kv } => decode_stored(kv, kv.mod_rev).ok().map(|o| {
                                (if kv.create_rev == kv.mod_rev { "ADDED" } else { "MODIFIED" }, o)
                            }),
                            Event::Delete { prev, rev } => decode_stored(prev, *rev).ok().map(|o| ("DELETED", o)),
                        };
                        if let Some((_, o)) = out.as_mut() {
                            rewrite_api_version(o, &api_version);
                            strategy.prepare_for_read(o);
                        }
                        if let Some((type_, object)) = out
                            && opts.label_selector.matches_object(&object) && opts.field_selector.matches_object(&object)
                                && tx.send(WatchEvent::new(type_, object)).await.is_err()
                            {
                                return;
                            }
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx).boxed())
    }
}

#[async_trait]
impl<K: verbs::Get> Getter for TypedStore<K> {
    async fn get(&self, scope: &RequestScope, name: &str) -> Result<Value, ApiError> {
        let ns = self.namespace(scope);
        if let Some(v) = self
            .get_from_cache(ns, name, scope.resource_version.as_deref())
            .await?
        {
            return Ok(v);
        }
        Ok(self.read(ns, name).await?.1)
    }
}

#[async_trait]
impl<K: verbs::List> Lister for TypedStore<K> {
    async fn list(&self, scope: &RequestScope, opts: &ListOptions) -> Result<ObjectList, ApiError> {
        self.list_inner(scope, opts).await
    }
}

#[async_trait]
impl<K: verbs::Watch> Watcher for TypedStore<K> {
    async fn watch(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
    ) -> Result<WatchStream, ApiError> {
        self.watch_inner(scope, opts).await
    }
}

#[async_trait]
impl<K: verbs::Create> Creater for TypedStore<K> {
    async fn create(&self, scope: &RequestScope, body: Value) -> Result<Written, ApiError> {
        self.create_inner(scope, body, false).await
    }
}

#[async_trait]
impl<K: verbs::Update> Updater for TypedStore<K> {
    async fn update(
        &self,
        scope: &RequestScope,
        name: &str,
        body: Value,
    ) -> Result<Written, ApiError> {
        self.update_inner(scope, name, body).await
    }
}

#[async_trait]
impl<K: verbs::Patch> Patcher for TypedStore<K> {
    async fn patch(
        &self,
        scope: &RequestScope,
        name: &str,
        patch: PatchBody,
    ) -> Result<Written, ApiError> {
        self.patch_inner(scope, name, patch).await
    }
}

impl<K: Resource> TypedStore<K> {
    /// Deletes one object as a single `delete` does: preconditions, then
    /// either marked for deletion (finalizers hold it) or removed, with the
    /// strategy's after-delete work; a dry run changes nothing. Also what
    /// `deletecollection` does to each listed object.
    async fn delete_object(
        &self,
        scope: &RequestScope,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        self.strategy.check_delete(name)?;
        let key = self.key(ns, name);
        for _ in 0..RETRIES {
            let (kv, current) = self.read(ns, name).await?;
            let uid = current
                .pointer("/metadata/uid")
                .and_then(|u| u.as_str())
                .unwrap_or("")
                .to_string();
            if let Some(want) = &opts.precondition_uid
                && *want != uid
            {
                return Err(ApiError::conflict(
                    self.target(name),
                    &format!(
                        "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                    ),
                ));
            }
            if let Some(want) = &opts.precondition_resource_version
                && *want != kv.mod_rev.to_string()
            {
                return Err(ApiError::conflict(
                    self.target(name),
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                        kv.mod_rev
                    ),
                ));
            }
            if finalizing(&current) && finalizers(&current) > 0 {
                return Ok(Deleted::Pending(current));
            }
            let mut value = current.clone();
            self.strategy.prepare_for_delete(&mut value);
            if finalizers(&value) > 0 {
                // Finalizers hold the object: it is marked for deletion and stays.
                strip_resource_version(&mut value);
                value["metadata"]["deletionTimestamp"] = json!(meta::now_rfc3339());
                value["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                // Upstream bumps a tracked generation when deletion starts.
                if let Some(g) = value
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .filter(|g| *g > 0)
                {
                    value["metadata"]["generation"] = json!(g + 1);
                }
                if scope.dry_run {
                    return Ok(Deleted::Pending(value));
                }
                match self.write_update(name, &key, value, kv.mod_rev).await {
                    Ok(obj) => return Ok(Deleted::Pending(obj)),
                    Err(e) if e.reason == "Conflict" => continue,
                    Err(e) => return Err(e),
                }
            }
            if scope.dry_run {
                return Ok(Deleted::Gone { uid });
            }
            match self.storage.delete(&key, Some(kv.mod_rev)).await {
                Ok(_) => {
                    self.strategy
                        .after_delete(name, self.storage.as_ref())
                        .await?;
                    return Ok(Deleted::Gone { uid });
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(self.storage_error(e, name)),
            }
        }
        Err(ApiError::stale(self.target(name)))
    }
}

#[async_trait]
impl<K: verbs::Delete> Deleter for TypedStore<K> {
    async fn delete(
        &self,
        scope: &RequestScope,
        name: &str,
        opts: DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        let ns = self.namespace(scope).map(str::to_string);
        self.delete_object(scope, ns.as_deref(), name, &opts).await
    }
}

/// `deletecollection` as upstream's generic store does it: the objects the
/// request's list options select are listed, then each is deleted in turn
/// exactly as a single `delete` with the same options would delete it (so
/// preconditions, finalizers, dry run and watch events are the same); one
/// already gone is skipped, and the first other failure ends the request
/// with that error. The answer is the list as it was read.
#[async_trait]
impl<K: verbs::DeleteCollection> CollectionDeleter for TypedStore<K> {
    async fn delete_collection(
        &self,
        scope: &RequestScope,
        opts: &ListOptions,
        del: DeleteOpts,
    ) -> Result<ObjectList, ApiError> {
        let mut list = self.list_inner(scope, opts).await?;
        let items = ObjectList {
            items: std::mem::take(&mut list.items),
            raw_items: list.raw_items.take(),
            ..ObjectList::default()
        }
        .into_items()?;
        for obj in &items {
            let (name, ns) = names_in(obj);
            match self.delete_object(scope, ns, name, &del).await {
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        list.items = items;
        Ok(list)
    }
}
