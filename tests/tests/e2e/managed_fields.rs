//! `metadata.managedFields` as kube-apiserver 1.36 records them, for every
//! served kind, after create (JSON, and protobuf from kubectl), update (PUT),
//! merge, JSON and strategic merge patches, server-side apply (conflicts and
//! force) and `/status` writes; checked on the answer and on the stored
//! object, ignoring only the `time` values (whose form and order are checked).
//!
//! The expected entries are worked out from upstream's code:
//! - structured-merge-diff `typed/compare.go` (`compareWalker`): a write that
//!   is not an apply takes the leaves it adds or changes, plus every map,
//!   list or list item that was absent before and has content (`"."`); a
//!   field that existed before (in the kind's empty object on create, as
//!   Go's zero value writes it: a Namespace's `spec`/`status`, a Lease's
//!   `spec`, an Event's `source`) is not taken itself;
//! - `typed/tofieldset.go` (`toFieldSetWalker`): an apply owns leaves, list
//!   items (with `"."` when they have fields) and map keys, never a struct
//!   field itself (no `"."` on `labels`, `data`);
//! - `merge/update.go` (`Updater.Update`/`Apply`): other managers lose what
//!   is changed or removed; entries left with nothing go;
//! - apimachinery `util/managedfields/internal`: `stripmeta.go` (never
//!   `metadata`, `name`, `namespace`, ...), `buildmanagerinfo.go` (one entry
//!   per manager, operation, apiVersion of updates and subresource),
//!   `managedfieldsupdater.go` (an entry's time moves only when it takes
//!   fields), `skipnonapplied.go`, `fieldmanager.go` (`managedFields: []`
//!   resets), `managedfields.go` (`sortEncodedManagedFields`), `conflict.go`;
//! - the strategies' `GetResetFields` (`status` on the main resource of
//!   Namespaces, CRDs and custom resources with a status subresource;
//!   `spec` on `/status`, and `metadata` too for CRDs) and v1 defaulting
//!   (the Namespace name label, a Secret's `type`, a CRD's names and
//!   conversion), which runs before the field manager while the
//!   strategies' own changes come after it (a Namespace's
//!   `spec.finalizers`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Kubectl, Server, kubectl_bins};

/// The managedFields of `obj`, checked for upstream's form (the fields an
/// entry has, `time` in RFC 3339 seconds, the order of
/// `sortEncodedManagedFields`), by manager identity, without `time`.
#[track_caller]
fn managed(obj: &Value) -> BTreeMap<String, Value> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return BTreeMap::new();
    };
    let list = list.as_array().expect("managedFields is a list");
    assert!(
        !list.is_empty(),
        "an empty managedFields is left out: {obj}"
    );
    let mut out = BTreeMap::new();
    let mut previous: Option<(String, String, String)> = None;
    for e in list {
        let m = e.as_object().expect("an entry is an object");
        for k in m.keys() {
            assert!(
                [
                    "apiVersion",
                    "fieldsType",
                    "fieldsV1",
                    "manager",
                    "operation",
                    "subresource",
                    "time"
                ]
                .contains(&k.as_str()),
                "unexpected {k} in {e}"
            );
        }
        assert_eq!(e["fieldsType"], "FieldsV1", "{e}");
        let time = e["time"].as_str().unwrap_or("");
        if let Some(t) = e.get("time") {
            let t = t.as_str().expect("time is text");
            assert!(
                t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
                "time {t} is not RFC 3339 seconds"
            );
        }
        // Operation (Apply before Update), then time, then manager.
        let key = (
            e["operation"].as_str().unwrap_or("").to_string(),
            time.to_string(),
            e["manager"].as_str().unwrap_or("").to_string(),
        );
        if let Some(p) = &previous {
            assert!(*p <= key, "entries out of upstream's order: {list:?}");
        }
        previous = Some(key);
        let mut e = e.clone();
        e.as_object_mut().expect("object").remove("time");
        let id = format!(
            "{}/{}/{}",
            e["manager"].as_str().unwrap_or(""),
            e["operation"].as_str().unwrap_or(""),
            e["subresource"].as_str().unwrap_or("")
        );
        assert!(
            out.insert(id, e).is_none(),
            "one entry per manager: {list:?}"
        );
    }
    out
}

