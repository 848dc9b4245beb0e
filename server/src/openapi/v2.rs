//! OpenAPI v2 (Swagger 2.0) at `/openapi/v2`, as kube-apiserver serves it:
//! one document for every served group/version, JSON by default and
//! gnostic's protobuf (`super::gnostic`) when asked.
//!
//! The document is kept in per-group/version [`Fragment`]s whose entries
//! (definitions, paths, shared parameters) are serialised once, to JSON and
//! to their protobuf `Named*` message, when the fragment is built. A CRD
//! change replaces its group/version's fragment only; the whole document
//! is assembled by concatenating the entries (in key order, as both forms
//! list them) the first time it is asked for after a change.
//!
//! Paths follow kube-openapi's builder: operation ids and tags as
//! apiserver's `GetOperationIDAndTags` makes them, parameters sorted by
//! name, those every operation of a path has moved to the path, and every
//! parameter but `dryRun`, `fieldValidation`, `name` and kind-specific
//! bodies replaced by a `$ref` to a shared one named
//! `<name>-<hash of its JSON>` (the hash as upstream's: FNV-1 64, first six
//! bytes, URL-safe base64).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::gnostic;
use crate::rest::Endpoint;

/// The definitions, paths and shared parameters one group/version adds.
#[derive(Debug, Default, Clone)]
pub struct Fragment {
    /// Schema name → v2 schema.
    pub definitions: BTreeMap<String, Value>,
    /// Path → path item.
    pub paths: BTreeMap<String, Value>,
    /// Shared parameter name → parameter.
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Debug)]
struct Entry {
    json: Arc<[u8]>,
    proto: Arc<[u8]>,
}

#[derive(Debug)]
struct DefEntry {
    entry: Entry,
    /// Its `x-kubernetes-group-version-kind`, merged across group/versions
    /// (DeleteOptions, WatchEvent ... are registered in many).
    gvks: Vec<Value>,
}

/// A fragment with its entries serialised.
#[derive(Debug, Default)]
pub struct EncodedFragment {
    definitions: BTreeMap<String, DefEntry>,
    paths: BTreeMap<String, Entry>,
    parameters: BTreeMap<String, Entry>,
}

impl Entry {
    /// `v` serialised once to JSON and, as the named gnostic message
    /// `named` makes of it, to protobuf.
    fn of(name: &str, v: &Value, named: fn(&str, &Value) -> Vec<u8>) -> Entry {
        Entry {
            json: serde_json::to_vec(v).unwrap_or_default().into(),
            proto: named(name, v).into(),
        }
    }
}

fn entries(
    map: &BTreeMap<String, Value>,
    named: fn(&str, &Value) -> Vec<u8>,
) -> BTreeMap<String, Entry> {
    map.iter()
        .map(|(k, v)| (k.clone(), Entry::of(k, v, named)))
        .collect()
}

impl From<Fragment> for EncodedFragment {
    fn from(f: Fragment) -> Self {
        EncodedFragment {
            definitions: f
                .definitions
                .iter()
                .map(|(k, v)| {
                    let gvks = v
                        .get("x-kubernetes-group-version-kind")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let entry = Entry::of(k, v, gnostic::named_schema);
                    (k.clone(), DefEntry { entry, gvks })
                })
                .collect(),
            paths: entries(&f.paths, gnostic::named_path_item),
            parameters: entries(&f.parameters, gnostic::named_parameter),
        }
    }
}

/// The served document.
#[derive(Debug, Clone, Default)]
pub struct V2 {
    fragments: BTreeMap<String, Arc<EncodedFragment>>,
    version: String,
    built: Arc<OnceLock<Arc<Built>>>,
}

#[derive(Debug)]
struct Built {
    json: Bytes,
    etag: String,
    last_modified: String,
    proto: OnceLock<Bytes>,
    json_gzip: OnceLock<Bytes>,
    proto_gzip: OnceLock<Bytes>,
    parts: Parts,
}

/// One merged entry: its key, JSON and protobuf `Named*` message.
type Part = (String, Arc<[u8]>, Arc<[u8]>);

/// The merged entries the two encodings are assembled from.
#[derive(Debug, Default)]
struct Parts {
    definitions: Vec<Part>,
    paths: Vec<Part>,
    parameters: Vec<Part>,
}

const SECURITY_NAME: &str = "BearerToken";

fn security_definitions() -> Value {
    json!({SECURITY_NAME: {"description": "Bearer token in the Authorization header.", "in": "header", "name": "authorization", "type": "apiKey"}})
}

fn security() -> Value {
    json!([{SECURITY_NAME: []}])
}

impl V2 {
    /// An empty document titled with the server's version.
    pub fn new(version: &str) -> Self {
        V2 {
            version: version.to_string(),
            ..V2::default()
        }
    }

    /// Replaces (or, with None, removes) one group/version's fragment.
    pub fn set_fragment(&mut self, key: &str, fragment: Option<Fragment>) {
        match fragment {
            Some(f) => {
                self.fragments
                    .insert(key.to_string(), Arc::new(EncodedFragment::from(f)));
            }
            None => {
                self.fragments.remove(key);
            }
        }
        self.built = Arc::default();
    }

    fn info(&self) -> Value {
        json!({"title": "Kubernetes", "version": self.version})
    }

