//! The typed client (`kapi_generated::client`, feature `client`) against the
//! in-process test server (`kapi_server::testing::TestServer`): CRUD with
//! Status errors, pagination and selectors, watch and its resumption, and a
//! relist on 410 after compaction; and across a restart of the binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use kapi_generated::api::core::v1::{ConfigMap, Namespace};
use kapi_generated::api::meta::v1::ObjectMeta;
use kapi_generated::client::{
    Api, Client, DeleteParams, Deleted, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams, WatchStream,
};
use kapi_server::testing::{TestServer, wait_until_async};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::Server;

fn cm(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: (!labels.is_empty()).then(|| map(labels)),
            ..ObjectMeta::default()
        },
        data: Some(map(data)),
        ..ConfigMap::default()
    }
}

fn data(o: &ConfigMap) -> BTreeMap<String, String> {
    o.data.clone().unwrap_or_default()
}

/// The next item within 10 s.
async fn next<K: kapi_generated::Resource>(
    w: &mut WatchStream<K>,
) -> Result<WatchEvent<K>, kapi_generated::client::Error> {
    match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no watch event within 10 s"),
    }
}

/// The next event that is not a bookmark, skipping connection errors.
async fn next_change<K: kapi_generated::Resource>(w: &mut WatchStream<K>) -> WatchEvent<K> {
    loop {
        match next(w).await {
            Ok(WatchEvent::Bookmark(_)) | Err(_) => {}
            Ok(e) => return e,
        }
    }
}

fn describe(e: &WatchEvent<ConfigMap>) -> String {
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name_str()),
        WatchEvent::Modified(o) => format!("MODIFIED {}", o.metadata.name_str()),
        WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name_str()),
        WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.resource_version),
        WatchEvent::Relisted { objects, .. } => format!("RELISTED {}", objects.len()),
    }
}

