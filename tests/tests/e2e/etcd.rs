//! kapi on etcd (`--etcd-servers`): a subset of the other modules' scenarios
//! run unchanged on etcd, two kapi processes sharing one etcd, and etcd
//! unreachable at start and lost while serving.

use std::sync::mpsc;
use std::time::Duration;

use kapi_server::storage::etcd_process::EtcdProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    EVENT_TIMEOUT, Server, assert_status, http_client, on_etcd, rv_of, wait_until,
};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

// The same scenarios as on the embedded store.

#[test]
fn http_stale_put_conflicts_on_etcd() {
    on_etcd(crate::http::put_with_stale_resource_version_conflicts);
}

#[test]
fn http_missing_namespace_on_etcd() {
    on_etcd(crate::http::write_into_missing_namespace_is_404);
}

#[test]
fn http_list_resource_version_on_etcd() {
    on_etcd(crate::http::lists_carry_resource_version);
}

#[test]
fn http_watch_on_etcd() {
    on_etcd(crate::http::watch_streams_json_lines);
}

#[test]
fn kubectl_label_replace_delete_on_etcd() {
    on_etcd(crate::kubectl::label_replace_delete);
}

#[test]
fn kubectl_get_watch_on_etcd() {
    on_etcd(crate::kubectl::get_watch_sees_added);
}

#[test]
fn python_crud_on_etcd() {
    on_etcd(crate::python::python_configmap_crud_and_conflict);
}

#[test]
fn python_watch_on_etcd() {
    on_etcd(crate::python::python_watch);
}

#[test]
fn two_kapis_share_one_etcd() {
    let etcd = EtcdProcess::start();
    let url = etcd.url();
    let args = ["--etcd-servers", url.as_str(), "--etcd-prefix", "/shared"];
    let a = Server::start_args(&args);
    let b = Server::start_args(&args);

    // Written through A, read through B.
    let created = a.create_configmap("default", "shared", &[("k", "from-a")]);
    let (status, read) = b.get(&format!("{CMS}/shared"));
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["data"]["k"], "from-a");
    assert_eq!(rv_of(&read), rv_of(&created), "one resourceVersion space");

    // Watched through B from that revision: A's changes arrive.
    let events = b
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}&timeoutSeconds=20",
            rv_of(&created)
        ))
        .in_background();
    a.create_configmap("default", "second", &[("k", "v")]);

    // Optimistic concurrency across the two: both hold the same version,
    // the first writer wins and the second gets 409.
    let mut via_a = read.clone();
    via_a["data"] = json!({"k": "a-wins"});
    let (status, updated) = a.put(&format!("{CMS}/shared"), &via_a);
    assert_eq!(status, StatusCode::OK, "{updated}");
    let mut via_b = read.clone();
    via_b["data"] = json!({"k": "b-loses"});
    let (status, body) = b.put(&format!("{CMS}/shared"), &via_b);
    assert_status(status, &body, 409, "Conflict");
    let (_, now) = b.get(&format!("{CMS}/shared"));
    assert_eq!(now["data"]["k"], "a-wins", "{now}");

    let seen: Vec<(String, String)> = (0..2)
        .map_while(|_| events.recv_timeout(EVENT_TIMEOUT).ok())
        .map(|ev| {
            (
                ev["type"].as_str().unwrap_or_default().to_string(),
                ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".to_string(), "second".to_string()),
            ("MODIFIED".to_string(), "shared".to_string())
        ],
        "B's watch sees A's writes in order"
    );

    // The keys are laid out as upstream, under the prefix.
    let keys = etcd_keys(&url, "/");
    for key in [
        "/shared/configmaps/default/shared",
        "/shared/configmaps/default/second",
        "/shared/namespaces/kube-system",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing in {keys:?}");
    }
    assert!(
        keys.iter().all(|k| k.starts_with("/shared/")),
        "every key under --etcd-prefix: {keys:?}"
    );
}