    fn built(&self) -> Arc<Built> {
        self.built.get_or_init(|| Arc::new(self.assemble())).clone()
    }

    fn assemble(&self) -> Built {
        let mut defs: BTreeMap<&str, Vec<&DefEntry>> = BTreeMap::new();
        let mut paths: BTreeMap<&str, &Entry> = BTreeMap::new();
        let mut params: BTreeMap<&str, &Entry> = BTreeMap::new();
        for f in self.fragments.values() {
            for (k, d) in &f.definitions {
                defs.entry(k).or_default().push(d);
            }
            for (k, e) in &f.paths {
                paths.entry(k).or_insert(e);
            }
            for (k, e) in &f.parameters {
                params.entry(k).or_insert(e);
            }
        }
        let shared = |e: &Entry| -> (Arc<[u8]>, Arc<[u8]>) { (e.json.clone(), e.proto.clone()) };
        let mut parts = Parts::default();
        for (k, ds) in defs {
            let first = ds[0];
            if ds.iter().all(|d| d.entry.json == first.entry.json) {
                let (j, p) = shared(&first.entry);
                parts.definitions.push((k.to_string(), j, p));
                continue;
            }
            // The same type from several group/versions: one schema with
            // every group/version/kind it is registered under.
            let mut gvks: Vec<Value> = ds.iter().flat_map(|d| d.gvks.iter().cloned()).collect();
            gvks.sort_by_key(|g| {
                let s = |f: &str| g.get(f).and_then(Value::as_str).unwrap_or("").to_string();
                (s("group"), s("version"), s("kind"))
            });
            gvks.dedup();
            let mut v: Value = serde_json::from_slice(&first.entry.json).unwrap_or(Value::Null);
            if !gvks.is_empty()
                && let Some(m) = v.as_object_mut()
            {
                m.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
            }
            let j: Arc<[u8]> = serde_json::to_vec(&v).unwrap_or_default().into();
            let p: Arc<[u8]> = gnostic::named_schema(k, &v).into();
            parts.definitions.push((k.to_string(), j, p));
        }
        for (k, e) in paths {
            let (j, p) = shared(e);
            parts.paths.push((k.to_string(), j, p));
        }
        for (k, e) in params {
            let (j, p) = shared(e);
            parts.parameters.push((k.to_string(), j, p));
        }
        let json = self.assemble_json(&parts);
        let etag = super::hash(&json);
        Built {
            json: Bytes::from(json),
            etag,
            last_modified: super::http_date(jiff::Timestamp::now()),
            proto: OnceLock::new(),
            json_gzip: OnceLock::new(),
            proto_gzip: OnceLock::new(),
            parts,
        }
    }

    /// The JSON document, keys in order (as Go's encoder writes maps).
    fn assemble_json(&self, parts: &Parts) -> Vec<u8> {
        let size: usize = [&parts.definitions, &parts.paths, &parts.parameters]
            .iter()
            .flat_map(|v| v.iter())
            .map(|(k, j, _)| k.len() + j.len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 512);
        let object = |out: &mut Vec<u8>, entries: &[Part]| {
            out.push(b'{');
            for (i, (k, j, _)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                out.extend_from_slice(j);
            }
            out.push(b'}');
        };
        out.extend_from_slice(b"{\"definitions\":");
        object(&mut out, &parts.definitions);
        out.extend_from_slice(b",\"info\":");
        let _ = serde_json::to_writer(&mut out, &self.info());
        out.extend_from_slice(b",\"parameters\":");
        object(&mut out, &parts.parameters);
        out.extend_from_slice(b",\"paths\":");
        object(&mut out, &parts.paths);
        out.extend_from_slice(b",\"security\":");
        let _ = serde_json::to_writer(&mut out, &security());
        out.extend_from_slice(b",\"securityDefinitions\":");
        let _ = serde_json::to_writer(&mut out, &security_definitions());
        out.extend_from_slice(b",\"swagger\":\"2.0\"}");
        out
    }

    fn assemble_proto(&self, parts: &Parts) -> Vec<u8> {
        use kapi_generated::proto::{LEN, put_key, put_string, put_varint};
        // Each entry as a length-delimited element of field `inner`.
        let wrap = |entries: &[Part], inner: u32| {
            let mut b = Vec::with_capacity(entries.iter().map(|e| e.2.len() + 6).sum());
            for (_, _, p) in entries {
                put_key(&mut b, inner, LEN);
                put_varint(&mut b, p.len() as u64);
                b.extend_from_slice(p);
            }
            b
        };
        let mut doc = Vec::new();
        put_string(&mut doc, 1, "2.0");
        gnostic::put_encoded(&mut doc, 2, &gnostic::info(&self.info()));
        // Paths { repeated NamedPathItem path = 2 }
        gnostic::put_encoded(&mut doc, 8, &wrap(&parts.paths, 2));
        // Definitions { repeated NamedSchema additional_properties = 1 }
        gnostic::put_encoded(&mut doc, 9, &wrap(&parts.definitions, 1));
        // ParameterDefinitions { repeated NamedParameter additional_properties = 1 }
        gnostic::put_encoded(&mut doc, 10, &wrap(&parts.parameters, 1));
        gnostic::security_requirements(&mut doc, 12, &security());
        gnostic::put_encoded(
            &mut doc,
            13,
            &gnostic::security_definitions(&security_definitions()),
        );
        doc
    }

