//! [`Unstructured`]: an object of a kind known only at run time (a custom
//! resource), kept as JSON with typed access to what every object has —
//! `apiVersion`, `kind` and `metadata` — and everything else flattened beside
//! them, untouched. It is a [`Resource`] whose dynamic type is the
//! [`ApiResource`] it is served as, so the server's one generic storage serves
//! it exactly as it serves compiled-in kinds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::meta::v1::ObjectMeta;
use crate::resource::{ApiResource, Resource, verbs};

/// A Kubernetes object as JSON with typed type and object metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Unstructured {
    /// `group/version` (or `v1`).
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// The kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field (`spec`, `status`, ...), as sent.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Unstructured {
    /// A top-level field other than apiVersion, kind and metadata.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.rest.get(name)
    }
}

impl Resource for Unstructured {
    type DynamicType = ApiResource;

    fn api_resource(dt: &ApiResource) -> &ApiResource {
        dt
    }

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    fn type_meta(&self) -> (Option<&str>, Option<&str>) {
        (self.api_version.as_deref(), self.kind.as_deref())
    }

    fn set_type_meta(&mut self, api_version: String, kind: String) {
        self.api_version = Some(api_version);
        self.kind = Some(kind);
    }
}

// A custom resource serves every verb.
impl verbs::Get for Unstructured {}
impl verbs::List for Unstructured {}
impl verbs::Watch for Unstructured {}
impl verbs::Create for Unstructured {}
impl verbs::Update for Unstructured {}
impl verbs::Patch for Unstructured {}
impl verbs::Delete for Unstructured {}
impl verbs::DeleteCollection for Unstructured {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_with_typed_metadata() {
        let v = json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"size": 3}, "status": {"ready": true}
        });
        let u: Unstructured = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(u.metadata.name_str(), "a");
        assert_eq!(u.type_meta(), (Some("example.com/v1"), Some("Widget")));
        assert_eq!(u.field("spec"), Some(&json!({"size": 3})));
        assert_eq!(serde_json::to_value(&u).unwrap(), v);
    }
}
