//! Content negotiation: what a request body is (`Content-Type`) and what the
//! client wants back (`Accept`): plain JSON or YAML, a server-side `Table`,
//! `PartialObjectMetadata`, or aggregated discovery.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};

use crate::error::ApiError;

/// One media range of an Accept header, or a Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `application/json`.
    pub essence: String,
    /// Parameters (`as`, `g`, `v`, ...), keys lower-cased.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `type/subtype;k=v;...`.
    pub fn parse(s: &str) -> Self {
        let mut parts = s.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| {
                (
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                )
            })
            .collect();
        MediaType { essence, params }
    }

    /// A parameter's value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits an Accept header into its media ranges, in order.
pub fn accept_list(headers: &HeaderMap) -> Vec<MediaType> {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(MediaType::parse)
        .filter(|m| !m.essence.is_empty())
        .collect()
}

/// The request body's media type; no Content-Type means JSON, as upstream.
pub fn content_type(headers: &HeaderMap) -> MediaType {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(MediaType::parse)
        .filter(|m| !m.essence.is_empty())
        .unwrap_or_else(|| MediaType::parse("application/json"))
}

/// How to encode a plain object answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
}

/// The form of an answer to get, list or watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The object or list itself.
    Object(Encoding),
    /// A `meta.k8s.io` Table.
    Table,
    /// `PartialObjectMetadata` (or its list).
    PartialObjectMetadata,
}

const ACCEPTED: [&str; 2] = ["application/json", "application/yaml"];

/// What a kind with a protobuf form can be answered in, in upstream's order.
const ACCEPTED_WITH_PROTOBUF: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// A 406 lists every media type the resource can be answered in, and a 415
/// for an object body every media type it can be sent in, as upstream's
/// `NewNotAcceptableError` and `NewUnsupportedMediaTypeError` do with their
/// serializers' media types: JSON and YAML, and protobuf for the kinds that
/// have a protobuf form (`protobuf`). Other errors pass unchanged.
pub fn with_protobuf_media_types(e: ApiError, protobuf: bool) -> ApiError {
    if !protobuf {
        return e;
    }
    match e.code {
        406 => ApiError::not_acceptable(&ACCEPTED_WITH_PROTOBUF),
        415 if e.message
            == ApiError::unsupported_media_type(&super::body::OBJECT_TYPES).message =>
        {
            ApiError::unsupported_media_type(&ACCEPTED_WITH_PROTOBUF)
        }
        _ => e,
    }
}

fn plain(m: &MediaType) -> Option<Encoding> {
    if m.param("as").is_some() {
        return None;
    }
    match m.essence.as_str() {
        "application/json" | "application/*" | "*/*" => Some(Encoding::Json),
        "application/yaml" => Some(Encoding::Yaml),
        _ => None,
    }
}

/// Picks the answer's form for a read (get, list, watch); `list` says which
/// PartialObjectMetadata form fits.
pub fn output_for_read(headers: &HeaderMap, list: bool) -> Result<Output, ApiError> {
    let accept = accept_list(headers);
    if accept.is_empty() {
        return Ok(Output::Object(Encoding::Json));
    }
    for m in &accept {
        if m.essence == "application/json" && m.param("g") == Some("meta.k8s.io") {
            match m.param("as") {
                Some("Table") if matches!(m.param("v"), Some("v1") | Some("v1beta1")) => {
                    return Ok(Output::Table);
                }
                Some("PartialObjectMetadata") if !list && m.param("v") == Some("v1") => {
                    return Ok(Output::PartialObjectMetadata);
                }
                Some("PartialObjectMetadataList") if list && m.param("v") == Some("v1") => {
                    return Ok(Output::PartialObjectMetadata);
                }
                _ => continue,
            }
        }
        if let Some(e) = plain(m) {
            return Ok(Output::Object(e));
        }
    }
    Err(ApiError::not_acceptable(&ACCEPTED))
}

/// Picks the encoding of a write's answer.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let accept = accept_list(headers);
    if accept.is_empty() {
        return Ok(Encoding::Json);
    }
    for m in &accept {
        if let Some(e) = plain(m) {
            return Ok(e);
        }
        if m.essence == "application/json" {
            // A transform we do not apply to writes: JSON is still what the client reads.
            continue;
        }
    }
    Err(ApiError::not_acceptable(&ACCEPTED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(accept: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(ACCEPT, HeaderValue::from_str(accept).unwrap());
        m
    }

    #[test]
    fn media_type_errors_list_protobuf_only_for_kinds_with_a_form() {
        let e = output_for_read(&h("text/plain"), false).unwrap_err();
        assert_eq!(e.code, 406);
        assert_eq!(e.reason, "NotAcceptable");
        assert_eq!(
            with_protobuf_media_types(e.clone(), true).message,
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        );
        assert_eq!(
            with_protobuf_media_types(e, false).message,
            "only the following media types are accepted: application/json, application/yaml"
        );
        let other = ApiError::method_not_allowed();
        assert_eq!(with_protobuf_media_types(other, true).code, 405);
        let body = ApiError::unsupported_media_type(&super::super::body::OBJECT_TYPES);
        assert_eq!(
            with_protobuf_media_types(body.clone(), true).message,
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        );
        assert_eq!(
            with_protobuf_media_types(body.clone(), false).message,
            body.message
        );
        let patch = ApiError::unsupported_media_type(&["application/merge-patch+json"]);
        assert_eq!(
            with_protobuf_media_types(patch.clone(), true).message,
            patch.message
        );
    }

    #[test]
    fn kubectl_table() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(output_for_read(&h(a), true).unwrap(), Output::Table);
        assert_eq!(
            output_for_read(&h("application/json, */*"), false).unwrap(),
            Output::Object(Encoding::Json)
        );
        assert_eq!(
            output_for_read(
                &h("application/vnd.kubernetes.protobuf, application/json"),
                false
            )
            .unwrap(),
            Output::Object(Encoding::Json)
        );
        assert!(output_for_read(&h("application/vnd.kubernetes.protobuf"), false).is_err());
        assert_eq!(
            output_for_read(&h("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"), true).unwrap(),
            Output::PartialObjectMetadata
        );
        assert_eq!(
            output_for_read(&h("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"), false).unwrap(),
            Output::Object(Encoding::Json)
        );
    }
}
