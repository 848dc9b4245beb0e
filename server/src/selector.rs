//! Label and field selectors, with the grammar and messages of
//! apimachinery's `labels.Parse` and `fields.ParseSelector`.

use std::collections::BTreeMap;
use std::sync::Arc;

use kapi_generated::resource::SelectableField;
use serde_json::Value;

use crate::error::ApiError;
use crate::rest::meta::{is_label_value, qualified_name_errors};

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=v`, `key==v`, `key in (a,b)`.
    In(String, Vec<String>),
    /// `key!=v`, `key notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
    /// `key>n`.
    Gt(String, i64),
    /// `key<n`.
    Lt(String, i64),
}

/// A parsed `labelSelector` (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Comma,
    Eq,
    DoubleEq,
    NotEq,
    Not,
    Gt,
    Lt,
    Open,
    Close,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '>' => {
                out.push(Tok::Gt);
                i += 1;
            }
            '<' => {
                out.push(Tok::Lt);
                i += 1;
            }
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::DoubleEq);
                    i += 2;
                } else {
                    out.push(Tok::Eq);
                    i += 1;
                }
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::NotEq);
                    i += 2;
                } else {
                    out.push(Tok::Not);
                    i += 1;
                }
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !",()=!<>".contains(chars[i])
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

fn parse_err(msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {msg}"))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let errs = qualified_name_errors(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(parse_err(format!(
            "<nil>: Invalid value: {:?}: {}",
            key,
            errs.join("; ")
        )))
    }
}

