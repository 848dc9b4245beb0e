//! The review kinds behind `kubectl auth can-i` and `kubectl auth whoami`:
//! create-only, computed answers (201), never stored. kapi has no
//! authentication or authorization, so every request is `system:anonymous`
//! (`system:unauthenticated`) and every access review is allowed.

use kapi_generated::api::authentication::v1::SelfSubjectReview;
use kapi_generated::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kapi_generated::api::meta::v1::Status;
use kapi_generated::proto::{Message, Unknown};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, assert_status, kubectl_bins, parse_table};

const PB: &str = "application/vnd.kubernetes.protobuf";
const PB_JSON: &str = "application/vnd.kubernetes.protobuf, application/json";
const AUTHZ: &str = "/apis/authorization.k8s.io/v1";
const AUTHN: &str = "/apis/authentication.k8s.io/v1";

#[test]
fn kubectl_auth_can_i_and_whoami() {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        let t = k.tag();

        // can-i: a SelfSubjectAccessReview, sent as protobuf by kubectl 1.32+.
        let out = k.run(&["auth", "can-i", "create", "configmaps", "-v=8"]);
        assert_eq!(
            out.ok().trim(),
            "yes",
            "kubectl[{t}] auth can-i create configmaps"
        );
        assert!(
            out.stderr.contains("selfsubjectaccessreviews") && out.stderr.contains(PB),
            "kubectl[{t}] should POST a protobuf SelfSubjectAccessReview:\n{}",
            out.stderr
        );
        let out = k.run(&["auth", "can-i", "delete", "secrets", "-n", "kube-system"]);
        assert_eq!(out.ok().trim(), "yes", "kubectl[{t}] can-i delete secrets");
        let out = k.run(&["auth", "can-i", "get", "/healthz"]);
        assert_eq!(out.ok().trim(), "yes", "kubectl[{t}] can-i get /healthz");

        // can-i --list: a SelfSubjectRulesReview; AlwaysAllow's rules.
        let out = k.run(&["auth", "can-i", "--list"]);
        let rows = parse_table(out.ok());
        assert_eq!(rows.len(), 2, "kubectl[{t}] can-i --list:\n{}", out.stdout);
        assert_eq!(rows[0]["Resources"], "*.*", "{rows:?}");
        assert_eq!(rows[0]["Verbs"], "[*]", "{rows:?}");
        assert_eq!(rows[1]["Non-Resource URLs"], "[*]", "{rows:?}");
        assert_eq!(rows[1]["Verbs"], "[*]", "{rows:?}");

        // whoami: a SelfSubjectReview.
        let out = k.run(&["auth", "whoami"]);
        let text = out.ok();
        let rows = parse_table(text);
        let attr = |name: &str| {
            rows.iter()
                .find(|r| r["ATTRIBUTE"] == name)
                .map(|r| r["VALUE"].clone())
        };
        assert_eq!(
            attr("Username").as_deref(),
            Some("system:anonymous"),
            "{text}"
        );
        assert_eq!(
            attr("Groups").as_deref(),
            Some("[system:unauthenticated]"),
            "{text}"
        );

        let out = k.run(&["auth", "whoami", "-o", "yaml"]);
        let v: Value = serde_yaml_ng::from_str(out.ok()).expect("whoami -o yaml is YAML");
        assert_eq!(v["apiVersion"], "authentication.k8s.io/v1", "{v}");
        assert_eq!(v["kind"], "SelfSubjectReview", "{v}");
        assert_eq!(
            v["status"]["userInfo"]["username"], "system:anonymous",
            "{v}"
        );
        assert_eq!(
            v["status"]["userInfo"]["groups"],
            json!(["system:unauthenticated"]),
            "{v}"
        );
        assert!(
            v["metadata"]["creationTimestamp"].is_string(),
            "the answer carries its time: {v}"
        );

        // `create -f` of a review prints the answer (kubectl validates it
        // against /openapi/v2: its v3 document has no PATCH operation).
        let file = server.write_file(
            &format!("ssar-{t}.yaml"),
            "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n\
             spec:\n  resourceAttributes:\n    verb: list\n    resource: secrets\n",
        );
        let file = file.to_string_lossy();
        let out = k.run(&["create", "-f", &file, "-o", "json"]);
        let v: Value = serde_json::from_str(out.ok()).expect("create -o json is JSON");
        assert_eq!(v["kind"], "SelfSubjectAccessReview", "{v}");
        assert_eq!(
            v["spec"]["resourceAttributes"]["resource"], "secrets",
            "{v}"
        );
        assert_eq!(v["status"]["allowed"], true, "{v}");

        // Discovery lists them with exactly upstream's verbs.
        let out = k.run(&[
            "api-resources",
            "--api-group=authorization.k8s.io",
            "-o",
            "wide",
        ]);
        let rows = parse_table(out.ok());
        let names: Vec<&str> = rows.iter().map(|r| r["NAME"].as_str()).collect();
        assert_eq!(
            names,
            [
                "localsubjectaccessreviews",
                "selfsubjectaccessreviews",
                "selfsubjectrulesreviews",
                "subjectaccessreviews"
            ],
            "{rows:?}"
        );
        assert!(rows.iter().all(|r| r["VERBS"] == "create"), "{rows:?}");
    }
}

