//! The field sets kapi computes, against what upstream's field manager
//! computes for the same writes. Each expected value is worked out from
//! upstream's code, named in a comment beside it (structured-merge-diff
//! `typed/compare.go` `compareWalker`, `typed/tofieldset.go`
//! `toFieldSetWalker`, `merge/update.go` `Updater`; apimachinery
//! `util/managedfields/internal/*.go`).

use serde_json::{Value, json};

use super::*;
use crate::patch::PatchSchema;

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:00:01Z";
const T2: &str = "2026-01-01T00:00:02Z";

fn schema(group: &str, kind: &str) -> std::sync::Arc<PatchSchema> {
    let version = "v1";
    PatchSchema::for_kind(group, version, kind).expect("schema")
}

/// One non-apply write through [`update`]; `live` is the kind's empty object
/// on create.
fn write(
    s: &PatchSchema,
    live: &Value,
    new: &Value,
    manager: &str,
    sub: Option<&str>,
    reset: &[&[&str]],
    now: &str,
) -> Value {
    let reset = FieldSet::of(reset);
    let entries = update(
        live,
        new,
        manager,
        &Write {
            schema: Some(s.root()),
            api_version: "v1",
            subresource: sub,
            reset: &reset,
            now,
        },
    );
    let mut out = new.clone();
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    write_entries(&mut out, &entries);
    out
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    super::write(obj, entries);
}

fn managed(obj: &Value) -> Value {
    obj.pointer("/metadata/managedFields")
        .cloned()
        .unwrap_or(Value::Null)
}

fn fields_of(obj: &Value, manager: &str) -> Value {
    managed(obj)
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == manager))
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn fields_v1_round_trip_with_items() {
    let set = FieldSet(
        [
            vec!["f:metadata".to_string(), "f:labels".into()],
            vec!["f:metadata".to_string(), "f:labels".into(), "f:a".into()],
            vec!["f:secrets".to_string(), "k:{\"name\":\"s1\"}".into()],
            vec![
                "f:metadata".to_string(),
                "f:finalizers".into(),
                "v:\"f1\"".into(),
            ],
        ]
        .into_iter()
        .collect(),
    );
    let v1 = set.to_fields_v1();
    // fieldpath/serialize.go: a member with children writes ".".
    assert_eq!(
        v1,
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:a": {}}, "f:finalizers": {"v:\"f1\"": {}}},
            "f:secrets": {"k:{\"name\":\"s1\"}": {}}
        })
    );
    assert_eq!(FieldSet::from_fields_v1(&v1), Ok(set));
    assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"k:notjson": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
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
fn compare_adds_new_maps_and_items_but_not_existing_ones() {
    let s = schema("", "ServiceAccount");
    let old = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "secrets": null});
    let new = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"},
            "annotations": {"n": "v"}, "finalizers": ["f"]},
        "secrets": [{"name": "s"}], "imagePullSecrets": [{"name": "p"}]});
    let c = compare(Some(&old), Some(&new), Some(s.root())).expect("compare");
    // compare.go: the post-item step adds a non-leaf node absent on the left
    // (annotations, finalizers, the new item); labels existed, and secrets was
    // null (present), so neither is added itself. imagePullSecrets is an
    // atomic list: a leaf.
    let added: Vec<String> = c.added.0.iter().map(|p| path_string(p)).collect();
    assert_eq!(
        added,
        [
            ".imagePullSecrets",
            ".metadata.annotations",
            ".metadata.annotations.n",
            ".metadata.finalizers",
            ".metadata.finalizers[=\"f\"]",
            ".metadata.labels.b",
            ".secrets[name=\"s\"]",
        ]
    );
    assert!(c.modified.is_empty() && c.removed.is_empty(), "{c:?}");

    // Removing the last label removes the map too; a changed leaf is modified.
    let c = compare(
        Some(&json!({"metadata": {"labels": {"a": "1"}}, "automountServiceAccountToken": true})),
        Some(&json!({"metadata": {}, "automountServiceAccountToken": false})),
        Some(s.root()),
    )
    .expect("compare");
    let strs = |f: &FieldSet| f.0.iter().map(|p| path_string(p)).collect::<Vec<_>>();
    assert_eq!(strs(&c.removed), [".metadata.labels", ".metadata.labels.a"]);
    assert_eq!(strs(&c.modified), [".automountServiceAccountToken"]);
    // Empty on both sides: a leaf, unchanged.
    let c = compare(
        Some(&json!({"metadata": {"labels": {}}})),
        Some(&json!({"metadata": {"labels": {}}})),
        Some(s.root()),
    )
    .expect("compare");
    assert_eq!(c, Comparison::default());
}

