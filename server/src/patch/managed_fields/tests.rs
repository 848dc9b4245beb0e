use serde_json::json;

use super::*;
use crate::patch::PatchSchema;

#[test]
fn fields_v1_round_trip_with_items() {
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let sa = json!({
        "metadata": {"name": "x", "labels": {"a": "1"}, "finalizers": ["f1"]},
        "secrets": [{"name": "s1", "namespace": "n"}]
    });
    let set = owned_fields(&sa, Some(s.root()));
    let v1 = set.to_fields_v1();
    assert_eq!(
        v1,
        json!({
            "f:metadata": {"f:labels": {"f:a": {}}, "f:finalizers": {"v:\"f1\"": {}}},
            "f:secrets": {"k:{\"name\":\"s1\"}": {}}
        })
    );
    assert_eq!(FieldSet::from_fields_v1(&v1), set);
}

#[test]
fn granular_items_get_dot() {
    let set = FieldSet(
        [
            vec!["f:l".to_string(), "k:{\"n\":1}".to_string()],
            vec![
                "f:l".to_string(),
                "k:{\"n\":1}".to_string(),
                "f:n".to_string(),
            ],
        ]
        .into_iter()
        .collect(),
    );
    let v1 = set.to_fields_v1();
    assert_eq!(v1, json!({"f:l": {"k:{\"n\":1}": {".": {}, "f:n": {}}}}));
    assert_eq!(FieldSet::from_fields_v1(&v1), set);
}

#[test]
fn path_strings_as_upstream() {
    let p: Path = vec![
        "f:secrets".into(),
        "k:{\"name\":\"s1\"}".into(),
        "f:namespace".into(),
    ];
    assert_eq!(path_string(&p), ".secrets[name=\"s1\"].namespace");
    let p: Path = vec![
        "f:metadata".into(),
        "f:finalizers".into(),
        "v:\"f1\"".into(),
    ];
    assert_eq!(path_string(&p), ".metadata.finalizers[=\"f1\"]");
}

#[test]
fn remove_drops_items_and_emptied_maps() {
    let mut v = json!({"data": {"a": "1"}, "secrets": [{"name": "s1"}, {"name": "s2"}]});
    remove(&mut v, &["f:data".into(), "f:a".into()]);
    remove(&mut v, &["f:secrets".into(), "k:{\"name\":\"s1\"}".into()]);
    assert_eq!(v, json!({"secrets": [{"name": "s2"}]}));
}

#[test]
fn update_takes_changed_fields_from_others() {
    let mut old = json!({"metadata": {"name": "x"}, "data": {"a": "1", "b": "2"}});
    record_update(None, &mut old, None, "first", "v1", None, "t0");
    let mut new = old.clone();
    new["data"]["a"] = json!("changed");
    record_update(Some(&old), &mut new, None, "second", "v1", None, "t1");
    let entries = read(&new);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].manager, "first");
    assert_eq!(
        entries[0].fields.to_fields_v1(),
        json!({"f:data": {"f:b": {}}})
    );
    assert_eq!(entries[1].manager, "second");
    assert_eq!(entries[1].operation, "Update");
    assert_eq!(
        entries[1].fields.to_fields_v1(),
        json!({"f:data": {"f:a": {}}})
    );
}

#[test]
fn manager_from_user_agent() {
    assert_eq!(manager_name(Some("me"), Some("kubectl/v1")), "me");
    assert_eq!(
        manager_name(None, Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(manager_name(None, None), "");
}
