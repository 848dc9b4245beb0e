//! ConfigMaps and Secrets, as upstream's strategies and validation treat
//! them: keys of `data`/`binaryData` must be config keys, a ConfigMap key may
//! not be in both, an `immutable` object keeps its data and stays immutable,
//! and a Secret's write-only `stringData` is merged into `data` (base64) and
//! never stored. Neither kind carries `metadata.generation`.

use async_trait::async_trait;
use base64::Engine;
use serde_json::{Map, Value};

use super::options::FieldValidation;
use super::strategy::Strategy;
use crate::error::{ApiError, FieldError};

const KEY_FORMAT_ERROR: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const IMMUTABLE: &str = "field is immutable when `immutable` is set";

/// Upstream's `IsConfigMapKey`: the messages for one key.
pub fn config_key_errors(key: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters");
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push(KEY_FORMAT_ERROR);
    }
    if key == "." {
        errs.push("must not be '.'");
    } else if key == ".." {
        errs.push("must not be '..'");
    } else if key.starts_with("..") {
        errs.push("must not start with '..'");
    }
    errs
}

fn map<'a>(obj: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    obj.get(field).and_then(Value::as_object)
}

fn key_errors(obj: &Value, field: &str, other: Option<&str>, errors: &mut Vec<FieldError>) {
    let Some(m) = map(obj, field) else {
        return;
    };
    for key in m.keys() {
        let path = format!("{field}[{key}]");
        for msg in config_key_errors(key) {
            errors.push(FieldError::invalid(&path, key, msg));
        }
        if let Some(other) = other
            && map(obj, other).is_some_and(|o| o.contains_key(key))
        {
            errors.push(FieldError::invalid(
                &path,
                key,
                &format!("duplicate of key present in {other}"),
            ));
        }
    }
}

fn immutable(obj: &Value) -> bool {
    obj.get("immutable").and_then(Value::as_bool) == Some(true)
}

/// The update rules of an immutable object: `immutable` stays true and the
/// `fields` do not change.
fn immutable_errors(obj: &Value, old: &Value, fields: &[&str], errors: &mut Vec<FieldError>) {
    if !immutable(old) {
        return;
    }
    if !immutable(obj) {
        errors.push(FieldError::forbidden("immutable", IMMUTABLE));
    }
    for f in fields {
        let empty = |v: Option<&Value>| v.is_none_or(|v| v.as_object().is_some_and(Map::is_empty));
        let (new, before) = (obj.get(*f), old.get(*f));
        if new != before && !(empty(new) && empty(before)) {
            errors.push(FieldError::forbidden(f, IMMUTABLE));
        }
    }
}

/// ConfigMaps.
pub struct ConfigMaps;

#[async_trait]
impl Strategy for ConfigMaps {
    fn tracks_generation(&self) -> bool {
        false
    }

    fn field_errors(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        key_errors(obj, "data", Some("binaryData"), &mut errors);
        key_errors(obj, "binaryData", Some("data"), &mut errors);
        if let Some(old) = old {
            immutable_errors(obj, old, &["data", "binaryData"], &mut errors);
        }
        errors
    }
}

/// Secrets.
pub struct Secrets;

/// An empty `type` is `Opaque` (upstream's `SetDefaults_Secret`, which runs on
/// every body decoded: create, update and patch).
fn default_secret_type(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        let empty = match map.get("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t.is_empty(),
            Some(_) => false,
        };
        if empty {
            map.insert("type".into(), Value::String("Opaque".into()));
        }
    }
}

/// Moves `stringData` into `data` (base64), as upstream's conversion does on
/// every write; `stringData` wins over a `data` key of the same name.
fn merge_string_data(obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = m.remove("stringData") else {
        return;
    };
    let data = m.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            d.insert(k, Value::String(encoded));
        }
    }
}

#[async_trait]
impl Strategy for Secrets {
    fn tracks_generation(&self) -> bool {
        false
    }

