//! OpenAPI: v3 (the index at `/openapi/v3` and one document per served
//! group/version) and v2 (`/openapi/v2`, module [`v2`]), built once from the
//! schemas generated from api-defs and the verbs each resource serves, and
//! rebuilt per group/version when CRDs change. Every PATCH and POST
//! operation carries its `x-kubernetes-group-version-kind` and the
//! `fieldValidation`, `dryRun` and `fieldManager` parameters kubectl looks
//! for.
//!
//! The HTTP answers follow kube-apiserver's: the v3 index is served by its
//! aggregator (no ETag, and the content type Go's sniffing gives JSON,
//! `text/plain; charset=utf-8`), the documents by kube-openapi's handler3
//! (`application/json`, ETag, immutable caching with a matching `hash`, a
//! 301 to the current hash for a stale one), `/openapi/v2` by its v2
//! handler behind gzip.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use crate::rest::Endpoint;
use crate::rest::install::Registry;

mod gnostic;
pub mod v2;
mod yaml;

/// One published v3 document.
#[derive(Debug)]
struct Document {
    bytes: bytes::Bytes,
    hash: String,
    last_modified: String,
}

/// The published documents.
#[derive(Debug, Clone, Default)]
pub struct OpenApi {
    /// `api/v1` or `apis/g/v` → document, shared between snapshots.
    docs: BTreeMap<String, Arc<Document>>,
    index: bytes::Bytes,
    v2: v2::V2,
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

fn document_entry(doc: &Value) -> Arc<Document> {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    let hash = hash(&bytes);
    Arc::new(Document {
        bytes: bytes.into(),
        hash,
        last_modified: http_date(jiff::Timestamp::now()),
    })
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

/// kube-openapi's ETag and hash: the SHA-512 of the bytes in upper-case hex.
fn hash(bytes: &[u8]) -> String {
    hex::encode_upper(Sha512::digest(bytes))
}

/// An HTTP date (`Last-Modified`), as Go's `http.TimeFormat`.
fn http_date(t: jiff::Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The built-in definitions of one group/version in v2 form.
fn builtin_definitions(schemas: &Value) -> BTreeMap<String, Value> {
    schemas
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v2::builtin_schema_v2(&mut v);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
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
        let mut out = OpenApi {
            v2: v2::V2::new(version),
            ..OpenApi::default()
        };
        for ((group, ver), eps) in by_gv {
            let generated = kapi_generated::api::OPENAPI_SCHEMAS
                .iter()
                .find(|s| s.group == group && s.version == ver);
            let schemas: Value = generated
                .and_then(|s| serde_json::from_str(s.schemas).ok())
                .unwrap_or_else(|| json!({}));
            let published = |ep: &Endpoint| {
                generated
                    .and_then(|s| s.kinds.iter().find(|(k, _)| *k == ep.resource.kind))
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| ep.resource.kind.clone())
            };
            let mut definitions = builtin_definitions(&schemas);
            if eps.iter().any(|e| e.resource.scale_subresource.is_some()) {
                definitions.extend(scale_definitions());
            }
            let fragment = v2::fragment(&eps, definitions, v2::Flavor::BuiltIn, published);
            out.v2.set_fragment(&gv_key(&group, &ver), Some(fragment));
            let doc = group_version_document(&eps, schemas, version, published);
            out.docs.insert(gv_key(&group, &ver), document_entry(&doc));
        }
        out.rebuild_index();
        out
    }

    /// Replaces (or, with None, removes) one group/version's v3 document
    /// and v2 fragment, and updates the index; the other documents are
    /// shared, not rebuilt.
    pub fn set_document(
        &mut self,
        group: &str,
        version: &str,
        doc: Option<(&Value, v2::Fragment)>,
    ) {
        let key = gv_key(group, version);
        match doc {
            Some((d, fragment)) => {
                self.docs.insert(key.clone(), document_entry(d));
                self.v2.set_fragment(&key, Some(fragment));
            }
            None => {
                self.docs.remove(&key);
                self.v2.set_fragment(&key, None);
            }
        }
        self.rebuild_index();
    }

    /// Whether a group/version has a document.
    pub fn has_document(&self, group: &str, version: &str) -> bool {
        self.docs.contains_key(&gv_key(group, version))
    }

    /// The v2 document.
    pub fn v2(&self) -> &v2::V2 {
        &self.v2
    }

    fn rebuild_index(&mut self) {
        let mut index = Map::new();
        for (key, entry) in &self.docs {
            index.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", entry.hash)}),
            );
        }
        self.index = serde_json::to_vec(&json!({"paths": index}))
            .unwrap_or_default()
            .into();
    }

    /// `GET /openapi/v3`: kube-aggregator's merged index, written with
    /// `http.ServeContent` and no content type or ETag of its own.
    ///
    /// One deliberate difference: upstream's `Last-Modified` is the time of
    /// the request, so an `If-Modified-Since` from the same second gets a
    /// 304 even when a CRD changed the index in between, and kubectl's HTTP
    /// cache (which revalidates with it) then reads a stale index. kapi
    /// sends the same headers but always answers 200.
    pub fn index(&self, headers: &HeaderMap) -> Response {
        let now = http_date(jiff::Timestamp::now());
        let mut headers = headers.clone();
        headers.remove(header::IF_MODIFIED_SINCE);
        serve_content(
            &headers,
            self.index.clone(),
            "text/plain; charset=utf-8",
            "",
            &now,
        )
    }

