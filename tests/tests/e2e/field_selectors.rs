//! Field selectors on the fields a kind declares selectable (api-defs'
//! `selectableFields`, a CRD version's `selectableFields`): lists, watches
//! (an object whose field changes out of the selector arrives as DELETED),
//! kubectl's `--field-selector`, the Python client's `field_selector`, and
//! 400 with upstream's message for any other field.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, assert_status, first_kubectl, kubectl_bins, run_python_checks};

const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const EVENTS: &str = "/api/v1/namespaces/default/events";

/// The names of a list's items, sorted.
fn names(list: &Value) -> Vec<String> {
    let mut n = crate::harness::names(list);
    n.sort();
    n
}

fn secret(name: &str, type_: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
           "type": type_, "stringData": {"k": "v"}})
}

fn event(name: &str, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
           "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "cm1"},
           "reason": reason, "type": "Normal", "source": {"component": "tester"}})
}

#[test]
fn declared_fields_select_lists_and_others_are_refused() {
    let server = Server::start_in_process();
    for (name, t) in [
        ("s1", "example.com/a"),
        ("s2", "example.com/b"),
        ("s3", "example.com/a"),
    ] {
        let (status, body) = server.post(SECRETS, &secret(name, t));
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // From storage (paginated) and from the watch cache (resourceVersion=0).
    for extra in ["&limit=10", "&resourceVersion=0", ""] {
        let (status, list) = server.get(&format!(
            "{SECRETS}?fieldSelector=type%3Dexample.com%2Fa{extra}"
        ));
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(names(&list), ["s1", "s3"], "{extra}: {list}");
        let (_, list) = server.get(&format!(
            "{SECRETS}?fieldSelector=type!%3Dexample.com%2Fa,metadata.name!%3Ds9{extra}"
        ));
        assert_eq!(names(&list), ["s2"], "{extra}: {list}");
    }
    // Across namespaces too.
    let (_, list) = server.get("/api/v1/secrets?fieldSelector=type%3Dexample.com%2Fb");
    assert_eq!(names(&list), ["s2"], "{list}");

    // Event: involvedObject.*, reason, source (source.component, else reportingComponent).
    let (status, body) = server.post(EVENTS, &event("e1", "Started"));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut e2 = event("e2", "Killed");
    e2["source"] = json!({});
    e2["reportingComponent"] = json!("ctrl");
    let (status, body) = server.post(EVENTS, &e2);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (sel, want) in [
        ("reason%3DStarted", vec!["e1"]),
        (
            "involvedObject.name%3Dcm1,involvedObject.kind%3DConfigMap",
            vec!["e1", "e2"],
        ),
        ("source%3Dctrl", vec!["e2"]),
        ("source%3Dtester", vec!["e1"]),
        ("reportingComponent%3Dctrl", vec!["e2"]),
        ("type%3DWarning", vec![]),
    ] {
        let (status, list) = server.get(&format!("{EVENTS}?fieldSelector={sel}"));
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(names(&list), want, "{sel}: {list}");
    }

    // Namespace: status.phase.
    let (_, list) = server.get("/api/v1/namespaces?fieldSelector=status.phase%3DActive");
    assert!(names(&list).contains(&"default".to_string()), "{list}");
    let (_, list) = server.get("/api/v1/namespaces?fieldSelector=status.phase%3DTerminating");
    assert_eq!(names(&list), Vec::<String>::new(), "{list}");

    // Any other field: 400 with upstream's message for the kind, for lists
    // and watches: kinds with a field label conversion of their own say "not
    // supported" (and Namespace, cluster-scoped, has no metadata.namespace);
    // kinds without one answer apimachinery's default.
    let unsupported = |f: &str| format!("field label not supported: {f}");
    for (path, message) in [
        (
            format!("{SECRETS}?fieldSelector=spec.nodeName%3Dn1"),
            unsupported("spec.nodeName"),
        ),
        (
            format!("{SECRETS}?fieldSelector=spec.nodeName%3Dn1&watch=true"),
            unsupported("spec.nodeName"),
        ),
        (
            format!("{EVENTS}?fieldSelector=status.phase%3DRunning&limit=1"),
            unsupported("status.phase"),
        ),
        (
            "/api/v1/namespaces?fieldSelector=metadata.namespace%3Dx".to_string(),
            unsupported("metadata.namespace"),
        ),
        (
            "/api/v1/namespaces/default/configmaps?fieldSelector=type%3Dx".to_string(),
            "\"type\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                .to_string(),
        ),
    ] {
        let (status, body) = server.get(&path);
        assert_status(status, &body, 400, "BadRequest");
        assert_eq!(body["message"], message, "{path}: {body}");
    }
}

#[test]
fn a_watch_on_a_declared_field_sees_objects_leave_and_enter() {
    let server = Server::start_in_process();
    let (_, list) = server.get(EVENTS);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string();
    let mut watch = server.watch(&format!(
        "{EVENTS}?watch=true&timeoutSeconds=10&resourceVersion={rv}&fieldSelector=reason%3DStarted"
    ));
    let (status, mut ev) = server.post(EVENTS, &event("w1", "Started"));
    assert_eq!(status, StatusCode::CREATED, "{ev}");
    for reason in ["Killed", "Pulled", "Started"] {
        ev["reason"] = json!(reason);
        let (status, body) = server.put(&format!("{EVENTS}/w1"), &ev);
        assert_eq!(status, StatusCode::OK, "{body}");
        ev = body;
    }
    let events = watch.take_events(3);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    // Killed → Pulled is outside the selector both times: no event.
    assert_eq!(types, ["ADDED", "DELETED", "ADDED"], "{events:?}");
    assert_eq!(events[1]["object"]["reason"], "Started", "{events:?}");
    assert_eq!(events[2]["object"]["reason"], "Started", "{events:?}");

    // A watch from the current state (initial ADDED events) filters too:
    // nothing until it ends (after the shortest timeout, 1 s).
    let initial = server
        .watch(&format!(
            "{EVENTS}?watch=true&timeoutSeconds=1&fieldSelector=reason%3DKilled"
        ))
        .until_end();
    assert!(initial.is_empty(), "{initial:?}");
}

#[test]
fn kubectl_and_python_select_on_declared_fields() {
    let server = Server::start();
    for (name, t) in [("k1", "example.com/tls"), ("k2", "Opaque")] {
        let (status, body) = server.post(SECRETS, &secret(name, t));
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let out = k.run(&[
            "get",
            "secrets",
            "--field-selector",
            "type=example.com/tls",
            "-o",
            "name",
        ]);
        assert_eq!(out.ok().trim(), "secret/k1", "{}", bin.tag);
        let out = k.run(&[
            "get",
            "namespaces",
            "--field-selector",
            "status.phase=Active,metadata.name=default",
            "-o",
            "name",
        ]);
        assert_eq!(out.ok().trim(), "namespace/default", "{}", bin.tag);
        let err = k
            .run(&["get", "secrets", "--field-selector", "spec.nodeName=n1"])
            .fails()
            .to_string();
        assert!(
            err.contains("field label not supported: spec.nodeName"),
            "{}: {err}",
            bin.tag
        );
    }
    run_python_checks(&server, "field_selector.py");
}

const SHIRTS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: shirts.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: shirts, singular: shirt, kind: Shirt}
  versions:
  - name: v1
    served: true
    storage: true
    selectableFields:
    - jsonPath: .spec.color
    - jsonPath: .spec.size
    - jsonPath: .spec.branded
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string}
              size: {type: integer}
              branded: {type: boolean}
              weight: {type: number}