    /// The JSON document (for tests and tools).
    pub fn json(&self) -> Bytes {
        self.built().json.clone()
    }

    /// The protobuf document (for tests and tools).
    pub fn protobuf(&self) -> Bytes {
        let b = self.built();
        b.proto
            .get_or_init(|| Bytes::from(self.assemble_proto(&b.parts)))
            .clone()
    }

    /// `GET /openapi/v2`, negotiated as kube-openapi's handler does, behind
    /// its gzip wrapper.
    pub fn serve(&self, headers: &HeaderMap) -> Response {
        const JSON: &str = "application/json";
        const PROTO: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
        let accepted = [
            ("application", "json", JSON),
            (
                "application",
                "com.github.proto-openapi.spec.v2@v1.0+protobuf",
                PROTO,
            ),
            (
                "application",
                "com.github.proto-openapi.spec.v2.v1.0+protobuf",
                PROTO,
            ),
        ];
        let mut chosen = None;
        'clauses: for (t, s) in super::accept_clauses(headers) {
            for (at, asub, ct) in accepted {
                if (t == at || t == "*") && (s == asub || s == "*") {
                    chosen = Some(ct);
                    break 'clauses;
                }
            }
        }
        let mut vary = vec![
            HeaderValue::from_static("Accept-Encoding"),
            HeaderValue::from_static("Accept"),
        ];
        let Some(ct) = chosen else {
            let mut r = StatusCode::NOT_ACCEPTABLE.into_response();
            for v in vary.drain(..) {
                r.headers_mut().append(header::VARY, v);
            }
            super::no_cache(&mut r);
            return r;
        };
        let built = self.built();
        let gzip = super::accepts_gzip(headers);
        let (body, gz) = if ct == JSON {
            (built.json.clone(), &built.json_gzip)
        } else {
            (self.protobuf(), &built.proto_gzip)
        };
        // gziphandler compresses bodies of 1400 bytes and more.
        let (body, compressed) = if gzip && body.len() >= 1400 {
            (
                gz.get_or_init(|| Bytes::from(gzip_bytes(&body))).clone(),
                true,
            )
        } else {
            (body, false)
        };
        let mut r = super::serve_content(headers, body, ct, &built.etag, &built.last_modified);
        let ok = r.status() == StatusCode::OK;
        let h = r.headers_mut();
        h.remove(header::VARY);
        for v in vary {
            h.append(header::VARY, v);
        }
        if compressed && ok {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    }
}

fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

// ------------------------------------------------------------------ paths

/// Which server's conventions the paths follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A built-in kind (kube-apiserver's installer).
    BuiltIn,
    /// A custom resource (apiextensions-apiserver's OpenAPI builder).
    Custom,
}

/// apiserver's `ToValidOperationID`.
fn op_id_part(s: &str, capitalize_first: bool) -> String {
    let mut out = String::new();
    let mut cap = capitalize_first;
    for (i, c) in s.chars().enumerate() {
        if c.is_alphabetic() || c == '_' || (i != 0 && c.is_ascii_digit()) {
            if cap {
                out.extend(c.to_uppercase());
                cap = false;
            } else {
                out.push(c);
            }
        } else {
            cap = true;
        }
    }
    out
}

/// The `{Group}{Version}` an operation id carries and the tag (`core_v1`,
/// `authorization_v1`, `gatewayNetworking_v1`).
fn group_version_id(group: &str, version: &str) -> (String, String) {
    let g = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    (
        format!("{}{}", op_id_part(g, true), op_id_part(version, true)),
        format!("{}_{}", op_id_part(g, false), op_id_part(version, false)),
    )
}

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({"description": description, "in": "query", "name": name, "type": ty, "uniqueItems": true})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"description": description, "in": "path", "name": name, "required": true, "type": "string", "uniqueItems": true})
}

fn def_ref(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

fn body(schema: &str, required: bool) -> Value {
    let mut b = json!({"in": "body", "name": "body", "schema": def_ref(schema)});
    if required {
        b["required"] = json!(true);
    }
    b
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "string",
            "When present, changes are not persisted. Valid value: All.",
        ),
        query(
            "fieldManager",
            "string",
            "The name of the actor making the change.",
        ),
        query(
            "fieldValidation",
            "string",
            "How unknown or duplicate fields in the body are handled: Ignore, Warn or Strict.",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "Asks for BOOKMARK watch events.",
        ),
        query(
            "continue",
            "string",
            "The continue token of the previous page.",
        ),
        query("fieldSelector", "string", "Restricts the result by fields."),
        query("labelSelector", "string", "Restricts the result by labels."),
        query("limit", "integer", "The most items to return."),
        query(
            "resourceVersion",
            "string",
            "The resourceVersion the list or watch is based on.",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "How resourceVersion applies: Exact or NotOlderThan.",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "Starts a watch with the current state as ADDED events.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout of the list or watch call.",
        ),
        query("watch", "boolean", "Watch for changes instead of listing."),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "string",
            "When present, changes are not persisted. Valid value: All.",
        ),
        query(
            "gracePeriodSeconds",
            "integer",
            "Seconds before the object is deleted.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: whether dependents are orphaned.",
        ),
        query(
            "propagationPolicy",
            "string",
            "How dependents are deleted: Orphan, Background or Foreground.",
        ),
    ]
}