/// Expected entries, by manager identity.
fn expect(entries: &[Value]) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|e| {
            let id = format!(
                "{}/{}/{}",
                e["manager"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or(""),
                e["subresource"].as_str().unwrap_or("")
            );
            (id, e.clone())
        })
        .collect()
}

fn update(manager: &str, api_version: &str, fields: Value) -> Value {
    json!({"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields,
        "manager": manager, "operation": "Update"})
}

fn status_update(manager: &str, api_version: &str, fields: Value) -> Value {
    json!({"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields,
        "manager": manager, "operation": "Update", "subresource": "status"})
}

fn applied(manager: &str, api_version: &str, fields: Value) -> Value {
    json!({"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": fields,
        "manager": manager, "operation": "Apply"})
}

/// The answer and the stored object both carry `want`.
#[track_caller]
fn assert_managed(server: &Server, path: &str, answer: &Value, want: &[Value]) {
    let want = expect(want);
    assert_eq!(managed(answer), want, "answer: {answer}");
    let (s, stored) = server.get(path);
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!(managed(&stored), want, "stored: {stored}");
}

fn send(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    crate::harness::into_json(
        server
            .http()
            .request(method, server.at(path))
            .header("Content-Type", content_type)
            .body(body.to_string())
            .send()
            .expect("request"),
    )
}

