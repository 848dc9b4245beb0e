//! The registry strategies of the CRD server: [`Definitions`] for
//! CustomResourceDefinitions (validation with upstream's field paths, initial
//! status, cleanup of the custom objects when one is deleted) and
//! [`CustomResources`] for the objects a CRD serves (schema defaulting,
//! pruning and validation; no update without a resourceVersion).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::cel::CelRules;
use super::schema::CrSchema;
use super::validation;
use crate::error::ApiError;
use crate::rest::FieldValidation;
use crate::rest::options::Subresource;
use crate::rest::strategy::Strategy;
use crate::storage::{Storage, StorageError};

/// The finalizer that holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// CustomResourceDefinitions.
pub struct Definitions;

/// Upstream's v1 defaults of a CRD (`SetDefaults_CustomResourceDefinitionSpec`,
/// `SetDefaults_ServiceReference`): `names.singular` the lower-case kind,
/// `names.listKind` the kind + `List`, `conversion.strategy` `None`, a
/// conversion webhook's service port 443.
fn default_definition(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let unset = |names: &serde_json::Map<String, Value>, k: &str| {
            names
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        };
        if unset(names, "singular") {
            names.insert("singular".into(), Value::String(kind.to_lowercase()));
        }
        if unset(names, "listKind") && !kind.is_empty() {
            names.insert("listKind".into(), Value::String(format!("{kind}List")));
        }
    }
    let conversion = spec.entry("conversion").or_insert(Value::Null);
    if conversion.is_null() {
        *conversion = json!({"strategy": "None"});
    }
    if let Some(service) = conversion
        .pointer_mut("/webhook/clientConfig/service")
        .and_then(Value::as_object_mut)
        && service.get("port").is_none_or(Value::is_null)
    {
        service.insert("port".into(), json!(443));
    }
}

#[async_trait]
impl Strategy for Definitions {
    fn default_object(
        &self,
        obj: &mut Value,
        _field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        default_definition(obj);
        Ok(Vec::new())
    }

    /// Upstream's CRD strategy resets `status`; its status strategy
    /// `metadata` and `spec`.
    fn reset_fields(&self, subresource: Option<Subresource>) -> &'static [&'static [&'static str]] {
        match subresource {
            None => &[&["f:status"]],
            Some(Subresource::Status) => &[&["f:metadata"], &["f:spec"]],
            Some(Subresource::Scale) => &[],
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let storage = obj["spec"]["versions"]
            .as_array()
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            })
            .and_then(|v| v.get("name").cloned());
        if let Some(map) = obj.as_object_mut() {
            map.insert(
                "status".into(),
                // Upstream's status has no `omitempty` on `conditions`: a new
                // CRD's is `null`.
                json!({
                    "acceptedNames": {"kind": "", "plural": ""},
                    "conditions": null,
                    "storedVersions": storage.into_iter().collect::<Vec<_>>(),
                }),
            );
        }
    }

    /// Upstream's CRD storage adds the cleanup finalizer when a delete
    /// starts (not on create), so the controller can remove the CRD's objects.
    fn prepare_for_delete(&self, obj: &mut Value) {
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let list = meta.entry("finalizers").or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(a) = list.as_array_mut()
                && !a.iter().any(|f| f == CLEANUP_FINALIZER)
            {
                a.push(json!(CLEANUP_FINALIZER));
            }
        }
    }

    fn field_errors(&self, obj: &Value, _old: Option<&Value>) -> Vec<crate::error::FieldError> {
        validation::validate_definition(obj)
    }

    async fn after_delete(&self, name: &str, storage: &dyn Storage) -> Result<(), ApiError> {
        // `plural.group`: the custom objects live under /registry/group/plural/.
        let Some((plural, group)) = name.split_once('.') else {
            return Ok(());
        };
        let prefix = format!("{}/{group}/{plural}/", storage.key_prefix());
        let found = storage
            .list(&prefix, None, 0)
            .await
            .map_err(ApiError::internal)?;
        for kv in found.items {
            match storage.delete(&kv.key, None).await {
                Ok(_) | Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(ApiError::internal(e)),
            }
        }
        Ok(())
    }
}

/// The objects of one served version of a CRD.
pub struct CustomResources {
    /// The kind, for error messages.
    pub kind: String,
    /// The group, for error messages.
    pub group: String,
    /// The version's schema.
    pub schema: Option<Arc<CrSchema>>,
    /// The version's `x-kubernetes-validations` rules, if it has any.
    pub rules: Option<Arc<CelRules>>,
    /// Whether the version has a status subresource (then a write of the main
    /// resource cannot set `status`).
    pub status: bool,
}

#[async_trait]
impl Strategy for CustomResources {
    fn allow_unconditional_update(&self) -> bool {
        false
    }

    fn converts_field_labels(&self) -> bool {
        true
    }

    fn strategic_merge_patch(&self) -> bool {
        false
    }

    fn prepare_for_read(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            schema.apply_defaults(obj);
        }
    }

    /// The schema's defaults and pruning of unknown fields, as upstream's
    /// decoding of a custom resource: a `Warning` per pruned field, or 400
    /// under `fieldValidation=Strict`.
    fn default_object(
        &self,
        obj: &mut Value,
        field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        let Some(schema) = &self.schema else {
            return Ok(Vec::new());
        };
        let unknown: Vec<String> = schema
            .default_and_prune(obj)
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        let version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or("");
        field_validation.judge(unknown, &self.kind, version)
    }

    /// Upstream's custom resource strategy resets `status` when the version
    /// has a status subresource; its status strategy `spec`.
    fn reset_fields(&self, subresource: Option<Subresource>) -> &'static [&'static [&'static str]] {
        match subresource {
            None if self.status => &[&["f:status"]],
            None => &[],
            Some(Subresource::Status) => &[&["f:spec"]],
            Some(Subresource::Scale) => &[],
        }
    }

    fn validate_object(
        &self,
        obj: &mut Value,
        old: Option<&Value>,
        _field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        let Some(schema) = &self.schema else {
            return Ok(Vec::new());
        };
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut errors = schema.validate_object(obj);
        if errors.is_empty()
            && let Some(rules) = &self.rules
        {
            errors = rules.check(obj, old);
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(&self.kind, &self.group, &name, errors));
        }
        Ok(Vec::new())
    }
}
