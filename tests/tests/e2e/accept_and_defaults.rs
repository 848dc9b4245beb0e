//! Two upstream details clients see: a 406 lists every media type the
//! resource can be answered in, a 415 every media type an object can be sent
//! in (protobuf only for kinds that have a protobuf form), and a Secret
//! without a `type` is stored as `Opaque`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, assert_status, into_json, kubectl_bins};

const WITH_PROTOBUF: &str = "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf";
const JSON_ONLY: &str =
    "only the following media types are accepted: application/json, application/yaml";
const UNKNOWN_BODY: &str =
    "the body of the request was in an unknown format - accepted media types include: ";

fn get_accepting(server: &Server, path: &str, accept: &str) -> (StatusCode, Value) {
    into_json(
        server
            .http()
            .get(server.at(path))
            .header("Accept", accept)
            .send()
            .expect("GET"),
    )
}

#[test]
fn media_type_errors_list_what_the_resource_speaks() {
    let server = Server::start_in_process();
    server.create_configmap("default", "n406", &[("a", "b")]);
    // Built-in kinds: get, list, watch and a write's answer.
    for path in [
        "/api/v1/namespaces/default/configmaps/n406",
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
        "/api/v1/namespaces",
    ] {
        let (status, body) = get_accepting(&server, path, "text/plain");
        assert_status(status, &body, 406, "NotAcceptable");
        assert_eq!(body["message"], WITH_PROTOBUF, "{path}: {body}");
    }
    let r = server
        .http()
        .post(server.at("/api/v1/namespaces/default/configmaps"))
        .header("Content-Type", "application/json")
        .header("Accept", "text/html")
        .body(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w406"}})
                .to_string(),
        )
        .send()
        .expect("POST");
    let (status, body) = into_json(r);
    assert_status(status, &body, 406, "NotAcceptable");
    assert_eq!(body["message"], WITH_PROTOBUF, "{body}");

    // A custom resource is JSON-only: no protobuf in its list, also when
    // protobuf is the only thing asked for.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let (status, body) = server.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd,
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let base = "/apis/example.com/v1/namespaces/default/gadgets";
    server.wait_served(base);
    for accept in ["text/plain", "application/vnd.kubernetes.protobuf"] {
        let (status, body) = get_accepting(&server, base, accept);
        assert_status(status, &body, 406, "NotAcceptable");
        assert_eq!(body["message"], JSON_ONLY, "{accept}: {body}");
    }

    // A body in an unknown format: 415 with what the kind can be sent in.
    let body_in = |path: &str| {
        into_json(
            server
                .http()
                .post(server.at(path))
                .header("Content-Type", "text/plain")
                .body("name: x")
                .send()
                .expect("POST"),
        )
    };
    let (status, body) = body_in("/api/v1/namespaces/default/configmaps");
    assert_status(status, &body, 415, "UnsupportedMediaType");
    assert_eq!(
        body["message"],
        format!(
            "{UNKNOWN_BODY}application/json, application/yaml, application/vnd.kubernetes.protobuf"
        ),
        "{body}"
    );
    let (status, body) = body_in(base);
    assert_status(status, &body, 415, "UnsupportedMediaType");
    assert_eq!(
        body["message"],
        format!("{UNKNOWN_BODY}application/json, application/yaml"),
        "{body}"
    );
}

#[test]
fn secret_type_defaults_to_opaque() {
    let server = Server::start();
    let secrets = "/api/v1/namespaces/default/secrets";
    // A raw POST without a type, and one with an empty type.
    let (status, created) = server.post(
        secrets,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "raw"},
                "stringData": {"k": "v"}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["type"], "Opaque", "{created}");
    let (_, read) = server.get(&format!("{secrets}/raw"));
    assert_eq!(read["type"], "Opaque", "{read}");
    let (status, created) = server.post(
        secrets,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}, "type": ""}),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["type"], "Opaque", "{created}");
    // An update that drops the type keeps it Opaque; a given type stays.
    let mut update = read.clone();
    update.as_object_mut().unwrap().remove("type");
    let (status, updated) = server.put(&format!("{secrets}/raw"), &update);
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["type"], "Opaque", "{updated}");
    let (status, tls) = server.post(
        secrets,
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
                "type": "example.com/custom", "data": {}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{tls}");
    assert_eq!(tls["type"], "example.com/custom", "{tls}");

    // kubectl's typed `create secret generic` (protobuf from 1.32 on).
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let name = format!("gen-{}", k.tag());
        k.run(&["create", "secret", "generic", &name, "--from-literal=a=b"])
            .ok();
        let out = k.run(&["get", "secret", &name, "-o", "jsonpath={.type}"]);
        assert_eq!(out.ok(), "Opaque", "{}", out.cmdline);
    }
}