fn patch(server: &Server, path: &str, content_type: &str, body: &Value) -> (StatusCode, Value) {
    send(
        server,
        reqwest::Method::PATCH,
        path,
        content_type,
        &body.to_string(),
    )
}

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn configmap_through_every_write() {
    let server = Server::start();
    let coll = "/api/v1/namespaces/default/configmaps";
    let item = "/api/v1/namespaces/default/configmaps/cm";
    let (s, cm) = server.post(
        &format!("{coll}?fieldManager=creator"),
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "labels": {"app": "web"}, "annotations": {"note": "x"}},
            "data": {"k": "v"}, "binaryData": {"b": "AAEC"}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{cm}");
    let creator = json!({"f:binaryData": {".": {}, "f:b": {}}, "f:data": {".": {}, "f:k": {}},
        "f:metadata": {"f:annotations": {".": {}, "f:note": {}},
            "f:labels": {".": {}, "f:app": {}}}});
    assert_managed(&server, item, &cm, &[update("creator", "v1", creator)]);

    // PUT by another manager: changes k, adds a label, drops the annotations.
    let mut put = cm.clone();
    put["data"]["k"] = json!("v2");
    put["metadata"]["labels"]["tier"] = json!("db");
    put["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let (s, cm) = server.put(&format!("{item}?fieldManager=editor"), &put);
    assert_eq!(s, StatusCode::OK, "{cm}");
    assert!(cm["metadata"].get("annotations").is_none(), "{cm}");
    // The creator keeps the data map itself (serialize.go: a member without
    // children is `{}`).
    let creator = json!({"f:binaryData": {".": {}, "f:b": {}}, "f:data": {},
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}}});
    let editor = json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:tier": {}}}});
    assert_managed(
        &server,
        item,
        &cm,
        &[
            update("creator", "v1", creator.clone()),
            update("editor", "v1", editor.clone()),
        ],
    );

    // Merge patch named by its User-Agent; JSON patch; strategic merge patch
    // that only removes (it takes nothing, so records nothing).
    let (s, cm) = crate::harness::into_json(
        server
            .http()
            .patch(server.at(item))
            .header("Content-Type", MERGE)
            .header("User-Agent", "patcher/1.0 (linux)")
            .body(r#"{"data":{"new":"1"}}"#)
            .send()
            .expect("PATCH"),
    );
    assert_eq!(s, StatusCode::OK, "{cm}");
    let (s, cm) = patch(
        &server,
        &format!("{item}?fieldManager=jp"),
        JSON_PATCH,
        &json!([{"op": "add", "path": "/metadata/labels/jp", "value": "y"}]),
    );
    assert_eq!(s, StatusCode::OK, "{cm}");
    let (s, cm) = patch(
        &server,
        &format!("{item}?fieldManager=smp"),
        STRATEGIC,
        &json!({"metadata": {"labels": {"app": null}}}),
    );
    assert_eq!(s, StatusCode::OK, "{cm}");
    let creator = json!({"f:binaryData": {".": {}, "f:b": {}}, "f:data": {},
        "f:metadata": {"f:labels": {}}});
    let patcher = json!({"f:data": {"f:new": {}}});
    let jp = json!({"f:metadata": {"f:labels": {"f:jp": {}}}});
    assert_managed(
        &server,
        item,
        &cm,
        &[
            update("creator", "v1", creator.clone()),
            update("editor", "v1", editor.clone()),
            update("patcher", "v1", patcher.clone()),
            update("jp", "v1", jp.clone()),
        ],
    );

    // Server-side apply: sharing a value is no conflict.
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"owned": "yes"}}, "data": {"k": "v2"}});
    let (s, cm) = patch(
        &server,
        &format!("{item}?fieldManager=applier"),
        APPLY,
        &config,
    );
    assert_eq!(s, StatusCode::OK, "{cm}");
    let applier = json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:owned": {}}}});
    assert_managed(
        &server,
        item,
        &cm,
        &[
            applied("applier", "v1", applier.clone()),
            update("creator", "v1", creator.clone()),
            update("editor", "v1", editor.clone()),
            update("patcher", "v1", patcher.clone()),
            update("jp", "v1", jp.clone()),
        ],
    );
    // Changing the shared value conflicts with both owners (conflict.go:
    // managers in the order of their identifiers).
    let mut rival = config.clone();
    rival["metadata"] = json!({"name": "cm"});
    rival["data"]["k"] = json!("v3");
    let (s, st) = patch(
        &server,
        &format!("{item}?fieldManager=rival"),
        APPLY,
        &rival,
    );
    crate::harness::assert_status(s, &st, 409, "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 2 conflicts: conflicts with \"applier\":\n- .data.k\nconflicts with \"editor\" using v1:\n- .data.k",
        "{st}"
    );
    let (s, cm) = patch(
        &server,
        &format!("{item}?fieldManager=rival&force=true"),
        APPLY,
        &rival,
    );
    assert_eq!(s, StatusCode::OK, "{cm}");
    assert_eq!(cm["data"]["k"], "v3");
    assert_managed(
        &server,
        item,
        &cm,
        &[
            applied(
                "applier",
                "v1",
                json!({"f:metadata": {"f:labels": {"f:owned": {}}}}),
            ),
            applied("rival", "v1", json!({"f:data": {"f:k": {}}})),
            update("creator", "v1", creator),
            update(
                "editor",
                "v1",
                json!({"f:metadata": {"f:labels": {"f:tier": {}}}}),
            ),
            update("patcher", "v1", patcher),
            update("jp", "v1", jp),
        ],
    );

    // `managedFields: []` resets them; the object is untracked from then on.
    let mut reset = cm.clone();
    reset["metadata"]["managedFields"] = json!([]);
    let (s, cm) = server.put(&format!("{item}?fieldManager=resetter"), &reset);
    assert_eq!(s, StatusCode::OK, "{cm}");
    assert_managed(&server, item, &cm, &[]);
    let mut more = cm.clone();
    more["data"]["later"] = json!("1");
    let (s, cm) = server.put(&format!("{item}?fieldManager=later"), &more);
    assert_eq!(s, StatusCode::OK, "{cm}");
    assert_managed(&server, item, &cm, &[]);
    // An apply to an untracked object: what it holds is `before-first-apply`'s.
    let (s, st) = patch(
        &server,
        &format!("{item}?fieldManager=late-applier"),
        APPLY,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"later": "2"}}),
    );
    crate::harness::assert_status(s, &st, 409, "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.later",
        "{st}"
    );
}

