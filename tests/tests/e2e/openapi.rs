//! OpenAPI end to end: `/openapi/v2` as kube-apiserver serves it (JSON,
//! gnostic protobuf, caching headers), used by real kubectl — the
//! client-side validation of kinds whose v3 document has no PATCH operation
//! (the review kinds) falls back to it — together with `/openapi/v3`
//! (headers, apply's strategic merge patch, explain), and CRD changes
//! reaching both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;

use crate::harness::{Kubectl, Server, kubectl_bins};

const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

fn no_redirects() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

fn header(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The request lines kubectl logged at `-v=6`: (method, path, status).
fn requests(stderr: &str) -> Vec<(String, String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let verb = l.split("verb=\"").nth(1)?.split('"').next()?;
            let url = l.split("url=\"").nth(1)?.split('"').next()?;
            let status = l.split("status=\"").nth(1)?.split('"').next()?;
            let path = url.split("://").nth(1)?.split_once('/')?.1;
            let path = format!("/{}", path.split('?').next()?);
            Some((verb.to_string(), path, status.to_string()))
        })
        .collect()
}

const SSAR: &str = "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n\
                    spec:\n  resourceAttributes:\n    verb: list\n    resource: secrets\n";

/// `kubectl create -f` of a review kind validates against `/openapi/v2`
/// (decoded from gnostic's protobuf by client-go) and so needs no
/// `--validate=false`; a field the schema lacks is refused client-side.
fn create_review_validates_with_v2(server: &Server, k: &Kubectl) {
    let t = k.tag();
    let file = server.write_file(&format!("ssar-{t}.yaml"), SSAR);
    let out = k.run(&[
        "create",
        "-f",
        &file.to_string_lossy(),
        "-o",
        "json",
        "-v=6",
    ]);
    let v: Value = serde_json::from_str(out.ok()).expect("create -o json is JSON");
    assert_eq!(v["kind"], "SelfSubjectAccessReview", "{v}");
    assert_eq!(
        v["spec"]["resourceAttributes"]["resource"], "secrets",
        "{v}"
    );
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let reqs = requests(&out.stderr);
    assert!(
        reqs.iter()
            .any(|(m, p, s)| m == "GET" && p == "/openapi/v2" && s.starts_with("200")),
        "kubectl[{t}] fetched /openapi/v2: {reqs:?}"
    );

    let bad = server.write_file(
        &format!("ssar-bad-{t}.yaml"),
        &format!("{SSAR}    bogus: x\n"),
    );
    let err = k.run(&["create", "-f", &bad.to_string_lossy()]);
    let stderr = err.fails();
    assert!(
        stderr.contains("unknown field \"bogus\"")
            && stderr.contains("io.k8s.api.authorization.v1.ResourceAttributes"),
        "kubectl[{t}] validated against the v2 schema: {stderr}"
    );
}

#[test]
fn kubectl_validates_review_kinds_against_v2() {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        create_review_validates_with_v2(&server, &k);

        // `get --raw` prints the JSON document.
        let out = k.run(&["get", "--raw", "/openapi/v2"]);
        let doc: Value = serde_json::from_str(out.ok()).expect("/openapi/v2 is JSON");
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(
            doc["definitions"]["io.k8s.api.core.v1.ConfigMap"]["x-kubernetes-group-version-kind"]
                [0]["kind"],
            "ConfigMap"
        );
        let post = &doc["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]["post"];
        assert_eq!(
            post["operationId"],
            "createAuthorizationV1SelfSubjectAccessReview"
        );
        assert_eq!(post["x-kubernetes-action"], "post");
    }
}

#[test]
fn kubectl_apply_updates_with_a_strategic_merge_patch_and_explain_reads_v3() {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let t = k.tag();
        let name = format!("applied-{t}");
        let v1 = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n\
             data:\n  keep: \"1\"\n  drop: \"2\"\n"
        );
        let file = server.write_file(&format!("{name}.yaml"), &v1);
        let file = file.to_string_lossy().to_string();
        assert!(k.run(&["apply", "-f", &file]).ok().contains("created"));

        let v2 = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n\
             data:\n  keep: \"changed\"\n  added: \"3\"\n"
        );
        std::fs::write(&file, v2).expect("rewrite manifest");
        let out = k.run(&["apply", "-f", &file, "-v=8"]);
        assert!(out.ok().contains("configured"), "{}", out.stdout);
        assert!(
            out.stderr
                .contains("Content-Type: application/strategic-merge-patch+json"),
            "kubectl[{t}] apply sent a strategic merge patch:\n{}",
            out.stderr
        );
        let (status, cm) = server.get(&format!("/api/v1/namespaces/default/configmaps/{name}"));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            cm["data"],
            serde_json::json!({"keep": "changed", "added": "3"}),
            "{cm}"
        );

        let out = k.run(&["explain", "configmap.data"]);
        assert!(out.ok().contains("map[string]string"), "{}", out.stdout);
    }
}

