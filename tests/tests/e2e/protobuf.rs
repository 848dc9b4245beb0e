//! The Kubernetes protobuf wire format: kubectl 1.32+ typed commands send
//! protobuf bodies (and ask for protobuf answers); raw HTTP checks get, list,
//! watch framing, errors and the JSON fallback of a JSON-only kind.

use std::collections::BTreeMap;
use std::io::Read;

use kapi_generated::api::apiextensions::v1::CustomResourceDefinitionList;
use kapi_generated::api::core::v1::{ConfigMap, ConfigMapList};
use kapi_generated::api::meta::v1::{
    DeleteOptions, ObjectMeta, PartialObjectMetadataList, Preconditions, Status,
};
use kapi_generated::proto::{self, Message, Unknown};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Server, kubectl_bins};

const PB: &str = "application/vnd.kubernetes.protobuf";
const PB_JSON: &str = "application/vnd.kubernetes.protobuf, application/json";

#[test]
fn kubectl_typed_create_commands() {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let t = k.tag();
        // Only kubectl 1.32 and later send protobuf; make sure that is what runs.
        let v: Value =
            serde_json::from_str(k.run(&["version", "-o", "json"]).ok()).expect("version -o json");
        let minor: u32 = v["clientVersion"]["minor"]
            .as_str()
            .and_then(|m| m.trim_end_matches('+').parse().ok())
            .unwrap_or(0);
        assert!(minor >= 32, "kubectl[{t}] is 1.{minor}: {v}");

        let cm = format!("pb-cm-{t}");
        k.run(&[
            "create",
            "configmap",
            &cm,
            "--from-literal=a=b",
            "--from-literal=c=d",
        ])
        .ok();
        let yaml = k.run(&["get", "configmap", &cm, "-o", "yaml"]);
        let v: Value = serde_yaml_ng::from_str(yaml.ok()).expect("get -o yaml is YAML");
        assert_eq!(v["data"]["a"], "b", "{v}");
        assert_eq!(v["data"]["c"], "d", "{v}");
        assert_eq!(v["metadata"]["name"], cm.as_str());
        assert_eq!(v["metadata"]["namespace"], "default");
        assert!(v["metadata"]["creationTimestamp"].is_string(), "{v}");
        assert!(
            v["metadata"].get("generateName").is_none(),
            "zero values stay absent: {v}"
        );

        // A file that is not UTF-8 goes to binaryData: protobuf `bytes`.
        let blob = server.files_dir().join(format!("blob-{t}.bin"));
        std::fs::write(&blob, [0u8, 1, 2, 0xff, 0xfe]).expect("write blob");
        let bin = format!("pb-bin-{t}");
        let from_file = format!("--from-file=blob={}", blob.display());
        k.run(&["create", "configmap", &bin, &from_file]).ok();
        let v = k.json(&["get", "configmap", &bin]);
        assert_eq!(v["binaryData"]["blob"], "AAEC//4=", "{v}");

        let sec = format!("pb-secret-{t}");
        k.run(&[
            "create",
            "secret",
            "generic",
            &sec,
            "--from-literal=password=hunter2",
        ])
        .ok();
        let v = k.json(&["get", "secret", &sec]);
        // base64("hunter2")
        assert_eq!(v["data"]["password"], "aHVudGVyMg==", "{v}");

        let ns = format!("pb-ns-{t}");
        k.run(&["create", "namespace", &ns]).ok();
        let v = k.json(&["get", "namespace", &ns]);
        assert_eq!(v["metadata"]["name"], ns.as_str());
        assert_eq!(v["status"]["phase"], "Active", "{v}");

        let sa = format!("pb-sa-{t}");
        k.run(&["create", "serviceaccount", &sa, "-n", &ns]).ok();
        let v = k.json(&["get", "serviceaccount", &sa, "-n", &ns]);
        assert_eq!(v["metadata"]["namespace"], ns.as_str(), "{v}");

        let dry = format!("pb-dry-{t}");
        let out = k.run(&[
            "create",
            "configmap",
            &dry,
            "--from-literal=x=y",
            "--dry-run=server",
            "-o",
            "yaml",
        ]);
        let v: Value = serde_yaml_ng::from_str(out.ok()).expect("dry-run -o yaml is YAML");
        assert_eq!(v["data"]["x"], "y", "{v}");
        assert_eq!(v["metadata"]["name"], dry.as_str());
        let err = k.run(&["get", "configmap", &dry]);
        assert!(err.fails().contains("NotFound"), "{}", err.stderr);
    }
}

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "pb".into())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".into(), "v".into())])),
        binary_data: Some(BTreeMap::from([("bin".into(), "AAEC/w==".into())])),
        ..Default::default()
    }
}

