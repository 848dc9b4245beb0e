//! The documents against upstream's (`../shared/reference/upstream-api/
//! swagger-v2-1.36.json`), the protobuf form against its JSON, and the
//! HTTP answers against kube-openapi's handlers.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use kapi_generated::proto::{LEN, Reader};
use serde_json::{Value, json};

use super::*;
use crate::rest::install::RegistryBuilder;
use crate::storage::embedded::EmbeddedStore;

fn openapi() -> &'static OpenApi {
    static O: OnceLock<OpenApi> = OnceLock::new();
    O.get_or_init(|| {
        let store = EmbeddedStore::open_in_memory().expect("in-memory store");
        let mut b = RegistryBuilder::new(Arc::new(store));
        b.add_generated();
        OpenApi::build(&b.build(), "v1.36.0")
    })
}

fn v2_json() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| serde_json::from_slice(&openapi().v2().json()).expect("v2 is JSON"))
}

fn upstream() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/upstream-api/swagger-v2-1.36.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).expect("upstream swagger is JSON")
    })
}

/// `v` without descriptions (kapi writes its own).
fn no_descriptions(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !(k.as_str() == "description" && v.is_string()))
                .map(|(k, v)| (k.clone(), no_descriptions(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(no_descriptions).collect()),
        v => v.clone(),
    }
}

fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(k.clone(), HeaderValue::from_static(v));
    }
    h
}

fn header_of(r: &axum::response::Response, name: header::HeaderName) -> Option<&str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn v2_has_upstreams_top_level_shape() {
    let ours: Vec<&String> = v2_json().as_object().expect("object").keys().collect();
    let theirs: Vec<&String> = upstream().as_object().expect("object").keys().collect();
    assert_eq!(ours, theirs);
    assert_eq!(v2_json()["swagger"], "2.0");
    assert_eq!(
        v2_json()["info"],
        json!({"title": "Kubernetes", "version": "v1.36.0"})
    );
    assert_eq!(v2_json()["security"], upstream()["security"]);
    assert_eq!(
        no_descriptions(&v2_json()["securityDefinitions"]),
        no_descriptions(&upstream()["securityDefinitions"])
    );
}

#[test]
fn v2_configmap_definition_is_upstreams() {
    let name = "io.k8s.api.core.v1.ConfigMap";
    assert_eq!(
        no_descriptions(&v2_json()["definitions"][name]),
        no_descriptions(&upstream()["definitions"][name])
    );
}

