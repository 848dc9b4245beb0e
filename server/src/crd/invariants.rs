//! Upstream's structural-schema invariants (`ValidateStructural`) that
//! concern a node's place in the resource: the root, `metadata`, `kind` and
//! `apiVersion` of the resource and of embedded resources, the shape of
//! `x-kubernetes-embedded-resource` nodes, and what may appear inside
//! `allOf`/`anyOf`/`oneOf`/`not` (value validations only). Field paths and
//! messages are upstream's; the caller's walk visits every node once.

use serde_json::Value;

use crate::error::FieldError;

fn type_of(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or("")
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

/// The invariants of one structural node at `path`; `root` is the
/// version's `openAPIV3Schema`.
pub fn check_node(s: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    let at = |k: &str| format!("{path}.{k}");
    let ty = type_of(s);
    let embedded = flag(s, "x-kubernetes-embedded-resource");
    let int_or_string = flag(s, "x-kubernetes-int-or-string");
    if ty == "array" && s.get("items").is_none() {
        errs.push(FieldError::required(&at("items"), "must be specified"));
    }
    if root && s.get("additionalProperties").is_some() {
        errs.push(FieldError::forbidden(
            &at("additionalProperties"),
            "must not be used at the root",
        ));
    }
    if int_or_string && flag(s, "x-kubernetes-preserve-unknown-fields") {
        errs.push(FieldError::invalid_raw(
            &at("x-kubernetes-preserve-unknown-fields"),
            "true",
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid_raw(
            &at("x-kubernetes-embedded-resource"),
            "true",
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if embedded && ty != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        if ty.is_empty() {
            errs.push(FieldError::required(&at("type"), detail));
        } else {
            errs.push(FieldError::invalid(&at("type"), ty, detail));
        }
    }
    if embedded && s.get("additionalProperties").is_some() {
        errs.push(FieldError::forbidden(
            &at("additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    let props = s.get("properties").and_then(Value::as_object);
    let resource = root || embedded;
    if resource {
        for k in ["kind", "apiVersion"] {
            if let Some(p) = props.and_then(|p| p.get(k))
                && type_of(p) != "string"
            {
                errs.push(FieldError::invalid(
                    &format!("{path}.properties[{k}].type"),
                    type_of(p),
                    "must be string",
                ));
            }
        }
    }
    if let Some(m) = props.and_then(|p| p.get("metadata")) {
        metadata(
            m,
            &format!("{path}.properties[metadata]"),
            resource,
            root,
            errs,
        );
    }
    if embedded
        && !flag(s, "x-kubernetes-preserve-unknown-fields")
        && props.is_none_or(|p| p.is_empty())
    {
        errs.push(FieldError::required(
            &at("properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
    value_validation(s, path, errs);
    if root {
        value_complete(s, s, path, path, errs);
    }
}

/// Upstream's completeness rule, which it applies to the root's junctors:
/// every property or items named inside them is also specified outside.
fn value_complete(v: &Value, s: &Value, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = v.get("not") {
        nested_complete(n, Some(s), s_path, &format!("{v_path}.not"), errs);
    }
    for comb in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = v.get(comb).and_then(Value::as_array) {
            for (i, c) in list.iter().enumerate() {
                nested_complete(c, Some(s), s_path, &format!("{v_path}.{comb}[{i}]"), errs);
            }
        }
    }
}

fn nested_complete(
    v: &Value,
    s: Option<&Value>,
    s_path: &str,
    v_path: &str,
    errs: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        errs.push(FieldError::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    if !v.is_object() {
        return;
    }
    value_complete(v, s, s_path, v_path, errs);
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        nested_complete(
            items,
            s.get("items").filter(|i| i.is_object()),
            &format!("{s_path}.items"),
            &format!("{v_path}.items"),
            errs,
        );
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (k, vf) in props {
            nested_complete(
                vf,
                s.get("properties").and_then(|p| p.get(k)),
                &format!("{s_path}.properties[{k}]"),
                &format!("{v_path}.properties[{k}]"),
                errs,
            );
        }
    }
}

/// `metadata` of a resource may be an object; at the root it may restrict
/// only `name` and `generateName` (the rest is ObjectMeta's, implicitly).
fn metadata(m: &Value, path: &str, resource: bool, root: bool, errs: &mut Vec<FieldError>) {
    if resource && type_of(m) != "object" {
        errs.push(FieldError::invalid(
            &format!("{path}.type"),
            type_of(m),
            "must be object",
        ));
    }
    if !root {
        return;
    }
    let Some(map) = m.as_object() else {
        return;
    };
    let extra = map.iter().any(|(k, v)| match k.as_str() {
        // `default` is refused on its own ("must not be set in top-level metadata").
        "type" | "default" => false,
        "properties" => v
            .as_object()
            .is_some_and(|p| p.keys().any(|n| n != "name" && n != "generateName")),
        _ => true,
    });
    if extra {
        errs.push(FieldError::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

fn int_or_string_pair(list: Option<&Value>) -> bool {
    let Some(a) = list.and_then(Value::as_array) else {
        return false;
    };
    let only_type = |v: &Value, t: &str| {
        v.as_object()
            .is_some_and(|m| m.len() == 1 && m.get("type").and_then(Value::as_str) == Some(t))
    };
    a.len() == 2 && only_type(&a[0], "integer") && only_type(&a[1], "string")
}

/// The `allOf`/`anyOf`/`oneOf`/`not` of a node: value validations only.
/// The int-or-string forms (`anyOf: [{type: integer}, {type: string}]`,
/// directly or as the first `allOf` entry) are the exceptions upstream allows.
fn value_validation(s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    value_validation_skipping(s, path, int_or_string_pair(s.get("anyOf")), errs);
}

fn value_validation_skipping(s: &Value, path: &str, skip_any_of: bool, errs: &mut Vec<FieldError>) {
    let skip_first_all_of_any_of = s
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|f| int_or_string_pair(f.get("anyOf")));
    if !skip_any_of && let Some(list) = s.get("anyOf").and_then(Value::as_array) {
        for (i, c) in list.iter().enumerate() {
            nested(c, &format!("{path}.anyOf[{i}]"), false, errs);
        }
    }
    if let Some(list) = s.get("allOf").and_then(Value::as_array) {
        for (i, c) in list.iter().enumerate() {
            let skip = skip_first_all_of_any_of && i == 0;
            nested(c, &format!("{path}.allOf[{i}]"), skip, errs);
        }
    }
    if let Some(list) = s.get("oneOf").and_then(Value::as_array) {
        for (i, c) in list.iter().enumerate() {
            nested(c, &format!("{path}.oneOf[{i}]"), false, errs);
        }
    }
    if let Some(n) = s.get("not") {
        nested(n, &format!("{path}.not"), false, errs);
    }
}

/// A schema under a logic junctor: no type, default, title, description,
/// nullable, externalDocs, additionalProperties or Kubernetes extensions,
/// and no `metadata` property.
fn nested(v: &Value, path: &str, skip_any_of: bool, errs: &mut Vec<FieldError>) {
    if !v.is_object() {
        return;
    }
    let at = |k: &str| format!("{path}.{k}");
    value_validation_skipping(v, path, skip_any_of, errs);
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        nested(items, &at("items"), false, errs);
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            nested(p, &format!("{path}.properties[{k}]"), false, errs);
        }
    }
    if v.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        errs.push(FieldError::forbidden(
            &at("type"),
            "must be empty to be structural",
        ));
    }
    if v.get("additionalProperties").is_some() {
        errs.push(FieldError::forbidden(
            &at("additionalProperties"),
            "must be undefined to be structural",
        ));
    }
    let present = |k: &str| v.get(k).is_some_and(|x| !x.is_null());
    let non_empty_str = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .is_some_and(|x| !x.is_empty())
    };
    if present("default") {
        errs.push(FieldError::forbidden(
            &at("default"),
            "must be undefined to be structural",
        ));
    }
    if non_empty_str("title") {
        errs.push(FieldError::forbidden(
            &at("title"),
            "must be empty to be structural",
        ));
    }
    if non_empty_str("description") {
        errs.push(FieldError::forbidden(
            &at("description"),
            "must be empty to be structural",
        ));
    }
    if flag(v, "nullable") {
        errs.push(FieldError::forbidden(
            &at("nullable"),
            "must be false to be structural",
        ));
    }
    if present("externalDocs") {
        errs.push(FieldError::forbidden(
            &at("externalDocs"),
            "must be undefined to be structural",
        ));
    }
    for k in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if flag(v, k) {
            errs.push(FieldError::forbidden(
                &at(k),
                "must be false to be structural",
            ));
        }
    }
    if v.get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        errs.push(FieldError::forbidden(
            &at("x-kubernetes-list-map-keys"),
            "must be empty to be structural",
        ));
    }
    for k in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if present(k) {
            errs.push(FieldError::forbidden(
                &at(k),
                "must be undefined to be structural",
            ));
        }
    }
    if v.get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        errs.push(FieldError::forbidden(
            &at("x-kubernetes-validations"),
            "must be empty to be structural",
        ));
    }
    if v.get("properties")
        .and_then(|p| p.get("metadata"))
        .is_some()
    {
        errs.push(FieldError::forbidden(
            &format!("{path}.properties[metadata]"),
            "must not be specified in a nested context",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(s: Value, root: bool) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        check_node(&s, "s", root, &mut errs);
        errs.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn root_metadata_may_only_restrict_name_and_generate_name() {
        let ok = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 10}, "generateName": {"type": "string"}}},
            "kind": {"type": "string"}, "apiVersion": {"type": "string"}}});
        assert_eq!(check(ok, true), []);
        let bad = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "kind": {"type": "integer"}}});
        assert_eq!(
            check(bad, true),
            [
                (
                    "s.properties[kind].type".to_string(),
                    "Invalid value: \"integer\": must be string".to_string()
                ),
                (
                    "s.properties[metadata]".to_string(),
                    "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified".to_string()
                ),
            ]
        );
        let described = json!({"type": "object", "properties": {
            "metadata": {"type": "string", "description": "x"}}});
        let got = check(described, true);
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["s.properties[metadata].type", "s.properties[metadata]"],
            "{got:?}"
        );
        // Below the root, metadata is an ordinary property.
        let nested = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "kind": {"type": "integer"}}});
        assert_eq!(check(nested, false), []);
        assert_eq!(
            check(
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                true
            ),
            [(
                "s.additionalProperties".to_string(),
                "Forbidden: must not be used at the root".to_string()
            )]
        );
    }

    #[test]
    fn embedded_resources_are_objects_with_properties_or_preserved_fields() {
        assert_eq!(
            check(
                json!({"type": "object", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true}),
                false
            ),
            []
        );
        assert_eq!(
            check(
                json!({"type": "object", "x-kubernetes-embedded-resource": true,
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
                false
            ),
            []
        );
        let got = check(
            json!({"x-kubernetes-embedded-resource": true,
                "additionalProperties": {"type": "string"},
                "x-kubernetes-int-or-string": true}),
            false,
        );
        assert_eq!(
            got,
            [
                (
                    "s.x-kubernetes-embedded-resource".to_string(),
                    "Invalid value: true: must be false if x-kubernetes-int-or-string is true"
                        .to_string()
                ),
                (
                    "s.type".to_string(),
                    "Required value: must be object if x-kubernetes-embedded-resource is true"
                        .to_string()
                ),
                (
                    "s.additionalProperties".to_string(),
                    "Forbidden: must not be used if x-kubernetes-embedded-resource is set"
                        .to_string()
                ),
                (
                    "s.properties".to_string(),
                    "Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields".to_string()
                ),
            ]
        );
        let got = check(
            json!({"type": "string", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"metadata": {"type": "string"}, "apiVersion": {"type": "object"}}}),
            false,
        );
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.type",
                "s.properties[apiVersion].type",
                "s.properties[metadata].type"
            ],
            "{got:?}"
        );
        assert_eq!(
            check(json!({"type": "array"}), false),
            [(
                "s.items".to_string(),
                "Required value: must be specified".to_string()
            )]
        );
    }

    #[test]
    fn junctors_hold_value_validations_only() {
        let ok = json!({"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "anyOf": [{"properties": {"a": {"pattern": "^x"}}}],
            "not": {"properties": {"b": {"minimum": 5}}}});
        assert_eq!(check(ok, false), []);
        let bad = json!({"type": "object", "properties": {"a": {"type": "string"}},
            "allOf": [{"type": "object", "default": {}, "description": "d", "nullable": true,
                "properties": {"metadata": {"maxProperties": 1},
                    "a": {"x-kubernetes-list-type": "set", "title": "t"}},
                "additionalProperties": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "true"}]}],
            "not": {"anyOf": [{"x-kubernetes-preserve-unknown-fields": true}]}});
        let got = check(bad, false);
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.allOf[0].properties[a].title",
                "s.allOf[0].properties[a].x-kubernetes-list-type",
                "s.allOf[0].type",
                "s.allOf[0].additionalProperties",
                "s.allOf[0].default",
                "s.allOf[0].description",
                "s.allOf[0].nullable",
                "s.allOf[0].x-kubernetes-validations",
                "s.allOf[0].properties[metadata]",
                "s.not.anyOf[0].x-kubernetes-preserve-unknown-fields",
            ],
            "{got:?}"
        );
        assert_eq!(got[2].1, "Forbidden: must be empty to be structural");
        assert_eq!(
            got[8].1,
            "Forbidden: must not be specified in a nested context"
        );
    }

    #[test]
    fn root_junctors_name_only_specified_fields() {
        let ok = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "string"}}}}},
            "anyOf": [{"properties": {"spec": {"properties": {"a": {"items": {"minLength": 1}}}}}}]});
        assert_eq!(check(ok, true), []);
        let bad = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}}}},
            "oneOf": [{"properties": {"spec": {"properties": {
                "a": {"items": {"minLength": 1}}, "b": {"minLength": 1}}}}}],
            "not": {"properties": {"status": {"required": ["x"]}}}});
        assert_eq!(
            check(bad, true),
            [
                (
                    "s.properties[status]".to_string(),
                    "Required value: because it is defined in s.not.properties[status]".to_string()
                ),
                (
                    "s.properties[spec].properties[a].items".to_string(),
                    "Required value: because it is defined in s.oneOf[0].properties[spec].properties[a].items".to_string()
                ),
                (
                    "s.properties[spec].properties[b]".to_string(),
                    "Required value: because it is defined in s.oneOf[0].properties[spec].properties[b]".to_string()
                ),
            ]
        );
    }

    #[test]
    fn int_or_string_junctors_are_allowed() {
        let any = json!({"x-kubernetes-int-or-string": true,
            "anyOf": [{"type": "integer"}, {"type": "string"}]});
        assert_eq!(check(any, false), []);
        let all = json!({"x-kubernetes-int-or-string": true,
            "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]});
        assert_eq!(check(all, false), []);
        let wrong_order = json!({"x-kubernetes-int-or-string": true,
            "anyOf": [{"type": "string"}, {"type": "integer"}]});
        let got = check(wrong_order, false);
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["s.anyOf[0].type", "s.anyOf[1].type"]);
    }
}
