//! The structural schema of a custom resource version (`openAPIV3Schema`):
//! defaulting, pruning of unknown fields and validation, in upstream's
//! order (default, prune, validate) and with upstream's field paths and
//! message shapes. Every failure is reported, not only the first.
//!
//! Patterns use the `regex` crate, which matches in linear time (as Go's RE2
//! does), so a "catastrophic" pattern cannot stall a request; compiled
//! patterns are cached per schema and limited in size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::FieldError;

/// How deep a schema walk may go before it gives up with an error.
pub const MAX_DEPTH: usize = 100;
/// The most compiled-regex memory one pattern may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A version's schema, with its compiled patterns.
pub struct CrSchema {
    root: Arc<Value>,
    patterns: Mutex<HashMap<String, Option<Arc<regex::Regex>>>>,
}

/// The outcome of checking one object.
#[derive(Debug, Default)]
pub struct Checked {
    /// Validation failures (422).
    pub errors: Vec<FieldError>,
    /// Fields removed as unknown (`spec.foo`), for warnings or Strict's 400.
    pub pruned: Vec<String>,
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as upstream prints it in `Invalid value: ...`.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "\"null\"".into(),
        other => Value::String(type_name(other).into()).to_string(),
    }
}

fn invalid(path: &str, v: &Value, detail: String) -> FieldError {
    FieldError {
        reason: "FieldValueInvalid",
        field: path.to_string(),
        message: format!("Invalid value: {}: {detail}", shown(v)),
    }
}

/// `Required value`, as upstream words it without a detail.
fn required(path: &str) -> FieldError {
    FieldError {
        reason: "FieldValueRequired",
        field: path.to_string(),
        message: "Required value".into(),
    }
}

/// A map key of a list-map entry as Go prints it (`%#v`).
fn go_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let inner: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{}:{}", Value::String(k.clone()), m[k]))
        .collect();
    format!("map[string]interface {{}}{{{}}}", inner.join(", "))
}

fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

impl CrSchema {
    /// Wraps `openAPIV3Schema`.
    pub fn new(root: impl Into<Arc<Value>>) -> Self {
        let root = root.into();
        CrSchema {
            root,
            patterns: Mutex::new(HashMap::new()),
        }
    }

    /// Defaults, prunes and validates a whole object (apiVersion, kind and
    /// metadata are the server's and are left alone).
    pub fn check(&self, obj: &mut Value) -> Checked {
        let pruned = self.default_and_prune(obj);
        Checked {
            errors: self.validate_object(obj),
            pruned,
        }
    }

    /// Defaults and prunes a whole object, as upstream's decoding of a
    /// custom resource does; returns the fields pruned as unknown.
    pub fn default_and_prune(&self, obj: &mut Value) -> Vec<String> {
        let mut pruned = Vec::new();
        let Some(map) = obj.as_object_mut() else {
            return pruned;
        };
        let root = &*self.root;
        let props = root.get("properties").and_then(Value::as_object);
        for (k, v) in map.iter_mut() {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(s) = props.and_then(|p| p.get(k)) {
                self.default(s, v, 0);
            }
        }
        if let Some(p) = props {
            for (k, s) in p {
                if let Some(d) = s.get("default")
                    && !map.contains_key(k)
                {
                    map.insert(k.clone(), d.clone());
                }
            }
        }
        if !flag(root, "x-kubernetes-preserve-unknown-fields") {
            let unknown: Vec<String> = map
                .keys()
                .filter(|k| {
                    !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                        && props.is_none_or(|p| !p.contains_key(*k))
                })
                .cloned()
                .collect();
            for k in unknown {
                map.remove(&k);
                pruned.push(k);
            }
        }
        for (k, v) in map.iter_mut() {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(s) = props.and_then(|p| p.get(k)) {
                self.prune(s, v, k, &mut pruned, 0);
            }
        }
        pruned
    }