#[test]
fn v2_definitions_match_upstreams_but_for_descriptions() {
    // Every definition kapi publishes is upstream's type; apart from the
    // prose they must agree (the group/version/kind lists of the shared
    // meta types name only the groups kapi serves).
    let mut diffs = Vec::new();
    for (name, ours) in v2_json()["definitions"].as_object().expect("definitions") {
        let Some(theirs) = upstream()["definitions"].get(name) else {
            diffs.push(format!("{name}: not upstream's"));
            continue;
        };
        let mut ours = no_descriptions(ours);
        let mut theirs = no_descriptions(theirs);
        if name.starts_with("io.k8s.apimachinery.pkg.apis.meta.v1.") {
            for s in [&mut ours, &mut theirs] {
                if let Some(m) = s.as_object_mut() {
                    m.remove("x-kubernetes-group-version-kind");
                }
            }
        }
        if ours != theirs {
            diffs.push(format!("{name}:\n  ours   {ours}\n  theirs {theirs}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} definitions differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// A parameter with its `$ref` resolved against `doc`.
fn resolve<'a>(doc: &'a Value, p: &'a Value) -> &'a Value {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["parameters"][r.trim_start_matches("#/parameters/")],
        None => p,
    }
}

/// An operation's parameters (its own and its path's) as
/// (name, in, type, required, body schema) rows, sorted.
fn param_rows(doc: &Value, item: &Value, op: &Value) -> Vec<String> {
    let mut rows: Vec<String> = item["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(op["parameters"].as_array().into_iter().flatten())
        .map(|p| {
            let p = resolve(doc, p);
            format!(
                "{} in={} type={} required={} schema={}",
                p["name"].as_str().unwrap_or(""),
                p["in"].as_str().unwrap_or(""),
                p["type"].as_str().unwrap_or(""),
                p["required"].as_bool().unwrap_or(false),
                p.pointer("/schema/$ref")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )
        })
        .collect();
    rows.sort();
    rows
}

/// What kapi leaves out of upstream's operations: the parameters of
/// features it does not have, and the CBOR media types.
fn without_unsupported(rows: Vec<String>) -> Vec<String> {
    rows.into_iter()
        .filter(|r| {
            !r.starts_with("shardSelector ")
                && !r.starts_with("ignoreStoreReadErrorWithClusterBreakingPotential ")
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.contains("cbor"))
        .map(str::to_string)
        .collect()
}

#[test]
fn v2_paths_have_upstreams_operations() {
    let ours = v2_json();
    let theirs = upstream();
    let mut compared = 0;
    let mut diffs = Vec::new();
    for (path, item) in ours["paths"].as_object().expect("paths") {
        let Some(up) = theirs["paths"].get(path) else {
            diffs.push(format!("{path}: not an upstream path"));
            continue;
        };
        for method in ["get", "put", "post", "delete", "patch"] {
            let (Some(op), Some(uop)) = (item.get(method), up.get(method)) else {
                if item.get(method).is_some() {
                    diffs.push(format!("{method} {path}: upstream has no such operation"));
                }
                continue;
            };
            compared += 1;
            for k in [
                "operationId",
                "x-kubernetes-action",
                "x-kubernetes-group-version-kind",
                "tags",
                "schemes",
                "consumes",
            ] {
                if no_descriptions(&op[k]) != no_descriptions(&uop[k])
                    && strings(&op[k]) != strings(&uop[k])
                {
                    diffs.push(format!("{method} {path} {k}: {} vs {}", op[k], uop[k]));
                }
            }
            // kapi produces protobuf only where the kind has it.
            let produces: Vec<String> = strings(&uop["produces"])
                .into_iter()
                .filter(|p| strings(&op["produces"]).contains(p) || !p.contains("protobuf"))
                .collect();
            if strings(&op["produces"]) != produces {
                diffs.push(format!(
                    "{method} {path} produces: {} vs {}",
                    op["produces"], uop["produces"]
                ));
            }
            // kapi's delete answers a Status for every kind (upstream's
            // registry returns the deleted object for a few, ServiceAccounts
            // among them); the document says what kapi answers.
            let mut uresponses = no_descriptions(&uop["responses"]);
            if method == "delete" && op["x-kubernetes-action"] == "delete" {
                for code in ["200", "202"] {
                    if uresponses.get(code).is_some() {
                        uresponses[code]["schema"] = json!({"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Status"});
                    }
                }
            }
            if no_descriptions(&op["responses"]) != uresponses {
                diffs.push(format!(
                    "{method} {path} responses: {} vs {}",
                    op["responses"], uop["responses"]
                ));
            }
            let (a, b) = (
                param_rows(ours, item, op),
                without_unsupported(param_rows(theirs, up, uop)),
            );
            if a != b {
                diffs.push(format!(
                    "{method} {path} parameters:\n  ours   {a:?}\n  theirs {b:?}"
                ));
            }
        }
    }
    assert!(compared > 20, "only {compared} operations compared");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn v2_configmap_paths_are_upstreams_shapes() {
    let ours = v2_json();
    let item = &ours["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    // name, namespace and pretty are the path's; the rest the operations'.
    let names: Vec<&str> = item["parameters"]
        .as_array()
        .expect("path parameters")
        .iter()
        .map(|p| resolve(ours, p)["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["name", "namespace", "pretty"]);
    // Shared parameters are `$ref`s, dryRun and fieldValidation inline (kubectl looks for them).
    let patch = &item["patch"];
    let params = patch["parameters"].as_array().expect("patch parameters");
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "dryRun" && p["in"] == "query")
    );
    assert!(params.iter().any(|p| {
        p["$ref"]
            .as_str()
            .is_some_and(|r| r.starts_with("#/parameters/fieldManager-"))
    }));
    assert_eq!(
        resolve(ours, &params[0]),
        &json!({"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}})
    );
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "", "kind": "ConfigMap", "version": "v1"})
    );
    let put = &item["put"]["parameters"][0];
    assert_eq!(
        put,
        &json!({"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap"}})
    );
    // Every shared name is `<name>-<8 characters>`.
    for (k, p) in ours["parameters"].as_object().expect("parameters") {
        let (name, hash) = k.rsplit_once('-').expect("name-hash");
        let name = if hash.is_empty() {
            k.trim_end_matches('-')
        } else {
            name
        };
        assert!(k.starts_with(p["name"].as_str().unwrap_or("?")), "{k}");
        assert_eq!(
            k.len() - p["name"].as_str().unwrap_or("").len(),
            9,
            "{k} ({name})"
        );
    }
}

#[test]
fn v2_uses_only_what_gnostic_accepts() {
    // gnostic's compiler rejects a document whose schemas use keys Swagger
    // 2.0 lacks (upstream's protobuf would fail): no nullable, oneOf, anyOf, not.
    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        let Some(m) = v.as_object() else { return };
        for k in m.keys() {
            if ["nullable", "oneOf", "anyOf", "not", "components"].contains(&k.as_str()) {
                bad.push(format!("{path}/{k}"));
            }
        }
        if let Some(Value::Object(p)) = m.get("properties") {
            for (k, s) in p {
                walk(s, &format!("{path}/properties/{k}"), bad);
            }
        }
        for k in ["items", "additionalProperties"] {
            if let Some(s) = m.get(k) {
                walk(s, &format!("{path}/{k}"), bad);
            }
        }
    }
    let mut bad = Vec::new();
    for (k, s) in v2_json()["definitions"].as_object().expect("definitions") {
        walk(s, k, &mut bad);
    }
    assert!(bad.is_empty(), "{bad:?}");
    let text = String::from_utf8_lossy(&openapi().v2().json()).to_string();
    assert!(!text.contains("#/components/schemas/"));
}

// ------------------------------------------------------------ protobuf

/// The length-delimited fields `n` of a message.
fn fields(bytes: &[u8], n: u32) -> Vec<Vec<u8>> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let (f, w) = r.key().expect("key");
        if f == n && w == LEN {
            out.push(r.bytes(f, w).expect("bytes").to_vec());
        } else {
            r.skip(w).expect("skip");
        }
    }
    out
}

fn string_field(bytes: &[u8], n: u32) -> Option<String> {
    fields(bytes, n)
        .first()
        .map(|b| String::from_utf8(b.clone()).expect("utf-8"))
}

/// A `Named*` entry's (name, value bytes).
fn named(bytes: &[u8]) -> (String, Vec<u8>) {
    (
        string_field(bytes, 1).unwrap_or_default(),
        fields(bytes, 2).pop().unwrap_or_default(),
    )
}

/// A `NamedAny` list as (name, yaml).
fn extensions(bytes: &[u8], n: u32) -> Vec<(String, String)> {
    fields(bytes, n)
        .iter()
        .map(|e| {
            let (name, any) = named(e);
            (name, string_field(&any, 2).unwrap_or_default())
        })
        .collect()
}

#[test]
fn v2_protobuf_carries_the_json_document() {
    let pb = openapi().v2().protobuf();
    let doc = v2_json();
    assert_eq!(string_field(&pb, 1).as_deref(), Some("2.0"));
    let info = fields(&pb, 2).pop().expect("info");
    assert_eq!(string_field(&info, 1).as_deref(), Some("Kubernetes"));
    assert_eq!(string_field(&info, 2).as_deref(), Some("v1.36.0"));

    // Definitions: every one, in the JSON's order.
    let defs = fields(&pb, 9).pop().expect("definitions");
    let named_defs: Vec<(String, Vec<u8>)> = fields(&defs, 1).iter().map(|e| named(e)).collect();
    let json_names: Vec<&String> = doc["definitions"]
        .as_object()
        .expect("defs")
        .keys()
        .collect();
    assert_eq!(
        named_defs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        json_names
    );

    // ConfigMap: type, properties, the GVK extension as YAML.
    let (_, cm) = named_defs
        .iter()
        .find(|(n, _)| n == "io.k8s.api.core.v1.ConfigMap")
        .expect("ConfigMap");
    let ty = fields(cm, 22).pop().expect("type");
    assert_eq!(string_field(&ty, 1).as_deref(), Some("object"));
    let props = fields(cm, 25).pop().expect("properties");
    let prop_names: Vec<String> = fields(&props, 1).iter().map(|e| named(e).0).collect();
    assert_eq!(
        prop_names,
        [
            "apiVersion",
            "binaryData",
            "data",
            "immutable",
            "kind",
            "metadata"
        ]
    );
    let (_, meta) = fields(&props, 1)
        .iter()
        .map(|e| named(e))
        .find(|(n, _)| n == "metadata")
        .expect("metadata");
    assert_eq!(
        string_field(&meta, 1).as_deref(),
        Some("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );
    let (_, data) = fields(&props, 1)
        .iter()
        .map(|e| named(e))
        .find(|(n, _)| n == "data")
        .expect("data");
    let ap = fields(&data, 21).pop().expect("additionalProperties");
    let ap_schema = fields(&ap, 1).pop().expect("schema");
    assert_eq!(
        string_field(&fields(&ap_schema, 22)[0], 1).as_deref(),
        Some("string")
    );
    assert_eq!(
        extensions(cm, 31),
        [(
            "x-kubernetes-group-version-kind".to_string(),
            "- group: \"\"\n  kind: ConfigMap\n  version: v1\n".to_string()
        )]
    );

    // Paths: the ConfigMap item's operations and parameters.
    let paths = fields(&pb, 8).pop().expect("paths");
    let items: Vec<(String, Vec<u8>)> = fields(&paths, 2).iter().map(|e| named(e)).collect();
    assert_eq!(items.len(), doc["paths"].as_object().expect("paths").len());
    let (_, item) = items
        .iter()
        .find(|(p, _)| p == "/api/v1/namespaces/{namespace}/configmaps/{name}")
        .expect("configmap item");
    let patch = fields(item, 8).pop().expect("patch");
    assert_eq!(
        string_field(&patch, 5).as_deref(),
        Some("patchCoreV1NamespacedConfigMap")
    );
    let consumes: Vec<String> = fields(&patch, 7)
        .iter()
        .map(|b| String::from_utf8_lossy(b).into())
        .collect();
    assert!(consumes.contains(&"application/strategic-merge-patch+json".to_string()));
    let ext = extensions(&patch, 13);
    assert_eq!(
        ext[0],
        ("x-kubernetes-action".to_string(), "patch\n".to_string())
    );
    assert_eq!(ext[1].0, "x-kubernetes-group-version-kind");
    assert_eq!(ext[1].1, "group: \"\"\nkind: ConfigMap\nversion: v1\n");
    // fieldValidation: ParametersItem.parameter(1) → Parameter.non_body(2) → query(3), name = 4.
    let query_names: Vec<String> = fields(&patch, 8)
        .iter()
        .filter_map(|pi| fields(pi, 1).pop())
        .filter_map(|p| fields(&p, 2).pop())
        .filter_map(|nb| fields(&nb, 3).pop())
        .filter_map(|q| string_field(&q, 4))
        .collect();
    assert_eq!(query_names, ["dryRun", "fieldValidation"]);
    // A kind's body: Parameter.body_parameter(1) with its schema's $ref
    // (PUT's; PATCH's generic Patch body is a shared parameter).
    let put = fields(item, 3).pop().expect("put");
    let body = fields(&put, 8)
        .iter()
        .filter_map(|pi| fields(pi, 1).pop())
        .find_map(|p| fields(&p, 1).pop())
        .expect("body parameter");
    assert_eq!(string_field(&body, 2).as_deref(), Some("body"));
    assert_eq!(string_field(&body, 3).as_deref(), Some("body"));
    assert_eq!(
        fields(&body, 4),
        Vec::<Vec<u8>>::new(),
        "required is a varint, not bytes"
    );
    let schema = fields(&body, 5).pop().expect("schema");
    assert_eq!(
        string_field(&schema, 1).as_deref(),
        Some("#/definitions/io.k8s.api.core.v1.ConfigMap")
    );
    // Shared ones: ParametersItem.json_reference(2)._ref(1).
    let refs: Vec<String> = fields(&patch, 8)
        .iter()
        .filter_map(|pi| fields(pi, 2).pop())
        .filter_map(|r| string_field(&r, 1))
        .collect();
    assert!(
        refs.iter().any(|r| r.starts_with("#/parameters/force-")),
        "{refs:?}"
    );
    // Responses: 200 with the kind's schema through SchemaItem.schema.
    let responses = fields(&patch, 9).pop().expect("responses");
    let codes: Vec<(String, Vec<u8>)> = fields(&responses, 1).iter().map(|e| named(e)).collect();
    assert_eq!(
        codes.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        ["200", "201", "401"]
    );
    let ok = fields(&codes[0].1, 1).pop().expect("response");
    assert_eq!(string_field(&ok, 1).as_deref(), Some("OK"));
    let ok_schema = fields(&fields(&ok, 2)[0], 1).pop().expect("schema");
    assert_eq!(
        string_field(&ok_schema, 1).as_deref(),
        Some("#/definitions/io.k8s.api.core.v1.ConfigMap")
    );

    // Shared parameters, security.
    let params = fields(&pb, 10).pop().expect("parameters");
    assert_eq!(
        fields(&params, 1).len(),
        doc["parameters"].as_object().expect("params").len()
    );
    let sec = fields(&pb, 12).pop().expect("security");
    assert_eq!(named(&fields(&sec, 1)[0]).0, "BearerToken");
    let secdefs = fields(&pb, 13).pop().expect("securityDefinitions");
    let (name, item) = named(&fields(&secdefs, 1)[0]);
    assert_eq!(name, "BearerToken");
    let api_key = fields(&item, 2).pop().expect("apiKey");
    assert_eq!(string_field(&api_key, 1).as_deref(), Some("apiKey"));
    assert_eq!(string_field(&api_key, 3).as_deref(), Some("header"));
}

// ------------------------------------------------------------ HTTP

#[test]
fn v3_index_is_served_as_the_aggregator_does() {
    let r = openapi().index(&HeaderMap::new());
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header_of(&r, header::CONTENT_TYPE),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header_of(&r, header::ETAG), None);
    assert_eq!(
        header_of(&r, header::CACHE_CONTROL),
        Some("no-cache, private")
    );
    let lm = header_of(&r, header::LAST_MODIFIED)
        .expect("Last-Modified")
        .to_string();
    assert!(lm.ends_with(" GMT"), "{lm}");
    // Revalidating with it never gets a stale index (see `index`).
    let mut h = HeaderMap::new();
    h.insert(
        header::IF_MODIFIED_SINCE,
        HeaderValue::from_str(&lm).expect("date"),
    );
    assert_eq!(openapi().index(&h).status(), StatusCode::OK);
    // serverRelativeURLs carry upstream's hash: upper-case hex SHA-512.
    let url = &openapi().docs["api/v1"];
    assert_eq!(url.hash.len(), 128);
    assert!(
        url.hash
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    let index: Value = serde_json::from_slice(&openapi().index).expect("index");
    assert_eq!(
        index["paths"]["api/v1"]["serverRelativeURL"],
        format!("/openapi/v3/api/v1?hash={}", url.hash)
    );
}

#[test]
fn v3_documents_are_served_as_handler3_does() {
    let o = openapi();
    let hash = o.docs["api/v1"].hash.clone();
    let etag = format!("\"{hash}\"");

    let r = o.document("api/v1", None, &HeaderMap::new());
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header_of(&r, header::CONTENT_TYPE),
        Some("application/json")
    );
    assert_eq!(header_of(&r, header::ETAG), Some(etag.as_str()));
    assert_eq!(header_of(&r, header::VARY), Some("Accept"));
    assert_eq!(
        header_of(&r, header::CACHE_CONTROL),
        Some("no-cache, private")
    );
    assert_eq!(header_of(&r, header::EXPIRES), None);

    let r = o.document(
        "api/v1",
        Some(&hash),
        &headers(&[(header::ACCEPT, "application/json")]),
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header_of(&r, header::CACHE_CONTROL),
        Some("public, immutable")
    );
    let expires = header_of(&r, header::EXPIRES).expect("Expires");
    let year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year()
        + 1;
    assert!(
        expires.ends_with(" UTC") && expires.contains(&format!(" {year} ")),
        "{expires}"
    );

    let r = o.document("api/v1", Some("0BAD"), &HeaderMap::new());
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        header_of(&r, header::LOCATION).map(str::to_string),
        Some(format!("/openapi/v3/api/v1?hash={hash}"))
    );

    let mut h = HeaderMap::new();
    h.insert(
        header::IF_NONE_MATCH,
        HeaderValue::from_str(&etag).expect("etag"),
    );
    let r = o.document("api/v1", Some(&hash), &h);
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), None);
    assert_eq!(header_of(&r, header::ETAG), Some(etag.as_str()));

    let r = o.document(
        "api/v1",
        None,
        &headers(&[(
            header::ACCEPT,
            "application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
        )]),
    );
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);

    let r = o.document("apis/nothing.example.com/v1", None, &HeaderMap::new());
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&r, header::CONTENT_TYPE), None);
}

