//! The JSONPath subset kubectl and CRD printer columns use:
//! `.a.b`, `['a']`, `[0]`, `[-1]`, `[*]`, `.*`, and filters
//! `[?(@.type=="Ready")]` with `==`, `!=`, `<`, `>`, `<=`, `>=` or plain
//! existence. Written here (about 200 lines) rather than taking an RFC 9535
//! crate, whose syntax differs from Kubernetes' (no `$`, parenthesised
//! filters, bare field names as in `.status.x`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Field(String),
    Index(i64),
    Wildcard,
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<Seg>,
    cmp: Option<(Op, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath(Vec<Seg>);

/// Why a path does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid JSONPath {path:?}: {reason}")]
pub struct ParseError {
    path: String,
    reason: String,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, reason: impl Into<String>) -> ParseError {
        ParseError {
            path: self.src.to_string(),
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ') {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'.' || c == b'[' || c == b' ' || c == b')' || b"=!<>".contains(&c) {
                break;
            }
            self.i += 1;
        }
        self.src[start..self.i].to_string()
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let q = self.peek().ok_or_else(|| self.err("unterminated string"))?;
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == q {
                let out = self.src[start..self.i].to_string();
                self.i += 1;
                return Ok(out);
            }
            self.i += 1;
        }
        Err(self.err("unterminated string"))
    }

    /// Segments until the end or, inside a filter, an operator or `)`.
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, ParseError> {
        let mut segs = Vec::new();
        loop {
            if in_filter {
                self.skip_ws();
            }
            match self.peek() {
                None => return Ok(segs),
                Some(b'.') => {
                    self.i += 1;
                    if self.peek() == Some(b'*') {
                        self.i += 1;
                        segs.push(Seg::Wildcard);
                    } else {
                        let id = self.ident();
                        if !id.is_empty() {
                            segs.push(Seg::Field(id));
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    self.skip_ws();
                    let seg = match self.peek() {
                        Some(b'*') => {
                            self.i += 1;
                            Seg::Wildcard
                        }
                        Some(b'\'') | Some(b'"') => Seg::Field(self.quoted()?),
                        Some(b'?') => {
                            self.i += 1;
                            self.skip_ws();
                            let paren = self.peek() == Some(b'(');
                            if paren {
                                self.i += 1;
                            }
                            let f = self.filter()?;
                            self.skip_ws();
                            if paren {
                                if self.peek() != Some(b')') {
                                    return Err(self.err("expected ')'"));
                                }
                                self.i += 1;
                            }
                            Seg::Filter(f)
                        }
                        _ => {
                            let start = self.i;
                            while self.peek().is_some_and(|c| c == b'-' || c.is_ascii_digit()) {
                                self.i += 1;
                            }
                            let n = self.src[start..self.i].parse().map_err(|_| {
                                self.err("expected an index, '*', a name or a filter")
                            })?;
                            Seg::Index(n)
                        }
                    };
                    self.skip_ws();
                    if self.peek() != Some(b']') {
                        return Err(self.err("expected ']'"));
                    }
                    self.i += 1;
                    segs.push(seg);
                }
                Some(_) if in_filter => return Ok(segs),
                Some(c) if segs.is_empty() && c != b'@' => {
                    // A leading bare name: `status.x` as `.status.x`.
                    let id = self.ident();
                    if id.is_empty() {
                        return Err(self.err(format!("unexpected {:?}", c as char)));
                    }
                    segs.push(Seg::Field(id));
                }
                Some(c) => return Err(self.err(format!("unexpected {:?}", c as char))),
            }
        }
    }

    fn filter(&mut self) -> Result<Filter, ParseError> {
        if self.peek() != Some(b'@') {
            return Err(self.err("a filter starts with '@'"));
        }
        self.i += 1;
        let path = self.segments(true)?;
        self.skip_ws();
        let op = match (self.peek(), self.s.get(self.i + 1).copied()) {
            (Some(b'='), Some(b'=')) => Some((Op::Eq, 2)),
            (Some(b'!'), Some(b'=')) => Some((Op::Ne, 2)),
            (Some(b'<'), Some(b'=')) => Some((Op::Le, 2)),
            (Some(b'>'), Some(b'=')) => Some((Op::Ge, 2)),
            (Some(b'<'), _) => Some((Op::Lt, 1)),
            (Some(b'>'), _) => Some((Op::Gt, 1)),
            _ => None,
        };
        let Some((op, len)) = op else {
            return Ok(Filter { path, cmp: None });
        };
        self.i += len;
        self.skip_ws();
        let lit = match self.peek() {
            Some(b'\'') | Some(b'"') => Value::String(self.quoted()?),
            _ => {
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c != b')' && c != b']' && c != b' ')
                {
                    self.i += 1;
                }
                let raw = &self.src[start..self.i];
                serde_json::from_str(raw).map_err(|_| self.err(format!("bad literal {raw:?}")))?
            }
        };
        Ok(Filter {
            path,
            cmp: Some((op, lit)),
        })
    }
}

