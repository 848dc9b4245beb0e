//! CustomResourceDefinitions end to end: the Gateway API and cert-manager CRDs
//! from ../shared/testdata apply with kubectl and become Established; the
//! Gateway API examples apply (valid) or are refused with 422 naming the
//! field (invalid); a hand-written CRD exercises printer columns, short
//! names, categories, deprecated versions, /status, explain, unconditional
//! PUT, strategic merge patch and deletion.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{SERVED_TIMEOUT, Server, first_kubectl, parse_table, testdata, wait_until};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shared_crds_establish_and_gateway_examples_validate() {
    let server = Server::start();
    let k = first_kubectl(&server);
    let crds = testdata().join("crds");
    for group in ["gateway-api", "cert-manager"] {
        let dir = crds.join(group);
        let out = k.run(&["apply", "-f", dir.to_str().unwrap()]);
        let stdout = out.ok();
        for f in yaml_files(&dir) {
            let text = std::fs::read_to_string(&f).unwrap();
            let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
            let name = doc["metadata"]["name"].as_str().unwrap();
            assert!(
                stdout.contains(&format!("{name} created")),
                "{name} not created:\n{stdout}"
            );
        }
    }
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=20s",
    ])
    .ok();
    let (status, list) = server.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions");
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 16, "every shared CRD is stored");
    for crd in items {
        let conds = crd["status"]["conditions"].as_array().unwrap();
        for t in ["NamesAccepted", "Established"] {
            assert!(
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True"),
                "{} lacks {t}=True: {}",
                crd["metadata"]["name"],
                crd["status"]
            );
        }
        assert_eq!(
            crd["status"]["acceptedNames"]["plural"],
            crd["spec"]["names"]["plural"]
        );
        assert!(
            !crd["status"]["storedVersions"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let resources = k.run(&["api-resources"]).ok().to_string();
    for kind in [
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
        "ReferenceGrant",
        "Certificate",
        "ClusterIssuer",
        "Challenge",
    ] {
        assert!(
            resources
                .lines()
                .any(|l| l.split_whitespace().last() == Some(kind)),
            "api-resources lacks {kind}:\n{resources}"
        );
    }

    // Every valid example applies.
    let examples = testdata().join("examples/gateway-api");
    let valid = examples.join("valid");
    k.run(&[
        "apply",
        "-f",
        valid.join("0-namespaces.yaml").to_str().unwrap(),
    ])
    .ok();
    let out = k.run(&["apply", "-R", "-f", valid.to_str().unwrap()]);
    out.ok();
    assert!(
        !out.stderr.contains("Error"),
        "valid examples refused:\n{}",
        out.stderr
    );

    // Every invalid example is refused with 422 (kubectl prints "is invalid"
    // only for reason Invalid) naming the field: structural validation and
    // x-kubernetes-validations CEL rules.
    let expected: &[(&str, &str)] = &[
        ("gateway/hostname-tcp.yaml", "spec.listeners"),
        ("gateway/hostname-udp.yaml", "spec.listeners"),
        ("gateway/tlsconfig-tcp.yaml", "spec.listeners"),
        ("gateway/invalid-tls-mode.yaml", "spec.listeners"),
        (
            "gateway/invalid-listener-port.yaml",
            "spec.listeners[0].port",
        ),
        (
            "gateway/invalid-listener-name.yaml",
            "spec.listeners[0].name",
        ),
        ("gateway/invalid-addresses.yaml", "spec.addresses[0].value"),
        ("gateway/duplicate-listeners.yaml", "spec.listeners[1]"),
        ("referencegrant/missing-from.yaml", "spec.from"),
        ("referencegrant/missing-to.yaml", "spec.to"),
        ("referencegrant/missing-ns.yaml", "spec.from[0].namespace"),
        (
            "gatewayclass/invalid-controller.yaml",
            "spec.controllerName",
        ),
    ];
    let invalid_dir = examples.join("invalid");
    let mut listed: Vec<PathBuf> = expected.iter().map(|(f, _)| invalid_dir.join(f)).collect();
    listed.sort();
    assert_eq!(
        listed,
        yaml_files(&invalid_dir),
        "every invalid example is checked"
    );
    // One kubectl run for all: it reports each file's error on a line
    // naming the file, and creates none.
    let mut args = vec!["create".to_string()];
    for (file, _) in expected {
        args.push("-f".into());
        args.push(invalid_dir.join(file).to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = k.run(&args);
    let stderr = out.fails();
    assert!(!out.stdout.contains("created"), "{}", out.stdout);
    for (file, field) in expected {
        let path = format!("\"{}\"", invalid_dir.join(file).display());
        let line = stderr
            .lines()
            .find(|l| l.contains(&path))
            .unwrap_or_else(|| panic!("{file}: no error for it:\n{stderr}"));
        assert!(
            line.contains("is invalid") && line.contains(&format!("{field}:")),
            "{file}: expected a 422 on {field}, got:\n{line}"
        );
    }

    // Printer columns, including a JSONPath filter column.
    let table = k
        .run(&["get", "gateways", "-n", "infra-ns"])
        .ok()
        .to_string();
    let rows = parse_table(&table);
    assert!(!rows.is_empty(), "no gateways:\n{table}");
    for col in ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"] {
        assert!(rows[0].contains_key(col), "no {col} column:\n{table}");
    }
    assert_eq!(rows[0]["CLASS"], "shared-gateway-class");
    assert_eq!(rows[0]["PROGRAMMED"], "Unknown", "status defaults apply");

    // explain reads the CRD's schema from /openapi/v3.
    let explain = k.run(&["explain", "httproute.spec.rules"]).ok().to_string();
    assert!(
        explain.contains("KIND:")
            && explain.contains("HTTPRoute")
            && explain.contains("backendRefs"),
        "explain:\n{explain}"
    );
}

const WIDGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [stuff]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer, default: 1, minimum: 0}
              color: {type: string, enum: [red, blue]}
          status:
            type: object
            properties:
              conditions: {type: array, items: {type: object, x-kubernetes-preserve-unknown-fields: true}}
              replicas: {type: integer}
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

fn patch(server: &Server, path: &str, ct: &str, body: &Value) -> (StatusCode, Value) {
    crate::harness::into_json(
        server
            .http()
            .patch(server.at(path))
            .header("Content-Type", ct)
            .body(body.to_string())
            .send()
            .expect("PATCH"),
    )
}

#[test]
fn custom_resource_lifecycle() {
    let server = Server::start();
    let k = first_kubectl(&server);
    let file = server.write_file("widgets.yaml", WIDGETS);
    k.run(&["apply", "-f", file.to_str().unwrap()]).ok();
    let base = "/apis/example.com/v1/namespaces/default/widgets";
    server.wait_served(base);

    // Create: defaults applied, status dropped (status subresource), unknown fields pruned.
    let (status, created) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
                "spec": {"color": "red", "extra": 1}, "status": {"conditions": []}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["spec"], json!({"color": "red", "replicas": 1}));
    assert!(created.get("status").is_none(), "{created}");

    // Validation failures are all reported.
    let (status, body) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"},
                "spec": {"color": "green", "replicas": -1}}),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["spec.color", "spec.replicas"], "{body}");

    // /status changes only the status; the main resource ignores status.
    let (status, body) = patch(
        &server,
        &format!("{base}/w1/status"),
        "application/merge-patch+json",
        &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "spec": {"color": "blue"}}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["color"], "red");
    assert_eq!(body["status"]["conditions"][0]["status"], "True");
    let (status, body) = patch(
        &server,
        &format!("{base}/w1"),
        "application/merge-patch+json",
        &json!({"status": {"conditions": []}, "spec": {"replicas": 2}}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["replicas"], 2);
    assert_eq!(body["metadata"]["generation"], 2);
    assert_eq!(body["status"]["conditions"][0]["type"], "Ready");

    // Strategic merge patch is not for custom resources; PUT needs a resourceVersion.
    let (status, body) = patch(
        &server,
        &format!("{base}/w1"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"replicas": 3}}),
    );
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = server.put(
        &format!("{base}/w1"),
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {}}),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["field"],
        "metadata.resourceVersion"
    );

    // kubectl: short name, category, printer columns with a filter.
    for args in [&["get", "wd"][..], &["get", "stuff"][..]] {
        let table = k.run(args).ok().to_string();
        let rows = parse_table(&table);
        assert_eq!(rows.len(), 1, "{table}");
        assert_eq!(rows[0]["NAME"], "w1");
        assert_eq!(rows[0]["READY"], "True");
        assert_eq!(rows[0]["REPLICAS"], "2");
    }

    // /scale: kubectl scale sends a merge patch of an autoscaling/v1 Scale.
    k.run(&["scale", "widget", "w1", "--replicas=4"]).ok();
    let (status, scale) = server.get(&format!("{base}/w1/scale"));
    assert_eq!(status, StatusCode::OK, "{scale}");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 4);
    assert_eq!(scale["status"]["replicas"], 0);
    let (_, obj) = server.get(&format!("{base}/w1"));
    assert_eq!(obj["spec"]["replicas"], 4);
    let (status, body) = server.put(
        &format!("{base}/w1/scale"),
        &json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "w1"}, "spec": {"replicas": 2}}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["replicas"], 2);

    // The deprecated version serves the same object with a Warning.
    let resp = server
        .http()
        .get(server.at("/apis/example.com/v1beta1/namespaces/default/widgets/w1"))
        .send()
        .unwrap();
    let warning = resp
        .headers()
        .get("warning")
        .map(|w| w.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        warning.contains("example.com/v1beta1 Widget is deprecated"),
        "warning: {warning:?}"
    );
    let obj: Value = resp.json().unwrap();
    assert_eq!(obj["apiVersion"], "example.com/v1beta1");

    // Discovery (legacy and aggregated) and OpenAPI list it.
    let (_, rl) = server.get("/apis/example.com/v1");
    assert!(
        rl["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "widgets/status"),
        "{rl}"
    );
    let (_, idx) = server.get("/openapi/v3");
    assert!(idx["paths"].get("apis/example.com/v1").is_some(), "{idx}");
    let explain = k.run(&["explain", "widget.spec"]).ok().to_string();
    assert!(explain.contains("replicas"), "{explain}");

    // Deleting a namespace deletes the custom objects in it.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "crd-ns"}});
    assert_eq!(
        server.post("/api/v1/namespaces", &ns).0,
        StatusCode::CREATED
    );
    let in_ns = "/apis/example.com/v1/namespaces/crd-ns/widgets";
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {}});
    assert_eq!(server.post(in_ns, &w).0, StatusCode::CREATED);
    k.run(&["delete", "namespace", "crd-ns", "--wait=true"])
        .ok();
    wait_until("the namespace to go", SERVED_TIMEOUT, || {
        server.get("/api/v1/namespaces/crd-ns").0 == StatusCode::NOT_FOUND
    });
    assert_eq!(
        server.post("/api/v1/namespaces", &ns).0,
        StatusCode::CREATED
    );
    let (_, list) = server.get(in_ns);
    assert_eq!(
        list["items"],
        json!([]),
        "custom objects went with their namespace"
    );

    // A default added to the schema later applies when stored objects are read.
    let crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";
    let (_, mut crd) = server.get(crd_path);
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"] =
        json!({"type": "string", "default": "M"});
    let (status, body) = server.put(crd_path, &crd);
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until("the new default on read", SERVED_TIMEOUT, || {
        server.get(&format!("{base}/w1")).1["spec"]["size"] == "M"
    });

    // Deleting the CRD makes it Terminating (held here by a second
    // finalizer), deletes its objects, then removes it, its routes and its
    // discovery entries once no finalizer is left.
    let (status, body) = patch(
        &server,
        crd_path,
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": ["customresourcecleanup.apiextensions.k8s.io", "example.com/hold"]}}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let resp = server.http().delete(server.at(crd_path)).send().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let deleting: Value = resp.json().unwrap();
    assert!(
        deleting["metadata"]["deletionTimestamp"].is_string(),
        "{deleting}"
    );
    wait_until("Terminating and the objects gone", SERVED_TIMEOUT, || {
        let (_, c) = server.get(crd_path);
        let terminating = c["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Terminating" && c["status"] == "True")
        });
        terminating
            && c["metadata"]["finalizers"] == json!(["example.com/hold"])
            && server.get(&format!("{base}/w1")).0 == StatusCode::NOT_FOUND
    });
    let (status, body) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "late"}}),
    );
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(
        body["message"],
        "create not allowed while custom resource definition is terminating"
    );
    let (status, body) = patch(
        &server,
        crd_path,
        "application/merge-patch+json",
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until("widgets to be gone", SERVED_TIMEOUT, || {
        server.get(base).0 == StatusCode::NOT_FOUND
            && server.get("/apis/example.com/v1").0 == StatusCode::NOT_FOUND
    });
    let (_, idx) = server.get("/openapi/v3");
    assert!(idx["paths"].get("apis/example.com/v1").is_none(), "{idx}");
    k.run(&["apply", "-f", file.to_str().unwrap()]).ok();
    server.wait_served(base);
    let (_, list) = server.get(base);
    assert_eq!(list["items"], json!([]), "objects went with their CRD");
}