#[test]
fn v3_and_v2_answer_with_upstreams_headers() {
    let server = Server::start();
    let http = no_redirects();

    // The index: served by kube-apiserver's aggregator, Go's sniffed type, no ETag.
    let r = http
        .get(server.at("/openapi/v3"))
        .send()
        .expect("GET index");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&r, "etag"), None);
    let index: Value = r.json().expect("index is JSON");
    let url = index["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .expect("api/v1 URL")
        .to_string();
    let hash = url.split("?hash=").nth(1).expect("hash").to_string();
    assert_eq!(hash.len(), 128);
    assert!(
        hash.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );

    // The document with its hash: immutable, a year to expire.
    let r = http.get(server.at(&url)).send().expect("GET api/v1");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(&r, "etag"), Some(format!("\"{hash}\"")));
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public, immutable")
    );
    assert!(header(&r, "expires").is_some_and(|e| e.ends_with(" UTC")));
    assert_eq!(header(&r, "vary").as_deref(), Some("Accept"));

    // Without a hash: not cacheable; a stale one: 301 to the current URL.
    let r = http
        .get(server.at("/openapi/v3/api/v1"))
        .send()
        .expect("GET");
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("no-cache, private")
    );
    let r = http
        .get(server.at("/openapi/v3/api/v1?hash=0BSOLETE"))
        .send()
        .expect("GET stale");
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&r, "location"), Some(url.clone()));
    let r = http
        .get(server.at(&url))
        .header("If-None-Match", format!("\"{hash}\""))
        .send()
        .expect("GET conditional");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http
        .get(server.at(&url))
        .header(
            "Accept",
            "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
        )
        .send()
        .expect("GET v3 protobuf");
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        http.get(server.at("/openapi/v3/apis/none.example.com/v1"))
            .send()
            .expect("GET unknown")
            .status(),
        StatusCode::NOT_FOUND
    );

    // v2: JSON by default, protobuf when asked, one ETag for both, gzip.
    let r = http.get(server.at("/openapi/v2")).send().expect("GET v2");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    let etag = header(&r, "etag").expect("v2 ETag");
    let json = r.bytes().expect("v2 body");
    let doc: Value = serde_json::from_slice(&json).expect("v2 is JSON");
    assert_eq!(doc["swagger"], "2.0");
    let r = http
        .get(server.at("/openapi/v2"))
        .header("Accept", V2_PROTOBUF)
        .send()
        .expect("GET v2 protobuf");
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    );
    assert_eq!(header(&r, "etag").as_deref(), Some(etag.as_str()));
    let pb = r.bytes().expect("protobuf body");
    // Document.swagger (field 1) = "2.0" comes first.
    assert_eq!(&pb[..5], b"\x0a\x032.0");
    let r = http
        .get(server.at("/openapi/v2"))
        .header("Accept", V2_PROTOBUF)
        .header("If-None-Match", &etag)
        .send()
        .expect("GET v2 conditional");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http
        .get(server.at("/openapi/v2"))
        .header("Accept-Encoding", "gzip")
        .send()
        .expect("GET v2 gzip");
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(&r.bytes().expect("gzip body")[..2], b"\x1f\x8b");
    let r = http
        .get(server.at("/openapi/v2"))
        .header("Accept", "text/html")
        .send()
        .expect("GET v2 html");
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
}

fn gateway_crds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/crds/gateway-api")
}

fn v2(server: &Server) -> (String, Value) {
    let r = server
        .http()
        .get(server.at("/openapi/v2"))
        .send()
        .expect("GET v2");
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (etag, r.json().expect("v2 is JSON"))
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn crd_changes_reach_v2_and_kubectl_still_parses_it() {
    let server = Server::start();
    let bins = kubectl_bins();
    let k = server.kubectl(&bins[0]);
    let (before, _) = v2(&server);
    k.run(&["apply", "-f", &gateway_crds().to_string_lossy()])
        .ok();
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=20s",
    ])
    .ok();
    let gateway = "io.k8s.networking.gateway.v1.Gateway";
    eventually("the Gateway definition in /openapi/v2", || {
        v2(&server).1["definitions"].get(gateway).is_some()
    });
    let (after, doc) = v2(&server);
    assert_ne!(before, after, "the ETag follows the document");

    let def = &doc["definitions"][gateway];
    assert_eq!(
        def["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "version": "v1"}])
    );
    assert_eq!(
        def["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(doc["definitions"][format!("{gateway}List")].is_object());
    // What v2 cannot say is gone from every custom resource schema.
    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if ["nullable", "oneOf", "anyOf", "allOf", "not"].contains(&k.as_str())
                        && !path.ends_with("/properties")
                    {
                        bad.push(format!("{path}/{k}"));
                    }
                    walk(x, &format!("{path}/{k}"), bad);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path, bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    for (name, d) in doc["definitions"].as_object().expect("definitions") {
        if name.starts_with("io.k8s.networking.gateway.") {
            walk(d, name, &mut bad);
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
    let item =
        &doc["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/{name}"];
    assert_eq!(
        item["patch"]["operationId"],
        "patchGatewayNetworkingV1NamespacedGateway"
    );
    assert_eq!(
        item["patch"]["tags"],
        serde_json::json!(["gatewayNetworking_v1"])
    );
    let consumes = item["patch"]["consumes"].as_array().expect("consumes");
    assert!(
        !consumes
            .iter()
            .any(|c| c == "application/strategic-merge-patch+json")
    );
    assert!(doc["paths"]["/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/{name}/status"]["put"].is_object());

    // Every kubectl still decodes and uses the whole document (CRD schemas with
    // CEL rules, enums, defaults included).
    for bin in &bins {
        create_review_validates_with_v2(&server, &server.kubectl(bin));
    }

    // Deleting the CRD takes its definitions and paths out again.
    k.run(&["delete", "crd", "gateways.gateway.networking.k8s.io"])
        .ok();
    eventually("the Gateway definition gone from /openapi/v2", || {
        v2(&server).1["definitions"].get(gateway).is_none()
    });
    let (_, doc) = v2(&server);
    assert!(
        doc["paths"]
            .get("/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways")
            .is_none()
    );
    assert!(doc["definitions"]["io.k8s.networking.gateway.v1.HTTPRoute"].is_object());
}
