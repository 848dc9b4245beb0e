use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::patch::schema::PatchSchema;

/// A small schema with every list and map flavour the patch cares about.
fn schema() -> Arc<PatchSchema> {
    let defs = json!({
        "T": {"properties": {
            "meta": {"allOf": [{"$ref": "#/components/schemas/M"}]},
            "containers": {"type": "array", "items": {"$ref": "#/components/schemas/C"},
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
            "finalizers": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-patch-strategy": "merge"},
            "args": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "source": {"allOf": [{"$ref": "#/components/schemas/V"}],
                "x-kubernetes-patch-strategy": "retainKeys"},
            "whole": {"type": "object", "x-kubernetes-patch-strategy": "replace"}
        }},
        "M": {"properties": {"name": {"type": "string"},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "C": {"properties": {
            "name": {"type": "string"}, "image": {"type": "string"},
            "env": {"type": "array", "items": {"$ref": "#/components/schemas/E"},
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}
        }},
        "E": {"properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
        "V": {"properties": {"hostPath": {"type": "string"}, "emptyDir": {"type": "object"}}}
    });
    let Value::Object(defs) = defs else {
        unreachable!()
    };
    PatchSchema::from_defs(defs, "T").expect("schema")
}

fn smp(original: Value, patch: Value) -> Result<Value> {
    let s = schema();
    apply(&original, &patch, s.root())
}

#[test]
fn maps_merge_and_null_deletes() {
    let out = smp(
        json!({"labels": {"a": "1", "b": "2"}, "meta": {"name": "x"}}),
        json!({"labels": {"a": null, "c": "3"}, "meta": {"annotations": {"n": "v"}}}),
    );
    assert_eq!(
        out,
        Ok(
            json!({"labels": {"b": "2", "c": "3"}, "meta": {"name": "x", "annotations": {"n": "v"}}})
        )
    );
}

#[test]
fn lists_without_strategy_are_replaced() {
    let out = smp(json!({"args": ["a", "b"]}), json!({"args": ["c"]}));
    assert_eq!(out, Ok(json!({"args": ["c"]})));
}

#[test]
fn lists_with_merge_key_merge_by_key() {
    let out = smp(
        json!({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}),
        json!({"containers": [{"name": "b", "image": "2"}, {"name": "c", "image": "3"}]}),
    );
    assert_eq!(
        out,
        Ok(json!({"containers": [
            {"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "3"}
        ]}))
    );
}

#[test]
fn nested_merge_lists_merge() {
    let out = smp(
        json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}),
        json!({"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}),
    );
    assert_eq!(
        out,
        // As upstream orders it: patch elements the server did not have come
        // before server-only ones.
        Ok(json!({"containers": [{"name": "a", "env": [
            {"name": "Y", "value": "2"}, {"name": "X", "value": "1"}
        ]}]}))
    );
}

#[test]
fn patch_delete_in_list_removes_element() {
    let out = smp(
        json!({"containers": [{"name": "a"}, {"name": "b"}]}),
        json!({"containers": [{"name": "a", "$patch": "delete"}]}),
    );
    assert_eq!(out, Ok(json!({"containers": [{"name": "b"}]})));
}

#[test]
fn patch_replace_in_list_replaces_it() {
    let out = smp(
        json!({"containers": [{"name": "a"}, {"name": "b"}]}),
        json!({"containers": [{"name": "c"}, {"$patch": "replace"}]}),
    );
    assert_eq!(out, Ok(json!({"containers": [{"name": "c"}]})));
}

#[test]
fn patch_replace_and_delete_in_map() {
    let out = smp(
        json!({"labels": {"a": "1"}, "meta": {"name": "x", "annotations": {"k": "v"}}}),
        json!({"labels": {"$patch": "replace", "b": "2"}, "meta": {"annotations": {"$patch": "delete"}}}),
    );
    assert_eq!(
        out,
        Ok(json!({"labels": {"b": "2"}, "meta": {"name": "x", "annotations": {}}}))
    );
}

#[test]
fn unknown_patch_directive_is_bad_request() {
    let out = smp(
        json!({"labels": {}}),
        json!({"labels": {"$patch": "explode"}}),
    );
    assert!(matches!(out, Err(SmpError::BadPatch(_))));
    let out = smp(
        json!({"containers": [{"name": "a"}]}),
        json!({"containers": [{"name": "a", "$patch": "merge"}]}),
    );
    assert!(matches!(out, Err(SmpError::BadPatch(_))));
}

#[test]
fn missing_merge_key_is_bad_request() {
    let out = smp(
        json!({"containers": [{"name": "a"}]}),
        json!({"containers": [{"image": "x"}]}),
    );
    assert!(matches!(out, Err(SmpError::BadPatch(m)) if m.contains("merge key: name")));
}

#[test]
fn primitive_merge_list_is_a_set_with_deletes() {
    let out = smp(
        json!({"finalizers": ["a", "b", "c"]}),
        json!({"finalizers": ["d", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}),
    );
    // Patch order first where the server has no opinion: d is new, a is known.
    assert_eq!(out, Ok(json!({"finalizers": ["d", "a", "c"]})));
}

#[test]
fn set_element_order_orders_the_result() {
    // kubectl set image: only the changed container, with the full order.
    let out = smp(
        json!({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}),
        json!({
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "2"}]
        }),
    );
    assert_eq!(
        out,
        Ok(json!({"containers": [{"name": "b", "image": "1"}, {"name": "a", "image": "2"}]}))
    );
    // Order alone reorders.
    let out = smp(
        json!({"finalizers": ["x", "y"]}),
        json!({"$setElementOrder/finalizers": ["y", "x"]}),
    );
    assert_eq!(out, Ok(json!({"finalizers": ["y", "x"]})));
}

#[test]
fn retain_keys_drops_other_keys() {
    let out = smp(
        json!({"source": {"hostPath": "/x"}}),
        json!({"source": {"$retainKeys": ["emptyDir"], "emptyDir": {}}}),
    );
    assert_eq!(out, Ok(json!({"source": {"emptyDir": {}}})));
    let out = smp(
        json!({"source": {"hostPath": "/x"}}),
        json!({"source": {"$retainKeys": ["emptyDir"], "hostPath": "/y"}}),
    );
    assert!(matches!(out, Err(SmpError::Invalid(_))));
}

#[test]
fn replace_strategy_takes_the_patch_value() {
    let out = smp(
        json!({"whole": {"a": 1, "b": 2}}),
        json!({"whole": {"c": 3}}),
    );
    assert_eq!(out, Ok(json!({"whole": {"c": 3}})));
}

#[test]
fn unknown_fields_merge_as_merge_patch() {
    let out = smp(
        json!({"extra": {"a": [1, 2], "b": 1}}),
        json!({"extra": {"a": [3], "b": null}}),
    );
    assert_eq!(out, Ok(json!({"extra": {"a": [3]}})));
}

#[test]
fn directives_in_new_values_are_consumed() {
    let out = smp(
        json!({}),
        json!({"containers": [{"name": "a"}, {"name": "z", "$patch": "delete"}]}),
    );
    assert_eq!(out, Ok(json!({"containers": [{"name": "a"}]})));
}

#[test]
fn non_objects_are_bad_request() {
    let s = schema();
    assert!(matches!(
        apply(&json!({}), &json!([1]), s.root()),
        Err(SmpError::BadPatch(_))
    ));
}

#[test]
fn diff_produces_kubectl_style_patches() {
    let s = schema();
    let from =
        json!({"containers": [{"name": "a", "image": "1"}, {"name": "b"}], "finalizers": ["x"]});
    let to = json!({"containers": [{"name": "a", "image": "2"}], "finalizers": ["y"]});
    assert_eq!(
        diff(&from, &to, Some(s.root())),
        json!({
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "image": "2"}, {"name": "b", "$patch": "delete"}],
            "$setElementOrder/finalizers": ["y"],
            "finalizers": ["y"],
            "$deleteFromPrimitiveList/finalizers": ["x"]
        })
    );
}

/// Documents of the test schema: no nulls (a patch cannot set one), sets
/// without repeats and keyed lists with unique keys (what the schema promises).
fn doc() -> impl Strategy<Value = Value> {
    let word = "[a-d]{1,2}";
    let str_map = prop::collection::btree_map("[a-c]", word, 0..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    let env =
        prop::collection::btree_map("[A-C]", proptest::option::of(word), 0..3).prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| {
                    let mut e = serde_json::Map::new();
                    e.insert("name".into(), Value::String(k));
                    if let Some(v) = v {
                        e.insert("value".into(), Value::String(v));
                    }
                    Value::Object(e)
                })
                .collect::<Vec<_>>()
        });
    let container = (proptest::option::of(word), proptest::option::of(env));
    let containers = prop::collection::btree_map("[a-e]", container, 0..4).prop_map(|m| {
        let mut v: Vec<Value> = m
            .into_iter()
            .map(|(name, (image, env))| {
                let mut c = serde_json::Map::new();
                c.insert("name".into(), Value::String(name));
                if let Some(i) = image {
                    c.insert("image".into(), Value::String(i));
                }
                if let Some(e) = env {
                    c.insert("env".into(), Value::Array(e));
                }
                Value::Object(c)
            })
            .collect();
        v.reverse();
        v
    });
    let set = prop::collection::btree_set("[a-e]", 0..4)
        .prop_map(|s| s.into_iter().map(Value::String).collect::<Vec<_>>());
    let args = prop::collection::vec("[a-c]", 0..3)
        .prop_map(|s| s.into_iter().map(Value::String).collect::<Vec<_>>());
    (
        proptest::option::of(str_map.clone()),
        proptest::option::of(containers),
        proptest::option::of(set),
        proptest::option::of(args),
        proptest::option::of(str_map),
    )
        .prop_map(|(labels, containers, fins, args, extra)| {
            let mut m = serde_json::Map::new();
            if let Some(l) = labels {
                m.insert("labels".into(), l);
            }
            if let Some(c) = containers {
                m.insert("containers".into(), Value::Array(c));
            }
            if let Some(f) = fins {
                m.insert("finalizers".into(), Value::Array(f));
            }
            if let Some(a) = args {
                m.insert("args".into(), Value::Array(a));
            }
            if let Some(e) = extra {
                m.insert("extra".into(), e);
            }
            Value::Object(m)
        })
}

proptest! {
    #[test]
    fn apply_of_diff_gives_target(a in doc(), b in doc()) {
        let s = schema();
        let patch = diff(&a, &b, Some(s.root()));
        let out = apply(&a, &patch, s.root());
        prop_assert_eq!(out, Ok(b));
    }

    #[test]
    fn empty_patch_changes_nothing(a in doc()) {
        let s = schema();
        prop_assert_eq!(apply(&a, &json!({}), s.root()), Ok(a));
    }

    #[test]
    fn without_schema_lists_smp_agrees_with_merge_patch(a in doc(), b in doc()) {
        // Where no list merges, a strategic merge patch is a merge patch.
        let defs = serde_json::Map::from_iter([("T".to_string(), json!({"type": "object"}))]);
        let plain = PatchSchema::from_defs(defs, "T").expect("schema");
        let patch = crate::patch::merge::diff(&a, &b);
        let mut want = a.clone();
        crate::patch::merge::apply(&mut want, &patch);
        prop_assert_eq!(apply(&a, &patch, plain.root()), Ok(want));
    }
}
