//! `application/vnd.kubernetes.protobuf` for the kinds that have a protobuf
//! form (field numbers in their schema; `kapi_generated::proto`).
//!
//! This is a layer around the JSON resource handler, so the JSON path stays
//! as it is: a protobuf body is decoded into the typed object and handed on as
//! JSON; when the client prefers protobuf, the JSON answer (object, list,
//! Status, error) is re-encoded, and a watch stream becomes upstream's framing:
//! each event a `WatchEvent` message (the object enveloped in its `raw`),
//! prefixed by its length as 4 big-endian bytes. A kind without a protobuf form
//! answers JSON when the client also accepts it, as upstream's CRDs do.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use kapi_generated::proto::{self, Codec, MEDIA_TYPE, Unknown};
use serde_json::Value;

use super::body;
use super::negotiate::{self, MediaType};
use super::request_info::RequestInfo;
use crate::error::ApiError;
use crate::rest::Endpoint;
use crate::rest::options::Query;

/// The Content-Type of a protobuf watch stream.
pub const WATCH_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

fn is_protobuf(m: &MediaType) -> bool {
    m.essence == MEDIA_TYPE
}

/// The protobuf media range, when it is the first Accept entry kapi can serve.
pub fn protobuf_accept(headers: &HeaderMap) -> Option<MediaType> {
    for m in negotiate::accept_list(headers) {
        if is_protobuf(&m) {
            return Some(m);
        }
        if matches!(
            m.essence.as_str(),
            "application/json" | "application/yaml" | "application/*" | "*/*"
        ) {
            return None;
        }
    }
    None
}

/// True when the first Accept entry kapi can serve asks for protobuf.
pub fn prefers_protobuf(headers: &HeaderMap) -> bool {
    protobuf_accept(headers).is_some()
}

/// The JSON Accept header standing for a protobuf one: the same transform
/// parameters (`as`, `g`, `v`), so the JSON path builds the same answer.
fn json_accept(m: &MediaType) -> HeaderValue {
    let mut s = String::from("application/json");
    for key in ["as", "g", "v"] {
        if let Some(v) = m.param(key) {
            s.push_str(&format!(";{key}={v}"));
        }
    }
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("application/json"))
}

/// True when the request involves protobuf (its body or the wanted answer);
/// only then does [`serve`] take it, so JSON requests never pass through here.
pub fn involved(headers: &HeaderMap) -> bool {
    // The JSON path pays one substring scan of two headers, nothing parsed.
    let mentions = |name| {
        headers.get_all(name).iter().any(|v| {
            v.as_bytes()
                .windows(MEDIA_TYPE.len())
                .any(|w| w.eq_ignore_ascii_case(MEDIA_TYPE.as_bytes()))
        })
    };
    if !mentions(header::CONTENT_TYPE) && !mentions(header::ACCEPT) {
        return false;
    }
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| is_protobuf(&MediaType::parse(v)))
        || prefers_protobuf(headers)
}

/// Serves a request with a protobuf body or a protobuf answer.
pub async fn serve(ep: Arc<Endpoint>, info: RequestInfo, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let api_version = ep.resource.api_version();
    let kind = ep.resource.kind.clone();
    let has_form = proto::codec(&api_version, &kind).is_some();
    // PartialObjectMetadata has a protobuf form whatever the kind (the metadata
    // client of garbage collectors asks for it on custom resources too).
    let want = match protobuf_accept(&parts.headers) {
        Some(m) if has_form || m.param("as").is_some() => {
            parts.headers.insert(header::ACCEPT, json_accept(&m));
            true
        }
        _ => false,
    };
    // A subresource the kind does not serve is 404 before the body is read,
    // as upstream routes first (`kubectl create token` on a server without
    // the TokenRequest subresource).
    if !serves_subresource(&ep.resource, info.subresource.as_deref()) {
        let resp = ApiError::path_not_found().into_response();
        return answer(resp, want, &api_version, &kind).await;
    }
    // Patches are never protobuf (upstream answers 415, as the JSON path does).
    let body = if is_protobuf(&negotiate::content_type(&parts.headers))
        && parts.method != axum::http::Method::PATCH
    {
        match json_body(has_form, body).await {
            Ok(b) => {
                parts.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                parts.headers.remove(header::CONTENT_LENGTH);
                b
            }
            Err(e) => return answer(e.into_response(), want, &api_version, &kind).await,
        }
    } else {
        body
    };
    let watch = info.watch_prefix
        || Query::parse(parts.uri.query())
            .ok()
            .is_some_and(|q| matches!(q.get("watch"), Some("true") | Some("1")));
    let resp = super::resource::serve(ep, info, Request::from_parts(parts, body))
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if watch && resp.status() == StatusCode::OK && want {
        return watch_answer(resp, api_version, kind);
    }
    answer(resp, want, &api_version, &kind).await
}

