//! OpenAPI v3: the index at `/openapi/v3` and one document per served
//! group/version, built once from the schemas generated from api-defs and the
//! verbs each resource serves. Every PATCH and POST operation carries its
//! `x-kubernetes-group-version-kind` and the `fieldValidation`, `dryRun` and
//! `fieldManager` parameters kubectl looks for.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::error::ApiError;
use crate::rest::Endpoint;
use crate::rest::install::Registry;

/// The published documents.
#[derive(Debug, Clone, Default)]
pub struct OpenApi {
    /// `api/v1` or `apis/g/v` → (document bytes, hash), shared between snapshots.
    docs: BTreeMap<String, Arc<(Vec<u8>, String)>>,
    index: Vec<u8>,
}

fn param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn bool_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "boolean", "uniqueItems": true}})
}

fn write_params(force: bool) -> Vec<Value> {
    let mut p = vec![
        param(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid value: All.",
        ),
        param(
            "fieldManager",
            "A name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "How the server handles unknown or duplicate fields in the body: Ignore, Warn (the default) or Strict.",
        ),
    ];
    if force {
        p.push(bool_param(
            "force",
            "Force an apply request to take over conflicting fields.",
        ));
    }
    p
}

fn list_params() -> Vec<Value> {
    let mut p: Vec<Value> = [
        ("continue", "The continue token of a previous page."),
        ("fieldSelector", "Restricts the list by fields."),
        ("labelSelector", "Restricts the list by labels."),
        (
            "resourceVersion",
            "The resourceVersion the list or watch starts from.",
        ),
        (
            "resourceVersionMatch",
            "How resourceVersion applies: Exact or NotOlderThan.",
        ),
    ]
    .iter()
    .map(|(n, d)| param(n, d))
    .collect();
    p.push(json!({"name": "limit", "in": "query", "description": "The most items to return.", "schema": {"type": "integer", "uniqueItems": true}}));
    p.push(json!({"name": "timeoutSeconds", "in": "query", "description": "Timeout of a list or watch call.", "schema": {"type": "integer", "uniqueItems": true}}));
    p.push(bool_param(
        "allowWatchBookmarks",
        "Requests BOOKMARK events.",
    ));
    p.push(bool_param(
        "sendInitialEvents",
        "Starts a watch with the current state as ADDED events.",
    ));
    p.push(bool_param("watch", "Watch for changes instead of listing."));
    p
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema.clone()}, "application/yaml": {"schema": schema}})
}

fn operation(
    action: &str,
    op_id: String,
    ep: &Endpoint,
    kind_ref: &str,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
) -> Value {
    let r = &ep.resource;
    let mut op = json!({
        "description": format!("{action} {}", r.kind),
        "operationId": op_id,
        "parameters": params,
        "responses": responses,
        "tags": [format!("{}_{}", if r.group.is_empty() { "core" } else { r.group.as_str() }, r.version)],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "kind": r.kind, "version": r.version},
    });
    if let Some(b) = body {
        op["requestBody"] = b;
    }
    let _ = kind_ref;
    op
}

fn ok(schema: Value) -> Value {
    json!({"description": "OK", "content": json_content(schema)})
}

