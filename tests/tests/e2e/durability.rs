//! Crash safety: whatever the server acknowledged must survive a SIGKILL.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{Server, configmap, http_client};

const THREADS: usize = 8;
const PER_THREAD: usize = 300;

#[test]
fn kill9_during_creates_keeps_acknowledged_writes() {
    let mut server = Server::start();
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

        // Let writes flow for about a second, but kill while they still flow
        // (by half of the planned creates at most) and after at least a few.
        let started = Instant::now();
        loop {
            let n = acked.load(Ordering::Relaxed);
            let elapsed = started.elapsed();
            let enough = elapsed >= Duration::from_secs(1) || n >= THREADS * PER_THREAD / 2;
            if (enough && n >= 20) || elapsed >= Duration::from_secs(15) {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
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