/// Consistent lists (no resourceVersion) through B on an etcd that A writes
/// too: B answers from its watch cache only when the cache is at etcd's
/// current revision, otherwise from etcd. Either way a list right after a
/// write through A or B holds that write and is at least as new.
#[test]
fn consistent_lists_see_every_write_across_two_kapis() {
    let etcd = EtcdProcess::start();
    let url = etcd.url();
    let args = ["--etcd-servers", url.as_str()];
    let a = Server::start_args(&args);
    let b = Server::start_args(&args);
    let list_rv = |list: &Value| -> u64 {
        list["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("list resourceVersion in {list}"))
    };
    // B's ConfigMap watch cache starts with this list.
    let (status, list) = b.get(&format!("{CMS}?resourceVersion=0"));
    assert_eq!(status, StatusCode::OK, "{list}");

    for i in 0..20 {
        let writer = if i % 2 == 0 { &a } else { &b };
        let created = writer.create_configmap("default", &format!("c-{i}"), &[("i", "v")]);
        let rv: u64 = rv_of(&created).parse().expect("numeric resourceVersion");
        let (status, list) = b.get(CMS);
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(
            list_rv(&list) >= rv,
            "list at {} after a write at {rv}",
            list_rv(&list)
        );
        let names: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        for j in 0..=i {
            let want = format!("c-{j}");
            assert!(
                names.contains(&want.as_str()),
                "{want} missing after write {i}: {names:?}"
            );
        }
    }

    // A write of another type (seen by the cache's watch of the root) and a
    // write outside kapi's root (never seen by it: etcd's revision moves
    // past the cache, so the list is read from etcd): each list is still at
    // least as new as the write before it.
    let (status, ns) = a.post(
        "/api/v1/namespaces",
        &json!({"metadata": {"name": "later"}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{ns}");
    let ns_rv: u64 = rv_of(&ns).parse().expect("numeric resourceVersion");
    let foreign_rv = etcd_put(&url, "/elsewhere/key", "not kapi's");
    assert!(foreign_rv > ns_rv);
    for after in [ns_rv, foreign_rv] {
        let (status, list) = b.get(CMS);
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(
            list_rv(&list) >= after,
            "list at {} after a write at {after}",
            list_rv(&list)
        );
        assert_eq!(list["items"].as_array().map(Vec::len), Some(20), "{list}");
    }
}

/// Runs `f` on a store of the etcd at `url` with no key prefix (to read and
/// write it directly, beside kapi).
fn on_etcd_directly<T>(
    url: &str,
    f: impl AsyncFnOnce(&kapi_server::storage::etcd::EtcdStore) -> T,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = kapi_server::storage::etcd::EtcdStore::connect(&[url.to_string()], "/")
            .await
            .expect("connect to etcd");
        f(&store).await
    })
}

/// Writes `key` in the etcd at `url` directly; returns its revision.
fn etcd_put(url: &str, key: &str, value: &str) -> u64 {
    use kapi_server::storage::Storage;
    on_etcd_directly(url, async |store| {
        store
            .create(key, value.to_string().into_bytes().into())
            .await
            .expect("write to etcd")
            .mod_rev
    })
}

/// The keys under `prefix` in the etcd at `url`, read directly.
fn etcd_keys(url: &str, prefix: &str) -> Vec<String> {
    use kapi_server::storage::Storage;
    on_etcd_directly(url, async |store| {
        store
            .list(prefix, None, 0)
            .await
            .expect("list etcd keys")
            .items
            .into_iter()
            .map(|kv| kv.key)
            .collect()
    })
}

#[test]
fn etcd_unreachable_at_start_then_ready() {
    let mut etcd = EtcdProcess::start();
    etcd.stop();
    let url = etcd.url();
    let server = Server::start_unready(&["--etcd-servers", url.as_str()]);
    assert!(!server.ready(), "not ready without etcd");
    let (status, body) = server.get(CMS);
    assert_status(status, &body, 503, "ServiceUnavailable");
    wait_until("a clear error in the log", Duration::from_secs(10), || {
        server.logs().contains("etcd is not reachable")
    });

    etcd.restart();
    wait_until("ready once etcd is up", Duration::from_secs(30), || {
        server.ready()
    });
    server.create_configmap("default", "after-etcd", &[("a", "b")]);
    let (status, ns) = server.get("/api/v1/namespaces/default");
    assert_eq!(status, StatusCode::OK, "bootstrap finished: {ns}");
}

#[test]
fn etcd_lost_while_serving_then_back() {
    let mut etcd = EtcdProcess::start();
    let url = etcd.url();
    let server = Server::start_args(&["--etcd-servers", url.as_str()]);
    let created = server.create_configmap("default", "kept", &[("k", "v")]);
    let events = server
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}&timeoutSeconds=120",
            rv_of(&created)
        ))
        .in_background();

    etcd.stop();
    // Requests fail with a Status (503, or 504 for a timeout), not a hang.
    let r = http_client(Duration::from_secs(30))
        .get(server.at(&format!("{CMS}/kept")))
        .send()
        .expect("GET while etcd is down");
    let status = r.status();
    let body: Value = r.json().expect("a Status body");
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::GATEWAY_TIMEOUT,
        "HTTP {status}: {body}"
    );
    assert_eq!(body["kind"], "Status", "{body}");
    assert!(!server.ready(), "not ready without etcd");
    // The watch ends (an ERROR event, or the stream closes) so its client relists.
    match events.recv_timeout(EVENT_TIMEOUT) {
        Ok(ev) if ev["type"] == "ERROR" => {}
        Ok(ev) => panic!("unexpected event while etcd is down: {ev}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the watch did not end"),
    }

    etcd.restart();
    wait_until(
        "ready again once etcd is back",
        Duration::from_secs(30),
        || server.ready(),
    );
    let (status, kept) = server.get(&format!("{CMS}/kept"));
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept["data"]["k"], "v");
    server.create_configmap("default", "after", &[("k", "v")]);
}