#[test]
fn v2_is_served_as_kube_openapis_handler_does() {
    let v2 = openapi().v2();
    let r = v2.serve(&HeaderMap::new());
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header_of(&r, header::CONTENT_TYPE),
        Some("application/json")
    );
    let etag = header_of(&r, header::ETAG).expect("ETag").to_string();
    assert_eq!(etag, format!("\"{}\"", hash(&v2.json())));
    let vary: Vec<&str> = r
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Accept"]);

    let r = v2.serve(&headers(&[(
        header::ACCEPT,
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )]));
    assert_eq!(
        header_of(&r, header::CONTENT_TYPE),
        Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    );
    assert_eq!(header_of(&r, header::ETAG), Some(etag.as_str()));

    let mut h = headers(&[(
        header::ACCEPT,
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )]);
    h.insert(
        header::IF_NONE_MATCH,
        HeaderValue::from_str(&etag).expect("etag"),
    );
    assert_eq!(v2.serve(&h).status(), StatusCode::NOT_MODIFIED);

    let r = v2.serve(&headers(&[
        (header::ACCEPT, "application/json"),
        (header::ACCEPT_ENCODING, "gzip"),
    ]));
    assert_eq!(header_of(&r, header::CONTENT_ENCODING), Some("gzip"));

    let r = v2.serve(&headers(&[(header::ACCEPT, "text/html")]));
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
}

