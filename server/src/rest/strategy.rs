//! Per-kind behaviour, as kube-apiserver's registry strategies: what a kind
//! does on create, update and delete beyond the generic rules. Most kinds use
//! the default; namespaces have their own.

use std::sync::Arc;

use async_trait::async_trait;
use kapi_generated::ApiResource;
use serde_json::{Value, json};

use crate::error::{ApiError, Target};
use crate::snapshot::Snapshot;
use crate::storage::Storage;

/// Kind-specific rules.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// Names must be DNS-1123 labels rather than subdomains.
    fn label_names(&self) -> bool {
        false
    }

    /// Adjusts a new object before it is stored.
    fn prepare_for_create(&self, _obj: &mut Value) {}

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

    /// Runs after an object was deleted (a namespace removes its content).
    async fn after_delete(&self, _name: &str, _storage: &dyn Storage) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The default strategy.
pub struct Default;

impl Strategy for Default {}

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

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(map) = obj.as_object_mut() {
            map.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            map.insert("status".into(), json!({"phase": "Active"}));
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

/// Secrets: an empty `type` is `Opaque` (upstream's `SetDefaults_Secret`,
/// which runs on every body decoded: create, update and patch).
pub struct Secrets;

impl Strategy for Secrets {
    fn validate_object(
        &self,
        obj: &mut Value,
        _old: Option<&Value>,
        _field_validation: crate::rest::FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        default_secret_type(obj);
        Ok(Vec::new())
    }
}

fn default_secret_type(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        let empty = match map.get("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t.is_empty(),
            Some(_) => false,
        };
        if empty {
            map.insert("type".into(), json!("Opaque"));
        }
    }
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
    } else if r.group.is_empty() && r.plural == "secrets" {
        Arc::new(Secrets)
    } else if r.group == "apiextensions.k8s.io" && r.plural == "customresourcedefinitions" {
        Arc::new(crate::crd::strategy::Definitions)
    } else {
        Arc::new(Default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_type_defaults_to_opaque() {
        for given in [json!({}), json!({"type": ""}), json!({"type": null})] {
            let mut obj = given.clone();
            Secrets
                .validate_object(&mut obj, None, crate::rest::FieldValidation::default())
                .unwrap();
            assert_eq!(obj["type"], "Opaque", "from {given}");
        }
        let mut tls = json!({"type": "kubernetes.io/tls"});
        Secrets
            .validate_object(&mut tls, None, crate::rest::FieldValidation::default())
            .unwrap();
        assert_eq!(tls["type"], "kubernetes.io/tls");
    }
}
