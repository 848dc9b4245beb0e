//! The one error type of the HTTP edge: every failure becomes a Kubernetes
//! `Status` object with upstream's code, reason and message text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kapi_generated::api::meta::v1::{Status, StatusCause, StatusDetails};

use crate::storage::StorageError;

/// A failed request, as the client will see it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (NotFound, AlreadyExists, Conflict, Invalid, ...); empty for none.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details` (boxed: errors travel by value through every layer).
    pub details: Option<Box<StatusDetails>>,
    /// `Status.metadata.continue`: a fresh token offered with an expired one.
    pub continue_token: Option<String>,
}

/// Names an object for error messages: its resource, group and name.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The plural resource name (`configmaps`).
    pub resource: &'a str,
    /// The API group, empty for the core group.
    pub group: &'a str,
    /// The object's name.
    pub name: &'a str,
}

impl Target<'_> {
    /// `configmaps` or `leases.coordination.k8s.io`.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> StatusDetails {
        StatusDetails {
            name: Some(self.name.to_string()).filter(|n| !n.is_empty()),
            group: Some(self.group.to_string()).filter(|g| !g.is_empty()),
            kind: Some(self.resource.to_string()),
            ..Default::default()
        }
    }
}

/// One field-level validation failure (a `StatusCause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// FieldValueRequired, FieldValueInvalid, ...
    pub reason: &'static str,
    /// The field path, like `metadata.name`.
    pub field: String,
    /// The message after the field, like `Invalid value: "Bad": ...`.
    pub message: String,
}

impl FieldError {
    /// `Required value: <detail>`.
    pub fn required(field: &str, detail: &str) -> Self {
        FieldError {
            reason: "FieldValueRequired",
            field: field.into(),
            message: if detail.is_empty() {
                "Required value".into()
            } else {
                format!("Required value: {detail}")
            },
        }
    }

    /// `Invalid value: "<value>": <detail>`.
    pub fn invalid(field: &str, value: &str, detail: &str) -> Self {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!(
                "Invalid value: {}: {detail}",
                serde_json::Value::String(value.into())
            ),
        }
    }

    /// `Invalid value: <raw>: <detail>` with the value written as given.
    pub fn invalid_raw(field: &str, value: &str, detail: &str) -> Self {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {value}: {detail}"),
        }
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        FieldError {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    /// `Unsupported value: "<value>": supported values: ...`.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        FieldError {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                serde_json::Value::String(value.into()),
                list.join(", ")
            ),
        }
    }
}

