//! History compaction (`--compaction-interval`): once the history an old
//! resourceVersion needs is compacted, a watch from it and a continue token
//! from it get 410 Expired, on both backends; objects stay.

use std::io::{BufRead, BufReader};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, assert_status, http_client};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// The first event of a watch from `rv` (the stream is bounded by timeoutSeconds).
fn first_watch_event(server: &Server, rv: &str) -> Option<Value> {
    let r = http_client(Duration::from_secs(10))
        .get(server.at(&format!(
            "{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        )))
        .send()
        .expect("watch GET");
    assert_eq!(r.status(), StatusCode::OK);
    BufReader::new(r)
        .lines()
        .map_while(Result::ok)
        .find(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(&l).expect("watch event JSON"))
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
    let deadline = Instant::now() + Duration::from_secs(20);
    for tick in 0.. {
        server.create_configmap("kube-system", &format!("tick-{tick}"), &[]);
        match first_watch_event(&server, &rv) {
            Some(ev) if ev["type"] == "ERROR" => {
                assert_eq!(ev["object"]["code"], 410, "{ev}");
                assert_eq!(ev["object"]["reason"], "Expired", "{ev}");
                break;
            }
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "history of {rv} was never compacted"
                );
                thread::sleep(Duration::from_millis(250));
            }
        }
    }
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
    compaction_gives_410(Server::start_args(&["--compaction-interval", "500ms"]));
}

#[test]
fn compaction_on_etcd() {
    let etcd = kapi_server::storage::etcd_process::EtcdProcess::start();
    let url = etcd.url();
    compaction_gives_410(Server::start_args(&[
        "--etcd-servers",
        url.as_str(),
        "--compaction-interval",
        "500ms",
    ]));
}