#[test]
fn accept_clauses_in_goautonegs_order() {
    let h = headers(&[(header::ACCEPT, "*/*;q=0.5, application/json, text/*")]);
    assert_eq!(
        accept_clauses(&h),
        [
            ("application".to_string(), "json".to_string()),
            ("text".to_string(), "*".to_string()),
            ("*".to_string(), "*".to_string()),
        ]
    );
    assert_eq!(
        accept_clauses(&HeaderMap::new()),
        [("*".to_string(), "*".to_string())]
    );
}

#[test]
fn a_crd_change_replaces_its_fragment_only() {
    let mut o = openapi().clone();
    let before = o.v2().json();
    let frag = v2::Fragment {
        definitions: [(
            "com.example.v1.Widget".to_string(),
            json!({"type": "object"}),
        )]
        .into(),
        ..v2::Fragment::default()
    };
    o.set_document("example.com", "v1", Some((&json!({}), frag)));
    let after: Value = serde_json::from_slice(&o.v2().json()).expect("json");
    assert_eq!(
        after["definitions"]["com.example.v1.Widget"],
        json!({"type": "object"})
    );
    // The original is untouched (snapshots share fragments, not caches).
    assert_eq!(openapi().v2().json(), before);
    o.set_document("example.com", "v1", None);
    assert_eq!(o.v2().json().len(), before.len());
}