#[test]
fn create_records_maps_with_dot() {
    // A `kubectl create configmap c --from-literal=a=1` body, compared with
    // the empty ConfigMap (create.go: `scope.Creater.New`): data is new, so
    // it is owned with ".", and metadata is never owned (stripmeta.go).
    let s = schema("", "ConfigMap");
    let zero = json!({"metadata": {}});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": {"app": "x"}},
        "data": {"a": "1"}});
    let out = write(&s, &zero, &cm, "kubectl-create", None, &[], T0);
    assert_eq!(
        managed(&out),
        json!([{
            "apiVersion": "v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}},
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            "manager": "kubectl-create", "operation": "Update", "time": T0
        }])
    );
}

#[test]
fn namespace_create_records_the_defaulted_label_not_the_status() {
    // `kubectl create namespace n`: v1 defaulting added the name label and
    // phase Active (SetDefaults_Namespace, SetDefaults_NamespaceStatus); the
    // strategy resets status (GetResetFields) and adds spec.finalizers only
    // after the field manager ran.
    let s = schema("", "Namespace");
    let zero = json!({"metadata": {}, "spec": {}, "status": {}});
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "n", "labels": {"kubernetes.io/metadata.name": "n"}},
        "spec": {}, "status": {"phase": "Active"}});
    let out = write(&s, &zero, &ns, "kubectl-create", None, &[&["f:status"]], T0);
    assert_eq!(
        fields_of(&out, "kubectl-create"),
        json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}})
    );
}

#[test]
fn updates_take_fields_from_others_and_merge_their_own_entry() {
    let s = schema("", "ConfigMap");
    let zero = json!({"metadata": {}});
    let v0 = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    let v0 = write(&s, &zero, &v0, "first", None, &[], T0);
    let mut v1 = v0.clone();
    v1["data"]["a"] = json!("changed");
    let v1 = write(&s, &v0, &v1, "second", None, &[], T1);
    // update.go: the other manager loses the modified field; the writer owns it.
    assert_eq!(
        managed(&v1),
        json!([
            {"apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {".": {}, "f:b": {}}},
             "manager": "first", "operation": "Update", "time": T0},
            {"apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:a": {}}},
             "manager": "second", "operation": "Update", "time": T1}
        ])
    );
    // The same manager again: one entry (managedfieldsupdater.go unions the
    // new fields into it) with the new time.
    let mut v2 = v1.clone();
    v2["data"]["c"] = json!("3");
    let v2 = write(&s, &v1, &v2, "second", None, &[], T2);
    assert_eq!(
        fields_of(&v2, "second"),
        json!({"f:data": {"f:a": {}, "f:c": {}}})
    );
    assert_eq!(managed(&v2)[1]["time"], T2);
    // Only removals: nobody takes anything, so no time changes; what is gone
    // leaves every entry, and an entry left empty goes.
    let mut v3 = v2.clone();
    v3["data"] = json!({"b": "2"});
    let v3 = write(&s, &v2, &v3, "third", None, &[], T2);
    assert_eq!(
        managed(&v3),
        json!([{"apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {".": {}, "f:b": {}}},
             "manager": "first", "operation": "Update", "time": T0}])
    );
    // Removing the last label drops the labels map with its "." (the map is removed).
    let with_label = json!({"metadata": {"name": "c", "labels": {"x": "1"}}});
    let l0 = write(
        &s,
        &json!({"metadata": {}}),
        &with_label,
        "labeler",
        None,
        &[],
        T0,
    );
    let l1 = write(
        &s,
        &l0,
        &json!({"metadata": {"name": "c"}}),
        "labeler",
        None,
        &[],
        T1,
    );
    assert_eq!(managed(&l1), Value::Null);
}