struct Op {
    method: &'static str,
    action: &'static str,
    id: String,
    params: Vec<Value>,
    responses: Vec<(&'static str, &'static str, Option<String>)>,
    consumes: Vec<&'static str>,
    produces: Vec<&'static str>,
    gvk: Value,
    description: String,
}

fn param_key(p: &Value) -> (String, String) {
    let s = |f: &str| p.get(f).and_then(Value::as_str).unwrap_or("").to_string();
    (s("name"), s("in"))
}

/// A path item from its operations and the path's own parameters, with
/// the parameters every operation has moved to the path.
fn path_item(mut ops: Vec<Op>, mut common: Vec<Value>, tag: &str) -> Value {
    let mut counts: BTreeMap<(String, String), (usize, Value)> = BTreeMap::new();
    for op in &ops {
        for p in &op.params {
            if p.get("in").and_then(Value::as_str) == Some("body") {
                continue;
            }
            let e = counts.entry(param_key(p)).or_insert((0, p.clone()));
            e.0 += 1;
            e.1 = p.clone();
        }
    }
    let hoisted: Vec<(String, String)> = counts
        .iter()
        .filter(|(_, (n, _))| *n == ops.len())
        .map(|(k, _)| k.clone())
        .collect();
    for k in &hoisted {
        if let Some((_, p)) = counts.get(k) {
            common.push(p.clone());
        }
    }
    common.sort_by_key(param_key);
    let mut item = Map::new();
    for op in &mut ops {
        op.params.retain(|p| !hoisted.contains(&param_key(p)));
        op.params.sort_by_key(param_key);
        let mut responses = Map::new();
        for (code, text, schema) in &op.responses {
            let mut r = json!({"description": text});
            if let Some(s) = schema {
                r["schema"] = def_ref(s);
            }
            responses.insert((*code).to_string(), r);
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        let mut o = json!({
            "consumes": op.consumes,
            "description": op.description,
            "operationId": op.id,
            "produces": op.produces,
            "responses": responses,
            "schemes": ["https"],
            "tags": [tag],
            "x-kubernetes-action": op.action,
            "x-kubernetes-group-version-kind": op.gvk,
        });
        if !op.params.is_empty() {
            o["parameters"] = Value::Array(std::mem::take(&mut op.params));
        }
        item.insert(op.method.into(), o);
    }
    if !common.is_empty() {
        item.insert("parameters".into(), Value::Array(common));
    }
    Value::Object(item)
}

/// The paths of one endpoint, its kind's schema published as `published`.
fn endpoint_paths(ep: &Endpoint, published: &str, flavor: Flavor) -> Vec<(String, Value)> {
    let r = &ep.resource;
    let (gv_id, tag) = group_version_id(&r.group, &r.version);
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let ns = if r.namespaced() { "Namespaced" } else { "" };
    let scoped = |prefix: &str| {
        if r.namespaced() {
            format!("{base}{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{base}{prefix}/{}", r.plural)
        }
    };
    let kind = &r.kind;
    let gvk = json!({"group": r.group, "kind": kind, "version": r.version});
    let protobuf =
        flavor == Flavor::BuiltIn && kapi_generated::proto::codec(&r.api_version(), kind).is_some();
    let mut produces = vec!["application/json", "application/yaml"];
    if protobuf {
        produces.push("application/vnd.kubernetes.protobuf");
    }
    let mut streams = produces.clone();
    if flavor == Flavor::BuiltIn {
        streams.push("application/json;stream=watch");
        if protobuf {
            streams.push("application/vnd.kubernetes.protobuf;stream=watch");
        }
    }
    let consumes: Vec<&'static str> = match flavor {
        Flavor::BuiltIn => vec!["*/*"],
        Flavor::Custom => vec!["application/json", "application/yaml"],
    };
    let patch_types: Vec<&'static str> = match flavor {
        Flavor::BuiltIn => vec![
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ],
        Flavor::Custom => vec![
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ],
    };
    let list = format!("{published}List");
    let status = format!("{META}.Status");
    let op = |method,
              action,
              id: String,
              params,
              responses,
              consumes: &Vec<&'static str>,
              produces: &Vec<&'static str>,
              description: String| Op {
        method,
        action,
        id,
        params,
        responses,
        consumes: consumes.clone(),
        produces: produces.clone(),
        gvk: gvk.clone(),
        description,
    };
    let ns_param = || path_param("namespace", "The object's namespace.");
    let name_param = |what: &str| path_param("name", &format!("The {what}'s name."));
    let pretty = || query("pretty", "string", "Whether the output is pretty-printed.");
    let collection_params = || {
        let mut p = vec![pretty()];
        if r.namespaced() {
            p.push(ns_param());
        }
        p
    };
    let item_params = |what: &str| {
        let mut p = collection_params();
        p.push(name_param(what));
        p
    };
    let kind_ok = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![("200", "OK", Some(published.to_string()))];
        v.extend(
            extra
                .iter()
                .map(|(c, t)| (*c, *t, Some(published.to_string()))),
        );
        v
    };
    let mut out = Vec::new();

    // The collection.
    let mut ops = Vec::new();
    if ep.lister.is_some() {
        ops.push(op(
            "get",
            "list",
            format!("list{gv_id}{ns}{kind}"),
            list_params(),
            vec![("200", "OK", Some(list.clone()))],
            &consumes,
            &streams,
            format!("list or watch {kind} objects"),
        ));
    }
    if ep.creater.is_some() {
        let mut params = write_params();
        params.push(body(published, true));
        ops.push(op(
            "post",
            "post",
            format!("create{gv_id}{ns}{kind}"),
            params,
            kind_ok(&[("201", "Created"), ("202", "Accepted")]),
            &consumes,
            &produces,
            format!("create a {kind}"),
        ));
    }
    if ep.collection_deleter.is_some() {
        let mut params = delete_params();
        params.extend(list_params().into_iter().filter(|p| {
            !matches!(
                p.get("name").and_then(Value::as_str),
                Some("allowWatchBookmarks" | "watch")
            )
        }));
        params.push(body(&format!("{META}.DeleteOptions"), false));
        ops.push(op(
            "delete",
            "deletecollection",
            format!("delete{gv_id}Collection{ns}{kind}"),
            params,
            vec![("200", "OK", Some(status.clone()))],
            &consumes,
            &produces,
            format!("delete a collection of {kind} objects"),
        ));
    }
    if !ops.is_empty() {
        out.push((scoped(""), path_item(ops, collection_params(), &tag)));
    }

    // One object.
    let mut ops = Vec::new();
    if ep.getter.is_some() {
        ops.push(op(
            "get",
            "get",
            format!("read{gv_id}{ns}{kind}"),
            Vec::new(),
            kind_ok(&[]),
            &consumes,
            &produces,
            format!("read a {kind}"),
        ));
    }
    if ep.updater.is_some() {
        let mut params = write_params();
        params.push(body(published, true));
        ops.push(op(
            "put",
            "put",
            format!("replace{gv_id}{ns}{kind}"),
            params,
            kind_ok(&[("201", "Created")]),
            &consumes,
            &produces,
            format!("replace a {kind}"),
        ));
    }
    if ep.patcher.is_some() {
        let mut params = write_params();
        params.push(query(
            "force",
            "boolean",
            "Whether an apply takes over fields other managers own.",
        ));
        params.push(body(&format!("{META}.Patch"), true));
        ops.push(op(
            "patch",
            "patch",
            format!("patch{gv_id}{ns}{kind}"),
            params,
            kind_ok(&[("201", "Created")]),
            &patch_types,
            &produces,
            format!("patch a {kind}"),
        ));
    }
    if ep.deleter.is_some() {
        let mut params = delete_params();
        params.push(body(&format!("{META}.DeleteOptions"), false));
        ops.push(op(
            "delete",
            "delete",
            format!("delete{gv_id}{ns}{kind}"),
            params,
            vec![
                ("200", "OK", Some(status.clone())),
                ("202", "Accepted", Some(status.clone())),
            ],
            &consumes,
            &produces,
            format!("delete a {kind}"),
        ));
    }
    if !ops.is_empty() {
        out.push((
            format!("{}/{{name}}", scoped("")),
            path_item(ops, item_params(kind), &tag),
        ));
    }

    // Every namespace.
    if r.namespaced() && ep.lister.is_some() {
        let ops = vec![op(
            "get",
            "list",
            format!("list{gv_id}{kind}ForAllNamespaces"),
            list_params(),
            vec![("200", "OK", Some(list.clone()))],
            &consumes,
            &streams,
            format!("list or watch {kind} objects in every namespace"),
        )];
        out.push((
            format!("{base}/{}", r.plural),
            path_item(ops, vec![pretty()], &tag),
        ));
    }

    // Subresources.
    let subresource = |sub: &str, schema: &str, gvk: Value, verbs: [bool; 3]| {
        let title = format!("{}{}", sub[..1].to_uppercase(), &sub[1..]);
        let ok = |extra: Option<(&'static str, &'static str)>| {
            let mut v = vec![("200", "OK", Some(schema.to_string()))];
            if let Some((c, t)) = extra {
                v.push((c, t, Some(schema.to_string())));
            }
            v
        };
        let mut ops = Vec::new();
        let mk = |method,
                  action,
                  id: String,
                  params,
                  responses,
                  consumes: &Vec<&'static str>,
                  description: String| Op {
            method,
            action,
            id,
            params,
            responses,
            consumes: consumes.clone(),
            produces: produces.clone(),
            gvk: gvk.clone(),
            description,
        };
        if verbs[0] {
            ops.push(mk(
                "get",
                "get",
                format!("read{gv_id}{ns}{kind}{title}"),
                Vec::new(),
                ok(None),
                &consumes,
                format!("read the {sub} of a {kind}"),
            ));
        }
        if verbs[1] {
            let mut params = write_params();
            params.push(body(schema, true));
            ops.push(mk(
                "put",
                "put",
                format!("replace{gv_id}{ns}{kind}{title}"),
                params,
                ok(Some(("201", "Created"))),
                &consumes,
                format!("replace the {sub} of a {kind}"),
            ));
        }
        if verbs[2] {
            let mut params = write_params();
            params.push(query(
                "force",
                "boolean",
                "Whether an apply takes over fields other managers own.",
            ));
            params.push(body(&format!("{META}.Patch"), true));
            ops.push(mk(
                "patch",
                "patch",
                format!("patch{gv_id}{ns}{kind}{title}"),
                params,
                ok(Some(("201", "Created"))),
                &patch_types,
                format!("patch the {sub} of a {kind}"),
            ));
        }
        (
            format!("{}/{{name}}/{sub}", scoped("")),
            path_item(ops, item_params(kind), &tag),
        )
    };
    if r.status_subresource {
        let v = ep.status_verbs();
        out.push(subresource(
            "status",
            published,
            gvk.clone(),
            [
                v.contains(&"get"),
                v.contains(&"update"),
                v.contains(&"patch"),
            ],
        ));
    }
    if r.scale_subresource.is_some() {
        let scale_gvk = match flavor {
            Flavor::BuiltIn => json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
            Flavor::Custom => gvk.clone(),
        };
        out.push(subresource(
            "scale",
            "io.k8s.api.autoscaling.v1.Scale",
            scale_gvk,
            [
                ep.getter.is_some(),
                ep.updater.is_some(),
                ep.patcher.is_some(),
            ],
        ));
    }

    // The deprecated `watch/` paths.
    if ep.watcher.is_some() && ep.lister.is_some() {
        let event = format!("{META}.WatchEvent");
        let watch = |action, id: String, description: String| {
            vec![op(
                "get",
                action,
                id,
                Vec::new(),
                vec![("200", "OK", Some(event.clone()))],
                &consumes,
                &streams,
                description,
            )]
        };
        let mut params = list_params();
        params.extend(collection_params());
        out.push((
            scoped("/watch"),
            path_item(
                watch(
                    "watchlist",
                    format!("watch{gv_id}{ns}{kind}List"),
                    format!("watch {kind} objects (deprecated: use watch=true on the list)"),
                ),
                params.clone(),
                &tag,
            ),
        ));
        let mut item = params.clone();
        item.push(name_param(kind));
        out.push((
            format!("{}/{{name}}", scoped("/watch")),
            path_item(watch("watch", format!("watch{gv_id}{ns}{kind}"), format!("watch a {kind} (deprecated: use watch=true with a fieldSelector on the list)")), item, &tag),
        ));
        if r.namespaced() {
            let mut all = list_params();
            all.push(pretty());
            out.push((
                format!("{base}/watch/{}", r.plural),
                path_item(watch("watchlist", format!("watch{gv_id}{kind}ListForAllNamespaces"), format!("watch {kind} objects in every namespace (deprecated: use watch=true on the list)")), all, &tag),
            ));
        }
    }
    out
}

