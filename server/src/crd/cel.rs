//! `x-kubernetes-validations`: CEL rules of a custom resource version,
//! compiled once per schema and evaluated with `kube-cel` (the Kubernetes CEL
//! libraries — lists, sets, strings, regex, url, ip, quantity, format — on the
//! `cel` crate) with `self`, `oldSelf` for transition rules, `message`,
//! `messageExpression`, `reason` and `fieldPath`.
//!
//! Limits: rules whose estimated cost exceeds upstream's per-rule budget are
//! refused when the CRD is written (see `validation`; kube-cel's estimate is
//! coarse); rules run only on objects that passed structural validation, so
//! every list, map and string is within the schema's maxItems, maxProperties
//! and maxLength; and evaluation counts loop iterations and time against
//! per-rule and per-object limits, aborting when they run out
//! ([`cel_eval`](super::cel_eval)).

use kube_cel::cel::Context;
use kube_cel::compile_schema;
use serde_json::Value;

use super::cel_eval::{self, Limits, Node, RootVars};
use crate::error::FieldError;

/// The compiled rules of one schema.
pub struct CelRules {
    base: Context<'static>,
    root: Node,
    vars: RootVars,
    limits: Limits,
}

/// Whether a schema has any rule (otherwise nothing is compiled).
pub fn has_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => m.contains_key("x-kubernetes-validations") || m.values().any(has_rules),
        Value::Array(a) => a.iter().any(has_rules),
        _ => false,
    }
}

impl CelRules {
    /// Compiles the rules of `schema` for objects of `api_version`/`kind`.
    pub fn new(schema: &Value, group: &str, api_version: &str, kind: &str) -> Self {
        CelRules {
            base: cel_eval::base_context(),
            root: Node::build(schema, compile_schema(schema)),
            vars: RootVars {
                api_version: api_version.to_string(),
                api_group: group.to_string(),
                kind: kind.to_string(),
            },
            limits: Limits::default(),
        }
    }

    /// The same rules with other runtime limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Evaluates every rule; one error per failed rule, with its field path.
    pub fn check(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        cel_eval::evaluate(&self.base, &self.vars, &self.root, self.limits, obj, old)
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
    use crate::crd::cel_eval::Limits;
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

    fn big_list_schema(rules: Value) -> Value {
        json!({"type": "object", "properties": {"spec": {
            "type": "object",
            "properties": {"big": {"type": "array", "items": {"type": "integer"}}},
            "x-kubernetes-validations": rules
        }}})
    }

    fn big_object(n: i64) -> Value {
        json!({"spec": {"big": (0..n).collect::<Vec<_>>()}})
    }

    #[test]
    fn a_runaway_rule_is_cancelled_by_its_cost_limit() {
        // 1000³ = 10⁹ iterations: hours of work without a limit.
        let s = big_list_schema(json!([
            {"rule": "self.big.all(x, self.big.all(y, self.big.all(z, x + y + z >= 0)))"},
            {"rule": "false", "message": "never reached"}
        ]));
        let rules = CelRules::new(&s, "example.com", "example.com/v1", "Widget");
        let start = std::time::Instant::now();
        let errs = rules.check(&big_object(1000), None);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "spec");
        assert!(
            errs[0].message.starts_with("Invalid value: \"object\": ")
                && (errs[0].message.contains(
                    "no further validation rules will be run due to call cost exceeds limit for rule: self.big.all"
                ) || errs[0].message.contains("running out of cost budget")),
            "{errs:?}"
        );
    }