/// Whether a request's subresource (none, `status`, `scale`) is served by the resource.
fn serves_subresource(r: &kapi_generated::ApiResource, sub: Option<&str>) -> bool {
    match sub {
        None => true,
        Some("status") => r.status_subresource,
        Some("scale") => r.scale_subresource.is_some(),
        Some(_) => false,
    }
}

/// Decodes a protobuf body into the JSON the resource handler reads.
async fn json_body(has_form: bool, body: Body) -> Result<Body, ApiError> {
    if !has_form {
        return Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
        ]));
    }
    let bytes = body::read(body).await?;
    if bytes.is_empty() {
        return Ok(Body::empty());
    }
    let json = decode_text(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request is not valid protobuf: {e}"
        ))
    })?;
    Ok(Body::from(json))
}

/// `k8s\0` + envelope → the object as JSON text, apiVersion and kind from
/// the envelope (through the typed value, with no JSON value in between).
pub fn decode_text(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let u = Unknown::decode(bytes).map_err(|e| e.to_string())?;
    if !u.content_encoding.is_empty() {
        return Err(format!(
            "content encoding {:?} is not supported",
            u.content_encoding
        ));
    }
    let codec = lookup(&u.api_version, &u.kind).ok_or_else(|| {
        format!(
            "no protobuf form for apiVersion {:?}, kind {:?}",
            u.api_version, u.kind
        )
    })?;
    (codec.decode_text)(&u.raw, &u.api_version, &u.kind).map_err(|e| format!("{}: {e}", u.kind))
}

/// `k8s\0` + envelope → the object as a JSON value.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let text = decode_text(bytes)?;
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}

/// The codec of (apiVersion, kind); the meta.k8s.io kinds every group shares
/// (`Status`, `DeleteOptions`, ...) are found whatever group they are sent as.
fn lookup(api_version: &str, kind: &str) -> Option<&'static Codec> {
    proto::codec(api_version, kind).or_else(|| {
        matches!(kind, "Status" | "DeleteOptions" | "WatchEvent")
            .then(|| proto::codec("v1", kind))
            .flatten()
    })
}

fn codec_for(value: &Value, api_version: &str, kind: &str) -> Option<(&'static Codec, String)> {
    let av = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(api_version);
    let k = value.get("kind").and_then(Value::as_str).unwrap_or(kind);
    proto::codec(av, k)
        .or_else(|| {
            (k == "Status")
                .then(|| proto::codec("v1", "Status"))
                .flatten()
        })
        .map(|c| (c, av.to_string()))
}

/// A JSON object → `k8s\0` + envelope; `None` if it has no protobuf form.
pub fn encode(value: &Value, api_version: &str, kind: &str) -> Option<Vec<u8>> {
    let (codec, av) = codec_for(value, api_version, kind)?;
    let raw = (codec.encode)(value).ok()?;
    Some(
        Unknown {
            api_version: av,
            kind: codec.kind.to_string(),
            raw,
            ..Default::default()
        }
        .encode(),
    )
}

/// The type of a JSON object, read without building a value.
#[derive(serde::Deserialize)]
struct TypeMeta {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
}

/// JSON text → `k8s\0` + envelope, through the typed value; `None` if it has no protobuf form.
pub fn encode_text(text: &[u8], api_version: &str, kind: &str) -> Option<Vec<u8>> {
    let tm: TypeMeta = serde_json::from_slice(text).ok()?;
    let av = tm.api_version.as_deref().unwrap_or(api_version);
    let k = tm.kind.as_deref().unwrap_or(kind);
    let codec = lookup(av, k)?;
    let raw = (codec.encode_text)(text).ok()?;
    Some(
        Unknown {
            api_version: av.to_string(),
            kind: codec.kind.to_string(),
            raw,
            ..Default::default()
        }
        .encode(),
    )
}

/// Re-encodes a JSON answer as protobuf when the client prefers it.
async fn answer(resp: Response, want: bool, api_version: &str, kind: &str) -> Response {
    if !want || !is_json(resp.headers()) {
        return resp;
    }
    // A list from the watch cache: written from the cached objects' messages.
    let cached = resp
        .extensions()
        .get::<Arc<super::protobuf_list::CachedList>>()
        .cloned();
    let (mut parts, body) = resp.into_parts();
    if let Some(chunks) = cached.and_then(|l| super::protobuf_list::encode(&l, api_version, kind)) {
        parts
            .extensions
            .remove::<Arc<super::protobuf_list::CachedList>>();
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        parts.headers.remove(header::CONTENT_LENGTH);
        let stream = futures::stream::iter(chunks.map(Ok::<_, std::convert::Infallible>));
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("reading the answer failed").into_response();
    };
    let encoded = encode_text(&bytes, api_version, kind);
    match encoded {
        Some(pb) => {
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(pb))
        }
        // A kind without a protobuf form (a Table, say): the JSON stands.
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| MediaType::parse(v).essence == "application/json")
}