/// Upstream's parameter hash: FNV-1 64 of the JSON, the first six bytes in
/// URL-safe base64 (eight characters).
fn param_hash(json: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= u64::from(*b);
    }
    base64::engine::general_purpose::URL_SAFE.encode(&h.to_be_bytes()[..6])
}

fn shareable(p: &Value) -> bool {
    let s = |f: &str| p.get(f).and_then(Value::as_str).unwrap_or("");
    let (name, inn) = (s("name"), s("in"));
    if (inn == "query" || inn == "path") && name == "name" {
        return false;
    }
    if inn == "query" && (name == "fieldValidation" || name == "dryRun") {
        return false;
    }
    if inn == "body"
        && name == "body"
        && !p
            .pointer("/schema/$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.starts_with("#/definitions/io.k8s.apimachinery"))
    {
        return false;
    }
    true
}

/// Replaces every shareable parameter with a `$ref` to a shared one.
fn share_parameters(paths: &mut BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut shared = BTreeMap::new();
    let mut replace = |list: &mut Value| {
        for p in list.as_array_mut().into_iter().flatten() {
            if p.get("$ref").is_some() || !shareable(p) {
                continue;
            }
            let json = serde_json::to_vec(&*p).unwrap_or_default();
            let name = format!(
                "{}-{}",
                p.get("name").and_then(Value::as_str).unwrap_or("param"),
                param_hash(&json)
            );
            let r = json!({"$ref": format!("#/parameters/{name}")});
            shared.insert(name, std::mem::replace(p, r));
        }
    };
    for item in paths.values_mut() {
        let Some(m) = item.as_object_mut() else {
            continue;
        };
        for (k, v) in m.iter_mut() {
            if k == "parameters" {
                replace(v);
            } else if let Some(ps) = v.get_mut("parameters") {
                replace(ps);
            }
        }
    }
    shared
}

/// One group/version's fragment: the paths of `eps` (each kind's schema
/// published under the name `published` gives) and `definitions`.
pub fn fragment(
    eps: &[&Endpoint],
    definitions: BTreeMap<String, Value>,
    flavor: Flavor,
    published: impl Fn(&Endpoint) -> String,
) -> Fragment {
    let mut paths = BTreeMap::new();
    for ep in eps {
        for (p, v) in endpoint_paths(ep, &published(ep), flavor) {
            paths.insert(p, v);
        }
    }
    let parameters = share_parameters(&mut paths);
    // As kube-openapi's builder, only the definitions the paths reach.
    let mut wanted: Vec<String> = Vec::new();
    for v in paths.values().chain(parameters.values()) {
        collect_refs(v, &mut wanted);
    }
    let mut reached = BTreeMap::new();
    while let Some(name) = wanted.pop() {
        if reached.contains_key(&name) {
            continue;
        }
        if let Some(d) = definitions.get(&name) {
            collect_refs(d, &mut wanted);
            reached.insert(name, d.clone());
        }
    }
    Fragment {
        definitions: reached,
        paths,
        parameters,
    }
}

/// The definitions `v` refers to (`$ref` strings anywhere in it).
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        if let Some(n) = r.strip_prefix("#/definitions/") {
                            out.push(n.to_string());
                        }
                    }
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