    /// `GET /openapi/v3/{path}?hash=...`: handler3's `HandleGroupVersion`.
    pub fn document(&self, path: &str, query_hash: Option<&str>, headers: &HeaderMap) -> Response {
        let Some(entry) = self.docs.get(path) else {
            // The aggregator's answer for a group/version nobody serves.
            let mut r = StatusCode::NOT_FOUND.into_response();
            no_cache(&mut r);
            return r;
        };
        let json = accept_clauses(headers)
            .into_iter()
            .any(|(t, s)| (t == "application" || t == "*") && (s == "json" || s == "*"));
        if !json {
            // Only the protobuf form (or nothing kapi serves) is acceptable.
            let mut r = StatusCode::NOT_ACCEPTABLE.into_response();
            r.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept"));
            no_cache(&mut r);
            return r;
        }
        match query_hash.filter(|q| !q.is_empty()) {
            Some(q) if q != entry.hash => {
                let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
                let h = r.headers_mut();
                h.insert(header::VARY, HeaderValue::from_static("Accept"));
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if let Ok(e) = HeaderValue::from_str(&format!("\"{}\"", entry.hash)) {
                    h.insert(header::ETAG, e);
                }
                if let Ok(loc) =
                    HeaderValue::from_str(&format!("/openapi/v3/{path}?hash={}", entry.hash))
                {
                    h.insert(header::LOCATION, loc);
                }
                no_cache(&mut r);
                r
            }
            matched => {
                let mut r = serve_content(
                    headers,
                    entry.bytes.clone(),
                    "application/json",
                    &entry.hash,
                    &entry.last_modified,
                );
                let h = r.headers_mut();
                h.insert(header::VARY, HeaderValue::from_static("Accept"));
                if matched.is_some() {
                    h.insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, immutable"),
                    );
                    if let Ok(v) = HeaderValue::from_str(&expires_in_a_year()) {
                        h.insert(header::EXPIRES, v);
                    }
                }
                r
            }
        }
    }
}

/// `Expires` one calendar year ahead, as Go's `time.RFC1123` writes the
/// server's local time (UTC).
fn expires_in_a_year() -> String {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let then = now.checked_add(jiff::Span::new().years(1)).unwrap_or(now);
    then.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string()
}

/// The generic API server's default `Cache-Control`.
fn no_cache(r: &mut Response) {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
}

/// The `Accept` clauses as goautoneg orders them: by quality, specific
/// types before wildcards (its insertion sort, so equal ones keep their
/// order). An empty `Accept` is `*/*`.
fn accept_clauses(headers: &HeaderMap) -> Vec<(String, String)> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let accept = if accept.trim().is_empty() {
        "*/*".to_string()
    } else {
        accept
    };
    let mut clauses: Vec<(String, String, f64)> = Vec::new();
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or("").trim();
        let mut q = 1.0;
        for p in pieces {
            if let Some((k, v)) = p.split_once('=')
                && k.trim() == "q"
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let (t, s) = match range.split_once('/') {
            Some((t, s)) => (t.trim().to_string(), s.trim().to_string()),
            None if range == "*" => ("*".to_string(), "*".to_string()),
            None => continue,
        };
        clauses.push((t, s, q));
    }
    let less = |a: &(String, String, f64), b: &(String, String, f64)| {
        a.2 > b.2 || (a.0 != "*" && b.0 == "*") || (a.1 != "*" && b.1 == "*")
    };
    for i in 1..clauses.len() {
        let mut j = i;
        while j > 0 && less(&clauses[j], &clauses[j - 1]) {
            clauses.swap(j, j - 1);
            j -= 1;
        }
    }
    clauses.into_iter().map(|(t, s, _)| (t, s)).collect()
}

/// Whether `Accept-Encoding` allows gzip (gziphandler's check).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let q = it
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map(|q| q.trim().parse::<f64>().unwrap_or(0.0))
                .unwrap_or(1.0);
            coding.eq_ignore_ascii_case("gzip") && q > 0.0
        })
}

/// Go's `http.ServeContent` for a whole body: `Last-Modified`, the
/// `If-None-Match` / `If-Modified-Since` preconditions (304 without the
/// content headers), else 200 with `Accept-Ranges: bytes`. An empty `etag`
/// sets none.
fn serve_content(
    headers: &HeaderMap,
    body: bytes::Bytes,
    content_type: &'static str,
    etag: &str,
    last_modified: &str,
) -> Response {
    let quoted = format!("\"{etag}\"");
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let not_modified = match header_str(header::IF_NONE_MATCH) {
        Some(inm) => inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || (!etag.is_empty() && t.trim_start_matches("W/") == quoted)),
        None => header_str(header::IF_MODIFIED_SINCE)
            .and_then(|ims| jiff::fmt::rfc2822::parse(ims).ok())
            .zip(jiff::fmt::rfc2822::parse(last_modified).ok())
            .is_some_and(|(ims, lm)| lm.timestamp() <= ims.timestamp()),
    };
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        r
    };
    let h = r.headers_mut();
    if !etag.is_empty()
        && let Ok(e) = HeaderValue::from_str(&quoted)
    {
        h.insert(header::ETAG, e);
    }
    if (!not_modified || etag.is_empty())
        && let Ok(v) = HeaderValue::from_str(last_modified)
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    no_cache(&mut r);
    r
}

/// `io.k8s.api.autoscaling.v1.Scale` and what it refers to, for scale
/// subresources outside autoscaling/v1.
pub(crate) fn scale_definitions() -> BTreeMap<String, Value> {
    let schemas: Value = kapi_generated::api::OPENAPI_SCHEMAS
        .iter()
        .find(|s| s.group == "autoscaling" && s.version == "v1")
        .and_then(|s| serde_json::from_str(s.schemas).ok())
        .unwrap_or_else(|| json!({}));
    builtin_definitions(&schemas)
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("io.k8s.api.autoscaling.v1.Scale") || k.starts_with("io.k8s.apimachinery")
        })
        .collect()
}

#[cfg(test)]
mod tests;
