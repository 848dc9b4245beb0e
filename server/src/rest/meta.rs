//! Object metadata rules of apimachinery's `ValidateObjectMeta`: names,
//! generateName, labels and annotations.

use std::collections::BTreeMap;

use kapi_generated::api::meta::v1::ObjectMeta;
use rand::Rng;

use crate::error::FieldError;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
/// Upstream's limit on the total size of annotations.
pub const ANNOTATIONS_LIMIT: usize = 256 * 1024;

fn is_label_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns1123_label(s: &str) -> bool {
    is_label_part(s)
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label_part)
}

/// Errors for a name that must be a DNS-1123 subdomain (or label, for namespaces).
pub fn name_errors(field: &str, name: &str, label_only: bool) -> Vec<FieldError> {
    let (max, valid, msg) = if label_only {
        (63, is_dns1123_label(name), DNS1123_LABEL_MSG)
    } else {
        (253, is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG)
    };
    let mut errs = Vec::new();
    if name.len() > max {
        errs.push(FieldError::invalid(
            field,
            name,
            &format!("must be no more than {max} characters"),
        ));
    }
    if !valid {
        errs.push(FieldError::invalid(field, name, msg));
    }
    errs
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// Why a label or annotation key is not a qualified name (`[prefix/]name`).
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        errs.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".into());
    } else if !is_label_name(name) {
        errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    errs
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]` starting and ending alphanumeric.
pub fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_label_name(v)
}

/// A generated name: `prefix` plus five random characters, kept within 63 characters.
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut base = prefix.to_string();
    if base.len() > 58 {
        base.truncate(58);
    }
    let mut rng = rand::rng();
    for _ in 0..5 {
        base.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    base
}

/// The checks of `ValidateObjectMeta` that do not depend on the kind.
pub fn validate(meta: &ObjectMeta, namespace_name: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match meta.name.as_deref() {
        None | Some("") => errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => errs.extend(name_errors("metadata.name", name, namespace_name)),
    }
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels));
    }
    if let Some(annotations) = &meta.annotations {
        let mut total = 0;
        for (k, v) in annotations {
            for e in qualified_name_errors(&k.to_lowercase()) {
                errs.push(FieldError::invalid("metadata.annotations", k, &e));
            }
            total += k.len() + v.len();
        }
        if total > ANNOTATIONS_LIMIT {
            errs.push(FieldError {
                reason: "FieldValueTooLong",
                field: "metadata.annotations".into(),
                message: format!("Too long: may not be more than {ANNOTATIONS_LIMIT} bytes"),
            });
        }
    }
    errs
}

fn validate_labels(labels: &BTreeMap<String, String>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        for e in qualified_name_errors(k) {
            errs.push(FieldError::invalid("metadata.labels", k, &e));
        }
        if !is_label_value(v) {
            errs.push(FieldError::invalid(
                "metadata.labels",
                v,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ));
        }
    }
    errs
}

/// The current time as Kubernetes writes it (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("Bad"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(is_dns1123_label("kube-system"));
        assert!(!is_dns1123_label("a.b"));
        let e = name_errors("metadata.name", "Bad", false);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .starts_with("Invalid value: \"Bad\": a lowercase RFC 1123 subdomain")
        );
    }

    #[test]
    fn generated_names() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert_eq!(generate_name(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn labels() {
        assert!(qualified_name_errors("app").is_empty());
        assert!(qualified_name_errors("example.com/app").is_empty());
        assert!(!qualified_name_errors("-app").is_empty());
        assert!(is_label_value(""));
        assert!(!is_label_value("a b"));
    }

    #[test]
    fn timestamps() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
    }
}
