//! kube-rs against kapi: its `watcher` and a reflector stay in sync through
//! creates, updates, deletes and a restart of kapi (same port, same data);
//! and the in-process test server's ready `kube::Client`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube_runtime::watcher::{self, Event};
use kube_runtime::{WatchStreamExt, reflector};

use crate::harness::{EVENT_TIMEOUT, Server, wait_until};

fn cm(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..ConfigMap::default()
    }
}

fn kube_client(url: &str) -> kube::Client {
    let config = kube::Config::new(url.parse().expect("server URL"));
    kube::Client::try_from(config).expect("kube client")
}

/// name → data["v"] of what the reflector holds.
fn cached(reader: &reflector::Store<ConfigMap>) -> BTreeMap<String, String> {
    reader
        .state()
        .iter()
        .map(|o| {
            let v = o
                .data
                .as_ref()
                .and_then(|d| d.get("v").cloned())
                .unwrap_or_default();
            (o.metadata.name.clone().unwrap_or_default(), v)
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[track_caller]
fn wait_for(what: &str, reader: &reflector::Store<ConfigMap>, want: &BTreeMap<String, String>) {
    wait_until(
        &format!("{what}: the reflector to hold {want:?}"),
        EVENT_TIMEOUT,
        || &cached(reader) == want,
    );
}

#[test]
fn kube_rs_watcher_and_reflector_follow_changes_and_a_restart() {
    let mut server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api: Api<ConfigMap> = rt.block_on(async {
        let api = Api::namespaced(kube_client(server.url()), "default");
        api.create(&PostParams::default(), &cm("a", "1"))
            .await
            .unwrap();
        api
    });

    // A reflector, and a plain watcher recording the events it yields.
    let (reader, writer) = reflector::store();
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let (api2, log) = (api.clone(), events.clone());
    rt.spawn(async move {
        let stream = reflector(
            writer,
            watcher::watcher(api2, watcher::Config::default()).default_backoff(),
        );
        stream.for_each(|_| async {}).await;
    });
    let api3 = api.clone();
    rt.spawn(async move {
        let mut w = watcher::watcher(api3, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(item) = w.next().await {
            let line = match item {
                Ok(Event::Apply(o)) => format!("apply {}", o.metadata.name.unwrap_or_default()),
                Ok(Event::Delete(o)) => format!("delete {}", o.metadata.name.unwrap_or_default()),
                Ok(Event::InitApply(o)) => {
                    format!("init {}", o.metadata.name.unwrap_or_default())
                }
                Ok(Event::Init) | Ok(Event::InitDone) => continue,
                Err(_) => "error".to_string(),
            };
            log.lock().unwrap().push(line);
        }
    });
    wait_for("initial list", &reader, &expect(&[("a", "1")]));

    rt.block_on(async {
        api.create(&PostParams::default(), &cm("b", "1"))
            .await
            .unwrap();
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"v": "2"}})),
        )
        .await
        .unwrap();
    });
    wait_for(
        "create and update",
        &reader,
        &expect(&[("a", "2"), ("b", "1")]),
    );
    rt.block_on(async {
        api.delete("b", &DeleteParams::default()).await.unwrap();
    });
    wait_for("delete", &reader, &expect(&[("a", "2")]));

    // kill -9 and start again on the same port; change things at once, while
    // the watchers are reconnecting.
    server.restart_same_port();
    rt.block_on(async {
        api.create(&PostParams::default(), &cm("c", "1"))
            .await
            .unwrap();
        api.delete("a", &DeleteParams::default()).await.unwrap();
    });
    wait_for("after the restart", &reader, &expect(&[("c", "1")]));
    rt.block_on(async {
        api.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"v": "3"}})),
        )
        .await
        .unwrap();
    });
    wait_for("update after the restart", &reader, &expect(&[("c", "3")]));

    // The plain watcher saw every change (as events, or in a relist after the restart).
    wait_until("the watcher to yield every change", EVENT_TIMEOUT, || {
        let log = events.lock().unwrap().clone();
        let has = |s: &str| log.iter().any(|l| l == s);
        let saw_c = has("apply c") || has("init c");
        // Deleted as an event, or absent from a relist made after its delete.
        let a_gone = has("delete a") || has("init c");
        has("init a") && has("apply b") && has("apply a") && has("delete b") && saw_c && a_gone
    });
    drop(rt);
}

#[tokio::test]
async fn test_server_gives_a_ready_kube_client() {
    let server = kapi_server::testing::TestServer::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(server.kube_client());
    api.create(&PostParams::default(), &cm("k", "1"))
        .await
        .unwrap();
    let got = api.get("k").await.unwrap();
    assert_eq!(got.data.unwrap()["v"], "1");
    let names: Vec<_> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["k"]);
}
