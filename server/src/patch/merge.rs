//! JSON merge patch (RFC 7386): applying one (json-patch's `merge`) and
//! computing one from two documents.

use serde_json::{Map, Value};

/// Applies a merge patch.
pub fn apply(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

/// The merge patch that turns `from` into `to`: changed and new members,
/// `null` for removed ones; anything that is not an object on both sides is
/// replaced whole. RFC 7386 cannot set a member to `null`, so
/// `apply(diff(a, b), a) == b` holds for every `b` without nulls in objects.
pub fn diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(f), Value::Object(t)) => {
            let mut out = Map::new();
            for (k, fv) in f {
                match t.get(k) {
                    None => {
                        out.insert(k.clone(), Value::Null);
                    }
                    Some(tv) if tv != fv => {
                        out.insert(k.clone(), diff(fv, tv));
                    }
                    Some(_) => {}
                }
            }
            for (k, tv) in t {
                if !f.contains_key(k) {
                    out.insert(k.clone(), diff(&Value::Null, tv));
                }
            }
            Value::Object(out)
        }
        // Applying an object patch to a non-object starts from `{}`, which
        // drops nulls: the patch is the target itself.
        (_, to) => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        apply(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        let mut doc = json!({"a": [{"b": "c"}]});
        apply(&mut doc, &json!({"a": [1]}));
        assert_eq!(doc, json!({"a": [1]}));
    }

    #[test]
    fn diff_of_equal_is_empty() {
        let a = json!({"a": {"b": [1, 2]}});
        assert_eq!(diff(&a, &a), json!({}));
        assert_eq!(
            diff(&a, &json!({"a": {"c": 1}})),
            json!({"a": {"b": null, "c": 1}})
        );
    }

    /// JSON documents whose objects hold no nulls (merge patch cannot express them).
    pub(crate) fn doc() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn apply_diff_gives_target(a in doc(), b in doc()) {
            let mut out = a.clone();
            apply(&mut out, &diff(&a, &b));
            prop_assert_eq!(out, b);
        }
    }
}
