//! kapi's answers against kube-apiserver 1.36's, recorded as test data in
//! `tests/upstream/*.json` (each file says which upstream code gives each
//! answer). Bodies are compared as JSON values (member order aside), with
//! `"$any"` standing for a value that must be there but differs per run;
//! headers that clients read are compared exactly.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::harness::Server;

/// The recorded answers of `tests/upstream/<name>.json`.
fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("upstream")
        .join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Where `actual` differs from `expected` (`"$any"` matches any value that
/// is present), as JSON-pointer-like paths; empty when they match.
fn differences(actual: &Value, expected: &Value, at: &str, out: &mut Vec<String>) {
    match (actual, expected) {
        (_, Value::String(s)) if s == "$any" => {}
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => differences(av, ev, &format!("{at}/{k}"), out),
                    None => out.push(format!("{at}/{k}: missing (upstream: {ev})")),
                }
            }
            for (k, av) in a {
                if !e.contains_key(k) {
                    out.push(format!("{at}/{k}: {av} (upstream has no such member)"));
                }
            }
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => {
            for (i, (av, ev)) in a.iter().zip(e).enumerate() {
                differences(av, ev, &format!("{at}/{i}"), out);
            }
        }
        _ if actual == expected => {}
        _ => out.push(format!("{at}: {actual} (upstream: {expected})")),
    }
}

#[track_caller]
fn assert_matches(what: &str, actual: &Value, expected: &Value) {
    let mut diffs = Vec::new();
    differences(actual, expected, "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what} differs from upstream's answer:\n  {}\nkapi's answer: {actual}",
        diffs.join("\n  ")
    );
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends one recorded request: `method`, `path`, optional `content_type`
/// and `body` (a string is sent as it is, anything else as JSON).
fn send(server: &Server, req: &Value) -> Response {
    let method = req["method"].as_str().unwrap_or("GET");
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let path = req["path"].as_str().expect("a path");
    // As every real client, it names itself (the field manager's name).
    let mut r = server
        .http()
        .request(method, server.at(path))
        .header("User-Agent", "upstream-answers/1.0");
    if let Some(ct) = req["content_type"].as_str() {
        r = r.header("Content-Type", ct);
    }
    if let Some(accept) = req["accept"].as_str() {
        r = r.header("Accept", accept);
    }
    match &req["body"] {
        Value::Null => {}
        Value::String(s) => r = r.body(s.clone()),
        other => {
            r = r
                .header("Content-Type", "application/json")
                .body(other.to_string())
        }
    }
    r.send().unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs a data file's `setup` requests, each of which must succeed.
fn set_up(server: &Server, data: &Value) {
    for req in data["setup"].as_array().into_iter().flatten() {
        let r = send(server, req);
        let status = r.status();
        assert!(
            status.is_success(),
            "set-up {req}: {status} {}",
            r.text().unwrap_or_default()
        );
    }
}

fn json_of(r: Response) -> Value {
    let text = r.text().unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Upstream's entries without those kapi does not serve yet (named in the
/// data, and checked to be exactly what kapi lacks).
fn served_entries(entries: &Value, not_served: &[String], name_key: &str) -> Vec<Value> {
    entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| !not_served.iter().any(|n| e[name_key] == *n))
        .cloned()
        .collect()
}

fn not_served(data: &Value) -> Vec<String> {
    data["not_served_yet"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[test]
fn legacy_discovery_lists_what_upstream_lists() {
    let server = Server::start();
    let data = recorded("discovery");
    let missing = not_served(&data);
    for (path, upstream) in data["legacy"].as_object().expect("legacy") {
        let (status, kapi) = server.get(path);
        assert_eq!(status, StatusCode::OK, "GET {path}");
        let mut expected = upstream.clone();
        expected["resources"] = json!(served_entries(&upstream["resources"], &missing, "name"));
        assert_matches(&format!("GET {path}"), &kapi, &expected);
    }
    // What is not served yet is exactly what the data names, so the list
    // shrinks as kapi grows.
    let (_, core) = server.get("/api/v1");
    for name in &missing {
        let (resource, sub) = name.split_once('/').expect("a subresource");
        assert!(
            !core["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == *name),
            "{name} is served now: remove it from not_served_yet"
        );
        assert!(
            core["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == resource),
            "{resource} (parent of {sub}) should be served"
        );
    }
}

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// An aggregated discovery item without the subresources kapi does not serve.
fn without_unserved(item: &Value, missing: &[String]) -> Value {
    let mut item = item.clone();
    for v in item["versions"].as_array_mut().into_iter().flatten() {
        for r in v["resources"].as_array_mut().into_iter().flatten() {
            let plural = r["resource"].as_str().unwrap_or("").to_string();
            let Some(map) = r.as_object_mut() else {
                continue;
            };
            if let Some(subs) = map.get_mut("subresources").and_then(Value::as_array_mut) {
                subs.retain(|s| {
                    let name = format!("{plural}/{}", s["subresource"].as_str().unwrap_or(""));
                    !missing.contains(&name)
                });
                if subs.is_empty() {
                    map.remove("subresources");
                }
            }
        }
    }
    item
}

fn aggregated(server: &Server, path: &str) -> (Value, Response) {
    let r = server
        .http()
        .get(server.at(path))
        .header("Accept", AGGREGATED)
        .send()
        .expect("aggregated discovery");
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some(AGGREGATED),
        "{path}"
    );
    assert_eq!(header(&r, "vary").as_deref(), Some("Accept"), "{path}");
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public"),
        "{path}"
    );
    let etag = header(&r, "etag").unwrap_or_default();
    assert!(
        etag.len() == 130 && etag.starts_with('"') && etag.ends_with('"'),
        "{path}: ETag should be the quoted hex SHA-512 of the body, got {etag:?}"
    );
    let text = r.text().unwrap_or_default();
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let again = server
        .http()
        .get(server.at(path))
        .header("Accept", AGGREGATED)
        .header("If-None-Match", &etag)
        .send()
        .expect("conditional discovery");
    assert_eq!(
        again.status(),
        StatusCode::NOT_MODIFIED,
        "{path} with its ETag"
    );
    (v, again)
}

#[test]
fn aggregated_discovery_as_upstream() {
    let server = Server::start();
    let data = recorded("discovery");
    let missing = not_served(&data);
    let (api, _) = aggregated(&server, "/api");
    assert_matches(
        "aggregated /api",
        &api,
        &json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": [without_unserved(&data["aggregated"]["core"], &missing)],
        }),
    );
    let (apis, _) = aggregated(&server, "/apis");
    assert_eq!(apis["kind"], "APIGroupDiscoveryList");
    assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2");
    assert_eq!(apis["metadata"], json!({}));
    for group in data["aggregated"]["groups"].as_array().expect("groups") {
        let name = &group["metadata"]["name"];
        let kapi = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == *name)
            .unwrap_or_else(|| panic!("group {name} missing from /apis"));
        assert_matches(&format!("aggregated group {name}"), kapi, group);
    }
}

#[test]
fn custom_resource_discovery_as_upstream() {
    let server = Server::start();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                        "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    });
    let (status, body) = server.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd,
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server.wait_served("/apis/example.com/v1/namespaces/default/widgets");
    let data = recorded("discovery");
    let (status, legacy) = server.get("/apis/example.com/v1");
    assert_eq!(status, StatusCode::OK);
    assert_matches(
        "GET /apis/example.com/v1",
        &legacy,
        &data["custom"]["legacy"],
    );
    let (apis, _) = aggregated(&server, "/apis");
    let kapi = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "example.com")
        .expect("example.com in /apis");
    assert_matches(
        "aggregated example.com",
        kapi,
        &data["custom"]["aggregated"],
    );
}