fn envelope(kind: &str, raw: Vec<u8>) -> Vec<u8> {
    Unknown {
        api_version: "v1".into(),
        kind: kind.into(),
        raw,
        ..Default::default()
    }
    .encode()
}

fn post_pb(
    server: &Server,
    path: &str,
    accept: &str,
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    server
        .http()
        .post(server.at(path))
        .header("Content-Type", PB)
        .header("Accept", accept)
        .body(body)
        .send()
        .expect("POST")
}

fn pb_body<M: Message>(r: reqwest::blocking::Response, kind: &str) -> M {
    pb_body_of(r, "v1", kind)
}

fn pb_body_of<M: Message>(r: reqwest::blocking::Response, api_version: &str, kind: &str) -> M {
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(PB)
    );
    let bytes = r.bytes().expect("body");
    let u = Unknown::decode(&bytes).expect("envelope");
    assert_eq!(u.kind, kind);
    assert_eq!(u.api_version, api_version);
    M::decode(&u.raw).expect("message")
}

#[test]
fn raw_get_list_watch_in_protobuf() {
    let server = Server::start_in_process();
    let path = "/api/v1/namespaces/default/configmaps";
    let r = post_pb(
        &server,
        path,
        PB_JSON,
        envelope("ConfigMap", configmap("raw").encode_to_vec()),
    );
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: ConfigMap = pb_body(r, "ConfigMap");
    assert_eq!(created.data, configmap("raw").data);
    assert_eq!(created.binary_data, configmap("raw").binary_data);
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());

    // GET in protobuf, the same object as in JSON.
    let r = server
        .http()
        .get(server.at(&format!("{path}/raw")))
        .header("Accept", PB_JSON)
        .send()
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let got: ConfigMap = pb_body(r, "ConfigMap");
    let (_, json) = server.get(&format!("{path}/raw"));
    let mut from_json: ConfigMap = serde_json::from_value(json).expect("JSON ConfigMap");
    from_json.api_version = None;
    from_json.kind = None;
    assert_eq!(got, from_json);
    assert_eq!(got.metadata.labels, configmap("raw").metadata.labels);

    // LIST.
    server.create_configmap("default", "second", &[("a", "b")]);
    let r = server
        .http()
        .get(server.at(path))
        .header("Accept", PB)
        .send()
        .expect("LIST");
    let list: ConfigMapList = pb_body(r, "ConfigMapList");
    let names: Vec<_> = list
        .items
        .iter()
        .map(|c| c.metadata.name_str().to_string())
        .collect();
    assert_eq!(names, ["raw", "second"]);
    assert!(
        list.metadata
            .resource_version
            .is_some_and(|rv| !rv.is_empty())
    );

    // PartialObjectMetadataList, as client-go's metadata client asks for it,
    // also for a kind that has no protobuf form of its own.
    let accept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,\
                  application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    for (p, want) in [
        (path, vec!["raw", "second"]),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            vec![],
        ),
    ] {
        let r = server
            .http()
            .get(server.at(p))
            .header("Accept", accept)
            .send()
            .expect("LIST");
        assert_eq!(r.status(), StatusCode::OK);
        let list: PartialObjectMetadataList =
            pb_body_of(r, "meta.k8s.io/v1", "PartialObjectMetadataList");
        let names: Vec<_> = list
            .items
            .iter()
            .map(|c| c.metadata.name_str().to_string())
            .collect();
        assert_eq!(names, want);
    }

    // WATCH: length-prefixed WatchEvents wrapping enveloped objects.
    let mut r = server
        .http()
        .get(server.at(&format!("{path}?watch=true&timeoutSeconds=2")))
        .header("Accept", PB_JSON)
        .send()
        .expect("WATCH");
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vnd.kubernetes.protobuf;stream=watch")
    );
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes).expect("watch body");
    let events: Vec<(String, String)> = frames(&bytes)
        .into_iter()
        .map(|(t, cm)| (t, cm.metadata.name_str().to_string()))
        .collect();
    assert_eq!(
        events,
        [
            ("ADDED".to_string(), "raw".to_string()),
            ("ADDED".into(), "second".into())
        ]
    );

    // A watch-list, as client-go's informers stream it: initial events, then
    // the BOOKMARK that ends them, all in protobuf frames.
    let mut r = server
        .http()
        .get(server.at(&format!(
            "{path}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
             &allowWatchBookmarks=true&timeoutSeconds=1"
        )))
        .header("Accept", PB_JSON)
        .send()
        .expect("WATCH");
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes).expect("watch body");
    let frames = frames(&bytes);
    let types: Vec<&str> = frames.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["ADDED", "ADDED", "BOOKMARK"]);
    let bookmark = &frames[2].1;
    let annotations = bookmark.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("k8s.io/initial-events-end")
            .map(String::as_str),
        Some("true"),
        "{bookmark:?}"
    );
    assert!(bookmark.metadata.resource_version.is_some());
}

