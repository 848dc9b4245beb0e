//! Real clients' watches across a restart of kapi (kill -9, started again on
//! the same port and data directory): the Python client's `watch.Watch`
//! resuming from its last resourceVersion, and `kubectl get -w`.

use std::time::Duration;

use crate::harness::{Server, kubectl_bins, spawn_python, wait_until};

#[test]
fn python_watch_resumes_from_resource_version_across_a_restart() {
    let mut server = Server::start();
    server.create_configmap("default", "py-r1", &[("a", "1")]);
    let mut py = spawn_python(&server, "watch_restart.py", &[]);
    py.wait_for_line(Duration::from_secs(30), |l| l == "READY");
    server.create_configmap("default", "py-r2", &[("a", "2")]);
    py.wait_for_line(Duration::from_secs(30), |l| l == "EVENT ADDED py-r2");

    // Killed while the watch is open; py-r3 is created before the client can
    // have reconnected, so only resumption from its resourceVersion shows it.
    server.restart_same_port();
    server.create_configmap("default", "py-r3", &[("a", "3")]);
    py.wait_for_line(Duration::from_secs(40), |l| l == "DONE");
    let out = py.stdout();
    let events: Vec<&str> = out.lines().filter(|l| l.starts_with("EVENT")).collect();
    // From the list's version: not py-r1; every later create exactly once.
    assert_eq!(
        events,
        ["EVENT ADDED py-r2", "EVENT ADDED py-r3"],
        "python output:\n{out}\nstderr:\n{}",
        py.stderr()
    );
}

#[test]
fn kubectl_get_watch_across_a_restart() {
    let mut server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let tag = bin.tag;
        let before = format!("before-{tag}");
        let after = format!("after-{tag}");
        server.create_configmap("default", &before, &[("x", "1")]);
        let mut watch = k.spawn(&["get", "cm", "-w", "--output-watch-events"]);
        let is_event = |l: &str, ty: &str, name: &str| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 2 && words[0] == ty && words[1] == name
        };
        watch.wait_for_line(Duration::from_secs(30), |l| is_event(l, "ADDED", &before));

        // A restart as a service manager does it: SIGTERM ends the watch
        // with a clean end of its body (a kill -9 breaks it mid-stream; the
        // kube-rs and Python restart tests cover that).
        server.restart_gracefully_same_port();
        server.create_configmap("default", &after, &[("y", "1")]);
        // Either kubectl watches again and prints the new object, or it ends
        // cleanly: client-go's UntilWithoutRetry, which `kubectl get -w`
        // uses, treats a closed watch as the end, against kube-apiserver too.
        let mut exit = None;
        let shows_after = |watch: &crate::harness::Background| {
            watch.stdout().lines().any(|l| is_event(l, "ADDED", &after))
        };
        wait_until(
            &format!("kubectl[{tag}] to print {after} or to end"),
            Duration::from_secs(30),
            || {
                // The exit first: once it is known, the output is complete.
                exit = watch.try_exit();
                exit.is_some() || shows_after(&watch)
            },
        );
        let outcome = if shows_after(&watch) {
            "re-watched".to_string()
        } else {
            let status = exit.expect("kubectl ended");
            assert!(
                status.success(),
                "kubectl[{tag}] failed after the restart: {status}\n{}",
                watch.stderr()
            );
            assert_eq!(watch.stderr(), "", "kubectl[{tag}] stderr");
            format!("ended cleanly ({status})")
        };
        eprintln!("kubectl[{tag}] across the restart: {outcome}");
        // Watching again (as a user or script re-running it does) shows the
        // state, including what was created during the restart, and follows on.
        let mut again = k.spawn(&["get", "cm", "-w", "--output-watch-events"]);
        again.wait_for_line(Duration::from_secs(30), |l| is_event(l, "ADDED", &after));
        let later = format!("later-{tag}");
        server.create_configmap("default", &later, &[("z", "1")]);
        again.wait_for_line(Duration::from_secs(30), |l| is_event(l, "ADDED", &later));
    }
}
