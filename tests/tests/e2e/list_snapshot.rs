//! Paginated lists read every page at the first page's revision (a
//! consistent snapshot, as upstream's pages on etcd), on both backends;
//! `resourceVersionMatch=Exact` lists at that revision; a compacted revision
//! is 410 Expired (with a fresh, inconsistent continue token for pages).

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::compaction::{COMPACTED_TIMEOUT, COMPACTION_INTERVAL};
use crate::harness::{Server, assert_status, on_etcd, wait_until};

const CMS: &str = "/api/v1/namespaces/snap/configmaps";

fn items(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        o["data"]["v"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pages_are_a_snapshot(server: &Server) {
    let (status, body) = server.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "snap"}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for i in 0..6 {
        server.create_configmap("snap", &format!("c{i}"), &[("v", "old")]);
    }
    let (status, first) = server.get(&format!("{CMS}?limit=2"));
    assert_eq!(status, StatusCode::OK, "{first}");
    let rv = first["metadata"]["resourceVersion"].clone();
    let mut seen: BTreeMap<String, String> = items(&first).into_iter().collect();
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["c0", "c1"]);

    // Changes after the first page: an update, a delete, a create, an update
    // of an object already listed, each after the first page's revision.
    let (_, mut c3) = server.get(&format!("{CMS}/c3"));
    c3["data"]["v"] = json!("new");
    let (status, body) = server.put(&format!("{CMS}/c3"), &c3);
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server.delete(&format!("{CMS}/c4"));
    assert_eq!(status, StatusCode::OK, "{body}");
    server.create_configmap("snap", "c9", &[("v", "new")]);
    server.create_configmap("snap", "c2a", &[("v", "new")]);
    let (_, mut c0) = server.get(&format!("{CMS}/c0"));
    c0["data"]["v"] = json!("new");
    let (status, body) = server.put(&format!("{CMS}/c0"), &c0);
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut token = first["metadata"]["continue"].as_str().map(str::to_string);
    while let Some(t) = token {
        let (status, page) = server.get(&format!("{CMS}?limit=2&continue={t}"));
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["metadata"]["resourceVersion"], rv, "{page}");
        seen.extend(items(&page));
        token = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    // Every page shows the collection as it was at the first page's revision.
    let want: BTreeMap<String, String> = (0..6)
        .map(|i| (format!("c{i}"), "old".to_string()))
        .collect();
    assert_eq!(seen, want);

    // Exact: the list at that revision; the current list has moved on.
    let (status, exact) = server.get(&format!(
        "{CMS}?resourceVersion={}&resourceVersionMatch=Exact",
        rv.as_str().unwrap_or_default()
    ));
    assert_eq!(status, StatusCode::OK, "{exact}");
    assert_eq!(exact["metadata"]["resourceVersion"], rv);
    assert_eq!(items(&exact).into_iter().collect::<BTreeMap<_, _>>(), want);
    let (_, now) = server.get(CMS);
    let names: Vec<String> = items(&now).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["c0", "c1", "c2", "c2a", "c3", "c5", "c9"]);
    // A revision the store has not reached yet.
    let (status, body) = server.get(&format!(
        "{CMS}?resourceVersion=999999999&resourceVersionMatch=Exact"
    ));
    assert_status(status, &body, 504, "Timeout");
}

#[test]
fn pages_after_the_first_read_its_snapshot() {
    let server = Server::start_in_process();
    pages_are_a_snapshot(&server);
}

#[test]
fn pages_after_the_first_read_its_snapshot_on_etcd() {
    on_etcd(|| {
        let server = Server::start();
        pages_are_a_snapshot(&server);
    });
}

#[test]
fn exact_list_at_a_compacted_revision_is_expired() {
    let server = Server::start_args(&["--compaction-interval", COMPACTION_INTERVAL]);
    let cm = server.create_configmap("default", "x0", &[]);
    let rv = cm["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();
    let query = format!(
        "/api/v1/namespaces/default/configmaps?resourceVersion={rv}&resourceVersionMatch=Exact"
    );
    let mut n = 0;
    let mut body = Value::Null;
    wait_until(
        &format!("revision {rv} to be compacted"),
        COMPACTED_TIMEOUT,
        || {
            n += 1;
            server.create_configmap("default", &format!("x{n}"), &[]);
            let (status, list) = server.get(&query);
            if status != StatusCode::GONE {
                // Until compaction passes it, the list is the one at `rv`.
                assert_eq!(status, StatusCode::OK, "{list}");
                assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
            }
            body = list;
            status == StatusCode::GONE
        },
    );
    assert_status(StatusCode::GONE, &body, 410, "Expired");
    assert_eq!(
        body["message"],
        "The resourceVersion for the provided list is too old."
    );
}
