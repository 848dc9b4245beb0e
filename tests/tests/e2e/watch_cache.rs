//! Watches served by the watch cache over HTTP: many watchers get every
//! event, a resourceVersion from before the cache started still resumes
//! (read from storage), selector-filtered watches see objects leave and enter.

use std::thread;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, Watch, rv_of};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// Opens a watch of ConfigMaps in `default` (`query` after `?`).
fn watch(server: &Server, query: &str) -> Watch {
    server.watch(&format!("{CMS}?{query}"))
}

/// A watch's events until `n` arrived or the watch ended.
fn collect(server: &Server, query: &str, n: usize) -> Vec<Value> {
    watch(server, query).take_events(n)
}

#[test]
fn many_watchers_each_get_every_event_in_order() {
    let server = Server::start_in_process();
    let (_, list) = server.get(CMS);
    let rv = rv_of(&list);
    let names: Vec<String> = (0..10).map(|i| format!("fan{i}")).collect();
    // Every watch is open (answered) before the first create.
    let watches: Vec<Watch> = (0..20)
        .map(|_| {
            watch(
                &server,
                &format!("watch=true&timeoutSeconds=10&resourceVersion={rv}"),
            )
        })
        .collect();
    let seen = thread::scope(|s| {
        let watchers: Vec<_> = watches
            .into_iter()
            .map(|mut w| {
                let n = names.len();
                s.spawn(move || w.take_events(n))
            })
            .collect();
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
    let server = Server::start_in_process();
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
    let server = Server::start_in_process();
    let (_, list) = server.get(CMS);
    let rv = rv_of(&list);
    let mut w = watch(
        &server,
        &format!("watch=true&timeoutSeconds=10&resourceVersion={rv}&labelSelector=app%3Dweb"),
    );
    let mut cm = server.create_configmap("default", "sel", &[("a", "1")]);
    for app in ["web", "db", "web"] {
        cm["metadata"]["labels"] = json!({ "app": app });
        let (status, body) = server.put(&format!("{CMS}/sel"), &cm);
        assert_eq!(status, StatusCode::OK, "{body}");
        cm = body;
    }
    let events = w.take_events(3);
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
    let server = Server::start_in_process();
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
