use serde_json::{Value, json};

use super::*;
use crate::patch::PatchSchema;
use crate::patch::managed_fields::FieldSet;

fn run(live: &Value, config: &Value, manager: &str, force: bool) -> Result<Value, Vec<Conflict>> {
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let reset = FieldSet::default();
    apply(
        live,
        config,
        &Apply {
            manager,
            force,
            kind: "ServiceAccount",
            write: Write {
                schema: Some(s.root()),
                api_version: "v1",
                subresource: None,
                reset: &reset,
                now: "2026-01-01T00:00:00Z",
            },
            zero: &json!({"metadata": {}}),
        },
    )
    .map_err(|e| match e {
        ApplyError::Conflicts(c) => c,
        other => panic!("apply failed: {other:?}"),
    })
}

fn sa(labels: Value, secrets: Value) -> Value {
    let mut v = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x", "labels": labels}});
    if secrets.as_array().is_some_and(|s| !s.is_empty()) {
        v["secrets"] = secrets;
    }
    v
}

#[test]
fn create_records_apply_entry() {
    let out = run(
        &json!({}),
        &sa(json!({"a": "1"}), json!([{"name": "s"}])),
        "m1",
        false,
    )
    .expect("apply");
    let mf = &out["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "m1");
    assert_eq!(mf["operation"], "Apply");
    assert_eq!(mf["fieldsType"], "FieldsV1");
    assert_eq!(
        mf["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:a": {}}},
            // ObjectReference is an atomic map: the item is owned whole.
            "f:secrets": {"k:{\"name\":\"s\"}": {}}})
    );
}

#[test]
fn same_apply_twice_is_unchanged() {
    let config = sa(json!({"a": "1"}), json!([{"name": "s"}]));
    let once = run(&json!({}), &config, "m1", false).expect("apply");
    let twice = run(&once, &config, "m1", false).expect("apply");
    assert_eq!(once, twice);
}

#[test]
fn other_manager_conflicts_unless_forced() {
    let once = run(&json!({}), &sa(json!({"a": "1"}), json!([])), "m1", false).expect("apply");
    // Same value: shared, no conflict.
    let shared = run(&once, &sa(json!({"a": "1"}), json!([])), "m2", false).expect("shared");
    assert_eq!(
        shared["metadata"]["managedFields"].as_array().map(Vec::len),
        Some(2)
    );
    let err = run(&once, &sa(json!({"a": "2"}), json!([])), "m2", false).expect_err("conflict");
    assert_eq!(
        err,
        vec![Conflict {
            manager: "\"m1\"".into(),
            field: ".metadata.labels.a".into(),
            identifier: "{\"manager\":\"m1\",\"operation\":\"Apply\"}".into(),
        }]
    );
    let e = conflict_error(&err);
    assert_eq!(e.code, 409);
    assert_eq!(
        e.message,
        "Apply failed with 1 conflict: conflict with \"m1\": .metadata.labels.a"
    );
    let forced = run(&once, &sa(json!({"a": "2"}), json!([])), "m2", true).expect("force");
    assert_eq!(forced["metadata"]["labels"]["a"], "2");
    let mf = forced["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(mf.len(), 1, "m1 owns nothing any more: {mf:?}");
    assert_eq!(mf[0]["manager"], "m2");
}

#[test]
fn fields_no_longer_applied_are_removed_unless_shared() {
    let once = run(
        &json!({}),
        &sa(
            json!({"a": "1", "b": "1"}),
            json!([{"name": "s1"}, {"name": "s2"}]),
        ),
        "m1",
        false,
    )
    .expect("apply");
    let both = run(&once, &sa(json!({"b": "1"}), json!([])), "m2", false).expect("apply");
    let out = run(&both, &sa(json!({}), json!([{"name": "s2"}])), "m1", false).expect("apply");
    // a: only m1 had it, gone; b: m2 shares it, kept; s1 gone, s2 kept.
    assert_eq!(out["metadata"]["labels"], json!({"b": "1"}));
    assert_eq!(out["secrets"], json!([{"name": "s2"}]));
}

#[test]
fn update_entries_conflict_with_using_version() {
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let mut live = sa(json!({"a": "1"}), json!([]));
    let reset = FieldSet::default();
    let entries = crate::patch::managed_fields::update(
        &json!({"metadata": {}}),
        &live,
        "kubectl-edit",
        &Write {
            schema: Some(s.root()),
            api_version: "v1",
            subresource: Some("status"),
            reset: &reset,
            now: "2026-01-01T00:00:00Z",
        },
    );
    crate::patch::managed_fields::write(&mut live, &entries);
    let err = run(&live, &sa(json!({"a": "2"}), json!([])), "m", false).expect_err("conflict");
    // conflict.go printManager: subresource, then the version of an update.
    assert_eq!(
        err[0].manager,
        "\"kubectl-edit\" with subresource \"status\" using v1"
    );
    let two = vec![
        err[0].clone(),
        Conflict {
            manager: "\"z\"".into(),
            field: ".x".into(),
            identifier: "{\"manager\":\"z\",\"operation\":\"Apply\"}".into(),
        },
    ];
    assert_eq!(
        conflict_error(&two).message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" with subresource \"status\" using v1:\n- .metadata.labels.a\nconflicts with \"z\":\n- .x"
    );
}

#[test]
fn atomic_lists_are_replaced_and_owned_whole() {
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let live = json!({"imagePullSecrets": [{"name": "a"}, {"name": "b"}]});
    let out = merge(
        &live,
        &json!({"imagePullSecrets": [{"name": "c"}]}),
        Some(s.root()),
    );
    assert_eq!(out, json!({"imagePullSecrets": [{"name": "c"}]}));
    let set = to_field_set(&out, Some(s.root()));
    assert_eq!(set.to_fields_v1(), json!({"f:imagePullSecrets": {}}));
}

#[test]
fn missing_manager_is_invalid() {
    let e = check_manager(None).expect_err("required");
    assert_eq!(e.code, 422);
    assert!(
        e.message.contains("fieldManager: Required value"),
        "{}",
        e.message
    );
}

#[test]
fn a_null_in_config_is_owned_and_sets_nothing() {
    let once = run(&json!({}), &sa(json!({"a": "1"}), json!([])), "m1", false).expect("apply");
    // `labels: null`: tofieldset.go owns the null field itself; the label m1
    // applied before is no longer applied and goes, and the emptied map with it.
    let out = run(
        &once,
        &json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "x", "labels": null}}),
        "m1",
        false,
    )
    .expect("apply");
    assert!(out["metadata"].get("labels").is_none(), "{out}");
    assert_eq!(
        out["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {}}}),
        "{out}"
    );
}

