//! The client's error type: a Kubernetes `Status` when the server answered
//! with one, or what went wrong on the way.

use crate::api::meta::v1::Status;

/// What a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error `Status` (or a watch sent an ERROR event).
    #[error("{} ({}): {}", status_code(.0), .0.reason.as_deref().unwrap_or("Unknown"), .0.message.as_deref().unwrap_or(""))]
    Api(Box<Status>),
    /// The request could not be sent or its answer not read.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The answer was not the JSON expected.
    #[error("cannot decode the server's answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// The kubeconfig cannot be used.
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn status_code(s: &Status) -> i32 {
    s.code.unwrap_or_default()
}

impl Error {
    /// The `Status` the server answered with, if it did.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(s) => Some(s),
            _ => None,
        }
    }

    /// The HTTP code of the server's `Status` (404, 409, 410, ...), if any.
    pub fn code(&self) -> Option<u16> {
        self.status()
            .and_then(|s| s.code)
            .and_then(|c| u16::try_from(c).ok())
    }

    /// The `Status` reason (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, ...), if any.
    pub fn reason(&self) -> Option<&str> {
        self.status().and_then(|s| s.reason.as_deref())
    }

    /// Whether this is a 410 Gone: the resourceVersion or continue token is too old.
    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }

    /// Builds the error for a non-success answer: the body's `Status`, or one
    /// made from the HTTP code when the body is not a `Status`.
    pub(crate) fn from_response(code: u16, body: &[u8]) -> Error {
        let status = match serde_json::from_slice::<Status>(body) {
            Ok(s) if s.kind.as_deref() == Some("Status") => s,
            _ => Status {
                code: Some(i32::from(code)),
                status: Some("Failure".into()),
                message: Some(String::from_utf8_lossy(body).into_owned()),
                reason: Some(reason_for(code).into()),
                ..Status::default()
            },
        };
        Error::Api(Box::new(status))
    }
}

fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_body_is_kept() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404}"#;
        let e = Error::from_response(404, body);
        assert_eq!(e.code(), Some(404));
        assert_eq!(e.reason(), Some("NotFound"));
        assert_eq!(e.to_string(), "404 (NotFound): configmaps \"x\" not found");
    }

    #[test]
    fn another_body_becomes_a_status() {
        let e = Error::from_response(410, b"gone");
        assert!(e.is_gone());
        assert_eq!(e.reason(), Some("Expired"));
    }
}
