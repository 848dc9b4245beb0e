//! The per-node rules of upstream's CRD schema validation beyond types and
//! patterns (`ValidateCustomResourceDefinitionOpenAPISchema`, the structural
//! schema checks and `validateMapListKeysMapSet`): keywords a structural
//! schema may not use, the list and map type extensions and their keys,
//! and the form of `x-kubernetes-validations` messages. Field paths and
//! messages are upstream's.

use serde_json::Value;

use crate::error::FieldError;

const TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

fn type_of(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or("")
}

fn flag(s: &Value, k: &str) -> Option<bool> {
    s.get(k).and_then(Value::as_bool)
}

/// `[]string{"a", "b"}`, as Go prints a string slice with `%#v`.
fn go_strings(v: &Value) -> String {
    let items: Vec<String> = v
        .as_array()
        .map(|a| a.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default();
    format!("[]string{{{}}}", items.join(", "))
}

/// A value as Go's `%#v`-ish `field.Invalid` prints a JSON value: strings
/// quoted, numbers and booleans bare, objects and lists by their type.
pub fn shown_value(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v.to_string(),
        Value::Null => "\"null\"".into(),
        Value::Array(_) => "\"array\"".into(),
        Value::Object(_) => "\"object\"".into(),
    }
}

/// Checks one schema node at `path` (its children are checked by the caller's walk).
pub fn check_node(s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let at = |k: &str| format!("{path}.{k}");
    let ty = type_of(s);
    if !ty.is_empty() && !TYPES.contains(&ty) {
        if ty == "null" {
            errs.push(FieldError::forbidden(
                &at("type"),
                "type cannot be set to null, use nullable as an alternative",
            ));
        } else {
            errs.push(FieldError::not_supported(&at("type"), ty, TYPES));
        }
    }
    for (k, what) in [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        if s.get(k).is_some() {
            errs.push(FieldError::forbidden(&at(k), what));
        }
    }
    if s.get("items").is_some_and(Value::is_array) {
        errs.push(FieldError::forbidden(
            &at("items"),
            "items must be a schema object and not an array",
        ));
    }
    if flag(s, "uniqueItems") == Some(true) {
        errs.push(FieldError::forbidden(
            &at("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if flag(s, "additionalProperties") == Some(false) {
        errs.push(FieldError::forbidden(
            &at("additionalProperties"),
            "additionalProperties cannot be set to false",
        ));
    }
    if s.get("additionalProperties").is_some_and(Value::is_object) && s.get("properties").is_some()
    {
        errs.push(FieldError::forbidden(
            &at("additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if flag(s, "x-kubernetes-preserve-unknown-fields") == Some(false) {
        errs.push(FieldError::invalid_raw(
            &at("x-kubernetes-preserve-unknown-fields"),
            "false",
            "must be true or undefined",
        ));
    }
    if flag(s, "x-kubernetes-int-or-string") == Some(true) && !ty.is_empty() {
        errs.push(FieldError::invalid(
            &at("type"),
            ty,
            "must be empty if x-kubernetes-int-or-string is true",
        ));
    }
    map_type(s, ty, path, errs);
    list_type(s, ty, path, errs);
    validations(s, path, errs);
}

fn map_type(s: &Value, ty: &str, path: &str, errs: &mut Vec<FieldError>) {
    let Some(mt) = s.get("x-kubernetes-map-type") else {
        return;
    };
    let mt = mt.as_str().unwrap_or("");
    if ty != "object" {
        push_type(
            ty,
            path,
            "must be object if x-kubernetes-map-type is specified",
            errs,
        );
    }
    if mt != "atomic" && mt != "granular" {
        errs.push(FieldError::not_supported(
            &format!("{path}.x-kubernetes-map-type"),
            mt,
            &["atomic", "granular"],
        ));
    }
}

fn push_type(ty: &str, path: &str, detail: &str, errs: &mut Vec<FieldError>) {
    let field = format!("{path}.type");
    if ty.is_empty() {
        errs.push(FieldError::required(&field, detail));
    } else {
        errs.push(FieldError::invalid(&field, ty, detail));
    }
}

fn list_type(s: &Value, ty: &str, path: &str, errs: &mut Vec<FieldError>) {
    let lt = s.get("x-kubernetes-list-type").and_then(Value::as_str);
    let keys = s.get("x-kubernetes-list-map-keys");
    let has_keys = keys
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let items = s.get("items").filter(|i| i.is_object());
    if let Some(lt) = lt {
        if ty != "array" {
            push_type(
                ty,
                path,
                "must be array if x-kubernetes-list-type is specified",
                errs,
            );
        } else if lt == "set"
            && let Some(is) = items
        {
            match type_of(is) {
                "array" => {
                    let inner = is.get("x-kubernetes-list-type").and_then(Value::as_str);
                    if inner.is_some_and(|t| t != "atomic") {
                        errs.push(FieldError::invalid(
                            &format!("{path}.items.x-kubernetes-list-type"),
                            inner.unwrap_or(""),
                            "must be atomic as item of a list with x-kubernetes-list-type=set",
                        ));
                    }
                }
                "object"
                    if is.get("x-kubernetes-map-type").and_then(Value::as_str)
                        != Some("atomic") =>
                {
                    errs.push(FieldError::invalid_raw(
                        &format!("{path}.items.x-kubernetes-map-type"),
                        "\"null\"",
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    ));
                }
                _ => {}
            }
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(
                &format!("{path}.x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
    }
    if has_keys {
        match lt {
            None => errs.push(FieldError::required(
                &format!("{path}.x-kubernetes-list-type"),
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
            Some("map") => {}
            Some(other) => errs.push(FieldError::invalid(
                &format!("{path}.x-kubernetes-list-type"),
                other,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )),
        }
    }
    if lt != Some("map") {
        if matches!(lt, Some("set"))
            && let Some(is) = items
            && flag(is, "nullable") == Some(true)
        {
            errs.push(FieldError::forbidden(
                &format!("{path}.items.nullable"),
                "cannot be nullable when x-kubernetes-list-type is set",
            ));
        }
        return;
    }
    if !has_keys {
        errs.push(FieldError::required(
            &format!("{path}.x-kubernetes-list-map-keys"),
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    let Some(is) = items else {
        errs.push(FieldError::required(
            &format!("{path}.items"),
            "must have a schema if x-kubernetes-list-type is map",
        ));
        return;
    };
    if type_of(is) != "object" {
        errs.push(FieldError::invalid(
            &format!("{path}.items.type"),
            type_of(is),
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    if flag(is, "nullable") == Some(true) {
        errs.push(FieldError::forbidden(
            &format!("{path}.items.nullable"),
            "cannot be nullable when x-kubernetes-list-type is map",
        ));
    }
    let keys_v = keys.cloned().unwrap_or(Value::Null);
    let shown = go_strings(&keys_v);
    let required: Vec<&str> = is
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut seen = Vec::new();
    for k in keys_v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        match is.get("properties").and_then(|p| p.get(k)) {
            Some(ks) => {
                let kp = format!("{path}.items.properties[{k}]");
                if matches!(type_of(ks), "array" | "object") {
                    errs.push(FieldError::invalid(
                        &format!("{kp}.type"),
                        "object",
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    ));
                }
                if !required.contains(&k) && ks.get("default").is_none() {
                    errs.push(FieldError::required(
                        &format!("{kp}.default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if flag(ks, "nullable") == Some(true) {
                    errs.push(FieldError::forbidden(
                        &format!("{kp}.nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
            None => errs.push(FieldError::invalid_raw(
                &format!("{path}.x-kubernetes-list-map-keys"),
                &shown,
                "entries must all be names of item properties",
            )),
        }
        if seen.contains(&k) {
            errs.push(FieldError::invalid_raw(
                &format!("{path}.x-kubernetes-list-map-keys"),
                &shown,
                "must not contain duplicate entries",
            ));
        }
        seen.push(k);
    }
}

fn validations(s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(rules) = s.get("x-kubernetes-validations").and_then(Value::as_array) else {
        return;
    };
    for (i, r) in rules.iter().enumerate() {
        let rp = format!("{path}.x-kubernetes-validations[{i}]");
        let rule = r.get("rule").and_then(Value::as_str).unwrap_or("").trim();
        let raw_msg = r.get("message").and_then(Value::as_str).unwrap_or("");
        let msg = raw_msg.trim();
        if rule.is_empty() {
            // Reported with the rule's compilation (`rule is not specified`).
            continue;
        }
        if !raw_msg.is_empty() && msg.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{rp}.message"),
                raw_msg,
                "message must be non-empty if specified",
            ));
        } else if msg.contains(['\n', '\r']) {
            errs.push(FieldError::invalid(
                &format!("{rp}.message"),
                raw_msg,
                "message must not contain line breaks",
            ));
        } else if rule.contains(['\n', '\r']) && msg.is_empty() {
            errs.push(FieldError::required(
                &format!("{rp}.message"),
                "message must be specified if rule contains line breaks",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(s: Value) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        check_node(&s, "s", &mut errs);
        errs.into_iter().map(|e| (e.field, e.message)).collect()
    }

    #[test]
    fn list_map_keys_must_name_required_scalar_properties() {
        let got = check(json!({"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name", "port", "name", "nope"],
            "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "port": {"type": "object"}}}}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.items.properties[port].type",
                "s.items.properties[port].default",
                "s.x-kubernetes-list-map-keys",
                "s.x-kubernetes-list-map-keys",
            ],
            "{got:?}"
        );
        assert_eq!(
            got[1].1,
            "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"
        );
        assert_eq!(
            got[2].1,
            "Invalid value: []string{\"name\", \"port\", \"name\", \"nope\"}: must not contain duplicate entries"
        );
        assert!(
            got[3]
                .1
                .ends_with("entries must all be names of item properties")
        );
    }

    #[test]
    fn list_and_map_types_need_their_kinds() {
        let got = check(json!({"type": "object", "x-kubernetes-list-type": "map",
            "x-kubernetes-map-type": "weird"}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.x-kubernetes-map-type",
                "s.type",
                "s.x-kubernetes-list-map-keys",
                "s.items"
            ],
            "{got:?}"
        );
        assert_eq!(
            got[1].1,
            "Invalid value: \"object\": must be array if x-kubernetes-list-type is specified"
        );
        let got = check(json!({"type": "array", "x-kubernetes-list-map-keys": ["a"],
            "items": {"type": "string"}}));
        assert_eq!(
            got,
            [(
                "s.x-kubernetes-list-type".to_string(),
                "Required value: must be map if x-kubernetes-list-map-keys is non-empty"
                    .to_string()
            )]
        );
        let got = check(json!({"type": "array", "x-kubernetes-list-type": "set",
            "items": {"type": "object"}}));
        assert_eq!(got[0].0, "s.items.x-kubernetes-map-type", "{got:?}");
    }

    #[test]
    fn unsupported_keywords_are_forbidden() {
        let got = check(json!({"type": "object", "$ref": "#/x", "uniqueItems": true,
            "additionalProperties": {"type": "string"}, "properties": {"a": {"type": "string"}},
            "x-kubernetes-preserve-unknown-fields": false}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.$ref",
                "s.uniqueItems",
                "s.additionalProperties",
                "s.x-kubernetes-preserve-unknown-fields"
            ],
            "{got:?}"
        );
        assert_eq!(
            check(json!({"type": "null"}))[0].1,
            "Forbidden: type cannot be set to null, use nullable as an alternative"
        );
    }

    #[test]
    fn rule_messages_are_single_lines() {
        let got = check(json!({"type": "object", "x-kubernetes-validations": [
            {"rule": "true", "message": "  "},
            {"rule": "true", "message": "a\nb"},
            {"rule": "true &&\ntrue"},
            {"rule": "true", "message": "fine"}
        ]}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "s.x-kubernetes-validations[0].message",
                "s.x-kubernetes-validations[1].message",
                "s.x-kubernetes-validations[2].message"
            ]
        );
    }

    #[test]
    fn shared_crds_pass() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/crds");
        let mut n = 0;
        for group in ["gateway-api", "cert-manager"] {
            for e in std::fs::read_dir(dir.join(group)).expect("testdata") {
                let text = std::fs::read_to_string(e.expect("entry").path()).expect("read");
                let crd: Value = serde_yaml_ng::from_str(&text).expect("yaml");
                let errs = super::super::validation::validate_definition(&crd);
                assert!(errs.is_empty(), "{}: {errs:?}", crd["metadata"]["name"]);
                n += 1;
            }
        }
        assert_eq!(n, 16);
    }
}