#[tokio::test]
async fn typed_client_crud_and_status_errors() {
    let server = TestServer::start().await;
    let client = Client::from_kubeconfig(server.kubeconfig()).unwrap();
    assert_eq!(client.url(), server.url());
    assert_eq!(client.default_namespace(), "default");

    // A cluster-scoped kind, then a namespaced one in it.
    let namespaces: Api<Namespace> = Api::all(&client);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("team".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let created_ns = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    assert_eq!(created_ns.metadata.name_str(), "team");
    assert!(namespaces.get("team").await.is_ok());
    let cms: Api<ConfigMap> = Api::namespaced(&client, "team");

    let created = cms
        .create(&PostParams::default(), &cm("a", &[], &[("k", "1")]))
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace_str(), "team");
    assert!(!created.metadata.resource_version_str().is_empty());
    assert!(created.metadata.uid.is_some());

    let again = cms
        .create(&PostParams::default(), &cm("a", &[], &[]))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some(409), "{again}");
    assert_eq!(again.reason(), Some("AlreadyExists"));

    let got = cms.get("a").await.unwrap();
    assert_eq!(got, created);

    // Replace with the current resourceVersion, then with a stale one: 409 Conflict.
    let mut changed = got.clone();
    changed.data = Some(BTreeMap::from([("k".to_string(), "2".to_string())]));
    let replaced = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(data(&replaced)["k"], "2");
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    let stale = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some(409), "{stale}");
    assert_eq!(stale.reason(), Some("Conflict"));

    // Merge patch and JSON patch.
    let merged = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "x"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        data(&merged),
        BTreeMap::from([("k".into(), "2".into()), ("m".into(), "x".into())])
    );
    let jsonp = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Json(json!([{"op": "remove", "path": "/data/k"}])),
        )
        .await
        .unwrap();
    assert_eq!(data(&jsonp), BTreeMap::from([("m".into(), "x".into())]));
    let bad = cms
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Json(json!([{"op": "test", "path": "/data/m", "value": "nope"}])),
        )
        .await
        .unwrap_err();
    assert!(bad.code().is_some_and(|c| c >= 400), "{bad}");

    // Delete with a stale precondition fails, then succeeds.
    let pre = DeleteParams {
        precondition_resource_version: Some(got.metadata.resource_version_str().into()),
        ..DeleteParams::default()
    };
    let refused = cms.delete("a", &pre).await.unwrap_err();
    assert_eq!(refused.code(), Some(409), "{refused}");
    match cms.delete("a", &DeleteParams::default()).await.unwrap() {
        Deleted::Object(o) => assert_eq!(o.metadata.name_str(), "a"),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    let gone = cms.get("a").await.unwrap_err();
    assert_eq!(gone.code(), Some(404));
    assert_eq!(gone.reason(), Some("NotFound"));
    assert!(gone.to_string().contains("not found"), "{gone}");
    assert_eq!(cms.get_opt("a").await.unwrap(), None);

    // A namespace that does not exist.
    let nowhere: Api<ConfigMap> = Api::namespaced(&client, "nowhere");
    let e = nowhere
        .create(&PostParams::default(), &cm("x", &[], &[]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(404), "{e}");
}

#[tokio::test]
async fn typed_client_pagination_and_selectors() {
    let server = TestServer::start().await;
    let client = Client::new(server.url()).unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(&client);
    for i in 0..7 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        cms.create(
            &PostParams::default(),
            &cm(&format!("p{i}"), &[("tier", tier)], &[]),
        )
        .await
        .unwrap();
    }

    // Pages of 3 with continue tokens: 3 + 3 + 1, all at one version.
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(3);
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let page = cms.list(&params).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        first_rv.get_or_insert_with(|| page.resource_version().to_string());
        names.extend(page.items.iter().map(|o| o.metadata.name_str().to_string()));
        match page.continue_token() {
            Some(t) => params = ListParams::default().limit(3).continue_token(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);

    let all = cms.list_all(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(all.items.len(), 7);
    assert_eq!(Some(all.resource_version().to_string()), first_rv);

    let odd = cms
        .list(&ListParams::default().labels("tier=odd"))
        .await
        .unwrap();
    let odd: Vec<_> = odd.items.iter().map(|o| o.metadata.name_str()).collect();
    assert_eq!(odd, ["p1", "p3", "p5"]);
    let one = cms
        .list(&ListParams::default().fields("metadata.name=p4"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let bad = cms
        .list(&ListParams::default().labels("tier in (a"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some(400), "{bad}");

    // Across namespaces.
    let everywhere: Api<ConfigMap> = Api::all(&client);
    assert_eq!(
        everywhere
            .list_all(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        7
    );
}

/// A loopback TCP proxy in front of a server that counts the watch requests
/// passing through it (`watch=true` in what clients send): a client that
/// starts a new watch request has seen its previous one end.
struct WatchCounter {
    url: String,
    watches: Arc<AtomicUsize>,
}

impl WatchCounter {
    async fn start(target: std::net::SocketAddr) -> WatchCounter {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let watches = Arc::new(AtomicUsize::new(0));
        let count = watches.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let outbound = TcpStream::connect(target)
                        .await
                        .expect("connect to the server");
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    });
                    const NEEDLE: &[u8] = b"watch=true";
                    // The end of the previous read, for a needle split between two.
                    let mut carry: Vec<u8> = Vec::new();
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match from_client.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        carry.extend_from_slice(&buf[..n]);
                        let found = carry.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
                        count.fetch_add(found, Ordering::SeqCst);
                        let keep = carry.len().min(NEEDLE.len() - 1);
                        carry.drain(..carry.len() - keep);
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        WatchCounter { url, watches }
    }

    fn watches(&self) -> usize {
        self.watches.load(Ordering::SeqCst)
    }

    /// Waits until a watch request after the `seen`-th has been made.
    async fn wait_past(&self, seen: usize) {
        wait_until_async(
            &format!("watch request #{}", seen + 1),
            Duration::from_secs(10),
            async || self.watches() > seen,
        )
        .await;
    }
}

#[tokio::test]
async fn typed_client_watch_resumes_across_request_timeouts() {
    let server = TestServer::start().await;
    let proxy = WatchCounter::start(server.addr()).await;
    let client = Client::new(&proxy.url).unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(&client);
    cms.create(&PostParams::default(), &cm("w0", &[], &[]))
        .await
        .unwrap();

    // A single watch from "": the current state as ADDED, then changes.
    let mut single = cms.watch(&WatchParams::new().timeout(30), "");
    assert_eq!(describe(&next_change(&mut single).await), "ADDED w0");
    drop(single);

    // A watcher whose every request ends after 1 s (the shortest
    // timeoutSeconds): it must carry on from the last resourceVersion, with
    // no event lost or repeated. A task keeps reading it, so that it starts
    // its next request as soon as one ends.
    let mut w = cms.watcher(&WatchParams::new().timeout(1), "");
    assert_eq!(describe(&next_change(&mut w).await), "ADDED w0");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let e = next_change(&mut w).await;
            if tx.send(describe(&e)).is_err() {
                return;
            }
        }
    });
    let mut next_seen = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a watch event within 10 s")
            .expect("the watcher goes on")
    };
    let mut expected = Vec::new();
    for i in 1..=3 {
        cms.create(&PostParams::default(), &cm(&format!("w{i}"), &[], &[]))
            .await
            .unwrap();
        expected.push(format!("ADDED w{i}"));
        // The next change comes on a new request: after the current one ended.
        proxy.wait_past(proxy.watches()).await;
        cms.patch(
            &format!("w{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"n": i.to_string()}})),
        )
        .await
        .unwrap();
        expected.push(format!("MODIFIED w{i}"));
    }
    cms.delete("w0", &DeleteParams::default()).await.unwrap();
    expected.push("DELETED w0".into());
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        seen.push(next_seen().await);
    }
    assert_eq!(seen, expected);
    // Nothing more (no duplicate) arrives after a further request boundary.
    proxy.wait_past(proxy.watches()).await;
    cms.create(&PostParams::default(), &cm("last", &[], &[]))
        .await
        .unwrap();
    assert_eq!(next_seen().await, "ADDED last");
}

