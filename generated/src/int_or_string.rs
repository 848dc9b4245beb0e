//! `IntOrString`: a value that is either a 32-bit integer or a string, as
//! Kubernetes' `intstr.IntOrString` (ports, `maxUnavailable: 25%`, ...).

use serde::{Deserialize, Serialize};

/// An integer or a string; JSON carries whichever it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// An integer, like `8080`.
    Int(i32),
    /// A string, like `"http"` or `"25%"`.
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        assert_eq!(serde_json::to_string(&IntOrString::Int(80)).unwrap(), "80");
        assert_eq!(
            serde_json::to_string(&IntOrString::String("25%".into())).unwrap(),
            "\"25%\""
        );
        assert_eq!(
            serde_json::from_str::<IntOrString>("443").unwrap(),
            IntOrString::Int(443)
        );
        assert_eq!(
            serde_json::from_str::<IntOrString>("\"http\"").unwrap(),
            IntOrString::String("http".into())
        );
        assert!(serde_json::from_str::<IntOrString>("true").is_err());
    }
}