    /// Validates a whole (defaulted and pruned) object.
    pub fn validate_object(&self, obj: &Value) -> Vec<FieldError> {
        let Some(map) = obj.as_object() else {
            return vec![invalid("", obj, "must be of type object".into())];
        };
        let root = &*self.root;
        let props = root.get("properties").and_then(Value::as_object);
        let mut errors = Vec::new();
        for (k, v) in map.iter() {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(s) = props.and_then(|p| p.get(k)) {
                self.validate(s, v, k, &mut errors, 0);
            }
        }
        if let Some(req) = root.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    errors.push(required(r));
                }
            }
        }
        errors
    }

    /// Checks a value against a node `s` of a schema (not necessarily this
    /// one's root), as upstream checks a `default`: whether pruning would
    /// remove fields (returned in `pruned`), and every validation failure,
    /// with paths under `path`. The value is not changed.
    pub fn check_against(&self, s: &Value, v: &Value, path: &str) -> Checked {
        let mut out = Checked::default();
        let mut pruned = v.clone();
        self.prune(s, &mut pruned, path, &mut out.pruned, 0);
        self.validate(s, v, path, &mut out.errors, 0);
        out
    }

    /// Applies the schema's defaults only (objects read from storage).
    pub fn apply_defaults(&self, obj: &mut Value) {
        let root = &*self.root;
        let Some(map) = obj.as_object_mut() else {
            return;
        };
        let Some(props) = root.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (k, s) in props {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match map.get_mut(k) {
                Some(v) => self.default(s, v, 0),
                None => {
                    if let Some(d) = s.get("default") {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
        }
    }

    /// Applies `default`s of missing (or null, when not nullable) properties.
    fn default(&self, s: &Value, v: &mut Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            Value::Object(m) => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (k, ps) in props {
                        match m.get_mut(k) {
                            Some(Value::Null) if !flag(ps, "nullable") => {
                                if let Some(d) = ps.get("default") {
                                    m.insert(k.clone(), d.clone());
                                }
                            }
                            Some(child) => self.default(ps, child, depth + 1),
                            None => {
                                if let Some(d) = ps.get("default") {
                                    m.insert(k.clone(), d.clone());
                                }
                            }
                        }
                    }
                } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    for child in m.values_mut() {
                        self.default(ap, child, depth + 1);
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = s.get("items") {
                    for child in a {
                        self.default(items, child, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// Removes fields the schema does not know.
    fn prune(&self, s: &Value, v: &mut Value, path: &str, pruned: &mut Vec<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            Value::Object(m) => {
                let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
                let embedded = flag(s, "x-kubernetes-embedded-resource");
                let props = s.get("properties").and_then(Value::as_object);
                let additional = s.get("additionalProperties");
                if let Some(ap) = additional.filter(|a| a.is_object()) {
                    for (k, child) in m.iter_mut() {
                        self.prune(ap, child, &join(path, k), pruned, depth + 1);
                    }
                    return;
                }
                if additional.and_then(Value::as_bool) == Some(true) {
                    return;
                }
                if !preserve {
                    let unknown: Vec<String> = m
                        .keys()
                        .filter(|k| {
                            !(embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                                && props.is_none_or(|p| !p.contains_key(*k))
                        })
                        .cloned()
                        .collect();
                    for k in unknown {
                        m.remove(&k);
                        pruned.push(join(path, &k));
                    }
                }
                if let Some(p) = props {
                    for (k, child) in m.iter_mut() {
                        if let Some(ps) = p.get(k) {
                            self.prune(ps, child, &join(path, k), pruned, depth + 1);
                        }
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = s.get("items") {
                    for (i, child) in a.iter_mut().enumerate() {
                        self.prune(items, child, &format!("{path}[{i}]"), pruned, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    fn pattern(&self, p: &str) -> Option<Arc<regex::Regex>> {
        let mut cache = self.patterns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(p) {
            return hit.clone();
        }
        cache
            .entry(p.to_string())
            .or_insert_with(|| {
                regex::RegexBuilder::new(p)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }

    /// Checks `v` against `s`, adding every failure to `errs`.
    fn validate(&self, s: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>, depth: usize) {
        if depth > MAX_DEPTH {
            errs.push(FieldError::forbidden(
                path,
                &format!("exceeds the maximum nesting depth of {MAX_DEPTH}"),
            ));
            return;
        }
        if v.is_null() {
            if flag(s, "nullable") {
                return;
            }
            if let Some(t) = s.get("type").and_then(Value::as_str) {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body must be of type {t}: \"null\""),
                ));
            }
            return;
        }
        let int_or_string = flag(s, "x-kubernetes-int-or-string");
        if int_or_string {
            if !(v.is_string() || v.as_number().is_some_and(is_integer)) {
                errs.push(invalid(
                    path,
                    v,
                    format!(
                        "{path} in body must be of type integer-or-string: \"{}\"",
                        type_name(v)
                    ),
                ));
                return;
            }
        } else if let Some(t) = s.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "integer" => v.as_number().is_some_and(is_integer),
                "number" => v.is_number(),
                _ => true,
            };
            if !ok {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body must be of type {t}: \"{}\"", type_name(v)),
                ));
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            let supported: Vec<String> = e.iter().map(shown).collect();
            errs.push(FieldError {
                reason: "FieldValueNotSupported",
                field: path.to_string(),
                message: format!(
                    "Unsupported value: {}: supported values: {}",
                    shown(v),
                    supported.join(", ")
                ),
            });
        }
        match v {
            Value::String(st) => self.validate_string(s, st, v, path, errs),
            Value::Number(n) => validate_number(s, n, v, path, errs),
            Value::Array(a) => {
                let len = a.len() as u64;
                if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                    && len > max
                {
                    errs.push(FieldError {
                        reason: "FieldValueTooMany",
                        field: path.to_string(),
                        message: format!("Too many: {len}: must have at most {max} items"),
                    });
                }
                if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                    && len < min
                {
                    errs.push(invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} items"),
                    ));
                }
                if let Some(items) = s.get("items") {
                    for (i, child) in a.iter().enumerate() {
                        self.validate(items, child, &format!("{path}[{i}]"), errs, depth + 1);
                    }
                }
                list_uniqueness(s, a, path, errs);
            }
            Value::Object(m) => {
                let len = m.len() as u64;
                if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
                    && len > max
                {
                    errs.push(FieldError {
                        reason: "FieldValueTooMany",
                        field: path.to_string(),
                        message: format!("Too many: {len}: must have at most {max} items"),
                    });
                }
                if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
                    && len < min
                {
                    errs.push(invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} properties"),
                    ));
                }
                if let Some(req) = s.get("required").and_then(Value::as_array) {
                    for r in req.iter().filter_map(Value::as_str) {
                        if !m.contains_key(r) {
                            errs.push(required(&join(path, r)));
                        }
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                let additional = s.get("additionalProperties").filter(|a| a.is_object());
                for (k, child) in m {
                    if let Some(ps) = props.and_then(|p| p.get(k)) {
                        self.validate(ps, child, &join(path, k), errs, depth + 1);
                    } else if let Some(ap) = additional {
                        self.validate(ap, child, &join(path, k), errs, depth + 1);
                    }
                }
                if flag(s, "x-kubernetes-embedded-resource") {
                    errs.extend(super::embedded::validate(path, m));
                }
            }
            _ => {}
        }
        self.validate_combinators(s, v, path, errs, depth);
    }

    fn validate_combinators(
        &self,
        s: &Value,
        v: &Value,
        path: &str,
        errs: &mut Vec<FieldError>,
        depth: usize,
    ) {
        let sub_ok = |sub: &Value| {
            let mut e = Vec::new();
            self.validate(sub, v, path, &mut e, depth + 1);
            e
        };
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                errs.extend(sub_ok(sub));
            }
        }
        if let Some(any) = s.get("anyOf").and_then(Value::as_array)
            && !any.is_empty()
        {
            let results: Vec<Vec<FieldError>> = any.iter().map(sub_ok).collect();
            if results.iter().all(|e| !e.is_empty()) {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body must validate at least one schema (anyOf)"),
                ));
                errs.extend(results.into_iter().flatten());
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array)
            && !one.is_empty()
        {
            let results: Vec<Vec<FieldError>> = one.iter().map(sub_ok).collect();
            let passing = results.iter().filter(|e| e.is_empty()).count();
            if passing == 0 {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body must validate one and only one schema (oneOf)"),
                ));
                errs.extend(results.into_iter().flatten());
            } else if passing > 1 {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body must validate one and only one schema (oneOf)"),
                ));
            }
        }
        if let Some(not) = s.get("not")
            && sub_ok(not).is_empty()
        {
            errs.push(invalid(
                path,
                v,
                format!("{path} in body must not validate the schema (not)"),
            ));
        }
    }

    fn validate_string(
        &self,
        s: &Value,
        st: &str,
        v: &Value,
        path: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let chars = st.chars().count() as u64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            errs.push(FieldError {
                reason: "FieldValueTooLong",
                field: path.to_string(),
                message: format!("Too long: may not be more than {max} bytes"),
            });
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            errs.push(invalid(
                path,
                v,
                format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            match self.pattern(p) {
                Some(re) if !re.is_match(st) => errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body should match '{p}'"),
                )),
                Some(_) => {}
                None => errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body: pattern '{p}' cannot be compiled"),
                )),
            }
        }
        if let Some(f) = s.get("format").and_then(Value::as_str)
            && !format_ok(f, st)
        {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body must be of type {f}: {}",
                    Value::String(st.into())
                ),
            ));
        }
    }
}

