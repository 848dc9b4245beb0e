//! `x-kubernetes-validations`: CEL rules of a custom resource version,
//! compiled once per schema and evaluated with `kube-cel` (the Kubernetes CEL
//! libraries — lists, sets, strings, regex, url, ip, quantity, format — on the
//! `cel` crate) with `self`, `oldSelf` for transition rules, `message`,
//! `messageExpression`, `reason` and `fieldPath`.
//!
//! Limits: rules run only on objects that passed structural validation, so
//! every list, map and string is within the schema's maxItems,
//! maxProperties and maxLength (what upstream's cost estimate is built on);
//! rules whose estimated cost exceeds upstream's per-rule budget are refused
//! when the CRD is written (see `validation`). `cel` has no evaluation-time
//! cost counter, so a running rule cannot be interrupted.

use kube_cel::{CompiledSchema, RootContext, Validator, compile_schema};
use serde_json::Value;

use crate::error::FieldError;
use crate::jsonpath::JsonPath;

/// The compiled rules of one schema.
pub struct CelRules {
    validator: Validator,
    compiled: CompiledSchema,
    root: RootContext,
}

/// Whether a schema has any rule (otherwise nothing is compiled).
pub fn has_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => m.contains_key("x-kubernetes-validations") || m.values().any(has_rules),
        Value::Array(a) => a.iter().any(has_rules),
        _ => false,
    }
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        Some(Value::String(_)) => "string",
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "integer",
        Some(Value::Number(_)) => "number",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Array(_)) => "array",
        Some(Value::Null) => "null",
        _ => "object",
    }
}

impl CelRules {
    /// Compiles the rules of `schema` for objects of `api_version`/`kind`.
    pub fn new(schema: &Value, group: &str, api_version: &str, kind: &str) -> Self {
        CelRules {
            validator: Validator::new(),
            compiled: compile_schema(schema),
            root: RootContext {
                api_version: api_version.to_string(),
                api_group: group.to_string(),
                kind: kind.to_string(),
            },
        }
    }

    /// Evaluates every rule; one error per failed rule, with its field path.
    pub fn check(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let Err(errors) = self.validator.validate_compiled_with_context(
            &self.compiled,
            obj,
            old,
            Some(&self.root),
        ) else {
            return Vec::new();
        };
        errors
            .into_vec()
            .into_iter()
            .map(|e| {
                let field = e.field_path.clone();
                match e.reason.as_deref() {
                    Some("FieldValueForbidden") => FieldError::forbidden(&field, &e.message),
                    Some("FieldValueRequired") => FieldError::required(&field, &e.message),
                    Some("FieldValueDuplicate") => FieldError {
                        reason: "FieldValueDuplicate",
                        field,
                        message: format!("Duplicate value: {}", e.message),
                    },
                    _ => {
                        let at = JsonPath::parse(&format!(".{field}"))
                            .ok()
                            .and_then(|p| p.find(obj).into_iter().next());
                        FieldError::invalid_raw(
                            &field,
                            &Value::String(type_name(at).into()).to_string(),
                            &e.message,
                        )
                    }
                }
            })
            .collect()
    }
}

fn without_rules(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "x-kubernetes-validations")
                .map(|(k, v)| (k.clone(), without_rules(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_rules).collect()),
        other => other.clone(),
    }
}

/// Why a rule cannot be used: it does not compile, or its estimated cost
/// exceeds upstream's budget for the schema node it sits on.
pub fn rule_problem(rule: &str, node: &Value) -> Option<String> {
    if let Err(e) = kube_cel::cel::Program::compile(rule) {
        return Some(format!("compilation failed: {e}"));
    }
    // The cost estimate needs the node's bounds, not its (or its children's)
    // rules: compiling those here would make validating a CRD quadratic.
    let compiled = compile_schema(&without_rules(node));
    kube_cel::estimate_rule_cost(rule, &compiled)
        .into_iter()
        .find(|w| matches!(w.kind, kube_cel::WarningKind::CostExceeded))
        .map(|w| w.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {
            "type": "object",
            "properties": {
                "min": {"type": "integer"}, "max": {"type": "integer"},
                "name": {"type": "string", "maxLength": 10,
                    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]},
                "hosts": {"type": "array", "maxItems": 4, "items": {"type": "string", "maxLength": 20},
                    "x-kubernetes-validations": [{"rule": "self.all(h, h.endsWith('.example.com'))", "messageExpression": "'bad host count ' + string(size(self))"}]}
            },
            "x-kubernetes-validations": [{"rule": "self.min <= self.max", "message": "min must not exceed max", "fieldPath": ".min", "reason": "FieldValueForbidden"}]
        }}})
    }

    #[test]
    fn rules_report_paths_messages_and_transitions() {
        let s = schema();
        assert!(has_rules(&s));
        let rules = CelRules::new(&s, "example.com", "example.com/v1", "Widget");
        let ok = json!({"spec": {"min": 1, "max": 2, "name": "a", "hosts": ["a.example.com"]}});
        assert_eq!(rules.check(&ok, None), []);
        let bad = json!({"spec": {"min": 3, "max": 2, "name": "b", "hosts": ["a.other.org"]}});
        let errs = rules.check(&bad, Some(&ok));
        let got: Vec<(&str, &str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.reason, e.message.as_str()))
            .collect();
        assert!(
            got.contains(&(
                "spec.min",
                "FieldValueForbidden",
                "Forbidden: min must not exceed max"
            )),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                "spec.name",
                "FieldValueInvalid",
                "Invalid value: \"string\": name is immutable"
            )),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(f, _, m)| *f == "spec.hosts" && m.contains("bad host count 1")),
            "{got:?}"
        );
    }

    #[test]
    fn bad_rules_are_found() {
        assert!(rule_problem("self.a ==", &json!({"type": "object"})).is_some());
        assert_eq!(
            rule_problem(
                "self.a == 1",
                &json!({"type": "object", "properties": {"a": {"type": "integer"}}})
            ),
            None
        );
    }
}