#[test]
fn invalid_and_conflicting_definitions() {
    let server = Server::start_in_process();
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let (status, body) = server.post(
        path,
        &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "things", "kind": "Thing"},
                "versions": [{"name": "v1", "served": true, "storage": false,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"properties": {}}}}}}]}}),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"spec.versions"), "{body}");
    assert!(
        fields.contains(&"spec.versions[0].schema.openAPIV3Schema.properties[spec].type"),
        "{body}"
    );

    // A second CRD whose kind collides with an accepted one is not established.
    let crd = |plural: &str, kind: &str| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
    };
    assert_eq!(
        server.post(path, &crd("things", "Thing")).0,
        StatusCode::CREATED
    );
    wait_until("things established", SERVED_TIMEOUT, || {
        server.get(&format!("{path}/things.example.com")).1["status"]["acceptedNames"]["kind"]
            == "Thing"
    });
    assert_eq!(
        server.post(path, &crd("others", "Thing")).0,
        StatusCode::CREATED
    );
    wait_until("others refused names", SERVED_TIMEOUT, || {
        let (_, c) = server.get(&format!("{path}/others.example.com"));
        c["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                c["type"] == "NamesAccepted"
                    && c["status"] == "False"
                    && c["reason"] == "KindConflict"
            })
        })
    });
    assert_eq!(
        server.get("/apis/example.com/v1/others").0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.get("/apis/example.com/v1/things").0, StatusCode::OK);
}
