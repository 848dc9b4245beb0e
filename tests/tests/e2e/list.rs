//! The list contract: paging with limit/continue, an expired continue token
//! (410 with a fresh, inconsistent token as upstream offers), resourceVersion
//! and resourceVersionMatch, selectors (and 400 for bad ones), lists across
//! all namespaces.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::compaction::{COMPACTED_TIMEOUT, COMPACTION_INTERVAL};
use crate::harness::{Server, assert_status, names, wait_until};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn pages_cover_the_collection_once_and_keep_the_first_resource_version() {
    let server = Server::start_in_process();
    for i in 0..7 {
        server.create_configmap("default", &format!("p{i}"), &[]);
    }
    let (_, first) = server.get(&format!("{CMS}?limit=3"));
    let rv = first["metadata"]["resourceVersion"].clone();
    let mut seen = names(&first);
    let mut token = first["metadata"]["continue"].as_str().map(str::to_string);
    // A write between pages does not change the pages' resourceVersion.
    server.create_configmap("kube-system", "elsewhere", &[]);
    while let Some(t) = token {
        let (status, page) = server.get(&format!("{CMS}?limit=3&continue={t}"));
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["metadata"]["resourceVersion"], rv, "{page}");
        seen.extend(names(&page));
        token = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    let want: Vec<String> = (0..7).map(|i| format!("p{i}")).collect();
    assert_eq!(seen, want);
}

#[test]
fn expired_continue_offers_an_inconsistent_token() {
    let server = Server::start_args(&["--compaction-interval", COMPACTION_INTERVAL]);
    for i in 0..3 {
        server.create_configmap("default", &format!("e{i}"), &[]);
    }
    let (_, page) = server.get(&format!("{CMS}?limit=1"));
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let mut tick = 0;
    let mut expired = serde_json::Value::Null;
    wait_until("the continue token to expire", COMPACTED_TIMEOUT, || {
        tick += 1;
        server.create_configmap("kube-system", &format!("t{tick}"), &[]);
        let (status, body) = server.get(&format!("{CMS}?limit=1&continue={token}"));
        if status != StatusCode::GONE {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        expired = body;
        status == StatusCode::GONE
    });
    assert_status(StatusCode::GONE, &expired, 410, "Expired");
    let msg = expired["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("use the continue token in this response to retrieve the remainder"),
        "{expired}"
    );
    let fresh = expired["metadata"]["continue"]
        .as_str()
        .expect("a fresh continue token in the Status");
    // The fresh token lists the rest (inconsistently, at the latest revision).
    let (status, rest) = server.get(&format!("{CMS}?continue={fresh}"));
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(names(&rest), ["e1", "e2"]);
}

#[test]
fn resource_version_and_match() {
    let server = Server::start_in_process();
    let cm = server.create_configmap("default", "rv", &[]);
    let rv = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // "0": any version; NotOlderThan a version it has.
    for q in [
        "resourceVersion=0",
        &format!("resourceVersion={rv}&resourceVersionMatch=NotOlderThan"),
    ] {
        let (status, list) = server.get(&format!("{CMS}?{q}"));
        assert_eq!(status, StatusCode::OK, "{q}: {list}");
        assert_eq!(names(&list), ["rv"], "{q}");
    }
    // Exact on an older revision: the list as it was then (list_snapshot.rs
    // covers compaction and both backends).
    server.create_configmap("default", "rv2", &[]);
    let (status, body) = server.get(&format!(
        "{CMS}?resourceVersion={rv}&resourceVersionMatch=Exact"
    ));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["rv"]);
    // resourceVersionMatch without resourceVersion is invalid.
    let (status, body) = server.get(&format!("{CMS}?resourceVersionMatch=Exact"));
    assert_status(status, &body, 422, "Invalid");
}

#[test]
fn selectors_and_all_namespaces() {
    let server = Server::start_in_process();
    let mk = |ns: &str, name: &str, app: &str| {
        let mut cm = crate::harness::configmap(ns, name, &[]);
        cm["metadata"]["labels"] = serde_json::json!({"app": app, "tier": "x"});
        let (status, body) = server.post(&format!("/api/v1/namespaces/{ns}/configmaps"), &cm);
        assert_eq!(status, StatusCode::CREATED, "{body}");
    };
    mk("default", "a", "web");
    mk("default", "b", "db");
    mk("kube-system", "c", "web");
    let sel = |q: &str| {
        let (status, list) = server.get(&format!("/api/v1/configmaps?{q}"));
        assert_eq!(status, StatusCode::OK, "{q}: {list}");
        names(&list).into_iter().collect::<BTreeSet<_>>()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(sel("labelSelector=app%3Dweb"), set(&["a", "c"]));
    assert_eq!(sel("labelSelector=app%21%3Dweb,tier"), set(&["b"]));
    assert_eq!(
        sel("labelSelector=app%20in%20(db,web),!missing"),
        set(&["a", "b", "c"])
    );
    assert_eq!(sel("labelSelector=app%20notin%20(web)"), set(&["b"]));
    assert_eq!(
        sel("fieldSelector=metadata.namespace%3Dkube-system,metadata.name%3Dc"),
        set(&["c"])
    );
    assert_eq!(
        sel("fieldSelector=metadata.name%21%3Da&labelSelector=app%3D%3Dweb"),
        set(&["c"])
    );

    let (status, body) = server.get("/api/v1/configmaps?labelSelector=app%20in%20web");
    assert_status(status, &body, 400, "BadRequest");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("unable to parse requirement"),
        "{body}"
    );
    let (status, body) = server.get("/api/v1/configmaps?fieldSelector=data.x%3Dy");
    assert_status(status, &body, 400, "BadRequest");
    assert_eq!(
        body["message"],
        "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        "{body}"
    );
}