#[test]
fn failures_answer_as_upstream() {
    let server = Server::start();
    let data = recorded("errors");
    for case in data["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("");
        let r = send(&server, &case["request"]);
        assert_eq!(r.status().as_u16(), case["status"], "{name}");
        for (h, want) in case["headers"].as_object().into_iter().flatten() {
            assert_eq!(
                header(&r, h).as_deref(),
                want.as_str(),
                "{name}: header {h}"
            );
        }
        assert_eq!(
            header(&r, "allow"),
            None,
            "{name}: upstream sends no Allow header"
        );
        assert_matches(name, &json_of(r), &case["body"]);
    }
}

#[test]
fn lists_answer_as_upstream() {
    let server = Server::start();
    let data = recorded("lists");
    set_up(&server, &data);
    for case in data["cases"].as_array().expect("cases") {
        let path = case["path"].as_str().expect("path");
        let (status, body) = server.get(path);
        assert_eq!(status, StatusCode::OK, "GET {path}");
        assert_matches(&format!("GET {path}"), &body, &case["body"]);
    }
    // The pages together are the list, and the count shrinks page by page.
    let (_, first) = server.get("/api/v1/namespaces/lists/configmaps?limit=1");
    let token = first["metadata"]["continue"].as_str().expect("continue");
    let (_, second) = server.get(&format!(
        "/api/v1/namespaces/lists/configmaps?limit=1&continue={token}"
    ));
    assert_eq!(second["items"][0]["metadata"]["name"], "b", "{second}");
    assert_eq!(second["metadata"]["remainingItemCount"], 1, "{second}");
    let token = second["metadata"]["continue"].as_str().expect("continue");
    let (_, last) = server.get(&format!(
        "/api/v1/namespaces/lists/configmaps?limit=1&continue={token}"
    ));
    assert_eq!(last["items"][0]["metadata"]["name"], "c", "{last}");
    assert!(last["metadata"].get("continue").is_none(), "{last}");
    assert!(
        last["metadata"].get("remainingItemCount").is_none(),
        "{last}"
    );
}

#[test]
fn lists_answer_as_upstream_on_etcd() {
    crate::harness::on_etcd(lists_answer_as_upstream);
}

#[test]
fn tables_answer_as_upstream() {
    let server = Server::start();
    let data = recorded("tables");
    set_up(&server, &data);
    for case in data["cases"].as_array().expect("cases") {
        let path = case["path"].as_str().expect("path");
        let table = json_of(
            server
                .http()
                .get(server.at(path))
                .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
                .send()
                .expect("table"),
        );
        let columns: Vec<Value> = table["columnDefinitions"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no columns: {table}"))
            .iter()
            .map(|c| json!({"name": c["name"], "type": c["type"], "format": c["format"], "priority": c["priority"]}))
            .collect();
        assert_matches(
            &format!("{path} columns"),
            &json!(columns),
            &case["columns"],
        );
        if !case["cells"].is_null() {
            assert_matches(
                &format!("{path} cells"),
                &table["rows"][0]["cells"],
                &case["cells"],
            );
        }
    }
}

#[test]
fn the_matcher_flags_what_differs() {
    let mut d = Vec::new();
    differences(
        &json!({"a": 1, "b": [1, 2], "c": "x"}),
        &json!({"a": "$any", "b": [1, 3], "d": 1}),
        "",
        &mut d,
    );
    assert_eq!(
        d,
        [
            "/b/1: 2 (upstream: 3)",
            "/d: missing (upstream: 1)",
            "/c: \"x\" (upstream has no such member)"
        ]
    );
}