/// Splits a protobuf watch body into (type, ConfigMap) events.
fn frames(mut rest: &[u8]) -> Vec<(String, ConfigMap)> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a truncated frame header");
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let (type_, raw) = proto::decode_watch_event(&rest[4..4 + len]).expect("WatchEvent");
        let u = Unknown::decode(&raw).expect("object envelope");
        assert_eq!(
            (u.api_version.as_str(), u.kind.as_str()),
            ("v1", "ConfigMap")
        );
        out.push((type_, ConfigMap::decode(&u.raw).expect("ConfigMap")));
        rest = &rest[4 + len..];
    }
    out
}

#[test]
fn protobuf_errors_and_crds() {
    let server = Server::start_in_process();
    let path = "/api/v1/namespaces/default/configmaps";

    // Garbage after the magic, a truncated message, no magic at all: 400, never a crash.
    let good = envelope("ConfigMap", configmap("t").encode_to_vec());
    let bodies: Vec<Vec<u8>> = vec![
        b"k8s\0\xff\xff\xff\xff\xff".to_vec(),
        good[..good.len() - 5].to_vec(),
        b"{\"not\": \"protobuf\"}".to_vec(),
        envelope("ConfigMap", vec![0x0a, 0x05, 0x01]),
    ];
    for body in bodies {
        let r = post_pb(&server, path, "application/json", body.clone());
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "body {body:?}");
        let v: Value = r.json().expect("JSON Status");
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["reason"], "BadRequest");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("not valid protobuf")),
            "{v}"
        );
    }
    // The server is still there, and errors come back as protobuf Status when asked.
    let r = post_pb(&server, path, PB_JSON, b"k8s\0\x12\x7f".to_vec());
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let s: Status = pb_body(r, "Status");
    assert_eq!(s.code, Some(400));
    let r = server
        .http()
        .get(server.at(&format!("{path}/missing")))
        .header("Accept", PB_JSON)
        .send()
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let s: Status = pb_body(r, "Status");
    assert_eq!(s.reason.as_deref(), Some("NotFound"));

    // A patch is never protobuf.
    let r = server
        .http()
        .patch(server.at(&format!("{path}/t")))
        .header("Content-Type", PB)
        .body(good.clone())
        .send()
        .expect("PATCH");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // CustomResourceDefinitions have a protobuf form too (JSON-only kinds,
    // like a user's own, are checked by the add-a-resource workflow test).
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let r = server
        .http()
        .get(server.at(crds))
        .header("Accept", PB_JSON)
        .send()
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let list: CustomResourceDefinitionList =
        pb_body_of(r, "apiextensions.k8s.io/v1", "CustomResourceDefinitionList");
    assert!(list.items.is_empty());
}

