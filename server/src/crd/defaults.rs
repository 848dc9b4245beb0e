//! `default` values against the `x-kubernetes-validations` rules of their
//! node and its children, as upstream's `ValidateDefaults` runs them when a
//! CRD is written: a default that breaks a rule makes the CRD invalid (422)
//! at `<node>.default…`. The default stands for both `self` and `oldSelf`,
//! as upstream passes it. Like upstream, defaults under `additionalProperties`
//! and the junctors are not visited (they are forbidden there).

use serde_json::Value;

use super::cel::{CelRules, has_rules};
use crate::error::FieldError;

/// Every rule failure of every default in `schema` (a version's
/// `openAPIV3Schema` at `path`, already structurally valid).
pub fn check_rules(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(schema, path, 0, &mut errs);
    errs
}

fn walk(s: &Value, path: &str, depth: usize, errs: &mut Vec<FieldError>) {
    if depth > super::schema::MAX_DEPTH || !has_rules(s) {
        return;
    }
    if let Some(d) = s.get("default") {
        let dp = format!("{path}.default");
        let rules = CelRules::new(s, "validation", "validation/v1", "Validation");
        for mut e in rules.check(d, Some(d)) {
            e.field = if e.field.is_empty() {
                dp.clone()
            } else if e.field.starts_with('[') {
                format!("{dp}{}", e.field)
            } else {
                format!("{dp}.{}", e.field)
            };
            errs.push(e);
        }
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        walk(items, &format!("{path}.items"), depth + 1, errs);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, c) in props {
            walk(c, &format!("{path}.properties[{k}]"), depth + 1, errs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_must_meet_their_rules() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {
            "replicas": {"type": "integer", "default": 0,
                "x-kubernetes-validations": [{"rule": "self > 0", "message": "must be positive"}]},
            "fine": {"type": "integer", "default": 3,
                "x-kubernetes-validations": [{"rule": "self > 0"}]},
            "range": {"type": "object", "default": {"min": 5, "max": 1},
                "properties": {"min": {"type": "integer"}, "max": {"type": "integer",
                    "x-kubernetes-validations": [{"rule": "self < 100"}]}},
                "x-kubernetes-validations": [{"rule": "self.min <= self.max",
                    "message": "min must not exceed max", "fieldPath": ".min"}]},
            "nested": {"type": "object", "default": {"max": 200},
                "properties": {"max": {"type": "integer",
                    "x-kubernetes-validations": [{"rule": "self < 100", "message": "too big"}]}}},
            "frozen": {"type": "string", "default": "a",
                "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}
        }}}});
        let got: Vec<(String, String)> = check_rules(&s, "r")
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect();
        let base = "r.properties[spec].properties";
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got.contains(&(
                format!("{base}[replicas].default"),
                "Invalid value: \"integer\": must be positive".into()
            )),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                format!("{base}[range].default.min"),
                "Invalid value: \"integer\": min must not exceed max".into()
            )),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                format!("{base}[nested].default.max"),
                "Invalid value: \"integer\": too big".into()
            )),
            "{got:?}"
        );
    }

    #[test]
    fn nodes_without_rules_or_defaults_are_skipped() {
        let s = json!({"type": "object", "properties": {"a": {"type": "string", "default": "x"}},
            "x-kubernetes-validations": [{"rule": "has(self.a)"}]});
        assert_eq!(check_rules(&s, "r"), []);
    }
}
