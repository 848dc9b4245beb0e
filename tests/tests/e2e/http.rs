//! Raw HTTP checks of behaviours clients rely on (status codes, `Status`
//! bodies, list metadata, watch framing).

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Server, Watch, assert_status, configmap, has_event, into_json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn post_without_content_type_is_json() {
    let server = Server::start_in_process();
    let body = configmap("default", "no-ctype", &[("a", "b")]).to_string();
    let r = server
        .http()
        .post(server.at(CMS))
        .body(body)
        .send()
        .expect("POST");
    let (status, obj) = into_json(r);
    assert_eq!(status, StatusCode::CREATED, "{obj}");
    assert_eq!(obj["metadata"]["name"], "no-ctype", "{obj}");
    assert_eq!(obj["data"]["a"], "b", "{obj}");
    assert!(
        obj["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{obj}"
    );
}

#[test]
fn malformed_json_is_bad_request() {
    let server = Server::start_in_process();
    let r = server
        .http()
        .post(server.at(CMS))
        .header("Content-Type", "application/json")
        .body(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"#)
        .send()
        .expect("POST");
    let (status, body) = into_json(r);
    assert_status(status, &body, 400, "BadRequest");
}

#[test]
fn oversized_body_is_413() {
    let server = Server::start_in_process();
    let big = "x".repeat(3 * 1024 * 1024 + 1024);
    let body = configmap("default", "big", &[("blob", &big)]).to_string();
    let r = server
        .http()
        .post(server.at(CMS))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .unwrap_or_else(|e| {
            panic!("POST of a >3 MiB body should get a 413 answer, got a transport error: {e:?}")
        });
    let (status, body) = into_json(r);
    assert_status(status, &body, 413, "RequestEntityTooLarge");
    let (status, _) = server.get(&format!("{CMS}/big"));
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the big object was not stored"
    );
}

#[test]
fn put_name_mismatch_is_bad_request() {
    let server = Server::start_in_process();
    server.create_configmap("default", "a", &[("k", "v")]);
    let (status, body) = server.put(
        &format!("{CMS}/a"),
        &configmap("default", "b", &[("k", "v2")]),
    );
    assert_status(status, &body, 400, "BadRequest");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("does not match the name on the URL"),
        "message: {msg}"
    );
}

#[test]
pub(crate) fn put_with_stale_resource_version_conflicts() {
    let server = Server::start_in_process();
    let created = server.create_configmap("default", "x", &[("k", "v1")]);
    let rv1 = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();

    let mut update = created.clone();
    update["data"] = json!({"k": "v2"});
    let (status, updated) = server.put(&format!("{CMS}/x"), &update);
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["k"], "v2", "{updated}");
    assert_ne!(
        updated["metadata"]["resourceVersion"], rv1,
        "the resourceVersion changes on update"
    );

    let mut stale = created.clone();
    stale["data"] = json!({"k": "stale"});
    let (status, body) = server.put(&format!("{CMS}/x"), &stale);
    assert_status(status, &body, 409, "Conflict");
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on configmaps \"x\": the object has been modified; \
         please apply your changes to the latest version and try again",
        "{body}"
    );
    let (_, now) = server.get(&format!("{CMS}/x"));
    assert_eq!(
        now["data"]["k"], "v2",
        "the stale write was not applied: {now}"
    );
}

#[test]
fn unknown_resource_is_404_status() {
    let server = Server::start_in_process();
    let (status, body) = server.get("/api/v1/namespaces/default/widgets");
    assert_status(status, &body, 404, "NotFound");

    let (status, body) = server.get(&format!("{CMS}/absent"));
    assert_status(status, &body, 404, "NotFound");
    assert_eq!(body["message"], "configmaps \"absent\" not found", "{body}");
    assert_eq!(body["details"]["name"], "absent", "{body}");
    assert_eq!(body["details"]["kind"], "configmaps", "{body}");
}

#[test]
pub(crate) fn write_into_missing_namespace_is_404() {
    let server = Server::start_in_process();
    let (status, body) = server.post(
        "/api/v1/namespaces/nope/configmaps",
        &configmap("nope", "c", &[]),
    );
    assert_status(status, &body, 404, "NotFound");
    assert_eq!(body["message"], "namespaces \"nope\" not found", "{body}");
}

