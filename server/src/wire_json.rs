//! Objects as JSON text in upstream's member order where a client can see
//! it: `kind`, then `apiVersion` (Go's TypeMeta, inlined first in every
//! kind), then the rest (in key order: kapi's values are sorted maps).
//!
//! The fixed start also lets a list drop the two members from its items
//! without parsing them: kube-apiserver's typed lists carry `kind` and
//! `apiVersion` on the list only ([`list_item`]).

use serde_json::Value;

/// Writes `v` as compact JSON, `kind` and `apiVersion` first.
pub fn write(out: &mut Vec<u8>, v: &Value) {
    let Value::Object(map) = v else {
        // Serialising a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, v);
        return;
    };
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, k: &str, v: &Value| {
        if !first {
            out.push(b',');
        }
        first = false;
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    };
    for k in ["kind", "apiVersion"] {
        if let Some(v) = map.get(k) {
            member(out, k, v);
        }
    }
    for (k, v) in map {
        if k != "kind" && k != "apiVersion" {
            member(out, k, v);
        }
    }
    out.push(b'}');
}

/// `v` as JSON bytes (see [`write`]).
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write(&mut out, v);
    out
}

/// The end of a JSON string starting at `at` (the index after its closing
/// quote), or None.
fn string_end(json: &[u8], at: usize) -> Option<usize> {
    if json.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    while let Some(&c) = json.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Where the members after a leading `"kind":"…"` and `"apiVersion":"…"`
/// start in object JSON made by [`write`] (at the `,` or the closing `}`);
/// None when it does not start with both as strings.
fn after_type_meta(json: &[u8]) -> Option<usize> {
    let mut i = 0;
    for (n, key) in [&b"{\"kind\":"[..], &b",\"apiVersion\":"[..]]
        .into_iter()
        .enumerate()
    {
        if !json[i..].starts_with(key) {
            // Only one of them, or none.
            return (n == 1).then_some(i);
        }
        i = string_end(json, i + key.len())?;
    }
    Some(i)
}

/// Appends the object as an item of a typed list: its JSON without the
/// leading `kind` and `apiVersion` members (as [`write`] puts them), with
/// no copy made on the way. Bytes that do not start that way are appended
/// as they are.
pub fn push_list_item(out: &mut Vec<u8>, json: &[u8]) {
    match after_type_meta(json) {
        Some(end) => {
            let rest = &json[end..];
            out.push(b'{');
            // `,"data":…}` → `{"data":…}`; `}` → `{}`.
            out.extend_from_slice(rest.strip_prefix(b",").unwrap_or(rest));
        }
        None => out.extend_from_slice(json),
    }
}

/// Drops `kind` and `apiVersion` from a list item held as a value.
pub fn strip_type_meta(item: &mut Value) {
    if let Value::Object(map) = item {
        map.remove("kind");
        map.remove("apiVersion");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kind_and_api_version_come_first() {
        let v = json!({"apiVersion": "v1", "data": {"a": "b"}, "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"kind":"ConfigMap","apiVersion":"v1","data":{"a":"b"},"metadata":{"name":"x"}}"#
        );
        assert_eq!(to_vec(&json!([1, {"b": 2}])), br#"[1,{"b":2}]"#);
    }

    #[test]
    fn list_items_lose_type_meta_only() {
        let item = |v: Value| {
            let mut out = Vec::new();
            push_list_item(&mut out, &to_vec(&v));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            item(
                json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x", "kind": "k"}})
            ),
            r#"{"metadata":{"kind":"k","name":"x"}}"#
        );
        assert_eq!(item(json!({"kind": "A", "apiVersion": "v1"})), "{}");
        assert_eq!(
            item(json!({"kind": "A\"b", "apiVersion": "x\\/y", "z": 1})),
            r#"{"z":1}"#
        );
        // Only one of the two, or neither: the kind stays out, the rest is kept.
        assert_eq!(item(json!({"kind": "A", "z": 1})), r#"{"z":1}"#);
        assert_eq!(item(json!({"z": 1})), r#"{"z":1}"#);
        let mut v = json!({"kind": "A", "apiVersion": "v1", "z": 1});
        strip_type_meta(&mut v);
        assert_eq!(v, json!({"z": 1}));
    }
}
