//! Watches served by the watch cache over HTTP: many watchers get every
//! event, a resourceVersion from before the cache started still resumes
//! (read from storage), selector-filtered watches see objects leave and enter.

use std::io::{BufRead, BufReader};
use std::thread;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, http_client};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// Reads a watch's events until `n` arrived or the watch ends.
fn collect(server: &Server, query: &str, n: usize) -> Vec<Value> {
    let r = http_client(Duration::from_secs(30))
        .get(server.at(&format!("{CMS}?{query}")))
        .send()
        .expect("watch GET");
    assert_eq!(r.status(), StatusCode::OK, "watch ?{query}");
    let mut out = Vec::new();
    for line in BufReader::new(r).lines() {
        let line = line.expect("read watch stream");
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).expect("watch line is JSON"));
        if out.len() == n {
            break;
        }
    }
    out
}

fn rv_of(v: &Value) -> String {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}

#[test]
fn many_watchers_each_get_every_event_in_order() {
    let server = Server::start();
    let (_, list) = server.get(CMS);
    let rv = rv_of(&list);
    let names: Vec<String> = (0..10).map(|i| format!("fan{i}")).collect();
    let seen = thread::scope(|s| {
        let watchers: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    collect(
                        &server,
                        &format!("watch=true&timeoutSeconds=10&resourceVersion={rv}"),
                        names.len(),
                    )
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(500));
        for n in &names {
            server.create_configmap("default", n, &[("k", "v")]);
        }
        watchers
            .into_iter()
            .map(|w| w.join().expect("watcher thread"))
            .collect::<Vec<_>>()
    });
    for events in seen {
        let got: Vec<&str> = events
            .iter()
            .map(|e| e["object"]["metadata"]["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(got, names, "{events:?}");
        assert!(events.iter().all(|e| e["type"] == "ADDED"), "{events:?}");
    }
}

#[test]
fn resume_from_before_the_cache_started_reads_storage() {
    let server = Server::start();
    let created = server.create_configmap("default", "old", &[("a", "1")]);
    let rv = rv_of(&created);
    let mut changed = created.clone();
    changed["data"] = json!({"a": "2"});
    let (status, _) = server.put(&format!("{CMS}/old"), &changed);
    assert_eq!(status, StatusCode::OK);
    // The first watch of the type starts the cache after the update; a watch
    // from the create's resourceVersion still gets the update.
    let events = collect(
        &server,
        &format!("watch=true&timeoutSeconds=3&resourceVersion={rv}"),
        1,
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "MODIFIED", "{events:?}");
    assert_eq!(events[0]["object"]["data"]["a"], "2", "{events:?}");
}

#[test]
fn label_selected_watch_sees_objects_leave_and_enter() {
    let server = Server::start();
    let (_, list) = server.get(CMS);
    let rv = rv_of(&list);
    let events = thread::scope(|s| {
        let w = s.spawn(|| {
            collect(
                &server,
                &format!(
                    "watch=true&timeoutSeconds=10&resourceVersion={rv}&labelSelector=app%3Dweb"
                ),
                3,
            )
        });
        thread::sleep(Duration::from_millis(500));
        let mut cm = server.create_configmap("default", "sel", &[("a", "1")]);
        for app in ["web", "db", "web"] {
            cm["metadata"]["labels"] = json!({ "app": app });
            let (status, body) = server.put(&format!("{CMS}/sel"), &cm);
            assert_eq!(status, StatusCode::OK, "{body}");
            cm = body;
        }
        w.join().expect("watcher thread")
    });
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types, ["ADDED", "DELETED", "ADDED"], "{events:?}");
    // Leaving the selector: the last content that matched, at the new resourceVersion.
    assert_eq!(events[1]["object"]["metadata"]["labels"]["app"], "web");
    assert_ne!(rv_of(&events[1]["object"]), rv_of(&events[0]["object"]));
}

#[test]
fn consistent_list_and_watch_after_other_types_writes_are_prompt() {
    let server = Server::start();
    server.create_configmap("default", "first", &[]);
    // Starts the ConfigMap cache.
    let _ = collect(&server, "watch=true&timeoutSeconds=1", 1);
    // Writes to other types move the store's revision past every ConfigMap event.
    for i in 0..3 {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("other{i}")}});
        let (status, body) = server.post("/api/v1/namespaces", &ns);
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, ns) = server.get("/api/v1/namespaces/other2");
    let started = std::time::Instant::now();
    let (status, list) = server.get(CMS);
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["metadata"]["name"], "first", "{list}");
    // The list is at least as new as the last write anywhere.
    let list_rv: u64 = rv_of(&list).parse().expect("numeric rv");
    let ns_rv: u64 = rv_of(&ns).parse().expect("numeric rv");
    assert!(list_rv >= ns_rv, "list at {list_rv}, last write {ns_rv}");
    let events = collect(&server, "watch=true&timeoutSeconds=1", 1);
    assert_eq!(events[0]["type"], "ADDED", "{events:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Selectors on a list served from the cache.
    let (_, none) = server.get(&format!("{CMS}?labelSelector=app%3Dnone"));
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
    let (_, one) = server.get(&format!(
        "{CMS}?resourceVersion=0&fieldSelector=metadata.name%3Dfirst"
    ));
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1), "{one}");
}