fn check_value(v: &str) -> Result<(), ApiError> {
    if is_label_value(v) {
        Ok(())
    } else {
        Err(parse_err(format!(
            "values[0][{v}]: Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )))
    }
}

impl LabelSelector {
    /// Parses the selector grammar: `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1,m<2`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let toks = lex(s).map_err(parse_err)?;
        let mut reqs = Vec::new();
        let mut i = 0;
        let at = |i: usize| toks.get(i).cloned();
        if toks.is_empty() {
            return Ok(LabelSelector(reqs));
        }
        loop {
            let req = match at(i) {
                Some(Tok::Not) => {
                    let Some(Tok::Ident(key)) = at(i + 1) else {
                        return Err(parse_err(
                            "found end of input or an operator, expected: identifier after '!'",
                        ));
                    };
                    check_key(&key)?;
                    i += 2;
                    Requirement::DoesNotExist(key)
                }
                Some(Tok::Ident(key)) => {
                    check_key(&key)?;
                    i += 1;
                    match at(i) {
                        None | Some(Tok::Comma) => Requirement::Exists(key),
                        Some(Tok::Eq) | Some(Tok::DoubleEq) | Some(Tok::NotEq) => {
                            let op = at(i);
                            i += 1;
                            let value = match at(i) {
                                Some(Tok::Ident(v)) => {
                                    i += 1;
                                    v
                                }
                                None | Some(Tok::Comma) => String::new(),
                                Some(t) => {
                                    return Err(parse_err(format!(
                                        "found '{t:?}', expected: identifier"
                                    )));
                                }
                            };
                            check_value(&value)?;
                            if op == Some(Tok::NotEq) {
                                Requirement::NotIn(key, vec![value])
                            } else {
                                Requirement::In(key, vec![value])
                            }
                        }
                        Some(Tok::Gt) | Some(Tok::Lt) => {
                            let gt = at(i) == Some(Tok::Gt);
                            i += 1;
                            let Some(Tok::Ident(v)) = at(i) else {
                                return Err(parse_err("expected an integer after '>' or '<'"));
                            };
                            i += 1;
                            let n: i64 = v
                                .parse()
                                .map_err(|_| parse_err(format!("for 'Gt', 'Lt' operators, the value must be an integer, got {v:?}")))?;
                            if gt {
                                Requirement::Gt(key, n)
                            } else {
                                Requirement::Lt(key, n)
                            }
                        }
                        Some(Tok::Ident(op)) if op == "in" || op == "notin" => {
                            i += 1;
                            if at(i) != Some(Tok::Open) {
                                return Err(parse_err(format!(
                                    "found '{:?}', expected: '('",
                                    at(i)
                                )));
                            }
                            i += 1;
                            let mut values = Vec::new();
                            loop {
                                match at(i) {
                                    Some(Tok::Ident(v)) => {
                                        check_value(&v)?;
                                        values.push(v);
                                        i += 1;
                                    }
                                    Some(Tok::Comma) | Some(Tok::Close) => {
                                        values.push(String::new())
                                    }
                                    _ => {
                                        return Err(parse_err("found end of input, expected: ')'"));
                                    }
                                }
                                match at(i) {
                                    Some(Tok::Comma) => i += 1,
                                    Some(Tok::Close) => {
                                        i += 1;
                                        break;
                                    }
                                    _ => {
                                        return Err(parse_err(
                                            "found end of input, expected: ',' or ')'",
                                        ));
                                    }
                                }
                            }
                            if op == "in" {
                                Requirement::In(key, values)
                            } else {
                                Requirement::NotIn(key, values)
                            }
                        }
                        Some(t) => {
                            return Err(parse_err(format!(
                                "found '{t:?}', expected: in, notin, =, ==, !=, gt, lt"
                            )));
                        }
                    }
                }
                Some(t) => {
                    return Err(parse_err(format!(
                        "found '{t:?}', expected: !, identifier, or 'end of string'"
                    )));
                }
                None => return Err(parse_err("found 'end of string', expected: !, identifier")),
            };
            reqs.push(req);
            match at(i) {
                None => break,
                Some(Tok::Comma) => i += 1,
                Some(t) => {
                    return Err(parse_err(format!(
                        "found '{t:?}', expected: ',' or 'end of string'"
                    )));
                }
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Gt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Requirement::Lt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }

    /// Whether an object's `metadata.labels` satisfy the selector.
    pub fn matches_object(&self, obj: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let labels: BTreeMap<String, String> = obj
            .pointer("/metadata/labels")
            .and_then(|l| l.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        self.matches(&labels)
    }
}

/// One field requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field, like `metadata.name`.
    pub field: String,
    /// The value compared with.
    pub value: String,
    /// `!=` rather than `=`.
    pub negated: bool,
}

/// How a kind answers a field label it does not know: upstream's field label
/// conversion of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldLabels {
    /// No conversion of its own (`DefaultMetaV1FieldSelectorConversion`):
    /// `metadata.name` and `metadata.namespace` whatever the scope; anything
    /// else is `"x" is not a known field selector: only "metadata.name", "metadata.namespace"`.
    Default,
    /// A conversion of its own (kinds with selectable fields, custom
    /// resources): `metadata.namespace` only for namespaced kinds; anything
    /// else undeclared is `field label not supported: x`.
    Converted {
        /// Whether the kind is namespaced.
        namespaced: bool,
    },
}

/// A parsed `fieldSelector`: its requirements, and the selectable fields of
/// the kind it was checked against ([`FieldSelector::resolve`]), which say
/// where each field label's value is read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldRequirement>, pub Arc<Vec<SelectableField>>);

impl FieldSelector {
    /// Parses `a=b,c!=d` (also `==`).
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut out = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(out, Arc::default()));
        }
        for part in split_unescaped(s) {
            let part = part.trim();
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            out.push(FieldRequirement {
                field: field.trim().to_string(),
                value: unescape(value.trim()),
                negated,
            });
        }
        Ok(FieldSelector(out, Arc::default()))
    }

    /// Checks that every field is one the kind can select on (`metadata.name`,
    /// `metadata.namespace` as `labels` allows, or one of its selectable
    /// fields; otherwise 400 with upstream's message for the kind) and keeps
    /// the kind's fields for [`FieldSelector::matches_object`].
    pub fn resolve(
        &mut self,
        fields: &[SelectableField],
        labels: FieldLabels,
    ) -> Result<(), ApiError> {
        for r in &self.0 {
            let known = r.field == "metadata.name"
                || (r.field == "metadata.namespace"
                    && labels != FieldLabels::Converted { namespaced: false })
                || fields.iter().any(|f| f.name == r.field);
            if known {
                continue;
            }
            return Err(ApiError::bad_request(match labels {
                FieldLabels::Default => format!(
                    "{:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                    r.field
                ),
                FieldLabels::Converted { .. } => {
                    format!("field label not supported: {}", r.field)
                }
            }));
        }
        if !self.0.is_empty() && self.1.as_slice() != fields {
            self.1 = Arc::new(fields.to_vec());
        }
        Ok(())
    }

    /// The value of a field label in an object, as upstream's field sets hold
    /// it: strings as they are, booleans `true`/`false`, integers in decimal;
    /// the first of the field's paths with a non-empty value, else its default.
    pub fn field_value(&self, obj: &Value, field: &str) -> String {
        match self.1.iter().find(|f| f.name == field) {
            Some(f) => f
                .paths
                .iter()
                .map(|p| scalar_at(obj, p))
                .find(|v| !v.is_empty())
                .unwrap_or_else(|| f.default.clone()),
            None => scalar_at(obj, field),
        }
    }

    /// The name a selector pins down with `metadata.name=x`, if any.
    pub fn name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.field == "metadata.name" && !r.negated)
            .map(|r| r.value.as_str())
    }

    /// Whether an object satisfies every requirement.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|r| (self.field_value(obj, &r.field) == r.value) != r.negated)
    }
}