#[test]
fn wrong_kind_and_managed_fields_are_refused() {
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let reset = FieldSet::default();
    let req = Apply {
        manager: "m",
        force: false,
        kind: "ServiceAccount",
        write: Write {
            schema: Some(s.root()),
            api_version: "v1",
            subresource: None,
            reset: &reset,
            now: "2026-01-01T00:00:00Z",
        },
        zero: &json!({}),
    };
    // versioncheck.go and structuredmerge.go's messages.
    assert_eq!(
        apply(
            &json!({}),
            &json!({"apiVersion": "apps/v1", "kind": "X"}),
            &req
        ),
        Err(ApplyError::BadRequest(
            "invalid object type: apps/v1, Kind=X".into()
        ))
    );
    assert_eq!(
        apply(&json!({}), &json!({"metadata": {}}), &req),
        Err(ApplyError::BadRequest(
            "invalid object type: /, Kind=".into()
        ))
    );
    assert_eq!(
        apply(
            &json!({}),
            &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"managedFields": [{"manager": "x"}]}}),
            &req
        ),
        Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into()
        ))
    );
}

#[test]
fn an_untracked_object_gets_before_first_apply() {
    // skipnonapplied.go: the live fields become `before-first-apply`'s, so
    // changing them conflicts.
    let live = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x", "uid": "u", "labels": {"a": "1"}}});
    let err = run(&live, &sa(json!({"a": "2"}), json!([])), "m", false).expect_err("conflict");
    assert_eq!(err[0].manager, "\"before-first-apply\" using v1");
    let out = run(&live, &sa(json!({"b": "2"}), json!([])), "m", false).expect("apply");
    let mf = out["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(mf.len(), 2, "{mf:?}");
    assert_eq!(mf[0]["manager"], "m");
    assert_eq!(mf[1]["manager"], "before-first-apply");
    // An update compared with the empty object: the new labels map has ".".
    assert_eq!(
        mf[1]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::run;

    /// Lists sorted, so results compare whatever order items were added in.
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
            }
            Value::Array(a) => {
                let mut items: Vec<Value> = a.iter().map(canonical).collect();
                items.sort_by_key(|v| v.to_string());
                Value::Array(items)
            }
            v => v.clone(),
        }
    }

    fn config() -> impl Strategy<Value = Value> {
        (
            prop::collection::btree_map("[a-d]", "[x-z]", 0..4),
            prop::collection::btree_map("[a-d]", "[x-z]", 0..3),
            prop::collection::btree_set("[a-d]", 0..3),
            prop::collection::btree_set("[p-r]", 0..3),
        )
            .prop_map(|(labels, secrets, pulls, fins)| {
                let mut meta = json!({"name": "x"});
                if !labels.is_empty() {
                    meta["labels"] = json!(labels);
                }
                if !fins.is_empty() {
                    meta["finalizers"] = json!(fins);
                }
                let mut v = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta});
                if !secrets.is_empty() {
                    v["secrets"] = Value::Array(
                        secrets
                            .into_iter()
                            .map(|(n, ns)| json!({"name": n, "namespace": ns}))
                            .collect(),
                    );
                }
                if !pulls.is_empty() {
                    v["imagePullSecrets"] =
                        Value::Array(pulls.into_iter().map(|n| json!({"name": n})).collect());
                }
                v
            })
    }

    proptest! {
        /// One manager: what is left after applying c1 then c2 is what
        /// applying c2 alone gives (fields no longer applied are removed).
        #[test]
        fn reapply_converges_to_the_latest_config(c1 in config(), c2 in config()) {
            let first = run(&json!({}), &c1, "m", false).expect("apply c1");
            let both = run(&first, &c2, "m", false).expect("apply c2");
            let only = run(&json!({}), &c2, "m", false).expect("apply c2 alone");
            prop_assert_eq!(canonical(&both), canonical(&only));
        }

        /// Applying the same configuration again changes nothing.
        #[test]
        fn apply_is_idempotent(c in config()) {
            let once = run(&json!({}), &c, "m", false).expect("apply");
            let twice = run(&once, &c, "m", false).expect("apply again");
            prop_assert_eq!(once, twice);
        }
    }
}

