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
use crate::rest::strategy::Strategy;
use crate::storage::{Storage, StorageError};

/// The finalizer that holds a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// CustomResourceDefinitions.
pub struct Definitions;

#[async_trait]
impl Strategy for Definitions {
    fn prepare_for_create(&self, obj: &mut Value) {
        let storage = obj["spec"]["versions"]
            .as_array()
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            })
            .and_then(|v| v.get("name").cloned());
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let list = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut()
                && !a.iter().any(|f| f == CLEANUP_FINALIZER)
            {
                a.push(json!(CLEANUP_FINALIZER));
            }
        }
        if let Some(map) = obj.as_object_mut() {
            map.insert(
                "status".into(),
                json!({
                    "acceptedNames": {"kind": "", "plural": ""},
                    "storedVersions": storage.into_iter().collect::<Vec<_>>(),
                }),
            );
        }
    }

    fn validate_object(
        &self,
        obj: &mut Value,
        _old: Option<&Value>,
        _field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        crate::rest::strategy::invalid_unless_empty(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            obj,
            validation::validate_definition(obj),
        )
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

    fn validate_object(
        &self,
        obj: &mut Value,
        old: Option<&Value>,
        field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        let Some(schema) = &self.schema else {
            return Ok(Vec::new());
        };
        let checked = schema.check(obj);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut errors = checked.errors;
        if errors.is_empty()
            && let Some(rules) = &self.rules
        {
            errors = rules.check(obj, old);
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(&self.kind, &self.group, &name, errors));
        }
        let unknown: Vec<String> = checked
            .pruned
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match field_validation {
            FieldValidation::Ignore => Ok(Vec::new()),
            FieldValidation::Warn => Ok(unknown),
            FieldValidation::Strict if unknown.is_empty() => Ok(Vec::new()),
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                self.kind,
                obj.get("apiVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.rsplit('/').next())
                    .unwrap_or(""),
                self.kind,
                unknown.join(", ")
            ))),
        }
    }
}
