//! The OpenAPI v3 schemas kapi publishes for each served group/version: the
//! schema files' own schemas (and everything they refer to), renamed to the
//! dotted names Kubernetes publishes (`io.k8s.api.core.v1.ConfigMap`), with a
//! `<Kind>List` schema for every served kind. The server adds the paths.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value, json};

use crate::model::{Api, GroupVersion};

/// The dotted name a schema is published under.
pub fn published_name(group: &str, version: &str, name: &str) -> String {
    match group {
        "meta.k8s.io" => match name {
            "RawExtension" => "io.k8s.apimachinery.pkg.runtime.RawExtension".into(),
            "IntOrString" => "io.k8s.apimachinery.pkg.util.intstr.IntOrString".into(),
            "Quantity" => "io.k8s.apimachinery.pkg.api.resource.Quantity".into(),
            "Info" => "io.k8s.apimachinery.pkg.version.Info".into(),
            _ => format!("io.k8s.apimachinery.pkg.apis.meta.{version}.{name}"),
        },
        "" => format!("io.k8s.api.core.{version}.{name}"),
        "apiextensions.k8s.io" => {
            format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{name}")
        }
        g => match g.strip_suffix(".k8s.io") {
            Some(base) => {
                let first = base.split('.').next().unwrap_or(base);
                format!("io.k8s.api.{first}.{version}.{name}")
            }
            None if !g.contains('.') => format!("io.k8s.api.{g}.{version}.{name}"),
            None => {
                let mut labels: Vec<&str> = g.split('.').collect();
                labels.reverse();
                format!("{}.{version}.{name}", labels.join("."))
            }
        },
    }
}

/// Splits a `$ref` of a schema in `(group, version)` into the group, version and name it names.
fn ref_target(group: &str, version: &str, reference: &str) -> Option<(String, String, String)> {
    let (path, fragment) = reference.split_once('#')?;
    let name = fragment.strip_prefix("/components/schemas/")?.to_string();
    if path.is_empty() {
        return Some((group.into(), version.into(), name));
    }
    let file = path.rsplit('/').next()?;
    let v = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))?
        .to_string();
    let parts: Vec<&str> = path.split('/').collect();
    let g = match parts.as_slice() {
        ["..", g, _] => {
            if *g == "core" {
                String::new()
            } else {
                g.to_string()
            }
        }
        _ => group.to_string(),
    };
    Some((g, v, name))
}

/// Rewrites `$ref`s to published names, drops kapi's own extension, and records what was referred to.
fn rewrite(
    group: &str,
    version: &str,
    value: &mut Value,
    refs: &mut Vec<(String, String, String)>,
) {
    match value {
        Value::Object(map) => {
            map.remove("x-kapi-resource");
            map.remove("x-kapi-protobuf");
            map.remove("x-kapi-protobuf-optional");
            for (k, v) in map.iter_mut() {
                // A property named `$ref` (JSONSchemaProps has one) is a
                // schema, not a reference.
                if k == "$ref" && v.is_string() {
                    if let Some((g, ver, n)) =
                        v.as_str().and_then(|r| ref_target(group, version, r))
                    {
                        *v = Value::String(format!(
                            "#/components/schemas/{}",
                            published_name(&g, &ver, &n)
                        ));
                        refs.push((g, ver, n));
                    }
                } else {
                    rewrite(group, version, v, refs);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite(group, version, v, refs);
            }
        }
        _ => {}
    }
}

/// For every group/version with served kinds, its `components.schemas` as JSON text.
pub fn schemas_by_group_version(api: &Api) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for gv in &api.group_versions {
        if gv.resources().next().is_none() {
            continue;
        }
        out.insert(
            (gv.group.clone(), gv.version.clone()),
            schemas_for(api, gv).to_string(),
        );
    }
    out
}

fn schemas_for(api: &Api, gv: &GroupVersion) -> Value {
    let mut schemas = Map::new();
    let mut queue: VecDeque<(String, String, String)> = VecDeque::new();
    let mut seen = BTreeSet::new();
    for (t, _) in gv.resources() {
        queue.push_back((gv.group.clone(), gv.version.clone(), t.name.clone()));
        let list_name = format!("{}List", t.name);
        let item = published_name(&gv.group, &gv.version, &t.name);
        let list_meta = published_name("meta.k8s.io", "v1", "ListMeta");
        schemas.insert(
            published_name(&gv.group, &gv.version, &list_name),
            json!({
                "description": format!("A list of {}.", t.name),
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": {"description": "The versioned schema of this representation of an object.", "type": "string"},
                    "items": {"description": format!("The {} objects.", t.name), "type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
                    "kind": {"description": "The REST resource this object represents.", "type": "string"},
                    "metadata": {"allOf": [{"$ref": format!("#/components/schemas/{list_meta}")}], "default": {}, "description": "Standard list metadata."}
                },
                "x-kubernetes-group-version-kind": [{"group": gv.group, "kind": list_name, "version": gv.version}]
            }),
        );
        queue.push_back(("meta.k8s.io".into(), "v1".into(), "ListMeta".into()));
    }
    while let Some(key) = queue.pop_front() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let (g, v, n) = &key;
        let Some(source) = api.group_version(g, v) else {
            continue;
        };
        let Some(raw) = source.raw_schemas.get(n) else {
            continue;
        };
        let mut schema = raw.clone();
        let mut refs = Vec::new();
        rewrite(g, v, &mut schema, &mut refs);
        schemas.insert(published_name(g, v, n), schema);
        queue.extend(refs);
    }
    Value::Object(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            published_name("", "v1", "ConfigMap"),
            "io.k8s.api.core.v1.ConfigMap"
        );
        assert_eq!(
            published_name("meta.k8s.io", "v1", "ObjectMeta"),
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            published_name("coordination.k8s.io", "v1", "Lease"),
            "io.k8s.api.coordination.v1.Lease"
        );
        assert_eq!(
            published_name("apiextensions.k8s.io", "v1", "JSON"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON"
        );
        assert_eq!(
            published_name("example.com", "v1", "Widget"),
            "com.example.v1.Widget"
        );
    }

    #[test]
    fn refs() {
        assert_eq!(
            ref_target(
                "",
                "v1",
                "../meta.k8s.io/v1.yaml#/components/schemas/ObjectMeta"
            ),
            Some(("meta.k8s.io".into(), "v1".into(), "ObjectMeta".into()))
        );
        assert_eq!(
            ref_target("", "v1", "#/components/schemas/ConfigMap"),
            Some(("".into(), "v1".into(), "ConfigMap".into()))
        );
    }
}
