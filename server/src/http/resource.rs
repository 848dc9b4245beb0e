//! The resource handler: every URL under `/api/{version}` and
//! `/apis/{group}/{version}` that names a resource is matched to its
//! endpoint, the verb is derived from the method and the URL, and the
//! endpoint's handler for that verb answers. A verb the resource does not
//! implement is 405; a resource nobody serves goes to the delegate.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use kapi_generated::ApiResource;
use serde_json::{Value, json};

use super::AppState;
use super::body::{self, go_duration};
use super::negotiate::{self, Encoding, Output};
use super::request_info::{self, ApiPath, RequestInfo};
use crate::error::ApiError;
use crate::rest::options::{FieldValidation, Query, Subresource};
use crate::rest::{
    DeleteOpts, Deleted, Endpoint, ObjectList, PatchBody, PatchType, RequestScope, WatchEvent,
    Written,
};
use crate::selector::FieldRequirement;
use crate::table::{self, IncludeObject};

/// Answers every request the fixed routes do not.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let parsed = request_info::parse(&path);
    let served = match &parsed {
        ApiPath::CoreVersion(v) => state.discovery.load().core_version(v, req.headers()),
        ApiPath::Group(g) => state.discovery.load().group(g, req.headers()),
        ApiPath::GroupVersion(g, v) => state.discovery.load().group_version(g, v, req.headers()),
        ApiPath::Resource(info) => {
            match state
                .registry
                .lookup(&info.group, &info.version, &info.resource)
            {
                Some(ep) => {
                    let ep = ep.clone();
                    let info = info.clone();
                    if super::protobuf::involved(req.headers()) {
                        return super::protobuf::serve(ep, info, req).await;
                    }
                    return serve(ep, info, req)
                        .await
                        .unwrap_or_else(IntoResponse::into_response);
                }
                None => None,
            }
        }
        ApiPath::Other => None,
    };
    match served {
        Some(resp) if req.method() == Method::GET => resp,
        Some(_) => ApiError::method_not_allowed().into_response(),
        None => state.delegate.handle(req).await,
    }
}

fn item_name(info: &RequestInfo) -> Result<&str, ApiError> {
    info.name
        .as_deref()
        .ok_or_else(ApiError::method_not_allowed)
}

/// Serves one request with an endpoint (also the CRD server's path).
pub async fn serve(
    ep: Arc<Endpoint>,
    info: RequestInfo,
    req: Request,
) -> Result<Response, ApiError> {
    // A 406 (or an object body's 415) lists protobuf when this kind has a form.
    let protobuf =
        kapi_generated::proto::codec(&ep.resource.api_version(), &ep.resource.kind).is_some();
    serve_endpoint(ep, info, req)
        .await
        .map_err(|e| negotiate::with_protobuf_media_types(e, protobuf))
}

async fn serve_endpoint(
    ep: Arc<Endpoint>,
    info: RequestInfo,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query())?;
    let mut scope = query.scope()?;
    scope.user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let r = &ep.resource;
    if r.namespaced() {
        scope.namespace = info.namespace.clone();
        if info.namespace.is_none() && info.name.is_some() {
            return Err(ApiError::path_not_found());
        }
    } else if info.namespace.is_some() {
        return Err(ApiError::path_not_found());
    }
    match info.subresource.as_deref() {
        None => {}
        Some("status") if r.status_subresource => scope.subresource = Some(Subresource::Status),
        Some("scale") if r.scale_subresource.is_some() && info.name.is_some() => {
            let (Some(sub), Some(name)) = (&r.scale_subresource, &info.name) else {
                return Err(ApiError::path_not_found());
            };
            return super::scale::serve(
                &ep,
                sub,
                &scope,
                name,
                &parts.method,
                &parts.headers,
                body,
            )
            .await;
        }
        Some(_) => return Err(ApiError::path_not_found()),
    }
    let watch = info.watch_prefix || matches!(query.get("watch"), Some("true") | Some("1"));
    if watch {
        if parts.method != Method::GET || scope.subresource.is_some() {
            return Err(ApiError::method_not_allowed());
        }
        let watcher = ep
            .watcher
            .clone()
            .ok_or_else(ApiError::method_not_allowed)?;
        let mut opts = query.list_options()?;
        opts.watch = true;
        if let Some(name) = &info.name {
            opts.field_selector.0.push(FieldRequirement {
                field: "metadata.name".into(),
                value: name.clone(),
                negated: false,
            });
        }
        let output = negotiate::output_for_read(&parts.headers, false)?;
        let include = IncludeObject::parse(query.get("includeObject"))?;
        let stream = watcher.watch(&scope, &opts).await?;
        return Ok(watch_response(r.clone(), stream, output, include));
    }
    let timeout = match query.get("timeout") {
        Some(t) => Some(
            go_duration(t)
                .ok_or_else(|| ApiError::bad_request(format!("invalid timeout {t:?}")))?,
        ),
        None => None,
    };
    let work = verb(
        &ep,
        &info,
        &scope,
        &query,
        &parts.method,
        &parts.headers,
        body,
    );
    match timeout {
        Some(t) if !t.is_zero() => match tokio::time::timeout(t, work).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::timeout(
                "Timeout: request did not complete within requested timeout - context deadline exceeded",
            )),
        },
        _ => work.await,
    }
}