fn paths_for(ep: &Endpoint, published: &str) -> Vec<(String, Value)> {
    let r = &ep.resource;
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let scoped = if r.namespaced() {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };
    let kind_ref = schema_ref(published);
    let list_ref = schema_ref(&format!("{published}List"));
    let id = format!("{}{}", if r.group.is_empty() { "Core" } else { "" }, r.kind);
    let path_params = |item: bool| {
        let mut p = Vec::new();
        if item {
            p.push(json!({"name": "name", "in": "path", "required": true, "description": "The object's name.", "schema": {"type": "string", "uniqueItems": true}}));
        }
        if r.namespaced() {
            p.push(json!({"name": "namespace", "in": "path", "required": true, "description": "The object's namespace.", "schema": {"type": "string", "uniqueItems": true}}));
        }
        p.push(param("pretty", "Pretty-print the output."));
        p
    };
    let patch_body = json!({"required": true, "content": {
        "application/json-patch+json": {"schema": {"type": "object"}},
        "application/merge-patch+json": {"schema": {"type": "object"}},
        "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
        "application/apply-patch+yaml": {"schema": {"type": "object"}},
    }});
    let object_body = json!({"required": true, "content": json_content(kind_ref.clone())});
    let status_schema = json!({"type": "object"});

    let mut collection = Map::new();
    let mut item = Map::new();
    if ep.lister.is_some() {
        collection.insert(
            "get".into(),
            operation(
                "list",
                format!("list{id}"),
                ep,
                published,
                list_params(),
                None,
                json!({"200": ok(list_ref.clone())}),
            ),
        );
    }
    if ep.creater.is_some() {
        collection.insert(
            "post".into(),
            operation(
                "post",
                format!("create{id}"),
                ep,
                published,
                write_params(false),
                Some(object_body.clone()),
                json!({"200": ok(kind_ref.clone()), "201": {"description": "Created", "content": json_content(kind_ref.clone())}}),
            ),
        );
    }
    if ep.collection_deleter.is_some() {
        collection.insert(
            "delete".into(),
            operation(
                "deletecollection",
                format!("deleteCollection{id}"),
                ep,
                published,
                list_params(),
                None,
                json!({"200": ok(status_schema.clone())}),
            ),
        );
    }
    if ep.getter.is_some() {
        item.insert(
            "get".into(),
            operation(
                "get",
                format!("read{id}"),
                ep,
                published,
                Vec::new(),
                None,
                json!({"200": ok(kind_ref.clone())}),
            ),
        );
    }
    if ep.updater.is_some() {
        item.insert(
            "put".into(),
            operation(
                "put",
                format!("replace{id}"),
                ep,
                published,
                write_params(false),
                Some(object_body.clone()),
                json!({"200": ok(kind_ref.clone())}),
            ),
        );
    }
    if ep.patcher.is_some() {
        item.insert(
            "patch".into(),
            operation(
                "patch",
                format!("patch{id}"),
                ep,
                published,
                write_params(true),
                Some(patch_body.clone()),
                json!({"200": ok(kind_ref.clone())}),
            ),
        );
    }
    if ep.deleter.is_some() {
        item.insert(
            "delete".into(),
            operation(
                "delete",
                format!("delete{id}"),
                ep,
                published,
                write_params(false),
                None,
                json!({"200": ok(status_schema)}),
            ),
        );
    }
    let mut out = Vec::new();
    if !collection.is_empty() {
        collection.insert("parameters".into(), Value::Array(path_params(false)));
        out.push((scoped.clone(), Value::Object(collection)));
    }
    if !item.is_empty() {
        item.insert("parameters".into(), Value::Array(path_params(true)));
        out.push((format!("{scoped}/{{name}}"), Value::Object(item)));
    }
    if r.namespaced() && ep.lister.is_some() {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation(
                "list",
                format!("list{id}ForAllNamespaces"),
                ep,
                published,
                list_params(),
                None,
                json!({"200": ok(list_ref)}),
            ),
        );
        out.push((format!("{base}/{}", r.plural), Value::Object(all)));
    }
    let status_verbs = ep.status_verbs();
    if !status_verbs.is_empty() {
        let mut st = Map::new();
        for v in status_verbs {
            let (method, action, params, body) = match v {
                "get" => ("get", "get", Vec::new(), None),
                "patch" => (
                    "patch",
                    "patch",
                    write_params(true),
                    Some(patch_body.clone()),
                ),
                _ => ("put", "put", write_params(false), Some(object_body.clone())),
            };
            st.insert(
                method.into(),
                operation(
                    action,
                    format!("{method}{id}Status"),
                    ep,
                    published,
                    params,
                    body,
                    json!({"200": ok(kind_ref.clone())}),
                ),
            );
        }
        st.insert("parameters".into(), Value::Array(path_params(true)));
        out.push((format!("{scoped}/{{name}}/status"), Value::Object(st)));
    }
    out
}

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn document_entry(doc: &Value) -> Arc<(Vec<u8>, String)> {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    let h = hash(&bytes);
    Arc::new((bytes, h))
}