#[tokio::test]
async fn typed_client_relists_on_410() {
    let server = TestServer::start().await;
    let client = Client::new(server.url()).unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(&client);
    let first = cms
        .create(&PostParams::default(), &cm("old", &[], &[]))
        .await
        .unwrap();
    let old_rv = first.metadata.resource_version_str().to_string();
    cms.create(&PostParams::default(), &cm("new", &[], &[]))
        .await
        .unwrap();
    cms.delete("old", &DeleteParams::default()).await.unwrap();
    server.compact().await;

    // A single watch from the compacted version ends with 410 Expired.
    let mut single = cms.watch(&WatchParams::new(), &old_rv);
    let e = loop {
        match next(&mut single).await {
            Ok(WatchEvent::Bookmark(_)) => {}
            Ok(other) => panic!("expected 410, got {}", describe(&other)),
            Err(e) => break e,
        }
    };
    assert!(e.is_gone(), "{e}");
    assert!(
        single.next().await.is_none(),
        "the single watch ends after its error"
    );

    // A watcher lists again: the current objects (without the deleted one),
    // then follows on from the list's version.
    let mut w = cms.watcher(&WatchParams::new(), &old_rv);
    match next_change(&mut w).await {
        WatchEvent::Relisted {
            objects,
            resource_version,
        } => {
            let names: Vec<_> = objects.iter().map(|o| o.metadata.name_str()).collect();
            assert_eq!(names, ["new"]);
            assert!(resource_version.parse::<u64>().unwrap() > old_rv.parse::<u64>().unwrap());
        }
        other => panic!("expected a relist, got {}", describe(&other)),
    }
    cms.create(&PostParams::default(), &cm("after", &[], &[]))
        .await
        .unwrap();
    assert_eq!(describe(&next_change(&mut w).await), "ADDED after");
}

/// The binary killed and started again on the same port: the watcher
/// reconnects and resumes from its last resourceVersion, so an object created
/// while it was disconnected arrives once.
#[test]
fn typed_client_watch_resumes_across_a_server_restart() {
    let mut server = Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = Client::from_kubeconfig(&server.kubeconfig()).unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(&client);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(async {
        cms.create(&PostParams::default(), &cm("r1", &[], &[]))
            .await
            .unwrap();
    });
    let watcher = cms.clone();
    rt.spawn(async move {
        let mut w = watcher.watcher(&WatchParams::new(), "");
        while let Some(item) = w.next().await {
            if let Ok(e) = item
                && tx.send(describe(&e)).is_err()
            {
                return;
            }
        }
    });
    let recv = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        rt.block_on(async {
            loop {
                let e = tokio::time::timeout(Duration::from_secs(15), rx.recv())
                    .await
                    .expect("an event within 15 s")
                    .expect("watcher running");
                if !e.starts_with("BOOKMARK") {
                    return e;
                }
            }
        })
    };
    assert_eq!(recv(&mut rx), "ADDED r1");
    server.restart_same_port();
    server.create_configmap("default", "r2", &[("a", "b")]);
    assert_eq!(recv(&mut rx), "ADDED r2");
    rt.block_on(async {
        cms.delete("r1", &DeleteParams::default()).await.unwrap();
    });
    assert_eq!(recv(&mut rx), "DELETED r1");
}

/// A hand-written resource type (here a narrow view of ConfigMap) works with
/// the client exactly as a generated one; and a kind of a named group.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(
    group = "",
    version = "v1",
    kind = "ConfigMap",
    plural = "configmaps",
    scope = "Namespaced",
    verbs(get, list, watch, create, update, patch, delete)
)]
struct Note {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[tokio::test]
async fn typed_client_serves_hand_written_and_grouped_kinds() {
    let server = TestServer::start().await;
    let client = Client::new(server.url()).unwrap();
    let notes: Api<Note> = Api::default_namespaced(&client);
    let note = Note {
        metadata: ObjectMeta {
            name: Some("n".into()),
            ..ObjectMeta::default()
        },
        data: BTreeMap::from([("text".into(), "hello".into())]),
        ..Note::default()
    };
    let created = notes.create(&PostParams::default(), &note).await.unwrap();
    assert_eq!(created.kind.as_deref(), Some("ConfigMap"));
    // The generated type reads what the hand-written one wrote.
    let cms: Api<ConfigMap> = Api::default_namespaced(&client);
    assert_eq!(data(&cms.get("n").await.unwrap())["text"], "hello");

    use kapi_generated::api::coordination::v1::{Lease, LeaseSpec};
    let leases: Api<Lease> = Api::namespaced(&client, "kube-system");
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("leader".into()),
            ..ObjectMeta::default()
        },
        spec: LeaseSpec {
            holder_identity: Some("me".into()),
            ..LeaseSpec::default()
        },
        ..Lease::default()
    };
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let got = leases.get("leader").await.unwrap();
    assert_eq!(got.spec.holder_identity.as_deref(), Some("me"));
    let all: Api<Lease> = Api::all(&client);
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
}