// ------------------------------------------------------------ definitions

/// A built-in schema from its v3 form (`components.schemas`) to v2, as
/// kube-openapi publishes the same Go type in each: `#/definitions/` refs,
/// a lone `allOf` ref as a plain `$ref`, no `default`, and the
/// Calls `f` on each schema nested directly in a schema object: its
/// properties, `items` and `additionalProperties` (when a schema).
fn for_each_subschema(m: &mut serde_json::Map<String, Value>, mut f: impl FnMut(&mut Value)) {
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(&mut f);
    }
    for k in ["items", "additionalProperties"] {
        if let Some(v @ Value::Object(_)) = m.get_mut(k) {
            f(v);
        }
    }
}

/// `oneOf`-typed IntOrString and Quantity as `type: string`.
pub fn builtin_schema_v2(s: &mut Value) {
    let Some(m) = s.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(all)) = m.get("allOf")
        && all.len() == 1
        && let Some(r) = all[0].get("$ref").cloned()
    {
        m.remove("allOf");
        m.insert("$ref".into(), r);
    }
    if let Some(Value::String(r)) = m.get_mut("$ref")
        && let Some(rest) = r.strip_prefix("#/components/schemas/")
    {
        *r = format!("#/definitions/{rest}");
    }
    m.remove("default");
    if m.contains_key("oneOf") && !m.contains_key("type") {
        m.remove("oneOf");
        m.insert("type".into(), json!("string"));
    }
    for_each_subschema(m, builtin_schema_v2);
}