    #[test]
    fn rules_share_one_budget_per_object() {
        // Each rule runs 1,000 iterations, within its own limit of 1,500; the
        // third runs out of the object's 2,500 and the fourth never runs.
        let rule = json!({"rule": "self.big.all(x, x >= 0)"});
        let s = big_list_schema(json!([rule, rule, rule, {"rule": "false"}]));
        let rules =
            CelRules::new(&s, "example.com", "example.com/v1", "Widget").with_limits(Limits {
                per_rule: 1_500,
                per_object: 2_500,
                ..Limits::default()
            });
        let errs = rules.check(&big_object(1000), None);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0].message,
            "Invalid value: \"object\": validation failed due to running out of cost budget, no further validation rules will be run"
        );
        // The same object within the budget: only the last rule fails.
        let errs = rules.check(&big_object(500), None);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].message.contains("failed rule: false"), "{errs:?}");
    }

    #[test]
    fn slow_evaluation_stops_at_the_wall_clock_budget() {
        let s = big_list_schema(json!([
            {"rule": "self.big.all(x, self.big.all(y, string(x) + string(y) != 'z'))"}
        ]));
        let rules =
            CelRules::new(&s, "example.com", "example.com/v1", "Widget").with_limits(Limits {
                per_rule: u64::MAX,
                per_object: u64::MAX,
                wall_clock: std::time::Duration::from_millis(50),
            });
        let start = std::time::Instant::now();
        let errs = rules.check(&big_object(3000), None);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].message.contains("running out of cost budget"),
            "{errs:?}"
        );
    }

    #[test]
    fn list_map_items_see_their_old_version_by_key() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "size": {"type": "integer",
                        "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "may not shrink"}]}}}}}}}});
        let rules = CelRules::new(&s, "example.com", "example.com/v1", "Widget");
        let old = json!({"spec": {"items": [{"name": "a", "size": 5}, {"name": "b", "size": 1}]}});
        // Reordered and grown: fine; b shrinks: one error at its new index.
        let new = json!({"spec": {"items": [{"name": "b", "size": 0}, {"name": "a", "size": 6}, {"name": "c", "size": 0}]}});
        let errs = rules.check(&new, Some(&old));
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [(
                "spec.items[0].size",
                "Invalid value: \"integer\": may not shrink"
            )]
        );
    }

    #[test]
    fn formats_and_escaped_names_reach_the_rules() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {
            "timeout": {"type": "string", "format": "duration"},
            "at": {"type": "string", "format": "date-time"},
            "dash-name": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        },
        "x-kubernetes-validations": [
            {"rule": "self.timeout < duration('1m')", "message": "timeout"},
            {"rule": "self.at < timestamp('2030-01-01T00:00:00Z')", "message": "at"},
            {"rule": "self.dash__dash__name == 'x'", "message": "dash"},
            {"rule": "'a.b/c' in self.labels", "message": "labels"}
        ]}}});
        let rules = CelRules::new(&s, "example.com", "example.com/v1", "Widget");
        let ok = json!({"spec": {"timeout": "30s", "at": "2026-01-01T00:00:00Z", "dash-name": "x",
            "labels": {"a.b/c": "1"}}});
        assert_eq!(rules.check(&ok, None), []);
        let bad = json!({"spec": {"timeout": "2m", "at": "2031-01-01T00:00:00Z", "dash-name": "y",
            "labels": {}}});
        let msgs: Vec<String> = rules
            .check(&bad, None)
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
    }

    #[test]
    fn matches_uses_cached_patterns_and_reports_bad_ones() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": {"name": {"type": "string"}},
        "x-kubernetes-validations": [
            {"rule": "self.name.matches('^[a-z]+$')", "message": "lower"},
            {"rule": "matches(self.name, '^[a-z]+$')", "message": "global"},
            {"rule": "self.name.matches('(')", "message": "broken"}
        ]}}});
        let rules = CelRules::new(&s, "example.com", "example.com/v1", "Widget");
        for _ in 0..2 {
            let errs = rules.check(&json!({"spec": {"name": "abc"}}), None);
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].message.contains("not a valid regex"), "{errs:?}");
            let errs = rules.check(&json!({"spec": {"name": "ABC"}}), None);
            let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
            assert!(
                msgs[0].ends_with("lower") && msgs[1].ends_with("global"),
                "{msgs:?}"
            );
        }
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