/// One JSON watch line → a length-prefixed `WatchEvent` frame.
pub fn watch_frame(line: &[u8], api_version: &str, kind: &str) -> Option<Vec<u8>> {
    let ev: Value = serde_json::from_slice(line).ok()?;
    let type_ = ev.get("type")?.as_str()?;
    let object = encode(ev.get("object")?, api_version, kind)?;
    let msg = proto::encode_watch_event(type_, &object);
    let len = u32::try_from(msg.len()).ok()?;
    let mut frame = Vec::with_capacity(msg.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&msg);
    Some(frame)
}

/// Turns a JSON watch stream (one event per line) into protobuf frames.
fn watch_answer(resp: Response, api_version: String, kind: String) -> Response {
    let (mut parts, body) = resp.into_parts();
    let mut pending: Vec<u8> = Vec::new();
    let (api_version, kind): (Arc<str>, Arc<str>) = (api_version.into(), kind.into());
    let frames = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        // One whole line (the watch cache's shared bytes): its frame is made
        // once for every protobuf watcher of the event.
        if pending.is_empty()
            && chunk.last() == Some(&b'\n')
            && chunk.iter().filter(|b| **b == b'\n').count() == 1
        {
            let frame = super::watch_frames::frame(&chunk, &api_version, &kind, || {
                watch_frame(&chunk[..chunk.len() - 1], &api_version, &kind)
            });
            return Ok(frame.unwrap_or_default());
        }
        pending.extend_from_slice(&chunk);
        let mut out = Vec::new();
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            if let Some(frame) = watch_frame(&line[..pos], &api_version, &kind) {
                out.extend_from_slice(&frame);
            }
        }
        Ok::<_, axum::Error>(Bytes::from(out))
    });
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(WATCH_MEDIA_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "x", "namespace": "default", "labels": {"a": "b"},
                            "creationTimestamp": "2024-05-01T10:00:00Z"},
               "data": {"k": "v"}, "binaryData": {"b": "AAEC"}})
    }

    #[test]
    fn object_round_trip() {
        let pb = encode(&cm(), "v1", "ConfigMap").unwrap();
        assert!(pb.starts_with(b"k8s\0"));
        assert_eq!(decode(&pb).unwrap(), cm());
        let text = serde_json::to_vec(&cm()).unwrap();
        assert_eq!(encode_text(&text, "v1", "ConfigMap").unwrap(), pb);
        let empty = encode(&json!({"kind": "ConfigMap", "apiVersion": "v1"}), "v1", "x").unwrap();
        assert_eq!(
            decode_text(&empty).unwrap(),
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#
        );
    }

    #[test]
    fn status_is_encoded() {
        let s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "nope", "reason": "NotFound", "code": 404,
                       "details": {"name": "x", "kind": "configmaps"}});
        let pb = encode(&s, "v1", "ConfigMap").unwrap();
        assert_eq!(decode(&pb).unwrap(), s);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(decode(b"").is_err());
        assert!(decode(b"{\"kind\":\"ConfigMap\"}").is_err());
        let pb = encode(&cm(), "v1", "ConfigMap").unwrap();
        for n in 0..pb.len() {
            // Every prefix either decodes to something or is an error; none panics.
            let _ = decode(&pb[..n]);
        }
        assert!(decode(&pb[..pb.len() - 3]).is_err());
        let mut junk = b"k8s\0".to_vec();
        junk.extend_from_slice(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
        assert!(decode(&junk).is_err());
    }

    #[test]
    fn preference_follows_accept_order() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.kubernetes.protobuf, application/json"),
        );
        assert!(prefers_protobuf(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, application/vnd.kubernetes.protobuf"),
        );
        assert!(!prefers_protobuf(&h));
        assert!(!involved(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!involved(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/Vnd.Kubernetes.Protobuf"),
        );
        assert!(involved(&h));
    }

    #[test]
    fn watch_frames_are_length_prefixed() {
        let line = serde_json::to_vec(&json!({"type": "ADDED", "object": cm()})).unwrap();
        let f = watch_frame(&line, "v1", "ConfigMap").unwrap();
        let len = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize;
        assert_eq!(len, f.len() - 4);
        let (t, raw) = proto::decode_watch_event(&f[4..]).unwrap();
        assert_eq!(t, "ADDED");
        assert_eq!(decode(&raw).unwrap(), cm());
    }
}