fn validate_number(
    s: &Value,
    n: &serde_json::Number,
    v: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let Some(x) = n.as_f64() else { return };
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        let excl = flag(s, "exclusiveMaximum");
        if (excl && x >= max) || x > max {
            let word = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(invalid(
                path,
                v,
                format!("{path} in body should be {word} {}", s["maximum"]),
            ));
        }
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        let excl = flag(s, "exclusiveMinimum");
        if (excl && x <= min) || x < min {
            let word = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(invalid(
                path,
                v,
                format!("{path} in body should be {word} {}", s["minimum"]),
            ));
        }
    }
    if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
        && m > 0.0
        && (x / m).fract().abs() > 1e-9
    {
        errs.push(invalid(
            path,
            v,
            format!("{path} in body should be a multiple of {}", s["multipleOf"]),
        ));
    }
}

fn format_ok(format: &str, s: &str) -> bool {
    use base64::Engine;
    match format {
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "date-time" | "datetime" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        _ => true,
    }
}

/// `x-kubernetes-list-type: set` and `map` forbid duplicates.
fn list_uniqueness(s: &Value, a: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, x) in a.iter().enumerate() {
                if a[..i].contains(x) {
                    errs.push(FieldError {
                        reason: "FieldValueDuplicate",
                        field: format!("{path}[{i}]"),
                        message: format!("Duplicate value: {}", shown(x)),
                    });
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |x: &Value| -> Map<String, Value> {
                keys.iter()
                    .filter_map(|k| x.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect()
            };
            let all: Vec<Map<String, Value>> = a.iter().map(key_of).collect();
            for (i, k) in all.iter().enumerate() {
                if all[..i].contains(k) {
                    errs.push(FieldError {
                        reason: "FieldValueDuplicate",
                        field: format!("{path}[{i}]"),
                        message: format!("Duplicate value: {}", go_map(k)),
                    });
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> CrSchema {
        CrSchema::new(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                        "size": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}, "maxItems": 3},
                        "listeners": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "opt": {"type": "string", "nullable": true},
                        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        }))
    }

    #[test]
    fn defaults_prunes_and_accepts_a_good_object() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"name": "abc", "port": 80, "size": "50%", "extra": 1, "free": {"any": {"thing": 1}}, "opt": null, "either": 3},
            "junk": true});
        let c = schema().check(&mut obj);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(obj["spec"]["mode"], "A");
        assert!(obj.get("junk").is_none() && obj["spec"].get("extra").is_none());
        assert_eq!(obj["spec"]["free"]["any"]["thing"], 1);
        assert_eq!(c.pruned, ["junk", "spec.extra"]);
    }

    #[test]
    fn defaults_on_read_leave_unknown_fields() {
        let mut obj = json!({"metadata": {"name": "a"}, "spec": {"name": "x", "stored": 1}});
        schema().apply_defaults(&mut obj);
        assert_eq!(obj["spec"], json!({"name": "x", "stored": 1, "mode": "A"}));
    }

    #[test]
    fn reports_every_failure_with_its_path() {
        let mut obj = json!({"spec": {"name": "ABCDEFG", "port": 70000, "mode": "C", "size": true,
            "tags": ["a", "a", "b", "c"], "listeners": [{"name": "x"}, {"name": "x"}], "either": false}});
        let c = schema().check(&mut obj);
        let got: Vec<(&str, &str)> = c
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.reason))
            .collect();
        for want in [
            ("spec.name", "FieldValueTooLong"),
            ("spec.name", "FieldValueInvalid"),
            ("spec.port", "FieldValueInvalid"),
            ("spec.mode", "FieldValueNotSupported"),
            ("spec.size", "FieldValueInvalid"),
            ("spec.tags", "FieldValueTooMany"),
            ("spec.tags[1]", "FieldValueDuplicate"),
            ("spec.listeners[1]", "FieldValueDuplicate"),
            ("spec.either", "FieldValueInvalid"),
        ] {
            assert!(got.contains(&want), "{want:?} missing from {got:?}");
        }
        let port = c.errors.iter().find(|e| e.field == "spec.port").unwrap();
        assert_eq!(
            port.message,
            "Invalid value: 70000: spec.port in body should be less than or equal to 65535"
        );
        let mut missing = json!({"spec": {}});
        let c = schema().check(&mut missing);
        assert_eq!(c.errors[0].field, "spec.name");
        assert_eq!(c.errors[0].reason, "FieldValueRequired");
    }

    #[test]
    fn deep_nesting_fails_fast() {
        let mut s = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let mut v = json!(1);
        for _ in 0..(MAX_DEPTH + 20) {
            s = json!({"type": "object", "properties": {"a": s}});
            v = json!({"a": v});
        }
        let schema = CrSchema::new(json!({"type": "object", "properties": {"spec": s}}));
        let mut obj = json!({"spec": v});
        let start = std::time::Instant::now();
        let c = schema.check(&mut obj);
        assert!(
            c.errors
                .iter()
                .any(|e| e.message.contains("maximum nesting depth"))
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn huge_enum_and_catastrophic_pattern_fail_fast() {
        let values: Vec<Value> = (0..200_000).map(|i| json!(format!("v{i}"))).collect();
        let evil = "(a+)+$";
        let schema = CrSchema::new(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "e": {"type": "string", "enum": values},
                "p": {"type": "string", "pattern": evil},
                "huge": {"type": "string", "pattern": "(\\w{1000}){1000}"}
            }}}}),
        );
        let mut obj =
            json!({"spec": {"e": "nope", "p": format!("{}!", "a".repeat(50_000)), "huge": "x"}});
        let start = std::time::Instant::now();
        let c = schema.check(&mut obj);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        let fields: Vec<&str> = c.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["spec.e", "spec.huge", "spec.p"]);
        assert!(c.errors[1].message.contains("cannot be compiled"));
    }
}