#[test]
fn list_map_items_conflict_on_their_fields_not_as_a_whole() {
    let schema = PatchSchema::for_custom_resource(std::sync::Arc::new(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"listeners": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "port": {"type": "integer"},
                "protocol": {"type": "string"}}}}}}}
    })));
    let reset = FieldSet::default();
    let apply_as = |live: &Value, config: Value, manager: &str, force: bool| {
        apply(
            live,
            &config,
            &Apply {
                manager,
                force,
                kind: "Gw",
                write: Write {
                    schema: Some(schema.root()),
                    api_version: "example.com/v1",
                    subresource: None,
                    reset: &reset,
                    now: "2026-01-01T00:00:00Z",
                },
                zero: &json!({}),
            },
        )
        .map_err(|e| match e {
            ApplyError::Conflicts(c) => c,
            other => panic!("apply failed: {other:?}"),
        })
    };
    let gw = |listeners: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Gw", "metadata": {"name": "g"},
            "spec": {"listeners": listeners}})
    };
    let live = apply_as(
        &json!({}),
        gw(json!([{"name": "a", "port": 80, "protocol": "HTTP"}])),
        "m1",
        false,
    )
    .expect("create");
    // Same protocol, other port: one conflict, on the port only.
    let conflicts = apply_as(
        &live,
        gw(json!([{"name": "a", "port": 81, "protocol": "HTTP"}])),
        "m2",
        false,
    )
    .expect_err("conflict");
    assert_eq!(
        conflicts,
        vec![Conflict {
            manager: "\"m1\"".into(),
            field: ".spec.listeners[name=\"a\"].port".into(),
            identifier: "{\"manager\":\"m1\",\"operation\":\"Apply\"}".into(),
        }]
    );
    // Another item is no conflict, and the lists merge by key.
    let merged =
        apply_as(&live, gw(json!([{"name": "b", "port": 90}])), "m2", false).expect("no conflict");
    assert_eq!(
        merged["spec"]["listeners"],
        json!([{"name": "a", "port": 80, "protocol": "HTTP"}, {"name": "b", "port": 90}])
    );
}

#[test]
fn kubectl_takes_over_what_its_client_side_apply_set() {
    // A ServiceAccount created by `kubectl apply` (client-side).
    let s = PatchSchema::for_kind("", "v1", "ServiceAccount").expect("schema");
    let last =
        r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"labels":{"a":"1"},"name":"x"}}"#;
    let mut live = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x", "uid": "u", "labels": {"a": "1"},
            "annotations": {LAST_APPLIED: last}}});
    let reset = FieldSet::default();
    let entries = crate::patch::managed_fields::update(
        &json!({"metadata": {}}),
        &live,
        "kubectl-client-side-apply",
        &Write {
            schema: Some(s.root()),
            api_version: "v1",
            subresource: None,
            reset: &reset,
            now: "2026-01-01T00:00:00Z",
        },
    );
    crate::patch::managed_fields::write(&mut live, &entries);
    let config = sa(json!({"a": "2"}), json!([]));
    // Another manager conflicts with the client-side apply's field ...
    let err = run(&live, &config, "other", false).expect_err("conflict");
    assert_eq!(err[0].manager, "\"kubectl-client-side-apply\" using v1");
    // ... kubectl itself does not (lastappliedmanager.go: the field still has
    // the value its last client-side apply gave it), and keeps the annotation
    // in step with what it applied (lastappliedupdater.go).
    let out = run(&live, &config, "kubectl", false).expect("forced");
    assert_eq!(out["metadata"]["labels"]["a"], "2");
    assert_eq!(
        out["metadata"]["annotations"][LAST_APPLIED],
        "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"labels\":{\"a\":\"2\"},\"name\":\"x\"}}\n"
    );
    let csa = out["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|e| e["manager"] == "kubectl-client-side-apply")
        })
        .map(|e| e["fieldsV1"].clone());
    assert_eq!(
        csa,
        Some(json!({"f:metadata": {"f:annotations": {".": {},
            "f:kubectl.kubernetes.io/last-applied-configuration": {}},
            "f:labels": {}}}))
    );
    // A label changed since that apply is a conflict again.
    let mut drifted = live.clone();
    drifted["metadata"]["labels"]["a"] = json!("9");
    let err = run(&drifted, &config, "kubectl", false).expect_err("conflict");
    assert_eq!(err.len(), 1);
}
