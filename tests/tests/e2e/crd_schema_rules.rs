//! The structural-schema rules a CRD's `openAPIV3Schema` must meet beyond
//! types (root metadata, junctors with value validations only, defaults that
//! meet their CEL rules) are enforced on the wire: 422 with every failure as
//! a cause at upstream's field path; and embedded resources in a custom
//! object are checked for apiVersion, kind and metadata.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Server;

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

fn crd(schema: Value) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": schema}}]}})
}

fn causes(body: &Value) -> Vec<(String, String)> {
    body["details"]["causes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["field"].as_str().unwrap_or("").to_string(),
                        c["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn schema_rules_refuse_definitions_and_embedded_resources_are_checked() {
    let server = Server::start_in_process();
    let root = "spec.versions[0].schema.openAPIV3Schema";

    // Every structural failure at once.
    let (status, body) = server.post(
        CRDS,
        &crd(json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {"type": "object", "properties": {"a": {"type": "string"}},
                "oneOf": [{"type": "object", "required": ["a"]}]}}})),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let got = causes(&body);
    assert_eq!(
        got,
        [
            (
                format!("{root}.properties[metadata]"),
                "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified".to_string()
            ),
            (
                format!("{root}.properties[spec].oneOf[0].type"),
                "Forbidden: must be empty to be structural".to_string()
            ),
        ],
        "{body}"
    );

    // A default that breaks its rule.
    let spec = json!({"type": "object", "properties": {
        "size": {"type": "integer", "default": 0,
            "x-kubernetes-validations": [{"rule": "self > 0", "message": "must be positive"}]},
        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
            "x-kubernetes-preserve-unknown-fields": true}}});
    let (status, body) = server.post(
        CRDS,
        &crd(json!({"type": "object", "properties": {"spec": spec.clone()}})),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        causes(&body),
        [(
            format!("{root}.properties[spec].properties[size].default"),
            "Invalid value: \"integer\": must be positive".to_string()
        )]
    );

    // Fixed, the CRD is served; embedded resources need apiVersion and kind.
    let mut good = spec;
    good["properties"]["size"]["default"] = json!(1);
    let (status, body) = server.post(
        CRDS,
        &crd(json!({"type": "object", "properties": {"spec": good}})),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let base = "/apis/example.com/v1/namespaces/default/gadgets";
    server.wait_served(base);
    let gadget = |template: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": "g"}, "spec": {"template": template}})
    };
    let (status, body) = server.post(
        base,
        &gadget(json!({"kind": "Pod", "metadata": {"name": "a/b"}})),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        causes(&body),
        [
            (
                "spec.template.apiVersion".to_string(),
                "Required value".to_string()
            ),
            (
                "spec.template.metadata.name".to_string(),
                "Invalid value: \"a/b\": may not contain '/'".to_string()
            ),
        ]
    );
    let (status, body) = server.post(
        base,
        &gadget(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["spec"]["size"], 1, "{body}");
}
