//! The OpenAPI documents of one custom resource group/version, built from
//! the `openAPIV3Schema` of every CRD served there: the v3 document (so
//! `kubectl explain` works), with the metadata schemas it refers to, and
//! the v2 fragment (the schema as apiextensions publishes it in v2, see
//! `openapi::v2::crd_schema_v2`).

use serde_json::{Map, Value, json};

use super::definition::{Definition, Version};
use crate::openapi::v2;
use crate::rest::Endpoint;

/// `gateway.networking.k8s.io` → `io.k8s.networking.gateway`, as upstream names CR schemas.
pub fn reversed_group(group: &str) -> String {
    group.split('.').rev().collect::<Vec<_>>().join(".")
}

/// The published schema name of a kind.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    format!("{}.{version}.{kind}", reversed_group(group))
}

fn meta_schemas() -> Map<String, Value> {
    kapi_generated::api::OPENAPI_SCHEMAS
        .iter()
        .find(|s| s.group.is_empty() && s.version == "v1")
        .and_then(|s| serde_json::from_str::<Map<String, Value>>(s.schemas).ok())
        .map(|m| {
            m.into_iter()
                .filter(|(k, _)| k.starts_with("io.k8s.apimachinery.pkg.apis.meta.v1."))
                .collect()
        })
        .unwrap_or_default()
}

/// The document of `(group, version)` for the CRDs served there, with their endpoints.
pub fn document(
    group: &str,
    version: &str,
    served: &[(&Definition, &Version, &Endpoint)],
    server_version: &str,
) -> Value {
    let mut schemas = meta_schemas();
    for (d, v, ep) in served {
        let kind = &ep.resource.kind;
        let name = schema_name(group, version, kind);
        let mut s = v
            .schema
            .as_deref()
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "metadata".into(),
                json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "description": "Standard object's metadata."}),
            );
        }
        s["x-kubernetes-group-version-kind"] =
            json!([{"group": group, "kind": kind, "version": version}]);
        if !v.selectable_fields.is_empty() {
            // As upstream publishes them: the declared fields, as field labels.
            s["x-kubernetes-selectable-fields"] = v
                .selectable_fields
                .iter()
                .map(|f| json!({"fieldPath": f}))
                .collect();
        }
        schemas.insert(name.clone(), s);
        let list_kind = if d.names.list_kind.is_empty() {
            format!("{kind}List")
        } else {
            d.names.list_kind.clone()
        };
        schemas.insert(
            format!("{name}List"),
            json!({
                "description": format!("{list_kind} is a list of {kind}"),
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}},
                    "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}]},
                },
                "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}],
            }),
        );
    }
    let eps: Vec<&Endpoint> = served.iter().map(|(_, _, e)| *e).collect();
    let mut doc = crate::openapi::group_version_document(
        &eps,
        Value::Object(schemas),
        server_version,
        |ep| schema_name(group, version, &ep.resource.kind),
    );
    without_strategic_merge_patch(&mut doc);
    doc
}

/// The group/version's part of `/openapi/v2`.
pub fn fragment(
    group: &str,
    version: &str,
    served: &[(&Definition, &Version, &Endpoint)],
) -> v2::Fragment {
    let mut definitions: std::collections::BTreeMap<String, Value> = meta_schemas()
        .into_iter()
        .map(|(k, mut v)| {
            v2::builtin_schema_v2(&mut v);
            (k, v)
        })
        .collect();
    for (d, v, ep) in served {
        let kind = &ep.resource.kind;
        let name = schema_name(group, version, kind);
        let list_kind = if d.names.list_kind.is_empty() {
            format!("{kind}List")
        } else {
            d.names.list_kind.clone()
        };
        definitions.insert(
            name.clone(),
            v2::crd_schema_v2(v.schema.as_deref(), group, version, kind),
        );
        definitions.insert(
            format!("{name}List"),
            v2::crd_list_schema_v2(&name, group, version, kind, &list_kind),
        );
        if v.scale.is_some() {
            definitions.extend(crate::openapi::scale_definitions());
        }
    }
    let eps: Vec<&Endpoint> = served.iter().map(|(_, _, e)| *e).collect();
    v2::fragment(&eps, definitions, v2::Flavor::Custom, |ep| {
        schema_name(group, version, &ep.resource.kind)
    })
}

/// Custom resources take no strategic merge patch: their PATCH operations
/// must not offer it, or kubectl apply would send one (it checks the
/// operation's request body types) and get 415.
fn without_strategic_merge_patch(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            if let Some(content) = item
                .pointer_mut("/patch/requestBody/content")
                .and_then(Value::as_object_mut)
            {
                content.remove("application/strategic-merge-patch+json");
            }
        }
    }
}
