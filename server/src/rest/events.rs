//! core/v1 Events: upstream's `legacyValidateEvent`. An event of the old API
//! (no `eventTime`) must be in its object's namespace (or, for a
//! cluster-scoped object, in `default` or none); one of the new API needs
//! `reportingComponent`, `reportingInstance`, `action` and `reason`. No generation.

use async_trait::async_trait;
use serde_json::Value;

use super::strategy::Strategy;
use crate::error::FieldError;

/// Events.
pub struct Events;

fn text<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The event's errors.
pub fn event_errors(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ns = text(obj, "/metadata/namespace");
    let involved_ns = text(obj, "/involvedObject/namespace");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            involved_ns,
            "does not match event.namespace",
        )
    };
    if text(obj, "/eventTime").is_empty() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errors.push(mismatch());
            }
        } else if ns != involved_ns {
            errors.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errors.push(mismatch());
        }
        for (field, ptr) in [
            ("reportingComponent", "/reportingComponent"),
            ("reportingInstance", "/reportingInstance"),
            ("action", "/action"),
            ("reason", "/reason"),
        ] {
            if text(obj, ptr).is_empty() {
                errors.push(FieldError::required(field, ""));
            }
        }
    }
    errors
}

#[async_trait]
impl Strategy for Events {
    fn tracks_generation(&self) -> bool {
        false
    }

    fn field_errors(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        event_errors(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn old_api_events_live_in_their_objects_namespace() {
        let ok = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "a"}});
        assert!(event_errors(&ok).is_empty());
        let cluster = json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Node"}});
        assert!(event_errors(&cluster).is_empty());
        let bad = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
        let e =
            crate::rest::strategy::checked(&Events, "Event", "", &bad, None).expect_err("mismatch");
        assert_eq!(
            e.message,
            "Event \"e\" is invalid: involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"
        );
    }

    #[test]
    fn new_api_events_need_reporting_fields() {
        let ev = json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "a"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reason": "R"});
        let msgs: Vec<String> = event_errors(&ev).into_iter().map(|e| e.field).collect();
        assert_eq!(msgs, ["reportingComponent", "reportingInstance", "action"]);
    }
}