#[test]
fn secret_namespace_serviceaccount_event_lease() {
    let server = Server::start();

    // stringData is converted to data and `type` defaulted before the field
    // manager: the creator owns both (and no stringData).
    let path = "/api/v1/namespaces/default/secrets";
    let (s, sec) = server.post(
        &format!("{path}?fieldManager=creator"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"p": "pw"}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{sec}");
    assert_managed(
        &server,
        &format!("{path}/s"),
        &sec,
        &[update(
            "creator",
            "v1",
            json!({"f:data": {".": {}, "f:p": {}}, "f:type": {}}),
        )],
    );

    // A namespace: the defaulted name label is the creator's; the strategy's
    // spec.finalizers and the reset status are nobody's.
    let (s, ns) = server.post(
        "/api/v1/namespaces?fieldManager=creator",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{ns}");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    let label = json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}});
    assert_managed(
        &server,
        "/api/v1/namespaces/team",
        &ns,
        &[update("creator", "v1", label.clone())],
    );
    // A /status write: its own entry with `subresource: status`; the spec it
    // also sends is reset (GetResetFields), so not taken.
    let mut st = ns.clone();
    st["spec"] = json!({});
    st["status"]["conditions"] = json!([{"type": "Custom", "status": "True",
        "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "R", "message": "m"}]);
    let (s, ns) = server.put("/api/v1/namespaces/team/status?fieldManager=ctl", &st);
    assert_eq!(s, StatusCode::OK, "{ns}");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_managed(
        &server,
        "/api/v1/namespaces/team",
        &ns,
        &[
            update("creator", "v1", label.clone()),
            status_update(
                "ctl",
                "v1",
                json!({"f:status": {"f:conditions": {".": {},
                    "k:{\"type\":\"Custom\"}": {".": {}, "f:lastTransitionTime": {},
                        "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}}}}),
            ),
        ],
    );
    // The system namespaces are kube-apiserver's (its system-namespaces controller).
    let (_, default) = server.get("/api/v1/namespaces/default");
    assert_managed(
        &server,
        "/api/v1/namespaces/default",
        &default,
        &[update("kube-apiserver", "v1", label)],
    );

    // ServiceAccount: secrets is a list map of atomic ObjectReferences, the
    // image pull secrets an atomic list.
    let path = "/api/v1/namespaces/default/serviceaccounts";
    let (s, sa) = server.post(
        &format!("{path}?fieldManager=creator"),
        &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
            "secrets": [{"name": "s1"}], "imagePullSecrets": [{"name": "p"}],
            "automountServiceAccountToken": false}),
    );
    assert_eq!(s, StatusCode::CREATED, "{sa}");
    assert_managed(
        &server,
        &format!("{path}/sa"),
        &sa,
        &[update(
            "creator",
            "v1",
            json!({"f:automountServiceAccountToken": {}, "f:imagePullSecrets": {},
                "f:secrets": {".": {}, "k:{\"name\":\"s1\"}": {}}}),
        )],
    );
    // Only a name: nothing owned, no managedFields at all.
    let (s, bare) = server.post(
        &format!("{path}?fieldManager=creator"),
        &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bare"}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{bare}");
    assert_managed(&server, &format!("{path}/bare"), &bare, &[]);

    // Event: involvedObject is atomic (owned whole), source existed in the
    // empty Event (only its component is new).
    let path = "/api/v1/namespaces/default/events";
    let (s, ev) = server.post(
        &format!("{path}?fieldManager=recorder"),
        &json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "ConfigMap", "name": "cm", "namespace": "default"},
            "reason": "Tested", "message": "m", "type": "Normal", "count": 1,
            "source": {"component": "tester"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}),
    );
    assert_eq!(s, StatusCode::CREATED, "{ev}");
    assert_managed(
        &server,
        &format!("{path}/e"),
        &ev,
        &[update(
            "recorder",
            "v1",
            json!({"f:count": {}, "f:firstTimestamp": {}, "f:involvedObject": {},
                "f:lastTimestamp": {}, "f:message": {}, "f:reason": {},
                "f:source": {"f:component": {}}, "f:type": {}}),
        )],
    );

    // Lease: spec is in the empty Lease (no "."); a renewal takes the time.
    let path = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let (s, lease) = server.post(
        &format!("{path}?fieldManager=holder"),
        &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l"},
            "spec": {"holderIdentity": "h", "leaseDurationSeconds": 15}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{lease}");
    let holder = json!({"f:spec": {"f:holderIdentity": {}, "f:leaseDurationSeconds": {}}});
    assert_managed(
        &server,
        &format!("{path}/l"),
        &lease,
        &[update("holder", "coordination.k8s.io/v1", holder.clone())],
    );
    let (s, lease) = patch(
        &server,
        &format!("{path}/l?fieldManager=renewer"),
        MERGE,
        &json!({"spec": {"renewTime": "2026-01-01T00:00:00.000000Z"}}),
    );
    assert_eq!(s, StatusCode::OK, "{lease}");
    assert_managed(
        &server,
        &format!("{path}/l"),
        &lease,
        &[
            update("holder", "coordination.k8s.io/v1", holder),
            update(
                "renewer",
                "coordination.k8s.io/v1",
                json!({"f:spec": {"f:renewTime": {}}}),
            ),
        ],
    );
}

const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

#[test]
fn crds_and_custom_resources() {
    let server = Server::start();
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer"},
                        "replicas": {"type": "integer", "default": 3},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"], "properties": {
                                "name": {"type": "string"}, "port": {"type": "integer"}}}}}},
                    "status": {"type": "object", "properties": {
                        "ready": {"type": "boolean"}, "replicas": {"type": "integer"}}}}}}}]}});
    let (s, created) = server.post(&format!("{CRD}?fieldManager=creator"), &crd);
    assert_eq!(s, StatusCode::CREATED, "{created}");
    // v1 defaulting gave the names and the conversion (owned by the creator,
    // "." on the new conversion struct); versions is an atomic list; the
    // status the strategy set is reset, nobody's.
    assert_eq!(created["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(created["spec"]["names"]["singular"], "widget");
    assert_eq!(created["spec"]["names"]["listKind"], "WidgetList");
    let creator = update(
        "creator",
        "apiextensions.k8s.io/v1",
        json!({"f:spec": {"f:conversion": {".": {}, "f:strategy": {}}, "f:group": {},
            "f:names": {"f:kind": {}, "f:listKind": {}, "f:plural": {}, "f:singular": {}},
            "f:scope": {}, "f:versions": {}}}),
    );
    assert_eq!(
        managed(&created),
        expect(std::slice::from_ref(&creator)),
        "{created}"
    );
    // The controller's status (upstream's apiextensions controllers write it
    // with UpdateStatus as kube-apiserver); conditions was null before, so
    // no "." on it.
    let item = format!("{CRD}/widgets.example.com");
    let mut stored = Value::Null;
    eventually("the CRD to be established", || {
        stored = server.get(&item).1;
        stored["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
    });
    let condition = json!({".": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {},
        "f:status": {}, "f:type": {}});
    assert_eq!(
        managed(&stored),
        expect(&[
            creator,
            status_update(
                "kube-apiserver",
                "apiextensions.k8s.io/v1",
                json!({"f:status": {
                    "f:acceptedNames": {"f:kind": {}, "f:listKind": {}, "f:plural": {},
                        "f:singular": {}},
                    "f:conditions": {"k:{\"type\":\"Established\"}": condition.clone(),
                        "k:{\"type\":\"NamesAccepted\"}": condition}}}),
            ),
        ]),
        "{stored}"
    );
    eventually("widgets to be served", || {
        server.get(WIDGETS).0 == StatusCode::OK
    });

    // A custom resource: the empty object has no spec, so spec gets "."; the
    // schema default (replicas) is the creator's; status is reset.
    let (s, w) = server.post(
        &format!("{WIDGETS}?fieldManager=creator"),
        &json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "labels": {"a": "b"}},
            "spec": {"size": 1, "tags": {"x": "y"}, "ports": [{"name": "http", "port": 80}]},
            "status": {"ready": true}}),
    );
    assert_eq!(s, StatusCode::CREATED, "{w}");
    assert!(w.get("status").is_none(), "{w}");
    let item = format!("{WIDGETS}/w");
    let creator = json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:ports": {".": {},
                "k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:replicas": {}, "f:size": {}, "f:tags": {".": {}, "f:x": {}}}});
    assert_managed(
        &server,
        &item,
        &w,
        &[update("creator", "example.com/v1", creator.clone())],
    );
    // /status: a merge patch; the status is new ("."); its own entry.
    let (s, w) = patch(
        &server,
        &format!("{item}/status?fieldManager=ctl"),
        MERGE,
        &json!({"status": {"ready": true}, "spec": {"size": 9}}),
    );
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["spec"]["size"], 1, "spec is reset on /status: {w}");
    let ctl = status_update(
        "ctl",
        "example.com/v1",
        json!({"f:status": {".": {}, "f:ready": {}}}),
    );
    assert_managed(
        &server,
        &item,
        &w,
        &[
            update("creator", "example.com/v1", creator.clone()),
            ctl.clone(),
        ],
    );
    // Apply of size conflicts with the creator's update entry; forcing takes it.
    let config = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"size": 2, "ports": [{"name": "http", "port": 80}]}});
    let (s, st) = patch(
        &server,
        &format!("{item}?fieldManager=applier"),
        APPLY,
        &config,
    );
    crate::harness::assert_status(s, &st, 409, "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 1 conflict: conflict with \"creator\" using example.com/v1: .spec.size",
        "{st}"
    );
    let (s, w) = patch(
        &server,
        &format!("{item}?fieldManager=applier&force=true"),
        APPLY,
        &config,
    );
    assert_eq!(s, StatusCode::OK, "{w}");
    let creator = json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:ports": {".": {},
                "k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:replicas": {}, "f:tags": {".": {}, "f:x": {}}}});
    assert_managed(
        &server,
        &item,
        &w,
        &[
            applied(
                "applier",
                "example.com/v1",
                json!({"f:spec": {"f:ports": {
                        "k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
                    "f:size": {}}}),
            ),
            update("creator", "example.com/v1", creator),
            ctl.clone(),
        ],
    );

    // /scale: an entry of the scale subresource with the replicas path,
    // which its other owner loses; upstream's scale handler gives such
    // entries no time.
    let (s, scale) = patch(
        &server,
        &format!("{item}/scale?fieldManager=scaler"),
        MERGE,
        &json!({"spec": {"replicas": 5}}),
    );
    assert_eq!(s, StatusCode::OK, "{scale}");
    let (_, w) = server.get(&item);
    assert_eq!(w["spec"]["replicas"], 5, "{w}");
    let entry = w["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == "scaler"))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(entry.get("time").is_none(), "{entry}");
    let creator = json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:ports": {".": {},
                "k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:tags": {".": {}, "f:x": {}}}});
    assert_managed(
        &server,
        &item,
        &w,
        &[
            applied(
                "applier",
                "example.com/v1",
                json!({"f:spec": {"f:ports": {
                        "k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
                    "f:size": {}}}),
            ),
            update("creator", "example.com/v1", creator),
            ctl,
            json!({"apiVersion": "example.com/v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}}, "manager": "scaler",
                "operation": "Update", "subresource": "scale"}),
        ],
    );
}