impl JsonPath {
    /// Parses `.a.b[?(@.x=="y")].c` (an optional `{...}` wrapper and `$` are accepted).
    pub fn parse(src: &str) -> Result<Self, ParseError> {
        let mut s = src.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
            src: s,
        };
        Ok(JsonPath(p.segments(false)?))
    }

    /// Every value the path selects, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        walk(&self.0, root)
    }
}

fn walk<'a>(segs: &[Seg], root: &'a Value) -> Vec<&'a Value> {
    let mut cur = vec![root];
    for seg in segs {
        let mut next = Vec::new();
        for v in cur {
            match seg {
                Seg::Field(f) => next.extend(v.get(f.as_str())),
                Seg::Index(i) => {
                    if let Some(a) = v.as_array() {
                        let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                        next.extend(usize::try_from(idx).ok().and_then(|i| a.get(i)));
                    }
                }
                Seg::Wildcard => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Seg::Filter(f) => {
                    let items: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        Value::Object(m) => m.values().collect(),
                        _ => Vec::new(),
                    };
                    next.extend(items.into_iter().filter(|item| f.accepts(item)));
                }
            }
        }
        cur = next;
    }
    cur
}

impl Filter {
    fn accepts(&self, item: &Value) -> bool {
        let found = walk(&self.path, item);
        match &self.cmp {
            None => found.iter().any(|v| !v.is_null()),
            Some((op, lit)) => found.iter().any(|v| compare(v, *op, lit)),
        }
    }
}

fn compare(v: &Value, op: Op, lit: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (v, lit) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match op {
        Op::Eq => ord == Some(Ordering::Equal),
        Op::Ne => ord != Some(Ordering::Equal),
        Op::Lt => ord == Some(Ordering::Less),
        Op::Gt => ord == Some(Ordering::Greater),
        Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, v: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(v)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn fields_indexes_wildcards_and_filters() {
        let v = json!({"status": {"conditions": [
            {"type": "Accepted", "status": "True"},
            {"type": "Ready", "status": "False"}
        ], "addresses": [{"value": "1.2.3.4"}, {"value": "5.6.7.8"}], "n": 3}});
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#, &v),
            [json!("False")]
        );
        assert_eq!(
            find(".status.addresses[*].value", &v),
            [json!("1.2.3.4"), json!("5.6.7.8")]
        );
        assert_eq!(find(".status.addresses[-1].value", &v), [json!("5.6.7.8")]);
        assert_eq!(find("{.status.n}", &v), [json!(3)]);
        assert_eq!(find("status['n']", &v), [json!(3)]);
        assert_eq!(
            find(".status.conditions[?(@.type != 'Ready')].type", &v),
            [json!("Accepted")]
        );
        assert!(find(".status.missing.deeper", &v).is_empty());
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(JsonPath::parse(".a[").is_err());
        assert!(JsonPath::parse(".a[?(@.b==)]").is_err());
        assert!(JsonPath::parse(".a[x]").is_err());
    }
}