#[test]
fn update_and_delete_with_protobuf_bodies() {
    let server = Server::start_in_process();
    let path = "/api/v1/namespaces/default/configmaps";
    let r = post_pb(
        &server,
        path,
        PB_JSON,
        envelope("ConfigMap", configmap("upd").encode_to_vec()),
    );
    let mut cm: ConfigMap = pb_body(r, "ConfigMap");
    let uid = cm.metadata.uid.clone().expect("uid");

    // PUT in protobuf, answered in protobuf.
    cm.data = Some(BTreeMap::from([("k".into(), "changed".into())]));
    let r = server
        .http()
        .put(server.at(&format!("{path}/upd")))
        .header("Content-Type", PB)
        .header("Accept", PB_JSON)
        .body(envelope("ConfigMap", cm.encode_to_vec()))
        .send()
        .expect("PUT");
    assert_eq!(r.status(), StatusCode::OK);
    let updated: ConfigMap = pb_body(r, "ConfigMap");
    assert_eq!(updated.data.as_ref().unwrap()["k"], "changed");
    assert_ne!(
        updated.metadata.resource_version,
        cm.metadata.resource_version
    );

    // DELETE with protobuf DeleteOptions: a wrong uid precondition conflicts ...
    let delete = |uid: &str| {
        let opts = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: Some(uid.into()),
                resource_version: None,
            }),
            ..Default::default()
        };
        server
            .http()
            .delete(server.at(&format!("{path}/upd")))
            .header("Content-Type", PB)
            .header("Accept", PB_JSON)
            .body(envelope("DeleteOptions", opts.encode_to_vec()))
            .send()
            .expect("DELETE")
    };
    let r = delete("not-the-uid");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let s: Status = pb_body(r, "Status");
    assert_eq!(s.reason.as_deref(), Some("Conflict"));
    // ... the right one deletes, answered with a protobuf Status.
    let r = delete(&uid);
    assert_eq!(r.status(), StatusCode::OK);
    let s: Status = pb_body(r, "Status");
    assert_eq!(s.status.as_deref(), Some("Success"));
    assert_eq!(s.details.and_then(|d| d.name).as_deref(), Some("upd"));
    let (code, _) = server.get(&format!("{path}/upd"));
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// The LIST body in protobuf and in JSON, and the JSON list re-encoded the
/// way the protobuf layer converts answers (through the typed list).
fn lists_both_ways(server: &Server, query: &str) -> (Vec<u8>, Vec<u8>) {
    let path = format!("/api/v1/namespaces/default/configmaps{query}");
    let get = |accept: &str| {
        let r = server
            .http()
            .get(server.at(&path))
            .header("Accept", accept)
            .send()
            .expect("LIST");
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().expect("body").to_vec()
    };
    let pb = get(PB);
    let json = get("application/json");
    let typed: ConfigMapList = serde_json::from_slice(&json).expect("JSON ConfigMapList");
    (pb, envelope("ConfigMapList", typed.encode_to_vec()))
}

/// Protobuf lists from the watch cache are written from each object's cached
/// message: the same bytes as converting the JSON list, and a new object
/// version is a new message.
#[test]
fn cached_protobuf_lists_equal_the_converted_json_list() {
    let server = Server::start_in_process();
    for i in 0..5 {
        let v = i.to_string();
        server.create_configmap("default", &format!("cm-{i}"), &[("k", &v), ("x", "y")]);
    }
    for query in ["", "?resourceVersion=0", "?labelSelector=app%3Dnone"] {
        let (pb, converted) = lists_both_ways(&server, query);
        assert_eq!(pb, converted, "LIST{query}");
    }
    // A second list reuses the cached messages; an update replaces one.
    let path = "/api/v1/namespaces/default/configmaps/cm-2";
    let (_, mut cm) = server.get(path);
    cm["data"]["k"] = Value::from("changed");
    let (code, _) = server.put(path, &cm);
    assert_eq!(code, StatusCode::OK);
    let (pb, converted) = lists_both_ways(&server, "");
    assert_eq!(pb, converted);
    let u = Unknown::decode(&pb).expect("envelope");
    let list = ConfigMapList::decode(&u.raw).expect("list");
    assert_eq!(list.items.len(), 5);
    let data = list.items[2].data.as_ref().expect("data");
    assert_eq!(data.get("k").map(String::as_str), Some("changed"));
}