fn kubectl_json(k: &Kubectl, args: &[&str]) -> Value {
    let out = k.run(args);
    serde_json::from_str(out.ok())
        .unwrap_or_else(|e| panic!("{} ({e}): {}", out.cmdline, out.stdout))
}

#[test]
fn kubectl_protobuf_creates_and_label_annotate_apply() {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let t = k.tag();
        // `kubectl create configmap|namespace|secret` (1.32+: protobuf bodies),
        // manager kubectl-create.
        let cm = format!("pb-{t}");
        k.run(&["create", "configmap", &cm, "--from-literal=a=1"])
            .ok();
        let path = format!("/api/v1/namespaces/default/configmaps/{cm}");
        let (_, obj) = server.get(&path);
        assert_managed(
            &server,
            &path,
            &obj,
            &[update(
                "kubectl-create",
                "v1",
                json!({"f:data": {".": {}, "f:a": {}}}),
            )],
        );
        let ns = format!("pb-ns-{t}");
        k.run(&["create", "namespace", &ns]).ok();
        let path = format!("/api/v1/namespaces/{ns}");
        let (_, obj) = server.get(&path);
        assert_managed(
            &server,
            &path,
            &obj,
            &[update(
                "kubectl-create",
                "v1",
                json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}}),
            )],
        );
        let sec = format!("pb-sec-{t}");
        k.run(&["create", "secret", "generic", &sec, "--from-literal=p=x"])
            .ok();
        let path = format!("/api/v1/namespaces/default/secrets/{sec}");
        let (_, obj) = server.get(&path);
        assert_managed(
            &server,
            &path,
            &obj,
            &[update(
                "kubectl-create",
                "v1",
                json!({"f:data": {".": {}, "f:p": {}}, "f:type": {}}),
            )],
        );

        // A ServiceAccount with only its name: nothing owned, no managedFields.
        let sa = format!("pb-sa-{t}");
        k.run(&["create", "serviceaccount", &sa]).ok();
        let path = format!("/api/v1/namespaces/default/serviceaccounts/{sa}");
        let (_, obj) = server.get(&path);
        assert_managed(&server, &path, &obj, &[]);

        // label / annotate (merge patches): labels were absent, so ".";
        // removing the last label removes the map, and the entry with it.
        k.run(&["label", "configmap", &cm, "team=a"]).ok();
        k.run(&["annotate", "configmap", &cm, "note=n"]).ok();
        let path = format!("/api/v1/namespaces/default/configmaps/{cm}");
        let (_, obj) = server.get(&path);
        let creator = update(
            "kubectl-create",
            "v1",
            json!({"f:data": {".": {}, "f:a": {}}}),
        );
        assert_managed(
            &server,
            &path,
            &obj,
            &[
                creator.clone(),
                update(
                    "kubectl-label",
                    "v1",
                    json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}),
                ),
                update(
                    "kubectl-annotate",
                    "v1",
                    json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}}}),
                ),
            ],
        );
        k.run(&["label", "configmap", &cm, "team-"]).ok();
        let (_, obj) = server.get(&path);
        assert!(obj["metadata"].get("labels").is_none(), "{obj}");
        assert_managed(
            &server,
            &path,
            &obj,
            &[
                creator,
                update(
                    "kubectl-annotate",
                    "v1",
                    json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}}}),
                ),
            ],
        );

        // Client-side apply (manager kubectl-client-side-apply) and
        // server-side apply (kubectl, Apply: no "." on data or labels).
        let name = format!("applied-{t}");
        let file = server.write_file(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    app: x\ndata:\n  k: v\n"
            ),
        );
        let file = file.to_str().expect("utf-8 path");
        k.run(&["apply", "-f", file]).ok();
        let path = format!("/api/v1/namespaces/default/configmaps/{name}");
        let (_, obj) = server.get(&path);
        assert_managed(
            &server,
            &path,
            &obj,
            &[update(
                "kubectl-client-side-apply",
                "v1",
                json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {
                    "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                    "f:labels": {".": {}, "f:app": {}}}}),
            )],
        );
        let ssa = format!("ssa-{t}");
        let file = server.write_file(
            &format!("{ssa}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {ssa}\n  labels:\n    app: x\ndata:\n  k: v\n"
            ),
        );
        k.run(&[
            "apply",
            "--server-side",
            "-f",
            file.to_str().expect("utf-8"),
        ])
        .ok();
        let obj = kubectl_json(
            &k,
            &[
                "get",
                "configmap",
                &ssa,
                "-o",
                "json",
                "--show-managed-fields",
            ],
        );
        assert_managed(
            &server,
            &format!("/api/v1/namespaces/default/configmaps/{ssa}"),
            &obj,
            &[applied(
                "kubectl",
                "v1",
                json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}),
            )],
        );
    }
}