/// A field error as a `StatusCause`.
fn cause(e: FieldError) -> StatusCause {
    StatusCause {
        reason: Some(e.reason.to_string()),
        message: Some(e.message),
        field: Some(e.field),
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            continue_token: None,
        }
    }

    fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// 404 `configmaps "x" not found`.
    pub fn not_found(t: Target) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", t.qualified(), t.name),
        )
        .with_details(t.details())
    }

    /// 404 for a path nothing serves.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(StatusDetails::default())
    }

    /// 409 `configmaps "x" already exists`.
    pub fn already_exists(t: Target) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", t.qualified(), t.name),
        )
        .with_details(t.details())
    }

    /// 409 for a stale resourceVersion or a failed precondition.
    pub fn conflict(t: Target, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {why}",
                t.qualified(),
                t.name
            ),
        )
        .with_details(t.details())
    }

    /// 409 with upstream's optimistic-lock message.
    pub fn stale(t: Target) -> Self {
        Self::conflict(
            t,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 `Kind "name" is invalid: ...` with one cause per failure.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: Vec<FieldError>) -> Self {
        Self::invalid_causes(kind, group, name, errors.into_iter().map(cause).collect())
    }

    /// The 422 of `errors` found first (the object's metadata, which
    /// upstream validates before the kind's own fields) together with those
    /// of a later check's 422, if it failed with one: one answer listing
    /// every failure, in that order, as upstream's validation returns them.
    pub fn invalid_then(
        kind: &str,
        group: &str,
        name: &str,
        errors: Vec<FieldError>,
        later: Option<&ApiError>,
    ) -> Self {
        let mut causes: Vec<StatusCause> = errors.into_iter().map(cause).collect();
        if let Some(d) = later
            .filter(|e| e.code == 422)
            .and_then(|e| e.details.as_deref())
        {
            causes.extend(d.causes.iter().flatten().cloned());
        }
        Self::invalid_causes(kind, group, name, causes)
    }

    fn invalid_causes(kind: &str, group: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        // Upstream's aggregate message names each distinct failure once.
        let mut parts: Vec<String> = Vec::new();
        for c in &causes {
            let part = format!(
                "{}: {}",
                c.field.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or("")
            );
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        let joined = if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("[{}]", parts.join(", "))
        };
        Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {joined}"),
        )
        .with_details(StatusDetails {
            // Upstream's StatusDetails omits empty strings.
            name: Some(name.to_string()).filter(|n| !n.is_empty()),
            group: Some(group.to_string()).filter(|g| !g.is_empty()),
            kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
            causes: Some(causes),
            ..Default::default()
        })
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403.
    pub fn forbidden(t: Target, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{} \"{}\" is forbidden: {why}", t.qualified(), t.name),
        )
        .with_details(t.details())
    }

    /// 405, as upstream's router answers a method no route of the path
    /// serves (a generic server response: empty details, written `{}`).
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(StatusDetails::default())
    }

    /// 406.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 Expired.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 listing what the endpoint accepts.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 422 for bad request parameters (like `sendInitialEvents` misuse).
    pub fn invalid_options(errors: Vec<FieldError>) -> Self {
        Self::invalid("ListOptions", "meta.k8s.io", "", errors)
    }

    /// 500.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        let msg = err.to_string();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {msg}"),
        )
        .with_details(StatusDetails {
            causes: Some(vec![StatusCause {
                message: Some(msg),
                ..Default::default()
            }]),
            ..Default::default()
        })
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// Maps a storage failure on the object `t`.
    pub fn from_storage(e: StorageError, t: Target) -> Self {
        match e {
            StorageError::NotFound(_) => Self::not_found(t),
            StorageError::AlreadyExists(_) => Self::already_exists(t),
            StorageError::Conflict { .. } => Self::stale(t),
            StorageError::Compacted {
                requested,
                compacted,
            } => Self::expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            StorageError::WatcherTooSlow => {
                Self::expired("the watch fell behind; start a new watch")
            }
            StorageError::Unavailable(m) => Self::unavailable(m),
            StorageError::Internal(m) => Self::internal(m),
        }
    }

    /// The `Status` object.
    pub fn status(&self) -> Status {
        Status {
            api_version: Some("v1".into()),
            kind: Some("Status".into()),
            status: Some("Failure".into()),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_string()).filter(|r| !r.is_empty()),
            details: self.details.as_deref().cloned(),
            code: Some(i32::from(self.code)),
            metadata: kapi_generated::api::meta::v1::ListMeta {
                continue_: self.continue_token.clone(),
                ..Default::default()
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_value(self.status())
            .map(|v| crate::wire_json::to_vec(&v))
            .unwrap_or_default();
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let t = Target {
            resource: "configmaps",
            group: "",
            name: "x",
        };
        assert_eq!(ApiError::not_found(t).message, "configmaps \"x\" not found");
        let t = Target {
            resource: "leases",
            group: "coordination.k8s.io",
            name: "l",
        };
        assert_eq!(
            ApiError::already_exists(t).message,
            "leases.coordination.k8s.io \"l\" already exists"
        );
        let e = ApiError::invalid(
            "ConfigMap",
            "",
            "Bad",
            vec![FieldError::invalid("metadata.name", "Bad", "nope")],
        );
        assert_eq!(
            e.message,
            "ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": nope"
        );
        let s = serde_json::to_value(e.status()).unwrap();
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
        assert_eq!(s["code"], 422);
    }
}
