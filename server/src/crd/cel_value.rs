//! JSON → CEL values as the apiserver binds `self`: field names escaped
//! (`__dot__`, `__dash__`, …) except in maps with arbitrary keys, `date-time`
//! strings as timestamps, `duration` strings as durations, `byte` strings as
//! bytes, embedded resources with apiVersion, kind and metadata present.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use kube_cel::SchemaFormat;
use kube_cel::cel::Value as Cel;
use kube_cel::cel::objects::{Key, Map as CelMap};
use serde_json::Value;

/// What the conversion needs to know of a schema node.
pub trait Shape {
    /// The node's string format.
    fn format(&self) -> &SchemaFormat;
    /// Whether the object is a map with arbitrary keys (keys not escaped).
    fn is_map(&self) -> bool;
    /// Whether the object is an embedded resource.
    fn embedded(&self) -> bool;
    /// The schema of a property (or of a map's values).
    fn child(&self, key: &str) -> Option<&Self>;
    /// The schema of a list's items.
    fn item(&self) -> Option<&Self>;
}

/// CEL's reserved words, escaped as `__word__` when used as field names.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// A property name as CEL rules see it (upstream's escaping).
pub fn escape(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    if !name.contains(['_', '.', '-', '/']) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("__") {
            out.push_str("__underscores__");
            rest = r;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            other => out.push(other),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn string(s: &str) -> Cel {
    Cel::String(Arc::new(s.to_string()))
}

/// A Go duration (`1h30m`, `250ms`, `-1.5s`, `0`).
pub fn parse_duration(input: &str) -> Option<chrono::Duration> {
    let (neg, mut rest) = match input.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, input.strip_prefix('+').unwrap_or(input)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * scale;
        rest = tail;
    }
    if !nanos.is_finite() || nanos > i64::MAX as f64 {
        return None;
    }
    let d = chrono::Duration::nanoseconds(nanos as i64);
    Some(if neg { -d } else { d })
}

fn number(n: &serde_json::Number) -> Cel {
    if let Some(i) = n.as_i64() {
        Cel::Int(i)
    } else if let Some(u) = n.as_u64() {
        Cel::UInt(u)
    } else {
        Cel::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// Converts `v`, described by `shape` where known.
pub fn to_cel<S: Shape>(v: &Value, shape: Option<&S>) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => match shape.map(Shape::format) {
            Some(SchemaFormat::DateTime) => chrono::DateTime::parse_from_rfc3339(s)
                .map(Cel::Timestamp)
                .unwrap_or_else(|_| string(s)),
            Some(SchemaFormat::Duration) => parse_duration(s)
                .map(Cel::Duration)
                .unwrap_or_else(|| string(s)),
            Some(SchemaFormat::Bytes) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(|b| Cel::Bytes(Arc::new(b)))
                .unwrap_or_else(|_| string(s)),
            _ => string(s),
        },
        Value::Array(a) => {
            let item = shape.and_then(Shape::item);
            Cel::List(Arc::new(a.iter().map(|x| to_cel(x, item)).collect()))
        }
        Value::Object(m) => {
            let is_map = shape.is_some_and(Shape::is_map);
            let mut out = HashMap::with_capacity(m.len());
            for (k, x) in m {
                let key = if is_map { k.clone() } else { escape(k) };
                out.insert(
                    Key::String(Arc::new(key)),
                    to_cel(x, shape.and_then(|s| s.child(k))),
                );
            }
            if shape.is_some_and(Shape::embedded) {
                for k in ["apiVersion", "kind"] {
                    out.entry(Key::String(Arc::new(k.into())))
                        .or_insert_with(|| string(""));
                }
                out.entry(Key::String(Arc::new("metadata".into())))
                    .or_insert_with(|| {
                        Cel::Map(CelMap {
                            map: Arc::new(HashMap::new()),
                        })
                    });
            }
            Cel::Map(CelMap { map: Arc::new(out) })
        }
    }
}

/// The CEL value of a field of an already converted object (`key` as in
/// JSON), so a subtree is converted once however many levels have rules.
pub fn field<'a>(parent: &'a Cel, key: &str, parent_is_map: bool) -> Option<&'a Cel> {
    let Cel::Map(m) = parent else { return None };
    let k = if parent_is_map {
        key.to_string()
    } else {
        escape(key)
    };
    m.map.get(&Key::String(Arc::new(k)))
}

/// The CEL value of a list item of an already converted list.
pub fn item(parent: &Cel, i: usize) -> Option<&Cel> {
    match parent {
        Cel::List(l) => l.get(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_upstream() {
        assert_eq!(escape("name"), "name");
        assert_eq!(escape("namespace"), "__namespace__");
        assert_eq!(escape("a.b"), "a__dot__b");
        assert_eq!(escape("x-y/z"), "x__dash__y__slash__z");
        assert_eq!(escape("a__b"), "a__underscores__b");
        assert_eq!(escape("a_b"), "a_b");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(
            parse_duration("250ms"),
            Some(chrono::Duration::milliseconds(250))
        );
        assert_eq!(
            parse_duration("-1.5s"),
            Some(-chrono::Duration::milliseconds(1500))
        );
        assert_eq!(parse_duration("0"), Some(chrono::Duration::zero()));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
