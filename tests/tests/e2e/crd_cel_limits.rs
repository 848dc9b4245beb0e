//! CEL rules that cost little by the static estimate (kube-cel's estimate
//! multiplies every loop by the rule node's own maxItems) but billions of
//! iterations at run time are cut off by the runtime limits: the create
//! fails fast with upstream's 422, and the server keeps serving.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Server, first_kubectl};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: pricey.example.com
spec:
  group: example.com
  names: {plural: pricey, singular: pricey, kind: Pricey}
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
              groups:
                type: array
                maxItems: 2
                items:
                  type: object
                  properties:
                    big: {type: array, items: {type: integer}}
                x-kubernetes-validations:
                - rule: "self.all(g, g.big.all(a, g.big.all(b, g.big.all(c, a + b + c >= 0))))"
                  message: all sums are non-negative
"#;

#[test]
fn a_rule_too_expensive_at_run_time_fails_fast_with_422() {
    let server = Server::start();
    first_kubectl(&server).apply_yaml(&server, "pricey", CRD);
    let base = "/apis/example.com/v1/namespaces/default/pricey";
    server.wait_served(base);

    // Small lists: the rule runs and passes.
    let (status, body) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Pricey", "metadata": {"name": "small"},
            "spec": {"groups": [{"big": [1, 2, 3]}]}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // 1,000 items: 10⁹ iterations per group without a limit.
    let big: Vec<i64> = (0..1000).collect();
    let start = Instant::now();
    let (status, body) = server.post(
        base,
        &json!({"apiVersion": "example.com/v1", "kind": "Pricey", "metadata": {"name": "big"},
            "spec": {"groups": [{"big": big}, {"big": big}]}}),
    );
    let took = start.elapsed();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let causes = body["details"]["causes"].as_array().expect("causes");
    assert_eq!(causes.len(), 1, "{body}");
    assert_eq!(causes[0]["field"], "spec.groups", "{body}");
    let msg = causes[0]["message"].as_str().expect("message");
    assert!(
        msg.contains("call cost exceeds limit for rule: all sums are non-negative")
            || msg.contains("validation failed due to running out of cost budget"),
        "{msg}"
    );

    // The server still answers at once.
    let start = Instant::now();
    assert_eq!(server.get("/version").0, StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(2));
}