fn ssar(spec: Value) -> Value {
    json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
    })
}

#[test]
fn reviews_over_json() {
    let server = Server::start_in_process();

    // SelfSubjectAccessReview: the request back with an allowing status.
    let attrs = json!({"namespace": "default", "verb": "create", "resource": "configmaps"});
    let path = format!("{AUTHZ}/selfsubjectaccessreviews?fieldManager=auth-test");
    let (code, body) = server.post(&path, &ssar(json!({"resourceAttributes": attrs})));
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["apiVersion"], "authorization.k8s.io/v1", "{body}");
    assert_eq!(body["kind"], "SelfSubjectAccessReview", "{body}");
    assert_eq!(body["spec"]["resourceAttributes"], attrs, "{body}");
    assert_eq!(body["status"]["allowed"], true, "{body}");
    assert!(body["status"].get("denied").is_none(), "{body}");
    assert!(
        body["status"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("kapi authorizes every request")),
        "{body}"
    );
    assert_eq!(body["metadata"]["creationTimestamp"], Value::Null, "{body}");
    let mf = &body["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "auth-test", "{body}");
    assert_eq!(mf["operation"], "Update", "{body}");
    assert!(
        mf["fieldsV1"]["f:spec"]["f:resourceAttributes"]["f:verb"].is_object(),
        "{body}"
    );

    // A dry run answers the same; nothing is stored either way, and there is
    // nothing to read back.
    let (code, body) = server.post(
        &format!("{AUTHZ}/selfsubjectaccessreviews?dryRun=All"),
        &ssar(json!({"nonResourceAttributes": {"path": "/healthz", "verb": "get"}})),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"]["allowed"], true, "{body}");
    let (code, body) = server.get(&format!("{AUTHZ}/selfsubjectaccessreviews"));
    assert_status(code, &body, 405, "MethodNotAllowed");

    // SelfSubjectRulesReview: a new object with only the rules.
    let (code, body) = server.post(
        &format!("{AUTHZ}/selfsubjectrulesreviews"),
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": "default"}}),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["status"],
        json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        "{body}"
    );
    let (code, body) = server.post(
        &format!("{AUTHZ}/selfsubjectrulesreviews"),
        &json!({"spec": {}}),
    );
    assert_status(code, &body, 400, "BadRequest");
    assert_eq!(body["message"], "no namespace on request", "{body}");

    // SubjectAccessReview about another user.
    let (code, body) = server.post(
        &format!("{AUTHZ}/subjectaccessreviews"),
        &json!({"spec": {"user": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"]},
                         "resourceAttributes": {"verb": "list", "resource": "pods"}}}),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["spec"]["extra"],
        json!({"scopes": ["a", "b"]}),
        "{body}"
    );
    assert_eq!(body["status"]["allowed"], true, "{body}");

    // LocalSubjectAccessReview: the namespace comes from the URL.
    let local = format!("{AUTHZ}/namespaces/default/localsubjectaccessreviews");
    let (code, body) = server.post(
        &local,
        &json!({"spec": {"user": "alice",
                         "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}}}),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["metadata"]["namespace"], "default", "{body}");
    assert_eq!(body["status"]["allowed"], true, "{body}");
    let (code, body) = server.post(
        &local,
        &json!({"spec": {"user": "alice",
                         "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}}}),
    );
    assert_status(code, &body, 422, "Invalid");
    assert_eq!(
        body["details"]["causes"][0]["field"], "spec.resourceAttributes.namespace",
        "{body}"
    );

    // SelfSubjectReview: the user kapi takes every request to come from.
    let (code, body) = server.post(
        &format!("{AUTHN}/selfsubjectreviews"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                "metadata": {"creationTimestamp": null}, "status": {"userInfo": {}}}),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["status"]["userInfo"],
        json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]}),
        "{body}"
    );

    // TokenReview: no token authenticator, so the request comes back as it was.
    let (code, body) = server.post(
        &format!("{AUTHN}/tokenreviews"),
        &json!({"spec": {"token": "abc"}}),
    );
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["spec"]["token"], "abc", "{body}");
    assert!(body["status"].get("authenticated").is_none(), "{body}");

    // Discovery: verbs [create], as upstream lists them.
    let (_, list) = server.get(AUTHN);
    let verbs: Vec<(&str, &Value)> = list["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or_default(), &r["verbs"]))
        .collect();
    assert_eq!(
        verbs,
        [
            ("selfsubjectreviews", &json!(["create"])),
            ("tokenreviews", &json!(["create"]))
        ],
        "{list}"
    );
}

#[test]
fn invalid_reviews_are_422_as_upstream() {
    let server = Server::start_in_process();
    let path = format!("{AUTHZ}/selfsubjectaccessreviews");

    // Neither attribute set.
    let (code, body) = server.post(&path, &ssar(json!({})));
    assert_status(code, &body, 422, "Invalid");
    assert_eq!(
        body["message"],
        ".authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": \
         exactly one of nonResourceAttributes or resourceAttributes must be specified",
        "{body}"
    );
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes",
                "message": "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"}]),
        "{body}"
    );

    // Both, a named object and a selector with neither form.
    let (code, body) = server.post(
        &path,
        &json!({"metadata": {"name": "x"},
                "spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "fieldSelector": {}},
                         "nonResourceAttributes": {"path": "/x", "verb": "get"}}}),
    );
    assert_status(code, &body, 422, "Invalid");
    let fields: Vec<&str> = body["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| c["field"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.nonResourceAttributes",
            "spec.resourceAttributes.fieldSelector.requirements",
            "metadata"
        ],
        "{body}"
    );

    // SubjectAccessReview needs a user or a group.
    let (code, body) = server.post(
        &format!("{AUTHZ}/subjectaccessreviews"),
        &json!({"spec": {"nonResourceAttributes": {"path": "/x", "verb": "get"}}}),
    );
    assert_status(code, &body, 422, "Invalid");
    assert_eq!(body["details"]["causes"][0]["field"], "spec.user", "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "Invalid value: \"\": at least one of user or group must be specified",
        "{body}"
    );

    // The wrong kind is a 400, as for any create.
    let (code, body) = server.post(
        &path,
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {}}),
    );
    assert_status(code, &body, 400, "BadRequest");
}

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    Unknown {
        api_version: api_version.into(),
        kind: kind.into(),
        raw,
        ..Default::default()
    }
    .encode()
}

