//! Leases: upstream's `ValidateLeaseSpec` (durations above 0, transitions
//! not negative, a preferred holder only with a strategy). No generation.

use async_trait::async_trait;
use serde_json::Value;

use super::strategy::Strategy;
use crate::error::FieldError;

/// Leases.
pub struct Leases;

/// The spec's errors.
pub fn spec_errors(spec: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(d) = spec.get("leaseDurationSeconds").and_then(Value::as_i64)
        && d <= 0
    {
        errors.push(FieldError::invalid_raw(
            "spec.leaseDurationSeconds",
            &d.to_string(),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec.get("leaseTransitions").and_then(Value::as_i64)
        && t < 0
    {
        errors.push(FieldError::invalid_raw(
            "spec.leaseTransitions",
            &t.to_string(),
            "must be greater than or equal to 0",
        ));
    }
    let strategy = spec.get("strategy").and_then(Value::as_str).unwrap_or("");
    let preferred = spec
        .get("preferredHolder")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !preferred.is_empty() && strategy.is_empty() {
        errors.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errors
}

#[async_trait]
impl Strategy for Leases {
    fn tracks_generation(&self) -> bool {
        false
    }

    fn field_errors(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        obj.get("spec").map(spec_errors).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lease_spec_rules() {
        assert!(
            spec_errors(&json!({"leaseDurationSeconds": 15, "leaseTransitions": 0})).is_empty()
        );
        let bad = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1, "preferredHolder": "x"}});
        let e = crate::rest::strategy::checked(&Leases, "Lease", "coordination.k8s.io", &bad, None)
            .expect_err("invalid");
        assert_eq!(
            e.message,
            "Lease.coordination.k8s.io \"l\" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0, spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined]"
        );
    }
}