#[test]
fn untracked_objects_stay_untracked_and_an_empty_list_resets() {
    let s = schema("", "ConfigMap");
    // skipnonapplied.go: no managedFields and a uid (an update): nothing recorded.
    let live = json!({"metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}});
    let new = json!({"metadata": {"name": "c", "uid": "u"}, "data": {"a": "2"}});
    assert_eq!(
        managed(&write(&s, &live, &new, "m", None, &[], T1)),
        Value::Null
    );
    // fieldmanager.go isResetManagedFields: `managedFields: []` clears them.
    let tracked = write(
        &s,
        &json!({"metadata": {}}),
        &live,
        "creator",
        None,
        &[],
        T0,
    );
    let mut reset = tracked.clone();
    reset["metadata"]["managedFields"] = json!([]);
    reset["data"]["a"] = json!("2");
    assert_eq!(
        managed(&write(&s, &tracked, &reset, "m", None, &[], T1)),
        Value::Null
    );
    // managedFields sent with the request are taken (decodeLiveOrNew).
    let mut sent = tracked.clone();
    sent["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Apply",
        "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]);
    let out = write(&s, &tracked, &sent, "m", None, &[], T1);
    assert_eq!(
        managed(&out),
        json!([{"apiVersion": "v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}}, "manager": "x", "operation": "Apply"}])
    );
    // ... unless they do not decode (no fieldsType): then the stored ones.
    let mut bad = tracked.clone();
    bad["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Apply",
        "apiVersion": "v1", "fieldsV1": {}}]);
    let out = write(&s, &tracked, &bad, "m", None, &[], T1);
    assert_eq!(managed(&out), managed(&tracked));
}

#[test]
fn status_writes_have_their_own_entry_and_reset_fields_are_ignored() {
    let s = schema("", "Namespace");
    let live = json!({"metadata": {"name": "n", "uid": "u",
            "labels": {"kubernetes.io/metadata.name": "n"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
    let live = write(
        &s,
        &json!({"metadata": {}, "spec": {}, "status": {}}),
        &live,
        "creator",
        None,
        &[&["f:status"]],
        T0,
    );
    // A /status write that also changes spec: spec is reset (the status
    // strategy's GetResetFields), the conditions are the writer's, and the
    // entry says subresource status (buildmanagerinfo.go).
    let mut new = live.clone();
    new["spec"]["finalizers"] = json!([]);
    new["status"]["conditions"] = json!([{"type": "T", "status": "True"}]);
    let out = write(&s, &live, &new, "ctl", Some("status"), &[&["f:spec"]], T1);
    let entry = managed(&out)
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == "ctl").cloned())
        .expect("entry");
    assert_eq!(entry["subresource"], "status");
    // NamespaceStatus.conditions is a list map by type, absent before: the
    // list and its item are added themselves (compare.go), so both get ".".
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:conditions": {".": {},
            "k:{\"type\":\"T\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
    );
    // The creator keeps spec.finalizers: a reset field is never taken.
    assert_eq!(
        fields_of(&out, "creator"),
        json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}},
            "f:spec": {"f:finalizers": {}}})
    );
}

#[test]
fn entries_are_sorted_as_upstream_and_capped_at_ten_updates() {
    let e = |m: &str, op: &str, t: Option<&str>| Entry {
        manager: m.into(),
        operation: op.into(),
        api_version: "v1".into(),
        time: t.map(str::to_string),
        subresource: None,
        fields: FieldSet::of(&[&["f:data", &format!("f:{m}")]]),
    };
    // managedfields.go sortEncodedManagedFields: operation, time, manager.
    let mut v = json!({"metadata": {}});
    super::write(
        &mut v,
        &[
            e("b", UPDATE, Some(T0)),
            e("a", UPDATE, Some(T1)),
            e("z", APPLY, Some(T2)),
            e("y", APPLY, None),
            e("a0", UPDATE, Some(T0)),
        ],
    );
    let list = managed(&v);
    let order: Vec<&str> = list
        .as_array()
        .map(|l| l.iter().filter_map(|e| e["manager"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(order, ["y", "z", "a0", "b", "a"]);

    // capmanagers.go: an eleventh update entry merges the two oldest into
    // `ancient-changes` (with the time of the second).
    let s = schema("", "ConfigMap");
    let mut obj = json!({"metadata": {"name": "c", "uid": "u"}, "data": {}});
    let mut entries = Vec::new();
    for i in 0..10 {
        obj["data"][format!("k{i}")] = json!("v");
        let mut f = FieldSet::default();
        f.insert(vec!["f:data".into(), format!("f:k{i}")]);
        entries.push(Entry {
            manager: format!("m{i}"),
            operation: UPDATE.into(),
            api_version: "v1".into(),
            time: Some(format!("2026-01-01T00:00:{i:02}Z")),
            subresource: None,
            fields: f,
        });
    }
    super::write(&mut obj, &entries);
    let mut new = obj.clone();
    new["data"]["k10"] = json!("v");
    let out = write(&s, &obj, &new, "m10", None, &[], "2026-01-01T00:01:00Z");
    let list = managed(&out);
    let list = list.as_array().expect("entries");
    assert_eq!(list.len(), 10);
    assert_eq!(list[0]["manager"], "ancient-changes");
    assert_eq!(list[0]["time"], "2026-01-01T00:00:01Z");
    assert_eq!(
        list[0]["fieldsV1"],
        json!({"f:data": {"f:k0": {}, "f:k1": {}}})
    );
    assert_eq!(list[9]["manager"], "m10");
}

#[test]
fn applied_configurations_own_leaves_items_and_map_keys() {
    let s = schema("", "ServiceAccount");
    let config = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x", "labels": {"a": "1"}, "annotations": null,
            "finalizers": []},
        "secrets": [{"name": "s1"}, {"name": "s1"}, {"name": "s2", "namespace": "n"}],
        "imagePullSecrets": [{"name": "p"}]});
    let set = strip(&to_field_set(&config, Some(s.root())));
    // tofieldset.go: labels is a struct field, so only its key is owned (no
    // "."); a null field is owned; an empty non-atomic list owns nothing; a
    // repeated item is owned once, as itself; ObjectReference items are
    // atomic; imagePullSecrets is an atomic list.
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:imagePullSecrets": {},
            "f:metadata": {"f:annotations": {}, "f:labels": {"f:a": {}}},
            "f:secrets": {"k:{\"name\":\"s1\"}": {}, "k:{\"name\":\"s2\"}": {}}})
    );
}

