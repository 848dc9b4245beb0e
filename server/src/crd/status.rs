//! A CRD's status as upstream's naming and establishing controllers set it:
//! `NamesAccepted` (False with the reason when a name collides with another
//! CRD of the group), `Established`, `acceptedNames`, `storedVersions`.

use serde_json::{Value, json};

use super::definition::{Definition, Names};

/// Why the names of `d` cannot be accepted next to CRDs that already hold
/// `taken` names in the same group: (reason, message).
pub fn conflict(d: &Definition, taken: &[Names]) -> Option<(&'static str, String)> {
    let n = &d.names;
    for t in taken {
        let all = |x: &Names| {
            let mut v = vec![x.plural.clone(), x.singular.clone()];
            v.extend(x.short_names.iter().cloned());
            v
        };
        if all(t).contains(&n.plural) {
            return Some((
                "PluralConflict",
                format!("\"{}\" is already in use", n.plural),
            ));
        }
        if !n.singular.is_empty() && all(t).contains(&n.singular) {
            return Some((
                "SingularConflict",
                format!("\"{}\" is already in use", n.singular),
            ));
        }
        if let Some(s) = n.short_names.iter().find(|s| all(t).contains(s)) {
            return Some(("ShortNamesConflict", format!("\"{s}\" is already in use")));
        }
        if t.kind == n.kind || t.list_kind == n.kind {
            return Some(("KindConflict", format!("\"{}\" is already in use", n.kind)));
        }
        if t.list_kind == n.list_kind || t.kind == n.list_kind {
            return Some((
                "ListKindConflict",
                format!("\"{}\" is already in use", n.list_kind),
            ));
        }
    }
    None
}

fn condition(old: &Value, type_: &str, status: &str, reason: &str, message: &str) -> Value {
    let prev = old
        .pointer("/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_));
    let time = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(crate::rest::meta::now_rfc3339()),
    };
    json!({"type": type_, "status": status, "lastTransitionTime": time, "reason": reason, "message": message})
}

/// The status upstream's naming controller writes first, before the CRD is
/// served: its names checked (`NamesAccepted`), `Established` False while
/// it is installed (`Installing`, or `NotAccepted` on a conflict).
pub fn named(crd: &Value, d: &Definition, conflict: Option<&(&str, String)>) -> Value {
    let mut s = desired(crd, d, conflict);
    if conflict.is_none()
        && let Some(c) = s
            .pointer_mut("/conditions/1")
            .filter(|c| c["type"] == "Established")
    {
        let old = crd.get("status").cloned().unwrap_or_else(|| json!({}));
        *c = condition(
            &old,
            "Established",
            "False",
            "Installing",
            "the initial names have been accepted",
        );
    }
    s
}

/// The status a CRD should have; `accepted` is None when its names conflict.
pub fn desired(crd: &Value, d: &Definition, conflict: Option<&(&str, String)>) -> Value {
    let old = crd.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut stored: Vec<Value> = old
        .get("storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(v) = d.storage_version()
        && !stored.iter().any(|s| s == v)
    {
        stored.push(json!(v));
    }
    let (names_accepted, established, accepted) = match conflict {
        None => (
            condition(
                &old,
                "NamesAccepted",
                "True",
                "NoConflicts",
                "no conflicts found",
            ),
            condition(
                &old,
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            ),
            d.names.to_value(),
        ),
        Some((reason, message)) => (
            condition(&old, "NamesAccepted", "False", reason, message),
            condition(
                &old,
                "Established",
                "False",
                "NotAccepted",
                "not all names are accepted",
            ),
            old.get("acceptedNames")
                .cloned()
                .unwrap_or_else(|| json!({"kind": "", "plural": ""})),
        ),
    };
    let mut conditions = vec![names_accepted, established];
    if d.terminating {
        conditions.push(condition(
            &old,
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        ));
    }
    json!({"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(plural: &str, kind: &str) -> Definition {
        Definition::from_value(
            &json!({"metadata": {"name": format!("{plural}.example.com")}, "spec": {
            "group": "example.com", "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind},
            "versions": [{"name": "v1", "served": true, "storage": true}]}}),
        )
    }

    #[test]
    fn accepted_names_and_conditions() {
        let d = def("widgets", "Widget");
        let s = desired(&json!({}), &d, None);
        assert_eq!(s["conditions"][0]["type"], "NamesAccepted");
        assert_eq!(s["conditions"][1]["status"], "True");
        assert_eq!(s["acceptedNames"]["plural"], "widgets");
        assert_eq!(s["storedVersions"], json!(["v1"]));
    }

    #[test]
    fn plural_and_kind_conflicts() {
        let held = def("widgets", "Widget").names;
        let c = conflict(&def("widgets", "Other"), std::slice::from_ref(&held)).unwrap();
        assert_eq!(c.0, "PluralConflict");
        let c = conflict(&def("gadgets", "Widget"), &[held]).unwrap();
        assert_eq!(c.0, "KindConflict");
        let s = desired(&json!({}), &def("gadgets", "Widget"), Some(&c));
        assert_eq!(s["conditions"][0]["status"], "False");
        assert_eq!(s["conditions"][1]["reason"], "NotAccepted");
    }
}