/// The keys a custom resource schema keeps in v2 (what apiextensions'
/// structural schema carries into kube-openapi's `spec.Schema`).
const CRD_KEYS: &[&str] = &[
    "description",
    "type",
    "title",
    "default",
    "format",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// apiextensions' `ToStructuralOpenAPIV2`: drops what v2 (and kubectl's
/// validation of it) cannot express. Junctors go; a nullable node loses
/// its type, items and properties (and is no longer required by its
/// parent); a node preserving unknown fields loses its items and
/// properties (and its `object` type); an array without items loses its
/// type.
fn structural_v2(s: &mut Value) {
    let Some(m) = s.as_object_mut() else {
        return;
    };
    m.retain(|k, v| {
        CRD_KEYS.contains(&k.as_str())
            && !(matches!(
                k.as_str(),
                "uniqueItems"
                    | "x-kubernetes-preserve-unknown-fields"
                    | "x-kubernetes-embedded-resource"
                    | "x-kubernetes-int-or-string"
                    | "exclusiveMaximum"
                    | "exclusiveMinimum"
            ) && v == &Value::Bool(false))
    });
    let preserve = m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if preserve {
        m.remove("items");
        m.remove("properties");
    }
    if m.get("type").and_then(Value::as_str) == Some("array") && !m.contains_key("items") {
        m.remove("type");
    }
    if preserve && m.get("type").and_then(Value::as_str) == Some("object") {
        m.remove("type");
    }
    for_each_subschema(m, structural_v2);
}

/// Nullable handling first (it needs the parent): a nullable property is
/// no longer required, a map of nullable values requires nothing, and the
/// nullable node itself loses type, items and properties.
fn drop_nullable(s: &mut Value) {
    let Some(m) = s.as_object_mut() else {
        return;
    };
    let is_nullable = |v: &Value| v.get("nullable").and_then(Value::as_bool) == Some(true);
    let nullable_props: Vec<String> = m
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, v)| is_nullable(v))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Array(req)) = m.get_mut("required") {
        req.retain(|r| {
            !r.as_str()
                .is_some_and(|r| nullable_props.iter().any(|n| n == r))
        });
        if req.is_empty() {
            m.remove("required");
        }
    }
    if m.get("additionalProperties").is_some_and(is_nullable) {
        m.remove("required");
    }
    if m.remove("nullable") == Some(Value::Bool(true)) {
        m.remove("type");
        m.remove("items");
        m.remove("properties");
    }
    for k in ["allOf", "oneOf", "anyOf", "not"] {
        m.remove(k);
    }
    for_each_subschema(m, drop_nullable);
}

/// `apiVersion`, `kind` and `metadata` of every embedded resource (unless
/// it preserves unknown fields, which v2 publishes without them).
fn embedded_properties(s: &mut Value) {
    let Some(m) = s.as_object_mut() else {
        return;
    };
    for_each_subschema(m, embedded_properties);
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    if m.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        type_meta_properties(m);
        let props = m.entry("properties").or_insert_with(|| json!({}));
        props["metadata"] = object_meta_ref();
        let req = m.entry("required").or_insert_with(|| json!([]));
        if let Some(a) = req.as_array_mut() {
            for k in ["kind", "apiVersion"] {
                if !a.iter().any(|x| x == k) {
                    a.push(json!(k));
                }
            }
        }
    }
}

