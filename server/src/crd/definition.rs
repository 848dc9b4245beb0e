//! A CustomResourceDefinition as the CRD server uses it: read from the stored
//! JSON into the names, versions, schemas, subresources and columns that
//! become one [`ApiResource`] per served version.

use kapi_generated::resource::{ColumnSource, PrinterColumn, ScaleSubresource, SelectableField};
use kapi_generated::{ApiResource, Scope};
use serde_json::Value;

/// One version of a CRD.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// `v1`, `v1beta1`, ...
    pub name: String,
    /// Whether it is served.
    pub served: bool,
    /// Whether objects are stored in it.
    pub storage: bool,
    /// The `Warning` a request to it gets when it is deprecated.
    pub warning: Option<String>,
    /// `openAPIV3Schema`, shared with the version's validator.
    pub schema: Option<std::sync::Arc<Value>>,
    /// Whether `/status` is served.
    pub status: bool,
    /// The scale subresource.
    pub scale: Option<ScaleSubresource>,
    /// `additionalPrinterColumns`.
    pub columns: Vec<PrinterColumn>,
    /// `selectableFields`: field labels (`jsonPath` without its leading `.`).
    pub selectable_fields: Vec<String>,
}

/// The names a CRD asks for (`spec.names`, or `status.acceptedNames`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Names {
    /// Plural (the URL segment).
    pub plural: String,
    /// Singular.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// List kind.
    pub list_kind: String,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
}

impl Names {
    /// Reads `spec.names` or `status.acceptedNames`.
    pub fn from_value(v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let list = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let kind = s("kind");
        let mut list_kind = s("listKind");
        if list_kind.is_empty() && !kind.is_empty() {
            list_kind = format!("{kind}List");
        }
        let plural = s("plural");
        let mut singular = s("singular");
        if singular.is_empty() {
            singular = kind.to_lowercase();
        }
        Names {
            plural,
            singular,
            kind,
            list_kind,
            short_names: list("shortNames"),
            categories: list("categories"),
        }
    }

    /// As JSON (`status.acceptedNames`).
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::json!({
            "plural": self.plural, "singular": self.singular,
            "kind": self.kind, "listKind": self.list_kind,
        });
        if !self.short_names.is_empty() {
            v["shortNames"] = serde_json::json!(self.short_names);
        }
        if !self.categories.is_empty() {
            v["categories"] = serde_json::json!(self.categories);
        }
        v
    }
}

/// A CRD.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// `plural.group`.
    pub name: String,
    /// The API group.
    pub group: String,
    /// `spec.names`.
    pub names: Names,
    /// Namespaced or Cluster.
    pub scope: Scope,
    /// Every version, in the CRD's order.
    pub versions: Vec<Version>,
    /// Whether it is being deleted.
    pub terminating: bool,
}

fn columns(v: &Value) -> Vec<PrinterColumn> {
    v.get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    PrinterColumn {
                        name: s("name"),
                        type_: s("type"),
                        format: s("format"),
                        description: s("description"),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                        // Upstream's table convertor shows a date column's
                        // timestamp as an age.
                        source: if s("type") == "date" {
                            ColumnSource::Age(s("jsonPath"))
                        } else {
                            ColumnSource::Path(s("jsonPath"))
                        },
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `selectableFields[].jsonPath`, as field labels (`.spec.color` → `spec.color`).
fn selectable_fields(v: &Value) -> Vec<String> {
    v.get("selectableFields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                .map(|p| p.strip_prefix('.').unwrap_or(p).to_string())
                .collect()
        })
        .unwrap_or_default()
}

impl Definition {
    /// Reads a stored CRD.
    pub fn from_value(crd: &Value) -> Self {
        let spec = &crd["spec"];
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .map(|v| {
                        let name = v
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        let deprecated = v.get("deprecated").and_then(Value::as_bool) == Some(true);
                        let warning = deprecated.then(|| {
                            v.get("deprecationWarning")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .unwrap_or_else(|| {
                                    format!(
                                        "{}/{name} {} is deprecated",
                                        spec["group"].as_str().unwrap_or(""),
                                        spec["names"]["kind"].as_str().unwrap_or("")
                                    )
                                })
                        });
                        let sub = &v["subresources"];
                        let scale =
                            sub.get("scale")
                                .filter(|s| s.is_object())
                                .map(|s| ScaleSubresource {
                                    spec_replicas_path: s["specReplicasPath"]
                                        .as_str()
                                        .unwrap_or("")
                                        .into(),
                                    status_replicas_path: s["statusReplicasPath"]
                                        .as_str()
                                        .unwrap_or("")
                                        .into(),
                                    label_selector_path: s["labelSelectorPath"]
                                        .as_str()
                                        .map(str::to_string),
                                });
                        Version {
                            name,
                            served: v.get("served").and_then(Value::as_bool).unwrap_or(false),
                            storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                            warning,
                            schema: v
                                .pointer("/schema/openAPIV3Schema")
                                .cloned()
                                .map(std::sync::Arc::new),
                            status: sub.get("status").is_some_and(|s| s.is_object()),
                            scale,
                            columns: columns(v),
                            selectable_fields: selectable_fields(v),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Definition {
            name: crd
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            group: spec
                .get("group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            names: Names::from_value(&spec["names"]),
            scope: if spec.get("scope").and_then(Value::as_str) == Some("Cluster") {
                Scope::Cluster
            } else {
                Scope::Namespaced
            },
            versions,
            terminating: crd
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|d| !d.is_null()),
        }
    }

    /// The storage version's name.
    pub fn storage_version(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.storage)
            .map(|v| v.name.as_str())
    }

    /// How a version is served under `names`.
    pub fn api_resource(&self, v: &Version, names: &Names) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: v.name.clone(),
            kind: names.kind.clone(),
            plural: names.plural.clone(),
            singular: names.singular.clone(),
            scope: self.scope,
            short_names: names.short_names.clone(),
            categories: names.categories.clone(),
            status_subresource: v.status,
            scale_subresource: v.scale.clone(),
            printer_columns: v.columns.clone(),
            selectable_fields: v
                .selectable_fields
                .iter()
                .map(|f| SelectableField::path(f))
                .collect(),
            storage_version: self.storage_version().map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_names_versions_and_columns() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
        "group": "example.com", "scope": "Cluster",
        "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {"name": "v1", "served": true, "storage": true,
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
             "additionalPrinterColumns": [{"name": "Ready", "type": "string", "jsonPath": ".status.ready"}]},
            {"name": "v1beta1", "served": true, "storage": false, "deprecated": true}
        ]}});
        let d = Definition::from_value(&crd);
        assert_eq!(d.names.singular, "widget");
        assert_eq!(d.names.list_kind, "WidgetList");
        assert_eq!(d.storage_version(), Some("v1"));
        assert_eq!(d.scope, Scope::Cluster);
        let r = d.api_resource(&d.versions[0], &d.names);
        assert!(r.status_subresource && r.scale_subresource.is_some());
        assert_eq!(
            r.printer_columns[0].source,
            ColumnSource::Path(".status.ready".into())
        );
        assert_eq!(
            d.versions[1].warning.as_deref(),
            Some("example.com/v1beta1 Widget is deprecated")
        );
    }
}
