//! Request bodies: read with a size limit, decoded from JSON or YAML.

use axum::body::Body;
use bytes::Bytes;
use serde_json::Value;

use super::negotiate::MediaType;
use crate::error::ApiError;

/// Upstream's limit on a request body (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Reads a body, refusing more than [`MAX_BODY`] bytes with 413.
pub async fn read(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        // Length-limit failures are the only kind `to_bytes` reports besides transport errors.
        let text = e.to_string();
        if text.contains("length limit")
            || std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
        {
            ApiError::too_large(MAX_BODY)
        } else {
            ApiError::bad_request(format!("unable to read the request body: {text}"))
        }
    })
}

fn json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the body of the request is not valid JSON: {e}"))
    })
}

fn yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
    serde_yaml_ng::from_str(text).map_err(|e| {
        ApiError::bad_request(format!("the body of the request is not valid YAML: {e}"))
    })
}

/// The media types of object bodies the JSON path reads.
pub const OBJECT_TYPES: [&str; 2] = ["application/json", "application/yaml"];

/// Decodes an object body (create, update).
pub fn decode_object(ct: &MediaType, bytes: &[u8]) -> Result<Value, ApiError> {
    match ct.essence.as_str() {
        "application/json" => json(bytes),
        "application/yaml" | "application/x-yaml" | "text/yaml" => yaml(bytes),
        _ => Err(ApiError::unsupported_media_type(&OBJECT_TYPES)),
    }
}

/// Decodes a patch body (JSON for every patch type, YAML or JSON for apply).
pub fn decode_patch(apply: bool, bytes: &[u8]) -> Result<Value, ApiError> {
    if apply { yaml(bytes) } else { json(bytes) }
}

/// Decodes an optional body (delete options): empty is None.
pub fn decode_optional(ct: &MediaType, bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    decode_object(ct, bytes).map(Some)
}

/// Parses a Go duration (`32s`, `1m30s`, `500ms`, `1h`).
pub fn go_duration(s: &str) -> Option<std::time::Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
    }
    Some(std::time::Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(go_duration("32s"), Some(std::time::Duration::from_secs(32)));
        assert_eq!(
            go_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            go_duration("500ms"),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            go_duration("1h"),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(go_duration("x"), None);
        assert_eq!(go_duration("5"), None);
    }

    #[test]
    fn bodies() {
        let ct = MediaType::parse("application/yaml");
        let v = decode_object(&ct, b"a: 1\nb: [x]\n").unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(
            decode_object(&MediaType::parse("application/json"), b"{")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_object(
                &MediaType::parse("application/vnd.kubernetes.protobuf"),
                b""
            )
            .unwrap_err()
            .code,
            415
        );
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            decode_object(&MediaType::parse("application/json"), deep.as_bytes())
                .unwrap_err()
                .code,
            400
        );
    }
}