/// The scalar at a dotted path as text (empty when absent or null).
fn scalar_at(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        cur = match cur.get(seg) {
            Some(v) => v,
            None => return String::new(),
        };
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn split_unescaped(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn grammar() {
        let s =
            LabelSelector::parse("a=b, c==d,e!=f,g in (h, i),j notin (k),l,!m,n>1,o<5").unwrap();
        assert_eq!(s.0.len(), 9);
        let l = labels(&[
            ("a", "b"),
            ("c", "d"),
            ("e", "x"),
            ("g", "i"),
            ("j", "z"),
            ("l", ""),
            ("n", "2"),
            ("o", "4"),
        ]);
        assert!(s.matches(&l));
        let mut l2 = l.clone();
        l2.insert("m".into(), "1".into());
        assert!(!s.matches(&l2));
        assert!(LabelSelector::parse("").unwrap().matches(&labels(&[])));
        assert!(
            LabelSelector::parse("app=")
                .unwrap()
                .matches(&labels(&[("app", "")]))
        );
        assert!(
            LabelSelector::parse("example.com/app=web")
                .unwrap()
                .matches(&labels(&[("example.com/app", "web")]))
        );
    }

    #[test]
    fn bad_selectors() {
        for bad in [
            "a=b=c", "a in b", "a in (b", "!", "a b", "-a=b", "a=b c", "a>x", ",", "a=b,",
        ] {
            let e = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(e.code, 400, "{bad}");
            assert!(
                e.message.starts_with("unable to parse requirement"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn fields() {
        let s = FieldSelector::parse("metadata.name=x,metadata.namespace!=y").unwrap();
        let obj = serde_json::json!({"metadata": {"name": "x", "namespace": "z"}});
        assert!(s.matches_object(&obj));
        assert_eq!(s.name(), Some("x"));
        assert!(s.clone().resolve(&[], FieldLabels::Default).is_ok());
        let mut bad = FieldSelector::parse("spec.foo=1").unwrap();
        assert_eq!(
            bad.resolve(&[], FieldLabels::Default).unwrap_err().message,
            "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            bad.resolve(&[], FieldLabels::Converted { namespaced: true })
                .unwrap_err()
                .message,
            "field label not supported: spec.foo"
        );
        // A kind with a conversion of its own that is cluster-scoped (Namespace).
        let mut ns = FieldSelector::parse("metadata.namespace=x").unwrap();
        assert!(ns.resolve(&[], FieldLabels::Default).is_ok());
        assert_eq!(
            ns.resolve(&[], FieldLabels::Converted { namespaced: false })
                .unwrap_err()
                .message,
            "field label not supported: metadata.namespace"
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    fn event_fields() -> Vec<SelectableField> {
        vec![
            SelectableField::path("reason"),
            SelectableField {
                name: "source".into(),
                paths: vec!["source.component".into(), "reportingComponent".into()],
                default: String::new(),
            },
            SelectableField {
                name: "spec.unschedulable".into(),
                paths: vec!["spec.unschedulable".into()],
                default: "false".into(),
            },
            SelectableField {
                name: "status.replicas".into(),
                paths: vec!["status.replicas".into()],
                default: "0".into(),
            },
        ]
    }

    #[test]
    fn selectable_fields_read_their_paths_and_defaults() {
        let fields = event_fields();
        let sel = |s: &str| {
            let mut f = FieldSelector::parse(s).unwrap();
            f.resolve(&fields, FieldLabels::Converted { namespaced: true })
                .unwrap();
            f
        };
        let ev = serde_json::json!({"reason": "Started", "source": {"component": "kubelet"},
            "reportingComponent": "ctrl", "spec": {}, "status": {"replicas": 3}});
        assert!(sel("reason=Started").matches_object(&ev));
        assert!(!sel("reason!=Started").matches_object(&ev));
        assert!(sel("source=kubelet").matches_object(&ev));
        // An empty source.component falls back to reportingComponent, as upstream's Event.
        let ev2 = serde_json::json!({"source": {"component": ""}, "reportingComponent": "ctrl"});
        assert!(sel("source=ctrl").matches_object(&ev2));
        // Go's zero values for absent booleans and integers; integers in decimal.
        assert!(sel("spec.unschedulable=false").matches_object(&ev));
        assert!(
            sel("spec.unschedulable=true")
                .matches_object(&serde_json::json!({"spec": {"unschedulable": true}}))
        );
        assert!(sel("status.replicas=3").matches_object(&ev));
        assert!(sel("status.replicas=0").matches_object(&ev2));
        // A label of another kind is refused with upstream's message.
        let mut other = FieldSelector::parse("spec.nodeName=n1").unwrap();
        assert_eq!(
            other
                .resolve(&fields, FieldLabels::Converted { namespaced: true })
                .unwrap_err()
                .message,
            "field label not supported: spec.nodeName"
        );
    }
}