/// One group/version's document: the paths of its endpoints (each kind's
/// schema published under the name `published` gives) and `schemas`.
pub fn group_version_document(
    eps: &[&Endpoint],
    schemas: Value,
    server_version: &str,
    published: impl Fn(&Endpoint) -> String,
) -> Value {
    let mut paths = Map::new();
    for ep in eps {
        for (p, v) in paths_for(ep, &published(ep)) {
            paths.insert(p, v);
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": server_version},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn hash(bytes: &[u8]) -> String {
    hex::encode_upper(Sha512::digest(bytes))
}

impl OpenApi {
    /// Builds every document from the registry and the generated schemas.
    pub fn build(registry: &Registry, version: &str) -> Self {
        let mut by_gv: BTreeMap<(String, String), Vec<&Endpoint>> = BTreeMap::new();
        for ep in registry.endpoints() {
            by_gv
                .entry((ep.resource.group.clone(), ep.resource.version.clone()))
                .or_default()
                .push(ep);
        }
        let mut out = OpenApi::default();
        for ((group, ver), eps) in by_gv {
            let generated = kapi_generated::api::OPENAPI_SCHEMAS
                .iter()
                .find(|s| s.group == group && s.version == ver);
            let schemas: Value = generated
                .and_then(|s| serde_json::from_str(s.schemas).ok())
                .unwrap_or_else(|| json!({}));
            let doc = group_version_document(&eps, schemas, version, |ep| {
                generated
                    .and_then(|s| s.kinds.iter().find(|(k, _)| *k == ep.resource.kind))
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| ep.resource.kind.clone())
            });
            out.docs.insert(gv_key(&group, &ver), document_entry(&doc));
        }
        out.rebuild_index();
        out
    }

    /// Replaces (or, with None, removes) one group/version's document and
    /// updates the index; the other documents are shared, not rebuilt.
    pub fn set_document(&mut self, group: &str, version: &str, doc: Option<&Value>) {
        let key = gv_key(group, version);
        match doc {
            Some(d) => {
                self.docs.insert(key, document_entry(d));
            }
            None => {
                self.docs.remove(&key);
            }
        }
        self.rebuild_index();
    }

    /// Whether a group/version has a document.
    pub fn has_document(&self, group: &str, version: &str) -> bool {
        self.docs.contains_key(&gv_key(group, version))
    }

    fn rebuild_index(&mut self) {
        let mut index = Map::new();
        for (key, entry) in &self.docs {
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", entry.1)}),
            );
        }
        self.index = serde_json::to_vec(&json!({"paths": index})).unwrap_or_default();
    }

    /// `GET /openapi/v3`.
    pub fn index(&self, headers: &HeaderMap) -> Response {
        let h = hash(&self.index);
        cached(headers, self.index.clone(), &h, false)
    }

    /// `GET /openapi/v3/{path}?hash=...`.
    pub fn document(&self, path: &str, query_hash: Option<&str>, headers: &HeaderMap) -> Response {
        let Some(entry) = self.docs.get(path.trim_matches('/')) else {
            return ApiError::path_not_found().into_response();
        };
        let (bytes, h) = &**entry;
        match query_hash {
            Some(q) if q != h => {
                let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
                if let Ok(loc) = HeaderValue::from_str(&format!(
                    "/openapi/v3/{}?hash={h}",
                    path.trim_matches('/')
                )) {
                    resp.headers_mut().insert(header::LOCATION, loc);
                }
                resp
            }
            Some(_) => cached(headers, bytes.clone(), h, true),
            None => cached(headers, bytes.clone(), h, false),
        }
    }
}

fn cached(headers: &HeaderMap, body: Vec<u8>, hash: &str, immutable: bool) -> Response {
    let etag = format!("\"{hash}\"");
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(e) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, e);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if immutable {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, immutable"),
        );
        let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
        if let Ok(v) =
            HeaderValue::from_str(&expires.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        {
            h.insert(header::EXPIRES, v);
        }
    } else {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
    }
    resp
}