    /// `stringData` into `data` (upstream's conversion) and `type` Opaque
    /// (`SetDefaults_Secret`), as decoding does: the writer owns both.
    fn default_object(
        &self,
        obj: &mut Value,
        _field_validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        merge_string_data(obj);
        default_secret_type(obj);
        Ok(Vec::new())
    }

    fn field_errors(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        key_errors(obj, "data", None, &mut errors);
        if let Some(old) = old {
            immutable_errors(obj, old, &["data"], &mut errors);
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_type_defaults_to_opaque() {
        for given in [json!({}), json!({"type": ""}), json!({"type": null})] {
            let mut obj = given.clone();
            Secrets
                .default_object(&mut obj, FieldValidation::default())
                .unwrap();
            assert_eq!(obj["type"], "Opaque", "from {given}");
        }
        let mut tls = json!({"type": "kubernetes.io/tls"});
        Secrets
            .default_object(&mut tls, FieldValidation::default())
            .unwrap();
        assert_eq!(tls["type"], "kubernetes.io/tls");
    }

    #[test]
    fn config_keys() {
        assert!(config_key_errors("key.name_-1").is_empty());
        assert_eq!(config_key_errors("a b"), [KEY_FORMAT_ERROR]);
        assert_eq!(config_key_errors(".."), ["must not be '..'"]);
        assert_eq!(config_key_errors("..x"), ["must not start with '..'"]);
        assert_eq!(config_key_errors(&"k".repeat(254)).len(), 1);
    }

    #[test]
    fn configmap_keys_and_duplicates() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"a b": "1", "x": "2"}, "binaryData": {"x": "Mg=="}});
        let e = crate::rest::strategy::checked(&ConfigMaps, "ConfigMap", "", &cm, None)
            .expect_err("invalid");
        assert_eq!(e.code, 422);
        assert!(
            e.message.starts_with("ConfigMap \"c\" is invalid: ["),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("data[a b]: Invalid value: \"a b\": a valid config key"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("data[x]: Invalid value: \"x\": duplicate of key present in binaryData"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("binaryData[x]: Invalid value: \"x\": duplicate of key present in data"),
            "{}",
            e.message
        );
    }

    #[test]
    fn immutable_configmap() {
        let old = json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": true});
        let mut same = old.clone();
        same["metadata"]["labels"] = json!({"l": "v"});
        crate::rest::strategy::checked(&ConfigMaps, "ConfigMap", "", &same, Some(&old))
            .expect("metadata may change");
        let changed = json!({"metadata": {"name": "c"}, "data": {"a": "2"}});
        let e = crate::rest::strategy::checked(&ConfigMaps, "ConfigMap", "", &changed, Some(&old))
            .expect_err("immutable");
        assert_eq!(
            e.message,
            "ConfigMap \"c\" is invalid: [immutable: Forbidden: field is immutable when `immutable` is set, data: Forbidden: field is immutable when `immutable` is set]"
        );
    }

    #[test]
    fn secret_string_data_is_merged() {
        let mut s = json!({"metadata": {"name": "s"}, "data": {"pw": "cHc=", "user": "eA=="}, "stringData": {"user": "admin"}});
        Secrets
            .default_object(&mut s, FieldValidation::default())
            .unwrap();
        assert_eq!(
            s,
            json!({"metadata": {"name": "s"}, "data": {"pw": "cHc=", "user": "YWRtaW4="}, "type": "Opaque"})
        );
        let mut bad = json!({"metadata": {"name": "s"}, "stringData": {"a/b": "x"}});
        Secrets
            .default_object(&mut bad, FieldValidation::default())
            .unwrap();
        let e = crate::rest::strategy::checked(&Secrets, "Secret", "", &bad, None)
            .expect_err("invalid key");
        assert!(
            e.message
                .starts_with("Secret \"s\" is invalid: data[a/b]: Invalid value: \"a/b\""),
            "{}",
            e.message
        );
    }
}
