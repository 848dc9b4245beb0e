//! The TypeMeta and ObjectMeta of an embedded resource in a custom object
//! (a node with `x-kubernetes-embedded-resource: true`), as upstream's
//! `objectmeta.Validate` checks them: `apiVersion` and `kind` are required
//! strings (a parsable group/version, a DNS-1035 kind in any case), and
//! `metadata`, when present, is ObjectMeta with names that are valid path
//! segments. Paths are under the embedded object's own path.

use kapi_generated::api::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::rest::meta;

const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn required(field: &str) -> FieldError {
    FieldError {
        reason: "FieldValueRequired",
        field: field.to_string(),
        message: "Required value".into(),
    }
}

/// Every problem with the embedded resource `m` at `path`.
pub fn validate(path: &str, m: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for k in ["apiVersion", "kind"] {
        if !m.contains_key(k) {
            errs.push(required(&join(path, k)));
        }
    }
    // Each must be a non-empty string, then what it names is checked.
    let texts = [
        (
            "apiVersion",
            apiversion_problem as fn(&str) -> Option<String>,
        ),
        ("kind", kind_problem),
    ];
    for (k, problem) in texts {
        let Some(v) = m.get(k) else { continue };
        let at = join(path, k);
        match v.as_str() {
            None => errs.push(FieldError::invalid_raw(
                &at,
                &super::structural::shown_value(v),
                "must be a string",
            )),
            Some("") => errs.push(required(&at)),
            Some(text) => {
                if let Some(p) = problem(text) {
                    errs.push(FieldError::invalid(&at, text, &p));
                }
            }
        }
    }
    if let Some(v) = m.get("metadata") {
        metadata(&join(path, "metadata"), v, &mut errs);
    }
    errs
}

/// What is wrong with an embedded resource's apiVersion, if anything.
fn apiversion_problem(gv: &str) -> Option<String> {
    (gv.matches('/').count() > 1).then(|| format!("unexpected GroupVersion string: {gv}"))
}

/// What is wrong with an embedded resource's kind, if anything.
fn kind_problem(kind: &str) -> Option<String> {
    let problems = dns1035_errors(&kind.to_lowercase());
    (!problems.is_empty()).then(|| {
        format!(
            "may have mixed case, but should otherwise match: {}",
            problems.join(",")
        )
    })
}

fn dns1035_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let ok = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-');
    if !ok {
        errs.push(DNS1035_MSG.to_string());
    }
    errs
}

/// Why `name` is not a valid path segment (`ValidatePathSegmentName`).
fn path_segment_errors(name: &str, prefix: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if !prefix && (name == "." || name == "..") {
        errs.push(format!("may not be '{name}'"));
    }
    for c in ["/", "%"] {
        if name.contains(c) {
            errs.push(format!("may not contain '{c}'"));
        }
    }
    errs
}

fn metadata(at: &str, v: &Value, errs: &mut Vec<FieldError>) {
    let mut parsed: ObjectMeta = match serde_json::from_value(v.clone()) {
        Ok(m) => m,
        Err(e) => {
            errs.push(FieldError::invalid_raw(
                at,
                &super::structural::shown_value(v),
                &e.to_string(),
            ));
            return;
        }
    };
    if let Some(name) = parsed.name.as_deref().filter(|n| !n.is_empty()) {
        for e in path_segment_errors(name, false) {
            errs.push(FieldError::invalid(&format!("{at}.name"), name, &e));
        }
    }
    if let Some(g) = parsed.generate_name.as_deref().filter(|n| !n.is_empty()) {
        for e in path_segment_errors(g, true) {
            errs.push(FieldError::invalid(&format!("{at}.generateName"), g, &e));
        }
    }
    if let Some(ns) = parsed.namespace.as_deref().filter(|n| !n.is_empty()) {
        errs.extend(meta::name_errors(&format!("{at}.namespace"), ns, true));
    }
    // Labels and annotations as for any object; the name is checked above.
    parsed.name = Some("fakename".into());
    for mut e in meta::validate(&parsed, false) {
        if let Some(rest) = e.field.strip_prefix("metadata") {
            e.field = format!("{at}{rest}");
        }
        errs.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<(String, String)> {
        let m = v.as_object().cloned().unwrap_or_default();
        validate("spec.template", &m)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn type_meta_is_required_and_well_formed() {
        assert_eq!(
            check(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}}})),
            []
        );
        assert_eq!(
            check(json!({"metadata": {}})),
            [
                (
                    "spec.template.apiVersion".to_string(),
                    "Required value".to_string()
                ),
                (
                    "spec.template.kind".to_string(),
                    "Required value".to_string()
                ),
            ]
        );
        assert_eq!(
            check(json!({"apiVersion": "a/b/c", "kind": "9Lives"})),
            [
                (
                    "spec.template.apiVersion".to_string(),
                    "Invalid value: \"a/b/c\": unexpected GroupVersion string: a/b/c".to_string()
                ),
                (
                    "spec.template.kind".to_string(),
                    format!(
                        "Invalid value: \"9Lives\": may have mixed case, but should otherwise match: {DNS1035_MSG}"
                    )
                ),
            ]
        );
        assert_eq!(
            check(json!({"apiVersion": 1, "kind": ""})),
            [
                (
                    "spec.template.apiVersion".to_string(),
                    "Invalid value: 1: must be a string".to_string()
                ),
                (
                    "spec.template.kind".to_string(),
                    "Required value".to_string()
                ),
            ]
        );
    }

    #[test]
    fn metadata_names_are_path_segments() {
        let got = check(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "a/b", "generateName": "x%", "namespace": "Bad_NS",
            "labels": {"bad key!": "v"}}}));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.template.metadata.name",
                "spec.template.metadata.generateName",
                "spec.template.metadata.namespace",
                "spec.template.metadata.labels",
            ],
            "{got:?}"
        );
        assert_eq!(got[0].1, "Invalid value: \"a/b\": may not contain '/'");
        assert_eq!(
            check(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ".."}}))[0].1,
            "Invalid value: \"..\": may not be '..'"
        );
        let got = check(json!({"apiVersion": "v1", "kind": "Pod", "metadata": "x"}));
        assert_eq!(got[0].0, "spec.template.metadata", "{got:?}");
    }
}
