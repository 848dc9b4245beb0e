//! `deletecollection` (`DELETE` on a collection), checked by its effect: what
//! is left in storage (read back, also after a restart), and what a watcher
//! from a resourceVersion before the request receives. Each object goes the
//! way a single delete with the same options would take it: removed, or kept
//! with a `deletionTimestamp` while a finalizer holds it, or left alone by a
//! dry run or a failed precondition.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, assert_status, http_client, on_etcd, run_python};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn rv_of(v: &Value) -> String {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}

/// A ConfigMap with labels and finalizers.
fn configmap(name: &str, app: &str, finalizers: &[&str]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": app}, "finalizers": finalizers},
        "data": {"k": name},
    })
}

fn create(server: &Server, collection: &str, body: &Value) {
    let (status, created) = server.post(collection, body);
    assert_eq!(status, StatusCode::CREATED, "create: {created}");
}

/// `DELETE collection?query` with an optional DeleteOptions body.
fn delete_collection(
    server: &Server,
    collection: &str,
    query: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = server
        .http()
        .delete(server.at(&format!("{collection}?{query}")));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    crate::harness::into_json(req.send().expect("DELETE collection"))
}

/// The first `n` events of a watch of `collection` from `rv`.
fn events_since(server: &Server, collection: &str, rv: &str, n: usize) -> Vec<(String, String)> {
    let r = http_client(Duration::from_secs(30))
        .get(server.at(&format!(
            "{collection}?watch=true&resourceVersion={rv}&timeoutSeconds=10"
        )))
        .send()
        .expect("watch GET");
    assert_eq!(r.status(), StatusCode::OK, "watch from {rv}");
    let mut out = Vec::new();
    for line in BufReader::new(r).lines() {
        let line = line.expect("read watch stream");
        if line.trim().is_empty() {
            continue;
        }
        let ev: Value = serde_json::from_str(&line).expect("watch line is JSON");
        let name = ev["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        out.push((ev["type"].as_str().unwrap_or("").to_string(), name));
        if out.len() == n {
            break;
        }
    }
    assert_eq!(out.len(), n, "the watch from {rv} ended early: {out:?}");
    out
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

fn exists(server: &Server, collection: &str, name: &str) -> Option<Value> {
    let (status, body) = server.get(&format!("{collection}/{name}"));
    match status {
        StatusCode::OK => Some(body),
        StatusCode::NOT_FOUND => None,
        other => panic!("GET {name}: {other} {body}"),
    }
}

/// The scenario on one server: dry run, a failed precondition, then the real
/// thing with a label selector, checked in storage and by a watch.
fn configmaps_scenario(server: &mut Server) {
    let (_, before) = server.get(CMS);
    let rv0 = rv_of(&before);
    create(server, CMS, &configmap("a1", "a", &[]));
    create(server, CMS, &configmap("a2", "a", &[]));
    create(server, CMS, &configmap("held", "a", &["example.com/hold"]));
    create(server, CMS, &configmap("b1", "b", &[]));
    // A list first, so the watch cache serves lists (the path that used to
    // answer without deleting anything).
    let (_, listed) = server.get(&format!("{CMS}?labelSelector=app%3Da"));
    assert_eq!(names(&listed), ["a1", "a2", "held"]);

    // Dry run, in the query and in the body: nothing changes.
    for (query, body) in [
        ("labelSelector=app%3Da&dryRun=All", None),
        (
            "labelSelector=app%3Da",
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})),
        ),
    ] {
        let (status, answer) = delete_collection(server, CMS, query, body.as_ref());
        assert_eq!(status, StatusCode::OK, "dry run: {answer}");
        assert_eq!(answer["kind"], "ConfigMapList", "{answer}");
        assert_eq!(names(&answer), ["a1", "a2", "held"], "{answer}");
        for n in ["a1", "a2", "held", "b1"] {
            let obj = exists(server, CMS, n).unwrap_or_else(|| panic!("{n} gone after a dry run"));
            assert!(
                obj["metadata"].get("deletionTimestamp").is_none(),
                "{n} marked by a dry run: {obj}"
            );
        }
    }

    // A precondition that no object meets: the first delete fails, the
    // request answers its 409, and nothing is deleted.
    let (status, answer) = delete_collection(
        server,
        CMS,
        "labelSelector=app%3Da",
        Some(&json!({"preconditions": {"uid": "no-such-uid"}})),
    );
    assert_status(status, &answer, 409, "Conflict");
    for n in ["a1", "a2", "held", "b1"] {
        assert!(
            exists(server, CMS, n).is_some(),
            "{n} deleted despite the failed precondition"
        );
    }

    // The real thing, with kubectl's usual body.
    let (_, mid) = server.get(CMS);
    let rv1 = rv_of(&mid);
    let (status, answer) = delete_collection(
        server,
        CMS,
        "labelSelector=app%3Da",
        Some(
            &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}),
        ),
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kind"], "ConfigMapList", "{answer}");
    assert_eq!(answer["apiVersion"], "v1", "{answer}");
    assert_eq!(names(&answer), ["a1", "a2", "held"], "{answer}");

    // In storage: a1, a2 gone; held kept and marked; b1 untouched.
    assert!(exists(server, CMS, "a1").is_none(), "a1 still there");
    assert!(exists(server, CMS, "a2").is_none(), "a2 still there");
    let held = exists(server, CMS, "held").expect("held is kept by its finalizer");
    assert!(
        held["metadata"]["deletionTimestamp"].is_string(),
        "held is not marked for deletion: {held}"
    );
    let b1 = exists(server, CMS, "b1").expect("b1 does not match and stays");
    assert!(b1["metadata"].get("deletionTimestamp").is_none(), "{b1}");
    let (_, left) = server.get(CMS);
    assert_eq!(names(&left), ["b1", "held"], "{left}");

    // A watcher from before the request sees each delete (and the mark).
    let mut events = events_since(server, CMS, &rv1, 3);
    events.sort();
    assert_eq!(
        events,
        [
            ("DELETED".to_string(), "a1".to_string()),
            ("DELETED".to_string(), "a2".to_string()),
            ("MODIFIED".to_string(), "held".to_string()),
        ]
    );
    // And one from before everything sees the whole history in order.
    let all = events_since(server, CMS, &rv0, 7);
    let kinds: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ADDED", "ADDED", "ADDED", "ADDED", "DELETED", "DELETED", "MODIFIED"
        ],
        "{all:?}"
    );

    // A second deletecollection leaves the held object as it is.
    let (status, again) = delete_collection(server, CMS, "labelSelector=app%3Da", None);
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(names(&again), ["held"], "{again}");
    assert_eq!(
        exists(server, CMS, "held").expect("held")["metadata"]["deletionTimestamp"],
        held["metadata"]["deletionTimestamp"]
    );

    // Gone for good: after a restart too.
    server.restart();
    let (_, after) = server.get(CMS);
    assert_eq!(names(&after), ["b1", "held"], "after restart: {after}");
}

