//! Per-kind behaviour, as kube-apiserver's registry strategies: what a kind
//! does on create, update and delete beyond the generic rules. Most kinds use
//! the default; namespaces have their own.

use std::sync::Arc;

use async_trait::async_trait;
use kapi_generated::ApiResource;
use serde_json::{Value, json};

use crate::error::{ApiError, FieldError, Target};
use crate::snapshot::Snapshot;
use crate::storage::Storage;

/// Kind-specific rules.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// Names must be DNS-1123 labels rather than subdomains.
    fn label_names(&self) -> bool {
        false
    }

    /// Defaults a decoded object, as upstream's decoding does before anything
    /// else sees the object (the scheme's defaulting functions, a custom
    /// resource's schema defaults and pruning of unknown fields): on every
    /// create, update, patch and apply result. The field manager records
    /// what the request set *and what this adds*, but nothing the later
    /// steps change. Returns warnings (unknown fields of a custom resource).
    fn default_object(
        &self,
        _obj: &mut Value,
        _field_validation: crate::rest::FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }

    /// The fields a write cannot set because this strategy resets them
    /// (upstream `GetResetFields`: `status` on the main resource of a kind
    /// with a status, `spec` on `/status`...): the field manager neither
    /// gives them to the writer nor takes them from their owners.
    fn reset_fields(
        &self,
        _subresource: Option<crate::rest::options::Subresource>,
    ) -> &'static [&'static [&'static str]] {
        &[]
    }

    /// Adjusts a new object before it is stored.
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Whether `metadata.generation` is set (1 on create, +1 when anything
    /// but metadata and status changes). Upstream's strategies set it only for
    /// kinds with a spec/status split (CRDs, custom resources, workloads);
    /// ConfigMaps, Secrets, Namespaces, Events, Leases... never carry one.
    fn tracks_generation(&self) -> bool {
        true
    }

    /// Adjusts an updated object before it is stored (after validation of
    /// its metadata), given the stored one.
    fn prepare_for_update(&self, _obj: &mut Value, _old: &Value) {}

    /// Whether strategic merge patch applies (custom resources: no, 415).
    fn strategic_merge_patch(&self) -> bool {
        true
    }

    /// Whether the kind converts field labels itself even without selectable
    /// fields (custom resources: an unknown label is "field label not
    /// supported", as upstream's CR converter answers).
    fn converts_field_labels(&self) -> bool {
        false
    }

    /// Adjusts an object read from storage (custom resources apply their
    /// schema's defaults, as upstream does on read).
    fn prepare_for_read(&self, _obj: &mut Value) {}

    /// Whether an update without `metadata.resourceVersion` is allowed
    /// (custom resources refuse it, as upstream).
    fn allow_unconditional_update(&self) -> bool {
        true
    }

    /// Upstream's validation of the kind's own fields: the errors of an
    /// object about to be stored (`old`: the stored one, on update), in
    /// upstream's order. The store reports them in one 422 after those of
    /// the object's metadata, which it checks itself.
    fn field_errors(&self, _obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validates, prunes and defaults an object about to be stored (`old`:
    /// the stored one, on update); returns warnings. Custom resources check
    /// their CRD's schema here.
    fn validate_object(
        &self,
        _obj: &mut Value,
        _old: Option<&Value>,
        _field_validation: crate::rest::FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }

    /// Checks that an object may be deleted.
    fn check_delete(&self, _name: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Adjusts an object a delete is about to mark or remove (a CRD gets
    /// the finalizer that holds it until its objects are gone).
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Runs after an object was deleted (a namespace removes its content).
    async fn after_delete(&self, _name: &str, _storage: &dyn Storage) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The default strategy.
pub struct Default;

impl Strategy for Default {}

/// Built-in kinds without a status subresource: no `metadata.generation`,
/// as upstream's strategies for ConfigMaps, Secrets, Events, Leases...
pub struct NoGeneration;

impl Strategy for NoGeneration {
    fn tracks_generation(&self) -> bool {
        false
    }
}

/// The namespaces that exist from start-up and cannot be deleted (the first three).
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// Namespaces: phase Active and the `kubernetes` finalizer on create; the
/// system namespaces cannot be deleted; deleting one deletes everything in it.
pub struct Namespaces {
    /// Key prefixes of every namespaced resource (`/registry/configmaps/`), set once all are installed.
    pub content_prefixes: Arc<Snapshot<Vec<String>>>,
}

#[async_trait]
impl Strategy for Namespaces {
    fn label_names(&self) -> bool {
        true
    }

    fn tracks_generation(&self) -> bool {
        false
    }

    /// Upstream's `SetDefaults_Namespace` (the name label, once there is a
    /// name) and `SetDefaults_NamespaceStatus` (phase `Active`).
    fn default_object(
        &self,
        obj: &mut Value,
        _field_validation: crate::rest::FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        if obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        {
            set_name_label(obj);
        }
        if let Some(map) = obj.as_object_mut() {
            let status = map.entry("status").or_insert_with(|| json!({}));
            if let Some(st) = status.as_object_mut()
                && st
                    .get("phase")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
            {
                st.insert("phase".into(), json!("Active"));
            }
        }
        Ok(Vec::new())
    }

    fn reset_fields(
        &self,
        subresource: Option<crate::rest::options::Subresource>,
    ) -> &'static [&'static [&'static str]] {
        match subresource {
            None => &[&["f:status"]],
            Some(crate::rest::options::Subresource::Status) => &[&["f:spec"]],
            Some(crate::rest::options::Subresource::Scale) => &[],
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(map) = obj.as_object_mut() {
            map.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            map.insert("status".into(), json!({"phase": "Active"}));
        }
        set_name_label(obj);
    }

    /// The name label again (a generated name), and the phase stays the
    /// server's, on `/status` too (upstream only accepts the phase it has:
    /// `Active`, or `Terminating` once deleted).
    fn prepare_for_update(&self, obj: &mut Value, old: &Value) {
        set_name_label(obj);
        if let Some(phase) = old.pointer("/status/phase")
            && let Some(map) = obj.as_object_mut()
        {
            let status = map.entry("status").or_insert_with(|| json!({}));
            if !status.is_object() {
                *status = json!({});
            }
            if let Some(st) = status.as_object_mut() {
                st.insert("phase".into(), phase.clone());
            }
        }
    }

    fn check_delete(&self, name: &str) -> Result<(), ApiError> {
        if IMMORTAL_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                Target {
                    resource: "namespaces",
                    group: "",
                    name,
                },
                "this namespace may not be deleted",
            ));
        }
        Ok(())
    }

    async fn after_delete(&self, name: &str, storage: &dyn Storage) -> Result<(), ApiError> {
        let prefixes = self.content_prefixes.load();
        for prefix in prefixes.iter() {
            let inner = format!("{prefix}{name}/");
            let found = storage
                .list(&inner, None, 0)
                .await
                .map_err(ApiError::internal)?;
            for kv in found.items {
                match storage.delete(&kv.key, None).await {
                    Ok(_) | Err(crate::storage::StorageError::NotFound(_)) => {}
                    Err(e) => return Err(ApiError::internal(e)),
                }
            }
        }
        Ok(())
    }
}

/// For tests of a strategy: its field errors of `obj` as the store answers
/// them, 422 Invalid naming the object's kind and `metadata.name`.
#[cfg(test)]
pub fn checked(
    strategy: &dyn Strategy,
    kind: &str,
    group: &str,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let errors = strategy.field_errors(obj, old);
    if errors.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(kind, group, name, errors))
}

/// The strategy of a resource.
pub fn for_resource(
    r: &ApiResource,
    namespace_content: &Arc<Snapshot<Vec<String>>>,
) -> Arc<dyn Strategy> {
    if r.group.is_empty() && r.plural == "namespaces" {
        Arc::new(Namespaces {
            content_prefixes: namespace_content.clone(),
        })
    } else if r.group == "apiextensions.k8s.io" && r.plural == "customresourcedefinitions" {
        Arc::new(crate::crd::strategy::Definitions)
    } else if r.group.is_empty() && r.plural == "configmaps" {
        Arc::new(super::config_data::ConfigMaps)
    } else if r.group.is_empty() && r.plural == "secrets" {
        Arc::new(super::config_data::Secrets)
    } else if r.group.is_empty() && r.plural == "events" {
        Arc::new(super::events::Events)
    } else if r.group == "coordination.k8s.io" && r.plural == "leases" {
        Arc::new(super::leases::Leases)
    } else if r.status_subresource {
        Arc::new(Default)
    } else {
        Arc::new(NoGeneration)
    }
}

/// The label every namespace carries with its own name (upstream's
/// namespace strategy sets it on create and update, whatever was sent).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn set_name_label(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(name) = meta.get("name").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(l) = labels.as_object_mut() {
        l.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
    }
}
