//! History compaction (`--compaction-interval`): once the history an old
//! resourceVersion needs is compacted, a watch from it and a continue token
//! from it get 410 Expired, on both backends; objects stay.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, assert_status, wait_until};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// How often the servers of these tests compact (the flag's shortest
/// sensible value: each compaction drops what is older than the previous
/// one's revision, so a revision is gone after two).
pub(crate) const COMPACTION_INTERVAL: &str = "100ms";

/// How long compaction may take to pass a revision.
pub(crate) const COMPACTED_TIMEOUT: Duration = Duration::from_secs(20);

/// The first event of a watch from `rv` (there is always one: a later
/// create, or the 410 ERROR; the stream is bounded by timeoutSeconds).
fn first_watch_event(server: &Server, rv: &str) -> Option<Value> {
    server
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ))
        .next_event()
}

fn compaction_gives_410(server: Server) {
    for i in 0..3 {
        server.create_configmap("default", &format!("c{i}"), &[("k", "v")]);
    }
    let (status, page) = server.get(&format!("{CMS}?limit=1"));
    assert_eq!(status, StatusCode::OK, "{page}");
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let rv = page["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    server.create_configmap("default", "later", &[("k", "v")]);

    // Writes elsewhere keep the revision moving, so compaction passes `rv`
    // (etcd keeps the compacted revision itself, so it must pass it by one).
    let mut tick = 0;
    let mut error = None;
    wait_until(
        &format!("the history of {rv} to be compacted"),
        COMPACTED_TIMEOUT,
        || {
            tick += 1;
            server.create_configmap("kube-system", &format!("tick-{tick}"), &[]);
            error = first_watch_event(&server, &rv).filter(|ev| ev["type"] == "ERROR");
            error.is_some()
        },
    );
    let ev = error.unwrap_or_default();
    assert_eq!(ev["object"]["code"], 410, "{ev}");
    assert_eq!(ev["object"]["reason"], "Expired", "{ev}");
    let (status, body) = server.get(&format!("{CMS}?limit=1&continue={token}"));
    assert_status(status, &body, 410, "Expired");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("The provided continue parameter is too old")),
        "{body}"
    );
    let (status, list) = server.get(CMS);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["items"].as_array().map_or(0, Vec::len),
        4,
        "objects stay"
    );
}

#[test]
fn compaction_on_embedded_store() {
    compaction_gives_410(Server::start_args(&[
        "--compaction-interval",
        COMPACTION_INTERVAL,
    ]));
}

#[test]
fn compaction_on_etcd() {
    let etcd = kapi_server::storage::etcd_process::EtcdProcess::start();
    let url = etcd.url();
    compaction_gives_410(Server::start_args(&[
        "--etcd-servers",
        url.as_str(),
        "--compaction-interval",
        COMPACTION_INTERVAL,
    ]));
}