#[test]
fn deletes_what_it_selects_on_the_embedded_store() {
    let mut server = Server::start();
    configmaps_scenario(&mut server);
}

#[test]
fn deletes_what_it_selects_on_etcd() {
    on_etcd(|| {
        let mut server = Server::start();
        configmaps_scenario(&mut server);
    });
}

#[test]
fn python_client_deletes_collections_of_secrets_and_configmaps() {
    let server = Server::start();
    let secrets = "/api/v1/namespaces/default/secrets";
    for (name, app) in [("s1", "x"), ("s2", "x"), ("s3", "y")] {
        create(
            &server,
            secrets,
            &json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name, "labels": {"app": app}},
                    "stringData": {"k": "v"}}),
        );
    }
    for (name, app) in [("c1", "x"), ("c2", "y")] {
        create(&server, CMS, &configmap(name, app, &[]));
    }
    let out = run_python(&server, "delete_collection.py", &[]);
    let stdout = out.ok();
    assert!(stdout.contains("deleted secrets: s1,s2"), "{stdout}");
    assert!(stdout.contains("deleted configmaps: c1,c2"), "{stdout}");
    let (_, left) = server.get(secrets);
    assert_eq!(names(&left), ["s3"], "{left}");
    let (_, left) = server.get(CMS);
    assert_eq!(names(&left), Vec::<String>::new(), "{left}");
}

#[test]
fn custom_resources_are_deleted_by_collection() {
    let server = Server::start();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]
        }
    });
    create(
        &server,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd,
    );
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    server.wait_served(widgets);
    for (name, app) in [("w1", "x"), ("w2", "x"), ("w3", "y")] {
        create(
            &server,
            widgets,
            &json!({"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": name, "labels": {"app": app}}, "spec": {}}),
        );
    }
    let (_, before) = server.get(widgets);
    let rv = rv_of(&before);
    let (status, answer) = delete_collection(&server, widgets, "labelSelector=app%3Dx", None);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kind"], "WidgetList", "{answer}");
    assert_eq!(names(&answer), ["w1", "w2"], "{answer}");
    let (_, left) = server.get(widgets);
    assert_eq!(names(&left), ["w3"], "{left}");
    let mut events = events_since(&server, widgets, &rv, 2);
    events.sort();
    assert_eq!(
        events,
        [
            ("DELETED".to_string(), "w1".to_string()),
            ("DELETED".to_string(), "w2".to_string()),
        ]
    );
}