#[test]
fn version_with_and_without_slash() {
    let server = Server::start_in_process();
    for path in ["/version", "/version/"] {
        let (status, v) = server.get(path);
        assert_eq!(status, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["major"], "1", "{path}: {v}");
        assert!(
            v["minor"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {v}"
        );
        assert!(
            v["gitVersion"]
                .as_str()
                .is_some_and(|g| g.starts_with("v1.")),
            "{path}: {v}"
        );
    }
}

#[test]
pub(crate) fn lists_carry_resource_version() {
    let server = Server::start_in_process();
    server.create_configmap("default", "listed", &[("a", "b")]);
    let (status, list) = server.get(CMS);
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["kind"], "ConfigMapList", "{list}");
    assert_eq!(list["apiVersion"], "v1", "{list}");
    assert!(
        list["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|rv| !rv.is_empty()),
        "list metadata.resourceVersion: {list}"
    );
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"listed"), "{names:?}");

    let (status, nss) = server.get("/api/v1/namespaces");
    assert_eq!(status, StatusCode::OK, "{nss}");
    assert_eq!(nss["kind"], "NamespaceList", "{nss}");
    assert!(
        nss["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|rv| !rv.is_empty()),
        "{nss}"
    );
    let names: Vec<&str> = nss["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&ns), "namespace {ns} missing: {names:?}");
    }
}

/// Opens a watch of ConfigMaps in `default` (`query` after `?`) and checks
/// its Content-Type.
fn open_watch(server: &Server, query: &str) -> Watch {
    let w = server.watch(&format!("{CMS}?{query}"));
    assert!(
        w.content_type().starts_with("application/json"),
        "watch Content-Type: {:?}",
        w.content_type()
    );
    w
}

#[test]
pub(crate) fn watch_streams_json_lines() {
    let server = Server::start_in_process();
    server.create_configmap("default", "w1", &[("a", "1")]);

    // Without resourceVersion: synthetic ADDED for what exists; the server
    // ends the stream after timeoutSeconds (the shortest, 1 s).
    let events = open_watch(&server, "watch=true&timeoutSeconds=1").until_end();
    assert!(has_event(&events, "ADDED", "w1"), "{events:?}");

    // From the list's resourceVersion: only what happens afterwards.
    let (_, list) = server.get(CMS);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    let mut watch = open_watch(
        &server,
        &format!("watch=true&timeoutSeconds=30&resourceVersion={rv}"),
    );
    server.create_configmap("default", "w2", &[("b", "2")]);
    // A last change: events come in resourceVersion order, so anything the
    // watch would wrongly replay comes before it.
    server.create_configmap("default", "w3", &[("c", "3")]);
    let events = watch.events_until(|e| e["object"]["metadata"]["name"] == "w3");
    assert!(has_event(&events, "ADDED", "w2"), "{events:?}");
    assert!(
        !has_event(&events, "ADDED", "w1"),
        "a watch from rv {rv} must not replay w1: {events:?}"
    );
    for e in &events {
        assert!(
            e["object"]["metadata"]["resourceVersion"].is_string(),
            "event object without resourceVersion: {e}"
        );
    }
}

#[test]
fn watch_list_needs_resource_version_match() {
    let server = Server::start_in_process();
    server.create_configmap("default", "initial", &[("a", "1")]);

    let (status, body) = server.get(&format!("{CMS}?watch=true&sendInitialEvents=true"));
    assert_status(status, &body, 422, "Invalid");

    // A watch-list: the initial state as ADDED events, then a BOOKMARK
    // marking their end.
    let events = open_watch(
        &server,
        "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
         &allowWatchBookmarks=true&timeoutSeconds=30",
    )
    .events_until(|e| {
        e["type"] == "BOOKMARK"
            && e["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"
    });
    let end = events.len() - 1;
    assert!(
        has_event(&events[..end], "ADDED", "initial"),
        "ADDED before the bookmark: {events:?}"
    );
    assert!(
        events[..end].iter().all(|e| e["type"] == "ADDED"),
        "only ADDED before the bookmark: {events:?}"
    );
    let bookmark = &events[end]["object"];
    assert_eq!(bookmark["kind"], "ConfigMap", "{bookmark}");
    assert_eq!(bookmark["apiVersion"], "v1", "{bookmark}");
    assert!(
        bookmark["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|rv| !rv.is_empty()),
        "{bookmark}"
    );
}