#[test]
fn manager_from_field_manager_or_user_agent() {
    assert_eq!(manager_name(Some("me"), Some("kubectl/v1")), "me");
    assert_eq!(
        manager_name(None, Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(manager_name(None, Some("a\u{7}b/1")), "ab");
    assert_eq!(manager_name(None, Some(&"é".repeat(100))).len(), 128);
    // buildmanagerinfo.go: no manager at all is `unknown`.
    let s = schema("", "ConfigMap");
    let out = write(
        &s,
        &json!({"metadata": {}}),
        &json!({"metadata": {"name": "c"}, "data": {"a": "1"}}),
        &manager_name(None, None),
        None,
        &[],
        T0,
    );
    assert_eq!(managed(&out)[0]["manager"], "unknown");
}

#[test]
fn go_zero_values_are_no_change() {
    // An Event from a JSON client that writes Go's zero values (client-go
    // sends `reportingComponent: ""`): upstream's empty Event holds the same
    // "", so compare.go sees no change; a real value is taken.
    let s = schema("", "Event");
    let zero = json!({"metadata": {}, "involvedObject": {}, "source": {}});
    let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"name": "x"},
        "reason": "R", "reportingComponent": "", "reportingInstance": "i"});
    let out = write(&s, &zero, &ev, "recorder", None, &[], T0);
    assert_eq!(
        fields_of(&out, "recorder"),
        json!({"f:involvedObject": {}, "f:reason": {}, "f:reportingInstance": {}})
    );
}
