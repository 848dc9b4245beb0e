//! A graceful stop (SIGTERM) ends open watches cleanly, as kube-apiserver's
//! graceful termination does, instead of waiting for their timeouts.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::harness::{Server, http_client};

#[test]
fn sigterm_ends_open_watches_cleanly_and_the_server_exits() {
    let mut server = Server::start();
    server.create_configmap("default", "before-stop", &[("a", "1")]);
    let client = http_client(Duration::from_secs(30));
    let mut watches: Vec<_> = [
        "/api/v1/namespaces/default/configmaps?watch=1",
        "/api/v1/configmaps?watch=1&allowWatchBookmarks=true",
    ]
    .iter()
    .map(|path| {
        let resp = client.get(server.at(path)).send().expect("watch opened");
        assert_eq!(resp.status(), 200);
        resp
    })
    .collect();
    // The first event (the synthetic ADDED) has arrived on each.
    for w in &mut watches {
        let mut first = [0u8; 1];
        w.read_exact(&mut first).expect("an event");
    }

    let started = Instant::now();
    let status = server
        .terminate(Duration::from_secs(10))
        .expect("kapi exits on SIGTERM with watches open");
    assert!(status.success(), "kapi exited with {status}");
    for mut w in watches {
        // The body ends (the chunked body's last chunk), not an I/O error.
        let mut rest = String::new();
        w.read_to_string(&mut rest)
            .expect("the watch body ends cleanly");
        assert!(rest.contains("before-stop"), "{rest}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}