fn post_pb(server: &Server, path: &str, body: Vec<u8>) -> (StatusCode, Unknown) {
    let r = server
        .http()
        .post(server.at(path))
        .header("Content-Type", PB)
        .header("Accept", PB_JSON)
        .body(body)
        .send()
        .expect("POST");
    let code = r.status();
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(PB),
        "answer of {path}"
    );
    let bytes = r.bytes().expect("body");
    (code, Unknown::decode(&bytes).expect("k8s\\0 envelope"))
}

#[test]
fn reviews_over_protobuf() {
    let server = Server::start_in_process();
    let av = "authorization.k8s.io/v1";
    let request = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some("default".into()),
                verb: Some("get".into()),
                resource: Some("pods".into()),
                ..Default::default()
            }),
            non_resource_attributes: None,
        },
        ..Default::default()
    };
    let (code, u) = post_pb(
        &server,
        &format!("{AUTHZ}/selfsubjectaccessreviews"),
        envelope(av, "SelfSubjectAccessReview", request.encode_to_vec()),
    );
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        (u.api_version.as_str(), u.kind.as_str()),
        (av, "SelfSubjectAccessReview")
    );
    let answer = SelfSubjectAccessReview::decode(&u.raw).expect("SelfSubjectAccessReview");
    assert_eq!(answer.spec, request.spec);
    assert!(answer.status.allowed, "{answer:?}");
    assert!(answer.status.reason.is_some(), "{answer:?}");

    // whoami in protobuf.
    let (code, u) = post_pb(
        &server,
        &format!("{AUTHN}/selfsubjectreviews"),
        envelope(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            SelfSubjectReview::default().encode_to_vec(),
        ),
    );
    assert_eq!(code, StatusCode::CREATED);
    let answer = SelfSubjectReview::decode(&u.raw).expect("SelfSubjectReview");
    let user = &answer.status.user_info;
    assert_eq!(user.username.as_deref(), Some("system:anonymous"));
    assert_eq!(
        user.groups,
        Some(vec!["system:unauthenticated".to_string()])
    );

    // An invalid review: the 422 Status comes back in protobuf too.
    let (code, u) = post_pb(
        &server,
        &format!("{AUTHZ}/selfsubjectaccessreviews"),
        envelope(
            av,
            "SelfSubjectAccessReview",
            SelfSubjectAccessReview::default().encode_to_vec(),
        ),
    );
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((u.api_version.as_str(), u.kind.as_str()), ("v1", "Status"));
    let status = Status::decode(&u.raw).expect("Status");
    assert_eq!(status.reason.as_deref(), Some("Invalid"));
    let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
    assert_eq!(causes[0].field.as_deref(), Some("spec.resourceAttributes"));
}