fn object_meta_ref() -> Value {
    json!({"$ref": format!("#/definitions/{META}.ObjectMeta"), "description": "Standard object's metadata."})
}

fn type_meta_properties(m: &mut Map<String, Value>) {
    let props = m.entry("properties").or_insert_with(|| json!({}));
    props["apiVersion"] =
        json!({"description": "The versioned schema of this object.", "type": "string"});
    props["kind"] =
        json!({"description": "The REST resource this object represents.", "type": "string"});
}

/// A custom resource's v2 definition from its version's `openAPIV3Schema`,
/// as apiextensions' builder makes it (`buildKubeNative` with `V2`).
pub fn crd_schema_v2(schema: Option<&Value>, group: &str, version: &str, kind: &str) -> Value {
    let gvk = json!([{"group": group, "kind": kind, "version": version}]);
    let preserve = schema
        .and_then(|s| s.get("x-kubernetes-preserve-unknown-fields"))
        .and_then(Value::as_bool)
        == Some(true);
    let Some(schema) = schema.filter(|_| !preserve) else {
        return json!({"type": "object", "x-kubernetes-group-version-kind": gvk});
    };
    let mut s = schema.clone();
    drop_nullable(&mut s);
    structural_v2(&mut s);
    if let Some(m) = s.as_object_mut() {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        props["metadata"] = object_meta_ref();
        type_meta_properties(m);
    }
    if let Some(Value::Object(props)) = s.get_mut("properties") {
        for p in props.values_mut() {
            embedded_properties(p);
        }
    }
    s["x-kubernetes-group-version-kind"] = gvk;
    s
}

/// A custom resource's list definition.
pub fn crd_list_schema_v2(
    name: &str,
    group: &str,
    version: &str,
    kind: &str,
    list_kind: &str,
) -> Value {
    let mut m = Map::new();
    type_meta_properties(&mut m);
    let mut s = json!({
        "description": format!("{list_kind} is a list of {kind}"),
        "properties": m.remove("properties").unwrap_or_else(|| json!({})),
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}],
    });
    s["properties"]["items"] = json!({"description": format!("The {kind} objects."), "items": def_ref(name), "type": "array"});
    s["properties"]["metadata"] = json!({"$ref": format!("#/definitions/{META}.ListMeta"), "description": "Standard list metadata."});
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_and_tags_as_upstream() {
        assert_eq!(
            group_version_id("", "v1"),
            ("CoreV1".into(), "core_v1".into())
        );
        assert_eq!(
            group_version_id("authorization.k8s.io", "v1"),
            ("AuthorizationV1".into(), "authorization_v1".into())
        );
        assert_eq!(
            group_version_id("rbac.authorization.k8s.io", "v1"),
            ("RbacAuthorizationV1".into(), "rbacAuthorization_v1".into())
        );
        assert_eq!(
            group_version_id("gateway.networking.k8s.io", "v1beta1"),
            (
                "GatewayNetworkingV1beta1".into(),
                "gatewayNetworking_v1beta1".into()
            )
        );
    }

    #[test]
    fn parameter_hash_is_fnv1_64_in_url_base64() {
        // FNV-1 64 of "" is the offset basis cbf29ce484222325.
        assert_eq!(
            param_hash(b""),
            base64::engine::general_purpose::URL_SAFE.encode([0xcb, 0xf2, 0x9c, 0xe4, 0x84, 0x22])
        );
        assert_eq!(param_hash(b"{\"in\":\"query\"}").len(), 8);
    }

    #[test]
    fn crd_schemas_lose_what_v2_cannot_say() {
        let s = json!({
            "type": "object",
            "required": ["spec", "opt"],
            "properties": {
                "spec": {"type": "object", "properties": {
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}},
                    "list": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "any": {"type": "array", "x-kubernetes-preserve-unknown-fields": true, "items": {"type": "string"}},
                    "n": {"type": "integer", "minimum": 1, "example": 3, "oneOf": [{"minimum": 2}]},
                }},
                "opt": {"type": "string", "nullable": true},
            },
        });
        let v2 = crd_schema_v2(Some(&s), "example.com", "v1", "Widget");
        assert_eq!(v2["required"], json!(["spec"]));
        assert_eq!(v2["properties"]["opt"], json!({}));
        let spec = &v2["properties"]["spec"]["properties"];
        assert_eq!(spec["port"], json!({"x-kubernetes-int-or-string": true}));
        assert_eq!(
            spec["free"],
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            spec["any"],
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(spec["list"]["x-kubernetes-list-type"], "set");
        assert_eq!(spec["n"], json!({"type": "integer", "minimum": 1}));
        assert_eq!(
            v2["properties"]["metadata"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(v2["properties"]["kind"]["type"], "string");
        assert_eq!(v2["x-kubernetes-group-version-kind"][0]["kind"], "Widget");

        let free = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        assert_eq!(
            crd_schema_v2(Some(&free), "example.com", "v1", "Widget"),
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}]})
        );
    }
}