fn is_yaml(ct: &negotiate::MediaType) -> bool {
    ct.essence != "application/json"
}

/// The scope with the body's repeated fields, unless they are ignored.
fn with_duplicates(scope: &RequestScope, yaml: bool, bytes: &[u8]) -> RequestScope {
    let mut scope = scope.clone();
    if scope.field_validation != FieldValidation::Ignore {
        scope.duplicate_fields = super::duplicates::find(yaml, bytes);
    }
    scope
}

async fn verb(
    ep: &Endpoint,
    info: &RequestInfo,
    scope: &RequestScope,
    query: &Query,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let r = &ep.resource;
    let na = ApiError::method_not_allowed;
    match (method.clone(), info.name.is_some()) {
        (Method::GET, true) => {
            let getter = ep.getter.as_ref().ok_or_else(na)?;
            let name = item_name(info)?;
            let output = negotiate::output_for_read(headers, false)?;
            let obj = getter.get(scope, name).await?;
            match output {
                Output::Object(e) => Ok(object_response(StatusCode::OK, &obj, e, &[])),
                Output::Table => {
                    let include = IncludeObject::parse(query.get("includeObject"))?;
                    let rv = obj
                        .pointer("/metadata/resourceVersion")
                        .cloned()
                        .unwrap_or(Value::Null);
                    let t =
                        table::to_table(r, &[obj], include, true, json!({"resourceVersion": rv}));
                    Ok(object_response(StatusCode::OK, &t, Encoding::Json, &[]))
                }
                Output::PartialObjectMetadata => Ok(object_response(
                    StatusCode::OK,
                    &table::partial_object_metadata(&obj),
                    Encoding::Json,
                    &[],
                )),
            }
        }
        (Method::GET, false) => {
            if scope.subresource.is_some() {
                return Err(na());
            }
            let lister = ep.lister.as_ref().ok_or_else(na)?;
            let opts = query.list_options()?;
            let output = negotiate::output_for_read(headers, true)?;
            let list = lister.list(scope, &opts).await?;
            Ok(list_response(
                ep,
                list,
                output,
                IncludeObject::parse(query.get("includeObject"))?,
            ))
        }
        (Method::POST, false) => {
            if scope.subresource.is_some() {
                return Err(na());
            }
            let creater = ep.creater.as_ref().ok_or_else(na)?;
            let enc = negotiate::encoding(headers)?;
            let bytes = body::read(body).await?;
            let ct = negotiate::content_type(headers);
            let value = body::decode_object(&ct, &bytes, &r.kind)?;
            let scope = &with_duplicates(scope, is_yaml(&ct), &bytes);
            let w = creater.create(scope, value).await?;
            Ok(written_response(w, StatusCode::CREATED, enc))
        }
        (Method::PUT, true) => {
            let updater = ep.updater.as_ref().ok_or_else(na)?;
            let enc = negotiate::encoding(headers)?;
            let bytes = body::read(body).await?;
            let ct = negotiate::content_type(headers);
            let value = body::decode_object(&ct, &bytes, &r.kind)?;
            let scope = &with_duplicates(scope, is_yaml(&ct), &bytes);
            let w = updater.update(scope, item_name(info)?, value).await?;
            let code = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(written_response(w, code, enc))
        }
        (Method::PATCH, true) => {
            let patcher = ep.patcher.as_ref().ok_or_else(na)?;
            let enc = negotiate::encoding(headers)?;
            let ct = negotiate::content_type(headers);
            let accepted = [
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
                "application/strategic-merge-patch+json",
            ];
            let Some(type_) = PatchType::from_media_type(&ct.essence)
                .filter(|_| headers.contains_key(header::CONTENT_TYPE))
            else {
                return Err(ApiError::unsupported_media_type(&accepted));
            };
            let bytes = body::read(body).await?;
            let patch = body::decode_patch(type_ == PatchType::Apply, &bytes)?;
            let scope = &with_duplicates(scope, type_ == PatchType::Apply, &bytes);
            let force = matches!(query.get("force"), Some("true") | Some("1"));
            let w = patcher
                .patch(
                    scope,
                    item_name(info)?,
                    PatchBody {
                        type_,
                        patch,
                        force,
                    },
                )
                .await?;
            let code = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(written_response(w, code, enc))
        }
        (Method::DELETE, true) => {
            if scope.subresource.is_some() {
                return Err(na());
            }
            let deleter = ep.deleter.as_ref().ok_or_else(na)?;
            let enc = negotiate::encoding(headers)?;
            let bytes = body::read(body).await?;
            let opts = DeleteOpts::from_request(
                body::decode_optional(&negotiate::content_type(headers), &bytes)?,
                query,
            )?;
            let name = item_name(info)?;
            let scope = &with_body_dry_run(scope, &opts);
            match deleter.delete(scope, name, opts).await? {
                Deleted::Gone { uid } => {
                    let mut details = json!({"name": name, "kind": r.plural, "uid": uid});
                    if !r.group.is_empty() {
                        details["group"] = json!(r.group);
                    }
                    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
                    Ok(object_response(StatusCode::OK, &status, enc, &[]))
                }
                Deleted::Pending(obj) => Ok(object_response(StatusCode::OK, &obj, enc, &[])),
            }
        }
        (Method::DELETE, false) => {
            if scope.subresource.is_some() {
                return Err(na());
            }
            let deleter = ep.collection_deleter.as_ref().ok_or_else(na)?;
            let bytes = body::read(body).await?;
            let opts = DeleteOpts::from_request(
                body::decode_optional(&negotiate::content_type(headers), &bytes)?,
                query,
            )?;
            let list_opts = query.list_options()?;
            let scope = &with_body_dry_run(scope, &opts);
            let list = deleter.delete_collection(scope, &list_opts, opts).await?;
            Ok(list_response(
                ep,
                list,
                Output::Object(negotiate::encoding(headers)?),
                IncludeObject::Metadata,
            ))
        }
        _ => Err(na()),
    }
}

