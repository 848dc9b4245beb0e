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

/// Decodes an object body (create, update) for an endpoint of `kind`.
pub fn decode_object(ct: &MediaType, bytes: &[u8], kind: &str) -> Result<Value, ApiError> {
    match ct.essence.as_str() {
        "application/json" => {
            let value = json(bytes).map_err(|e| unrecognized(kind, bytes, e))?;
            match type_meta_error(&value) {
                Some(go_error) => Err(unrecognized_with(kind, bytes, &go_error)),
                None => Ok(value),
            }
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => yaml(bytes),
        _ => Err(ApiError::unsupported_media_type(&OBJECT_TYPES)),
    }
}

/// Go's name of a JSON value's type in its unmarshal errors.
fn go_json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's error when a parsed body cannot give its apiVersion and kind: not
/// an object, or either of them not a string.
fn type_meta_error(v: &Value) -> Option<String> {
    const INTO: &str = r#"struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }"#;
    let Value::Object(map) = v else {
        return (!v.is_null()).then(|| {
            format!(
                "json: cannot unmarshal {} into Go value of type {INTO}",
                go_json_type(v)
            )
        });
    };
    ["apiVersion", "kind"]
        .into_iter()
        .find_map(|field| match map.get(field) {
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(other) => Some(format!(
                "json: cannot unmarshal {} into Go struct field .{field} of type string",
                go_json_type(other)
            )),
        })
}

/// Upstream's 400 for a JSON object body that does not parse: its decoder
/// reads apiVersion and kind with Go's `json.Unmarshal` first, and the
/// handler names the kind it expected and summarises the body (its first
/// 30 bytes, in hex unless it starts with `{`). Where Go would have parsed
/// the text (serde_json refuses nesting deeper than 128), kapi's own
/// message stands.
fn unrecognized(kind: &str, bytes: &[u8], own: ApiError) -> ApiError {
    match super::json_syntax::syntax_error(bytes) {
        Some(go_error) => unrecognized_with(kind, bytes, &go_error),
        None => own,
    }
}

fn unrecognized_with(kind: &str, bytes: &[u8], go_error: &str) -> ApiError {
    let head = &bytes[..bytes.len().min(30)];
    let mut summary = match bytes.first() {
        None => "<empty>".to_string(),
        Some(b'{') => String::from_utf8_lossy(head).into_owned(),
        Some(_) => hex::encode(head),
    };
    if bytes.len() > 30 {
        summary.push_str(" ...");
    }
    ApiError::bad_request(format!(
        "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {go_error} ({summary})"
    ))
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
    match ct.essence.as_str() {
        "application/json" => json(bytes).map(Some),
        _ => decode_object(ct, bytes, "DeleteOptions").map(Some),
    }
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
    fn undecodable_json_is_worded_as_upstream() {
        let json = MediaType::parse("application/json");
        let msg = |body: &[u8]| decode_object(&json, body, "Namespace").unwrap_err().message;
        assert_eq!(
            msg(b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"),
            "the object provided is unrecognized (must be of type Namespace): couldn't get \
             version/kind; json parse error: invalid character 'a' looking for beginning of \
             value (61706956657273696f6e3a2076310a6b696e643a204e616d657370616365 ...)"
        );
        assert_eq!(
            msg(b"{\"kind\": 1}"),
            "the object provided is unrecognized (must be of type Namespace): couldn't get \
             version/kind; json parse error: json: cannot unmarshal number into Go struct field \
             .kind of type string ({\"kind\": 1})"
        );
        assert_eq!(
            msg(b"[]"),
            "the object provided is unrecognized (must be of type Namespace): couldn't get \
             version/kind; json parse error: json: cannot unmarshal array into Go value of type \
             struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \
             \"json:\\\"kind,omitempty\\\"\" } (5b5d)"
        );
        assert_eq!(
            msg(b""),
            "the object provided is unrecognized (must be of type Namespace): couldn't get \
             version/kind; json parse error: unexpected end of JSON input (<empty>)"
        );
    }

    #[test]
    fn bodies() {
        let ct = MediaType::parse("application/yaml");
        let v = decode_object(&ct, b"a: 1\nb: [x]\n", "ConfigMap").unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(
            decode_object(&MediaType::parse("application/json"), b"{", "ConfigMap")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_object(
                &MediaType::parse("application/vnd.kubernetes.protobuf"),
                b"",
                "ConfigMap"
            )
            .unwrap_err()
            .code,
            415
        );
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            decode_object(
                &MediaType::parse("application/json"),
                deep.as_bytes(),
                "ConfigMap"
            )
            .unwrap_err()
            .code,
            400
        );
    }
}