"#;

#[test]
fn custom_resources_select_on_their_selectable_fields() {
    let server = Server::start();
    let k = first_kubectl(&server);
    k.apply_yaml(&server, "shirts", SHIRTS);
    let base = "/apis/example.com/v1/namespaces/default/shirts";
    server.wait_served(base);
    for (name, color, size, branded) in [
        ("t1", "red", 1, true),
        ("t2", "blue", 2, false),
        ("t3", "red", 3, false),
    ] {
        let (status, body) = server.post(
            base,
            &json!({"apiVersion": "example.com/v1", "kind": "Shirt", "metadata": {"name": name},
                    "spec": {"color": color, "size": size, "branded": branded}}),
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, missing) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Shirt", "metadata": {"name": "t4"}, "spec": {}}),
    );
    assert_eq!(missing["metadata"]["name"], "t4", "{missing}");
    for (sel, want) in [
        ("spec.color%3Dred", vec!["t1", "t3"]),
        ("spec.color%3Dred,spec.size%3D3", vec!["t3"]),
        ("spec.branded%3Dtrue", vec!["t1"]),
        ("spec.size!%3D2", vec!["t1", "t3", "t4"]),
        // A missing field selects as empty, as upstream's field set.
        ("spec.color%3D", vec!["t4"]),
    ] {
        let (status, list) = server.get(&format!("{base}?fieldSelector={sel}"));
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(names(&list), want, "{sel}: {list}");
    }
    let out = k.run(&[
        "get",
        "shirts",
        "--field-selector",
        "spec.color=blue",
        "-o",
        "name",
    ]);
    assert_eq!(out.ok().trim(), "shirt.example.com/t2");
    let (status, body) = server.get(&format!("{base}?fieldSelector=spec.weight%3D1"));
    assert_status(status, &body, 400, "BadRequest");
    assert_eq!(body["message"], "field label not supported: spec.weight");

    // Published in the OpenAPI document as upstream publishes them.
    let (status, doc) = server.get("/openapi/v3/apis/example.com/v1");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc["components"]["schemas"]["com.example.v1.Shirt"]["x-kubernetes-selectable-fields"],
        json!([{"fieldPath": "spec.color"}, {"fieldPath": "spec.size"}, {"fieldPath": "spec.branded"}])
    );

    // A selectable field that is not a string, integer or boolean is refused.
    let mut bad: Value = serde_yaml_ng::from_str(SHIRTS).expect("the CRD is YAML");
    bad["metadata"]["name"] = json!("pants.example.com");
    bad["spec"]["names"] = json!({"plural": "pants", "kind": "Pants"});
    bad["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.weight"}]);
    let (status, body) = server.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &bad,
    );
    assert_status(status, &body, 422, "Invalid");
    assert_eq!(
        body["details"]["causes"][0]["field"], "spec.versions[0].selectableFields[0].jsonPath",
        "{body}"
    );
}
