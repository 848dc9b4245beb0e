//! The one error type of the generator: every failure names the schema file
//! and, where there is one, the location inside it as a JSON pointer.

use std::fmt;

/// A generator failure, printed as `api-defs/core/v1.yaml: #/components/schemas/X/properties/y: message`.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// The schema file, relative to the directory above `api-defs` where possible.
    pub file: String,
    /// A JSON pointer into the document (`#/components/schemas/...`), if known.
    pub pointer: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Error {
    pub(crate) fn new(
        file: impl Into<String>,
        pointer: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            file: file.into(),
            pointer,
            message: message.into(),
        }
    }

    pub(crate) fn at(file: &str, pointer: &str, message: impl Into<String>) -> Self {
        Error::new(file, Some(pointer.to_string()), message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pointer {
            Some(p) => write!(f, "{}: {}: {}", self.file, p, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Escapes one JSON-pointer token (`~` → `~0`, `/` → `~1`).
pub(crate) fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