fn encode(value: &Value, enc: Encoding) -> (Vec<u8>, &'static str) {
    match enc {
        Encoding::Json => (crate::wire_json::to_vec(value), "application/json"),
        Encoding::Yaml => (
            serde_yaml_ng::to_string(value)
                .unwrap_or_default()
                .into_bytes(),
            "application/yaml",
        ),
    }
}

/// An object answer.
pub fn object_response(
    code: StatusCode,
    value: &Value,
    enc: Encoding,
    warnings: &[String],
) -> Response {
    let (bytes, ct) = encode(value, enc);
    let mut resp = (code, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    for w in warnings {
        let text = format!("299 - {}", Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn written_response(w: Written, code: StatusCode, enc: Encoding) -> Response {
    object_response(code, &w.object, enc, &w.warnings)
}

fn list_meta(list: &ObjectList) -> Value {
    let mut meta = json!({"resourceVersion": list.resource_version.to_string()});
    if let Some(c) = &list.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(n) = list.remaining_item_count {
        meta["remainingItemCount"] = json!(n);
    }
    meta
}

/// A list answer. Items of a typed list carry no `kind` and `apiVersion`
/// (upstream's typed lists leave them empty; only the list has them);
/// custom resources keep them, as upstream's unstructured lists do.
fn list_response(
    ep: &Endpoint,
    list: ObjectList,
    output: Output,
    include: IncludeObject,
) -> Response {
    let r = &ep.resource;
    let typed = !ep.facts.custom_resource;
    let meta = list_meta(&list);
    let mut list = list;
    if let Some(raw) = list.raw_items.take() {
        if output == Output::Object(Encoding::Json) {
            return raw_list_response(r, &meta, raw, typed);
        }
        list.items = raw
            .iter()
            .filter_map(|b| serde_json::from_slice(&b.json).ok())
            .collect();
    }
    let value = match output {
        Output::Table => table::to_table(r, &list.items, include, true, meta),
        Output::PartialObjectMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": list.items.iter().map(table::partial_object_metadata).collect::<Vec<_>>(),
        }),
        Output::Object(_) => {
            let mut items = list.items;
            if typed {
                items.iter_mut().for_each(crate::wire_json::strip_type_meta);
            }
            json!({
                "kind": format!("{}List", r.kind),
                "apiVersion": r.api_version(),
                "metadata": meta,
                "items": items,
            })
        }
    };
    let enc = match output {
        Output::Object(e) => e,
        _ => Encoding::Json,
    };
    object_response(StatusCode::OK, &value, enc, &[])
}

/// A JSON list written from the objects' stored bytes (no parse, no
/// re-encode), streamed in chunks of ≈ 64 KiB: a list of 10,000 objects never
/// exists as one 14 MB buffer (which the allocator would keep afterwards).
/// The cached objects ride along as an extension: a protobuf answer is
/// written from them (`protobuf_list`), not from the JSON.
fn raw_list_response(
    r: &ApiResource,
    meta: &Value,
    raw: Vec<std::sync::Arc<crate::watch::cache::CachedObject>>,
    typed: bool,
) -> Response {
    let head = format!(
        r#"{{"kind":{},"apiVersion":{},"metadata":{},"items":["#,
        Value::String(format!("{}List", r.kind)),
        Value::String(r.api_version()),
        meta
    );
    let chunks = ListChunks {
        head: Some(head.into_bytes()),
        items: raw
            .iter()
            .map(|o| o.json.clone())
            .collect::<Vec<_>>()
            .into_iter(),
        typed,
        first: true,
        done: false,
    };
    let body = Body::from_stream(futures::stream::iter(
        chunks.map(Ok::<_, std::convert::Infallible>),
    ));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.extensions_mut()
        .insert(std::sync::Arc::new(super::protobuf_list::CachedList {
            meta: meta.clone(),
            items: raw,
        }));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The chunks of a raw JSON list: the head, the items joined by commas, `]}`.
struct ListChunks {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<bytes::Bytes>,
    first: bool,
    done: bool,
    /// Items of a typed list: written without their `kind` and `apiVersion`.
    typed: bool,
}

impl ListChunks {
    const CHUNK: usize = 64 * 1024;
}

impl Iterator for ListChunks {
    type Item = bytes::Bytes;

    fn next(&mut self) -> Option<bytes::Bytes> {
        if self.done {
            return None;
        }
        let mut buf = self
            .head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(Self::CHUNK + 4096));
        buf.reserve(Self::CHUNK.saturating_sub(buf.len()));
        while buf.len() < Self::CHUNK {
            match self.items.next() {
                Some(item) => {
                    if !self.first {
                        buf.push(b',');
                    }
                    self.first = false;
                    if self.typed {
                        crate::wire_json::push_list_item(&mut buf, &item);
                    } else {
                        buf.extend_from_slice(&item);
                    }
                }
                None => {
                    buf.extend_from_slice(b"]}");
                    self.done = true;
                    break;
                }
            }
        }
        Some(bytes::Bytes::from(buf))
    }
}

/// A streamed watch: one JSON object per line, flushed per event.
fn watch_response(
    r: ApiResource,
    stream: crate::rest::WatchStream,
    output: Output,
    include: IncludeObject,
) -> Response {
    let mut first = true;
    let lines = stream.map(move |ev: WatchEvent| {
        if let (Output::Object(Encoding::Json), Some(line)) = (output, &ev.line) {
            return Ok::<_, std::convert::Infallible>(line.clone());
        }
        let object = match output {
            Output::Table if ev.type_ != "ERROR" && ev.type_ != "BOOKMARK" => {
                let rv = ev
                    .object
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let t = table::to_table(
                    &r,
                    std::slice::from_ref(&ev.object),
                    include,
                    first,
                    json!({"resourceVersion": rv}),
                );
                first = false;
                t
            }
            Output::PartialObjectMetadata if ev.type_ != "ERROR" && ev.type_ != "BOOKMARK" => {
                table::partial_object_metadata(&ev.object)
            }
            _ => std::sync::Arc::unwrap_or_clone(ev.object),
        };
        Ok::<_, std::convert::Infallible>(crate::watch::cache::event_line(ev.type_, &object))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.extensions_mut().insert(super::shutdown::WatchBody);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}

/// The scope of a delete, dry run when its `DeleteOptions` body asks for it.
fn with_body_dry_run(scope: &RequestScope, opts: &DeleteOpts) -> RequestScope {
    let mut scope = scope.clone();
    scope.dry_run |= opts.dry_run;
    scope
}

#[cfg(test)]
mod list_chunk_tests {
    use super::ListChunks;
    use bytes::Bytes;

    fn join(items: Vec<Bytes>) -> (Vec<u8>, usize) {
        let chunks: Vec<Bytes> = ListChunks {
            head: Some(b"{\"items\":[".to_vec()),
            items: items.into_iter(),
            first: true,
            done: false,
            typed: false,
        }
        .collect();
        (chunks.concat(), chunks.len())
    }

    #[test]
    fn a_raw_list_streams_as_one_json_document_in_bounded_chunks() {
        let (empty, n) = join(Vec::new());
        assert_eq!(empty, b"{\"items\":[]}");
        assert_eq!(n, 1);
        let item =
            |i: usize| Bytes::from(format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(1000)));
        let (body, n) = join((0..1000).map(item).collect());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1000);
        assert_eq!(v["items"][999]["i"], 999);
        // ≈ 1 MB in chunks of ≈ 64 KiB, not one buffer.
        assert!(n >= 15, "{n} chunks");
    }
}
