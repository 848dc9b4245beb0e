//! The YAML text gnostic keeps in an `Any` (`openapi.v2.Any.yaml`): the
//! JSON value written as block YAML the way go-yaml v3 marshals a node
//! parsed from JSON (four-space indentation, plain scalars where they read
//! back as the same string, double quotes where a plain one would read as
//! another type, single quotes where a plain one is not allowed, literal
//! blocks for multi-line strings). Clients parse this text as YAML, so what
//! matters is that it reads back as the value; the layout follows go-yaml's
//! for the values Kubernetes publishes (extensions, defaults, enums).

use serde_json::Value;

/// `v` as YAML text, ending in a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => sequence(&mut out, a, 0),
        Value::String(s) if s.contains('\n') => literal(&mut out, s, INDENT),
        _ => {
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
    out
}

const INDENT: usize = 4;

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A block mapping whose keys start at column `col`; the first key is
/// written where the cursor is (after `- ` in a sequence), the others
/// indented to `col`.
fn mapping(out: &mut String, m: &serde_json::Map<String, Value>, col: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            pad(out, col);
        }
        out.push_str(&scalar(k));
        out.push(':');
        value_after_key(out, v, col);
    }
}

fn value_after_key(out: &mut String, v: &Value, col: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, col + INDENT);
            mapping(out, m, col + INDENT);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, col + INDENT);
            sequence(out, a, col + INDENT);
        }
        Value::String(s) if s.contains('\n') => {
            out.push(' ');
            literal(out, s, col + INDENT);
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
}

/// A block sequence whose dashes are at column `col` (the first one where
/// the cursor is).
fn sequence(out: &mut String, a: &[Value], col: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            pad(out, col);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => mapping(out, m, col + 2),
            Value::Array(inner) if !inner.is_empty() => sequence(out, inner, col + 2),
            Value::String(s) if s.contains('\n') => literal(out, s, col + 2),
            _ => {
                out.push_str(&inline(v));
                out.push('\n');
            }
        }
    }
}

/// A literal block scalar (`|`, `|-` or `|+` by its trailing newlines).
fn literal(out: &mut String, s: &str, col: usize) {
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let lead = if s.starts_with(' ') { "4" } else { "" };
    out.push('|');
    out.push_str(lead);
    out.push_str(chomp);
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, col);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// A value on one line: scalars, `{}` and `[]`.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string scalar: plain when YAML reads it back as this string, else
/// quoted.
fn scalar(s: &str) -> String {
    if resolves_to_other_type(s) {
        return double_quoted(s);
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' || c == '\u{feff}')
    {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Whether a plain `s` would be read as null, a bool, a number, or a
/// timestamp-like value rather than a string (YAML 1.1 and 1.2 forms that
/// go-yaml resolves).
fn resolves_to_other_type(s: &str) -> bool {
    if matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "y"
            | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | "+.inf"
            | ".nan"
            | ".NaN"
            | ".NAN"
            | "<<"
    ) {
        return true;
    }
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let t = t.replace('_', "");
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0o")) {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(b) = t.strip_prefix("0b") {
        return !b.is_empty() && b.chars().all(|c| c == '0' || c == '1');
    }
    if t.parse::<f64>().is_ok() && t.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    // Dates and timestamps (2001-12-14, 2001-12-14T21:59:43Z).
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// libyaml's rule for plain scalars in block context.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if first == ' ' || s.ends_with(' ') {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains('\t') {
        return false;
    }
    !s.contains('\n')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_as_go_yaml_writes_them() {
        assert_eq!(to_yaml(&json!("merge")), "merge\n");
        assert_eq!(to_yaml(&json!("")), "\"\"\n");
        assert_eq!(to_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(to_yaml(&json!("10")), "\"10\"\n");
        assert_eq!(to_yaml(&json!(true)), "true\n");
        assert_eq!(to_yaml(&json!(5)), "5\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
        assert_eq!(to_yaml(&json!([])), "[]\n");
        assert_eq!(to_yaml(&json!(["type"])), "- type\n");
        assert_eq!(
            to_yaml(&json!([{"group": "", "kind": "ConfigMap", "version": "v1"}])),
            "- group: \"\"\n  kind: ConfigMap\n  version: v1\n"
        );
        assert_eq!(
            to_yaml(&json!({"a": {"b": "c"}, "d": ["e"]})),
            "a:\n    b: c\nd:\n    - e\n"
        );
        assert_eq!(to_yaml(&json!("a: b")), "'a: b'\n");
        assert_eq!(to_yaml(&json!("it's: x")), "'it''s: x'\n");
        assert_eq!(to_yaml(&json!("two\nlines")), "|-\n    two\n    lines\n");
    }

    #[test]
    fn the_text_reads_back_as_the_value() {
        for v in [
            json!([{"rule": "self.x > 0 && self.y != 'a: b'", "message": "#1 must be positive"}]),
            json!({"nested": [[1, 2], {"k": null}], "s": "- dash", "t": "2001-12-14", "u": "0x1F"}),
            json!(["", "~", "yes", "1.5", "-", "x #y", " lead", "multi\nline\n"]),
        ] {
            let back: Value = serde_yaml_ng::from_str(&to_yaml(&v)).expect("parses");
            assert_eq!(back, v, "{}", to_yaml(&v));
        }
    }
}
