//! Server-side apply and managedFields on custom resources: `kubectl apply
//! --server-side` of Gateway API objects merges list-type maps by key (the
//! CRD's `x-kubernetes-list-type`/`-list-map-keys`), two managers conflict
//! (409) until one forces; merge patches and PUTs record `Update` entries;
//! unknown fields warn (or fail under Strict) on update and patch as on create.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    Kubectl, SERVED_TIMEOUT, Server, first_kubectl, into_json, testdata, wait_until,
};

fn install_gateway_crds(server: &Server, k: &Kubectl) {
    let dir = testdata().join("crds/gateway-api");
    for f in ["gatewayclasses", "gateways", "httproutes"] {
        let file = dir.join(format!("gateway.networking.k8s.io_{f}.yaml"));
        k.run(&["apply", "-f", file.to_str().expect("utf-8 path")])
            .ok();
    }
    server.wait_served("/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways");
    server.wait_served("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes");
    wait_until(
        "the OpenAPI document to describe them",
        SERVED_TIMEOUT,
        || {
            let (_, doc) = server.get("/openapi/v3/apis/gateway.networking.k8s.io/v1");
            ["GatewayClass", "Gateway", "HTTPRoute"].iter().all(|k| {
                doc["components"]["schemas"]
                    .get(format!("io.k8s.networking.gateway.v1.{k}"))
                    .is_some()
            })
        },
    );
}

fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn listener_names(gw: &Value) -> Vec<&str> {
    gw["spec"]["listeners"]
        .as_array()
        .expect("listeners")
        .iter()
        .map(|l| l["name"].as_str().expect("a listener name"))
        .collect()
}

const GATEWAY: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/my-gateway";

#[test]
fn server_side_apply_of_gateway_api_objects_merges_by_list_map_keys() {
    let server = Server::start();
    let k = first_kubectl(&server);
    install_gateway_crds(&server, &k);

    // A GatewayClass, Gateway and HTTPRoute, created by apply.
    let example = testdata().join("examples/gateway-api/valid/basic-http.yaml");
    let out = k
        .run(&["apply", "--server-side", "-f", example.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(
        out.contains("gateway.gateway.networking.k8s.io/my-gateway serverside-applied"),
        "{out}"
    );
    let (_, gw) = server.get(GATEWAY);
    let mine = entry(&gw, "kubectl", "Apply").unwrap_or_else(|| panic!("{gw}"));
    assert_eq!(mine["apiVersion"], "gateway.networking.k8s.io/v1");
    // listeners is a list-type map keyed by name: each item is owned by key.
    let http = &mine["fieldsV1"]["f:spec"]["f:listeners"]["k:{\"name\":\"http\"}"];
    assert_eq!(
        http,
        &json!({".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}}),
        "{mine}"
    );
    // hostnames of the route has no list type: atomic, owned whole.
    let route = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/http-app-1";
    let (_, r) = server.get(route);
    let rf = &entry(&r, "kubectl", "Apply").unwrap()["fieldsV1"]["f:spec"];
    assert_eq!(rf["f:hostnames"], json!({}), "{rf}");

    // A second manager adds a listener: merged by key, not replacing the list.
    let other = server.write_file(
        "other.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: my-gateway}\n\
         spec:\n  listeners:\n  - {name: alt, protocol: HTTP, port: 8080}\n",
    );
    let other = other.to_str().unwrap();
    k.run(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        other,
    ])
    .ok();
    let (_, gw) = server.get(GATEWAY);
    assert_eq!(listener_names(&gw), ["http", "alt"], "{gw}");
    let theirs = &entry(&gw, "other", "Apply").unwrap()["fieldsV1"]["f:spec"]["f:listeners"];
    assert!(theirs.get("k:{\"name\":\"alt\"}").is_some(), "{theirs}");
    assert!(theirs.get("k:{\"name\":\"http\"}").is_none(), "{theirs}");
    let mine = &entry(&gw, "kubectl", "Apply").unwrap()["fieldsV1"]["f:spec"]["f:listeners"];
    assert!(mine.get("k:{\"name\":\"http\"}").is_some(), "{mine}");

    // Changing the first manager's port conflicts: 409 with upstream's message.
    let conflicting = server.write_file(
        "conflict.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: my-gateway}\n\
         spec:\n  listeners:\n  - {name: alt, protocol: HTTP, port: 8080}\n  - {name: http, protocol: HTTP, port: 81}\n",
    );
    let conflicting = conflicting.to_str().unwrap();
    let err = k
        .run(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            conflicting,
        ])
        .fails()
        .to_string();
    assert!(
        err.contains("conflict with \"kubectl\"")
            && err.contains(".spec.listeners[name=\"http\"].port"),
        "{err}"
    );
    let body = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "my-gateway"},
        "spec": {"listeners": [{"name": "http", "protocol": "HTTP", "port": 81}]}});
    let resp = server
        .http()
        .patch(server.at(&format!("{GATEWAY}?fieldManager=other")))
        .header("Content-Type", "application/apply-patch+yaml")
        .body(body.to_string())
        .send()
        .expect("PATCH");
    let (status, st) = into_json(resp);
    assert_eq!(status, StatusCode::CONFLICT, "{st}");
    assert_eq!(st["reason"], "Conflict");
    assert_eq!(
        st["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl\"",
                "field": ".spec.listeners[name=\"http\"].port"}]),
        "{st}"
    );
    let (_, gw) = server.get(GATEWAY);
    assert_eq!(gw["spec"]["listeners"][0]["port"], 80, "nothing changed");

    // Forcing takes ownership of the port.
    k.run(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        conflicting,
    ])
    .ok();
    let (_, gw) = server.get(GATEWAY);
    assert_eq!(gw["spec"]["listeners"][0]["port"], 81, "{gw}");
    let theirs = &entry(&gw, "other", "Apply").unwrap()["fieldsV1"]["f:spec"]["f:listeners"];
    assert!(
        theirs["k:{\"name\":\"http\"}"].get("f:port").is_some(),
        "{theirs}"
    );
    let mine = &entry(&gw, "kubectl", "Apply").unwrap()["fieldsV1"]["f:spec"]["f:listeners"];
    assert!(
        mine["k:{\"name\":\"http\"}"].get("f:port").is_none()
            && mine["k:{\"name\":\"http\"}"].get("f:protocol").is_some(),
        "{mine}"
    );

    // The first manager stops applying its listener: the fields it alone
    // owned go, the item stays (the other manager owns part of it).
    let mine_only = server.write_file(
        "mine.yaml",
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: my-gateway}\n\
         spec:\n  gatewayClassName: example\n  listeners:\n  - {name: extra, protocol: HTTP, port: 9090}\n",
    );
    k.run(&["apply", "--server-side", "-f", mine_only.to_str().unwrap()])
        .ok();
    let (_, gw) = server.get(GATEWAY);
    assert_eq!(listener_names(&gw), ["http", "alt", "extra"], "{gw}");
}

const WIDGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
"#;

fn warnings(resp: &reqwest::blocking::Response) -> Vec<String> {
    resp.headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().expect("ASCII header").to_string())
        .collect()
}

#[test]
fn custom_resource_updates_record_managed_fields_and_report_unknown_fields() {
    let server = Server::start();
    let k = first_kubectl(&server);
    k.apply_yaml(&server, "gadgets", WIDGETS);
    let base = "/apis/example.com/v1/namespaces/default/gadgets";
    server.wait_served(base);
    let g1 = format!("{base}/g1");
    let resp = server
        .http()
        .post(server.at(&format!("{base}?fieldManager=creator")))
        .json(&json!({"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": "g1"}, "spec": {"size": 1, "tags": ["a"]}}))
        .send()
        .expect("POST");
    let (status, created) = into_json(resp);
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let e = entry(&created, "creator", "Update").unwrap_or_else(|| panic!("{created}"));
    // A set's items are owned one by one.
    let spec = &e["fieldsV1"]["f:spec"];
    assert!(
        spec.get("f:size").is_some() && spec["f:tags"].get("v:\"a\"").is_some(),
        "{e}"
    );

    // A merge patch by another manager: an Update entry for what it changed,
    // and an unknown field is pruned with a warning.
    let resp = server
        .http()
        .patch(server.at(&format!("{g1}?fieldManager=patcher")))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"spec": {"size": 2, "bogus": true}}).to_string())
        .send()
        .expect("PATCH");
    let w = warnings(&resp);
    let (status, patched) = into_json(resp);
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(w, ["299 - \"unknown field \\\"spec.bogus\\\"\""], "{w:?}");
    assert_eq!(patched["spec"], json!({"size": 2, "tags": ["a"]}));
    let p = entry(&patched, "patcher", "Update").unwrap_or_else(|| panic!("{patched}"));
    assert_eq!(p["fieldsV1"], json!({"f:spec": {"f:size": {}}}), "{p}");
    let c = &entry(&patched, "creator", "Update").unwrap()["fieldsV1"]["f:spec"];
    assert!(
        c.get("f:size").is_none() && c["f:tags"].get("v:\"a\"").is_some(),
        "{c}"
    );

    // Strict: the same patch is refused.
    let resp = server
        .http()
        .patch(server.at(&format!("{g1}?fieldValidation=Strict")))
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"spec": {"size": 3, "bogus": true}}).to_string())
        .send()
        .expect("PATCH");
    let (status, st) = into_json(resp);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{st}");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("strict decoding error: unknown field \"spec.bogus\""),
        "{st}"
    );

    // PUT: warnings by default, 400 under Strict.
    let (_, mut cur) = server.get(&g1);
    cur["spec"]["other"] = json!(1);
    let resp = server
        .http()
        .put(server.at(&g1))
        .json(&cur)
        .send()
        .expect("PUT");
    let w = warnings(&resp);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(w, ["299 - \"unknown field \\\"spec.other\\\"\""], "{w:?}");
    let (_, mut cur) = server.get(&g1);
    cur["spec"]["other"] = json!(1);
    let resp = server
        .http()
        .put(server.at(&format!("{g1}?fieldValidation=Strict")))
        .json(&cur)
        .send()
        .expect("PUT");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Server-side apply of the set: items merge (union) across managers.
    let resp = server
        .http()
        .patch(server.at(&format!("{g1}?fieldManager=applier")))
        .header("Content-Type", "application/apply-patch+yaml")
        .body(
            json!({"apiVersion": "example.com/v1", "kind": "Gadget",
                "metadata": {"name": "g1"}, "spec": {"tags": ["b"]}})
            .to_string(),
        )
        .send()
        .expect("PATCH");
    let (status, applied) = into_json(resp);
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["spec"]["tags"], json!(["a", "b"]), "{applied}");
}
