//! Crash safety: whatever the server acknowledged must survive a SIGKILL, on
//! the embedded store and on etcd, and a watch from before the crash resumes
//! (or is told 410 to relist) without a silent gap.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{Server, configmap, http_client, on_etcd, wait_until};

const THREADS: usize = 8;
const PER_THREAD: usize = 300;
/// How many acknowledged creates to wait for before the kill: enough to
/// matter, few enough (a twelfth of the planned) that writes still flow.
const ACKED_BEFORE_KILL: usize = THREADS * PER_THREAD / 12;

#[test]
fn kill9_during_creates_keeps_acknowledged_writes() {
    kill9_during_creates(Server::start());
}

#[test]
fn kill9_during_creates_on_etcd_keeps_acknowledged_writes() {
    on_etcd(|| kill9_during_creates(Server::start()));
}

/// A watch from `rv` after the crash: it either replays every acknowledged
/// create (in resourceVersion order) or ends with a 410 Expired error event.
fn assert_watch_resumes(server: &Server, rv: &str, acked: &[(String, String)]) {
    let mut missing: BTreeSet<&str> = acked.iter().map(|(n, _)| n.as_str()).collect();
    let mut watch = server.watch(&format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=30"
    ));
    let mut last_rv = 0u64;
    while let Some(ev) = watch.next_event() {
        if ev["type"] == "ERROR" {
            assert_eq!(
                ev["object"]["code"], 410,
                "only 410 may end the watch: {ev}"
            );
            assert_eq!(ev["object"]["reason"], "Expired", "{ev}");
            eprintln!(
                "the watch from {rv} got 410 (relist); {} not replayed",
                missing.len()
            );
            return;
        }
        let obj_rv: u64 = ev["object"]["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("event resourceVersion");
        assert!(
            obj_rv > last_rv,
            "events out of order: {obj_rv} after {last_rv}"
        );
        last_rv = obj_rv;
        if ev["type"] == "ADDED"
            && let Some(name) = ev["object"]["metadata"]["name"].as_str()
        {
            missing.remove(name);
        }
        if missing.is_empty() {
            eprintln!(
                "the watch from {rv} resumed and replayed all {} creates",
                acked.len()
            );
            return;
        }
    }
    panic!(
        "the watch from {rv} ended without 410 and without {} acknowledged creates, e.g. {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
}

fn kill9_during_creates(mut server: Server) {
    let (status, before) = server.get("/api/v1/namespaces/default/configmaps");
    assert_eq!(status, StatusCode::OK, "{before}");
    let rv_before = before["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    let url = format!("{}/api/v1/namespaces/default/configmaps", server.url());
    let acked = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    let recorded: Vec<(String, String)> = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (url, acked, stop) = (&url, &acked, &stop);
                s.spawn(move || {
                    let client = http_client(Duration::from_secs(5));
                    let mut ok = Vec::new();
                    for i in 0..PER_THREAD {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let name = format!("d-{t}-{i}");
                        let value = format!("value of {name}");
                        let body = configmap("default", &name, &[("v", &value)]).to_string();
                        let r = client
                            .post(url)
                            .header("Content-Type", "application/json")
                            .body(body)
                            .send();
                        match r {
                            Ok(r) if r.status() == StatusCode::CREATED => {
                                ok.push((name, value));
                                acked.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => {
                                // Anything but 201 before the kill is a bug.
                                assert!(
                                    stop.load(Ordering::Relaxed),
                                    "create {name}: HTTP {} {}",
                                    r.status(),
                                    r.text().unwrap_or_default()
                                );
                                break;
                            }
                            // The server is gone.
                            Err(_) => break,
                        }
                    }
                    ok
                })
            })
            .collect();

        // Kill while writes still flow, after a good number were acknowledged.
        wait_until(
            &format!("{ACKED_BEFORE_KILL} acknowledged creates"),
            Duration::from_secs(30),
            || acked.load(Ordering::Relaxed) >= ACKED_BEFORE_KILL,
        );
        stop.store(true, Ordering::Relaxed);
        server.kill9();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("writer thread"))
            .collect()
    });
    assert!(
        !recorded.is_empty(),
        "no create was acknowledged before the kill"
    );
    eprintln!("{} creates acknowledged before SIGKILL", recorded.len());

    server.restart();
    let mut lost = Vec::new();
    for (name, value) in &recorded {
        let (status, obj) = server.get(&format!("/api/v1/namespaces/default/configmaps/{name}"));
        if status != StatusCode::OK || obj["data"]["v"] != value.as_str() {
            lost.push(format!("{name}: HTTP {status} {obj}"));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates lost after kill -9, e.g.:\n{}",
        lost.len(),
        recorded.len(),
        lost.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );

    assert_watch_resumes(&server, &rv_before, &recorded);

    // The restarted server still takes writes, and the list agrees.
    server.create_configmap("default", "after-restart", &[("a", "b")]);
    let (status, list) = server.get("/api/v1/namespaces/default/configmaps");
    assert_eq!(status, StatusCode::OK, "{list}");
    let count = list["items"].as_array().map_or(0, Vec::len);
    assert!(
        count > recorded.len(),
        "list after restart has {count} items, expected more than {}",
        recorded.len()
    );
}
