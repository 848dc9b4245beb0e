//! Validation of a CustomResourceDefinition, as kube-apiserver's
//! `ValidateCustomResourceDefinition`: names, group, scope, versions (exactly
//! one storage version), a structural `openAPIV3Schema` per version, valid
//! patterns and printer-column paths. Every failure has upstream's field path.

use serde_json::Value;

use crate::error::FieldError;
use crate::jsonpath::JsonPath;
use crate::rest::meta::{is_dns1123_label, is_dns1123_subdomain};

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn str_at<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Every reason `crd` is not a valid CustomResourceDefinition.
pub fn validate_definition(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &crd["spec"];
    let group = str_at(spec, "group");
    let names = &spec["names"];
    let plural = str_at(names, "plural");
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if !is_dns1123_subdomain(group) {
        errs.push(FieldError::invalid("spec.group", group, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    match str_at(spec, "scope") {
        "Cluster" | "Namespaced" => {}
        "" => errs.push(FieldError::required("spec.scope", "")),
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(names, &mut errs);
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid_raw(
            "spec.versions",
            "[]",
            "must have exactly one version marked as storage version",
        ));
        return errs;
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        errs.push(FieldError::invalid_raw(
            "spec.versions",
            "[]",
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions
        .iter()
        .any(|v| v.get("served").and_then(Value::as_bool) == Some(true))
    {
        errs.push(FieldError::invalid_raw(
            "spec.versions",
            "[]",
            "must have at least one version marked as served",
        ));
    }
    let mut seen = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let base = format!("spec.versions[{i}]");
        let vname = str_at(v, "name");
        if vname.is_empty() {
            errs.push(FieldError::required(&format!("{base}.name"), ""));
        } else if !is_dns1123_label(vname) {
            errs.push(FieldError::invalid(
                &format!("{base}.name"),
                vname,
                LABEL_MSG,
            ));
        } else if seen.contains(&vname) {
            errs.push(FieldError {
                reason: "FieldValueDuplicate",
                field: format!("{base}.name"),
                message: format!("Duplicate value: {}", Value::String(vname.into())),
            });
        }
        seen.push(vname);
        match v.pointer("/schema/openAPIV3Schema") {
            None | Some(Value::Null) => errs.push(FieldError::required(
                &format!("{base}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(s) => {
                let path = format!("{base}.schema.openAPIV3Schema");
                let before = errs.len();
                match str_at(s, "type") {
                    "object" => {}
                    "" => errs.push(FieldError::required(
                        &format!("{path}.type"),
                        "must not be empty at the root",
                    )),
                    other => errs.push(FieldError::invalid(
                        &format!("{path}.type"),
                        other,
                        "must be object at the root",
                    )),
                }
                structural(s, &path, 0, Place::default(), &mut errs);
                if errs.len() == before {
                    // As upstream, defaults meet their CEL rules only in an otherwise valid schema.
                    errs.extend(super::defaults::check_rules(s, &path));
                }
            }
        }
        super::selectable::validate(v, &base, &mut errs);
        if let Some(cols) = v.get("additionalPrinterColumns").and_then(Value::as_array) {
            for (j, c) in cols.iter().enumerate() {
                let cp = format!("{base}.additionalPrinterColumns[{j}]");
                if str_at(c, "name").is_empty() {
                    errs.push(FieldError::required(&format!("{cp}.name"), ""));
                }
                let t = str_at(c, "type");
                if !["integer", "number", "string", "boolean", "date"].contains(&t) {
                    errs.push(FieldError::not_supported(
                        &format!("{cp}.type"),
                        t,
                        &["boolean", "date", "integer", "number", "string"],
                    ));
                }
                let jp = str_at(c, "jsonPath");
                if jp.is_empty() {
                    errs.push(FieldError::required(&format!("{cp}.jsonPath"), ""));
                } else if JsonPath::parse(jp).is_err() {
                    errs.push(FieldError::invalid(
                        &format!("{cp}.jsonPath"),
                        jp,
                        "must be a simple json path",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_names(names: &Value, errs: &mut Vec<FieldError>) {
    for field in ["plural", "singular"] {
        let v = str_at(names, field);
        if v.is_empty() && field == "plural" {
            errs.push(FieldError::required("spec.names.plural", ""));
        } else if !v.is_empty() && !is_dns1123_label(v) {
            errs.push(FieldError::invalid(
                &format!("spec.names.{field}"),
                v,
                LABEL_MSG,
            ));
        }
    }
    let kind = str_at(names, "kind");
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    } else if !kind.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        || !kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        errs.push(FieldError::invalid(
            "spec.names.kind",
            kind,
            "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
        ));
    }
    if let Some(shorts) = names.get("shortNames").and_then(Value::as_array) {
        for (i, s) in shorts.iter().enumerate() {
            let s = s.as_str().unwrap_or("");
            if !is_dns1123_label(s) {
                errs.push(FieldError::invalid(
                    &format!("spec.names.shortNames[{i}]"),
                    s,
                    LABEL_MSG,
                ));
            }
        }
    }
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

/// Where a schema node sits, for the rules that depend on it.
#[derive(Clone, Default)]
struct Place {
    /// Under allOf/anyOf/oneOf/not: value validations only, types not required.
    value_only: bool,
    /// Under the `metadata`, `kind` or `apiVersion` of a resource.
    inside_meta: bool,
    /// Why a `default` is refused here (top-level metadata, ...).
    no_defaults: Option<String>,
}

/// The structural-schema rules that matter for serving: every specified
/// field has a type (unless int-or-string or preserve-unknown-fields),
/// patterns compile, and the nesting is bounded.
/// Inside allOf/anyOf/oneOf/not (`value_only`) types are not required.
fn structural(s: &Value, path: &str, depth: usize, place: Place, errs: &mut Vec<FieldError>) {
    let value_only = place.value_only;
    if depth > super::schema::MAX_DEPTH {
        errs.push(FieldError::forbidden(
            path,
            &format!(
                "exceeds the maximum nesting depth of {}",
                super::schema::MAX_DEPTH
            ),
        ));
        return;
    }
    super::structural::check_node(s, path, errs);
    if !value_only {
        super::invariants::check_node(s, path, depth == 0, errs);
    }
    if place.inside_meta && flag(s, "x-kubernetes-embedded-resource") {
        errs.push(FieldError::forbidden(
            &format!("{path}.x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
    if let Some(reason) = place
        .no_defaults
        .as_ref()
        .filter(|_| s.get("default").is_some())
    {
        errs.push(FieldError::forbidden(
            &format!("{path}.default"),
            &format!("must not be set {reason}"),
        ));
    } else if !value_only && let Some(d) = s.get("default") {
        // A default must be pruned and valid, as upstream's ValidateDefaults checks.
        let dp = format!("{path}.default");
        let checked = super::schema::CrSchema::new(Value::Null).check_against(s, d, &dp);
        if !checked.pruned.is_empty() {
            errs.push(FieldError::invalid_raw(
                &dp,
                &super::structural::shown_value(d),
                "must not have unknown fields",
            ));
        }
        errs.extend(checked.errors);
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str)
        && let Err(e) = regex::RegexBuilder::new(p).size_limit(1 << 20).build()
    {
        errs.push(FieldError::invalid(
            &format!("{path}.pattern"),
            p,
            &format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
    if let Some(rules) = s.get("x-kubernetes-validations").and_then(Value::as_array) {
        for (j, r) in rules.iter().enumerate() {
            let rp = format!("{path}.x-kubernetes-validations[{j}]");
            let Some(rule) = r
                .get("rule")
                .and_then(Value::as_str)
                .filter(|x| !x.is_empty())
            else {
                errs.push(FieldError::required(
                    &format!("{rp}.rule"),
                    "rule is not specified",
                ));
                continue;
            };
            if let Some(problem) = super::cel::rule_problem(rule, s) {
                if problem.starts_with("compilation failed") {
                    errs.push(FieldError::invalid(&format!("{rp}.rule"), rule, &problem));
                } else {
                    errs.push(FieldError::forbidden(&format!("{rp}.rule"), &problem));
                }
            }
        }
    }
    let typed = |c: &Value| {
        c.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
            || c.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
            || flag(c, "x-kubernetes-preserve-unknown-fields")
            // reported by `invariants` ("must be object if x-kubernetes-embedded-resource is true")
            || flag(c, "x-kubernetes-embedded-resource")
    };
    let resource = depth == 0 || flag(s, "x-kubernetes-embedded-resource");
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, c) in props {
            let cp = format!("{path}.properties[{k}]");
            if !value_only && !typed(c) {
                errs.push(FieldError::required(
                    &format!("{cp}.type"),
                    "must not be empty for specified object fields",
                ));
            }
            let mut sub = place.clone();
            if !value_only && resource && matches!(k.as_str(), "metadata" | "kind" | "apiVersion") {
                sub.inside_meta = true;
                if depth == 0 {
                    sub.no_defaults = Some(format!("in top-level {k}"));
                }
            }
            structural(c, &cp, depth + 1, sub, errs);
        }
    }
    if let Some(items) = s.get("items") {
        let cp = format!("{path}.items");
        if !value_only && !typed(items) {
            errs.push(FieldError::required(
                &format!("{cp}.type"),
                "must not be empty for specified array items",
            ));
        }
        structural(items, &cp, depth + 1, place.clone(), errs);
    }
    if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
        let cp = format!("{path}.additionalProperties");
        if !value_only && !typed(ap) {
            errs.push(FieldError::required(
                &format!("{cp}.type"),
                "must not be empty for specified object fields",
            ));
        }
        let mut sub = place.clone();
        if sub.inside_meta {
            // Pruning without a value is ambiguous there.
            sub.no_defaults =
                Some("inside additionalProperties applying to object metadata".into());
        }
        structural(ap, &cp, depth + 1, sub, errs);
    }
    for comb in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = s.get(comb).and_then(Value::as_array) {
            for (i, c) in list.iter().enumerate() {
                let sub = Place {
                    value_only: true,
                    ..place.clone()
                };
                structural(c, &format!("{path}.{comb}[{i}]"), depth + 1, sub, errs);
            }
        }
    }
    if let Some(n) = s.get("not") {
        let sub = Place {
            value_only: true,
            ..place
        };
        structural(n, &format!("{path}.not"), depth + 1, sub, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"metadata": {"name": "widgets.example.com"}, "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}}]}})
    }

    #[test]
    fn defaults_must_be_pruned_and_valid() {
        let mut crd = good();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": "three"},
                "size": {"type": "integer", "minimum": 1, "default": 2},
                "opts": {"type": "object", "properties": {"a": {"type": "string"}},
                    "default": {"a": "x", "b": 1}}
            }
        });
        let errs = validate_definition(&crd);
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        let base = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties";
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got.iter()
                .any(|(f, m)| *f == format!("{base}[opts].default")
                    && *m == "Invalid value: \"object\": must not have unknown fields"),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(f, m)| *f == format!("{base}[replicas].default")
                    && m.contains("must be of type integer")),
            "{got:?}"
        );
    }

    fn schema_errors(schema: Value) -> Vec<(String, String)> {
        let mut crd = good();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = schema;
        validate_definition(&crd)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn top_level_meta_has_no_defaults_and_no_embedded_resources() {
        let got = schema_errors(json!({"type": "object", "properties": {
            "kind": {"type": "string", "default": "Widget"},
            "metadata": {"type": "object", "properties": {
                "name": {"type": "string", "default": "x"}}},
            "spec": {"type": "object", "properties": {"template": {
                "type": "object", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {"metadata": {"type": "object",
                    "additionalProperties": {"type": "string", "default": "v"},
                    "properties": {"owner": {"type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true}}}}}}}}}));
        let root = "spec.versions[0].schema.openAPIV3Schema";
        let tpl = format!("{root}.properties[spec].properties[template].properties[metadata]");
        assert_eq!(
            got,
            [
                (
                    format!("{root}.properties[kind].default"),
                    "Forbidden: must not be set in top-level kind".to_string()
                ),
                (
                    format!("{root}.properties[metadata].properties[name].default"),
                    "Forbidden: must not be set in top-level metadata".to_string()
                ),
                (
                    format!("{tpl}.additionalProperties"),
                    "Forbidden: additionalProperties and properties are mutual exclusive"
                        .to_string()
                ),
                (
                    format!("{tpl}.properties[owner].x-kubernetes-embedded-resource"),
                    "Forbidden: must not be used inside of resource meta".to_string()
                ),
                (
                    format!("{tpl}.additionalProperties.default"),
                    "Forbidden: must not be set inside additionalProperties applying to object metadata".to_string()
                ),
            ]
        );
    }

    #[test]
    fn defaults_meet_their_rules_only_in_a_valid_schema() {
        let spec = json!({"type": "object", "properties": {"size": {"type": "integer",
            "default": 0, "x-kubernetes-validations": [{"rule": "self > 0", "message": "must be positive"}]}}});
        let got = schema_errors(json!({"type": "object", "properties": {"spec": spec.clone()}}));
        assert_eq!(
            got,
            [(
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].default"
                    .to_string(),
                "Invalid value: \"integer\": must be positive".to_string()
            )]
        );
        // Another error in the schema: the rules are not run on defaults.
        let got = schema_errors(json!({"type": "object", "properties": {"spec": spec,
            "other": {"type": "array"}}}));
        assert_eq!(
            got,
            [(
                "spec.versions[0].schema.openAPIV3Schema.properties[other].items".to_string(),
                "Required value: must be specified".to_string()
            )]
        );
    }

    #[test]
    fn root_type_and_junctors() {
        let root = "spec.versions[0].schema.openAPIV3Schema";
        assert_eq!(
            schema_errors(json!({"properties": {"spec": {"type": "object"}}})),
            [(
                format!("{root}.type"),
                "Required value: must not be empty at the root".to_string()
            )]
        );
        let got = schema_errors(json!({"type": "object", "properties": {"spec": {
            "type": "object", "properties": {"a": {"type": "string"}},
            "anyOf": [{"type": "object", "required": ["a"]}]}}}));
        assert_eq!(
            got,
            [(
                format!("{root}.properties[spec].anyOf[0].type"),
                "Forbidden: must be empty to be structural".to_string()
            )]
        );
    }

    #[test]
    fn accepts_a_valid_definition() {
        assert_eq!(validate_definition(&good()), []);
    }

    #[test]
    fn reports_every_problem_with_upstream_paths() {
        let mut crd = good();
        crd["metadata"]["name"] = json!("wrong.example.com");
        crd["spec"]["group"] = json!("nodots");
        crd["spec"]["names"]["plural"] = json!("Widgets");
        crd["spec"]["scope"] = json!("Galaxy");
        crd["spec"]["versions"][0]["storage"] = json!(false);
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
            json!({"properties": {"x": {"type": "string", "pattern": "("}}});
        let fields: Vec<String> = validate_definition(&crd)
            .into_iter()
            .map(|e| e.field)
            .collect();
        for f in [
            "metadata.name",
            "spec.group",
            "spec.names.plural",
            "spec.scope",
            "spec.versions",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].pattern",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }
}
