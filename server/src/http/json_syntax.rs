//! The first syntax error of a JSON text, worded as Go's `encoding/json`
//! words it. kube-apiserver reads an object body's apiVersion and kind with
//! `json.Unmarshal` before anything else, and a body that does not parse
//! fails there: its 400 message quotes Go's error (`invalid character 'a'
//! looking for beginning of value`, `unexpected end of JSON input`), which
//! scripts and kubectl's own tests match on. This is a scanner with the same
//! grammar and the same error at the same byte, kept apart from the decoder
//! kapi really uses (serde_json), which words its errors its own way.

/// Go's limit on nesting (its scanner's `maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    /// Inside an object, before a key's colon.
    ObjectKey,
    /// Inside an object, after a member's value.
    ObjectValue,
    /// Inside an array, after an element.
    ArrayValue,
}

/// Where the scanner is between two bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    /// `\u` escape with this many hex digits read.
    InStringEscU(u8),
    Neg,
    /// After a non-zero leading digit.
    Digits,
    /// After a lone `0`.
    Zero,
    Dot,
    DotDigits,
    Exp,
    ExpSign,
    ExpDigits,
    /// Inside `true`, `false` or `null`: the rest still expected.
    Literal(&'static [u8], &'static str),
}

/// Go's `quoteChar`: the byte as Go's error messages show it.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            // Go quotes the byte as the rune of the same value.
            let ch = char::from(c);
            let inner = match ch {
                '\x07' => r"\a".to_string(),
                '\x08' => r"\b".to_string(),
                '\x0c' => r"\f".to_string(),
                '\n' => r"\n".to_string(),
                '\r' => r"\r".to_string(),
                '\t' => r"\t".to_string(),
                '\x0b' => r"\v".to_string(),
                '\\' => r"\\".to_string(),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => format!(r"\x{:02x}", c as u32),
                // Not printable in Go: the C1 controls, no-break space, soft hyphen.
                c if (0x80..0xa0).contains(&(c as u32)) || c == '\u{a0}' || c == '\u{ad}' => {
                    format!(r"\u{:04x}", c as u32)
                }
                c => c.to_string(),
            };
            format!("'{inner}'")
        }
    }
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

struct Scanner {
    state: State,
    stack: Vec<Container>,
}

impl Scanner {
    fn push(&mut self, c: u8, container: Container, next: State) -> Result<(), String> {
        self.stack.push(container);
        if self.stack.len() > MAX_DEPTH {
            return Err(invalid(c, "exceeded max depth"));
        }
        self.state = next;
        Ok(())
    }

    fn begin_value(&mut self, c: u8) -> Result<(), String> {
        if is_space(c) {
            return Ok(());
        }
        match c {
            b'{' => self.push(c, Container::ObjectKey, State::BeginStringOrEmpty),
            b'[' => self.push(c, Container::ArrayValue, State::BeginValueOrEmpty),
            b'"' => {
                self.state = State::InString;
                Ok(())
            }
            b'-' => {
                self.state = State::Neg;
                Ok(())
            }
            b'0' => {
                self.state = State::Zero;
                Ok(())
            }
            b'1'..=b'9' => {
                self.state = State::Digits;
                Ok(())
            }
            b't' => {
                self.state = State::Literal(b"rue", "true");
                Ok(())
            }
            b'f' => {
                self.state = State::Literal(b"alse", "false");
                Ok(())
            }
            b'n' => {
                self.state = State::Literal(b"ull", "null");
                Ok(())
            }
            _ => Err(invalid(c, "looking for beginning of value")),
        }
    }

    fn end_value(&mut self, c: u8) -> Result<(), String> {
        let Some(top) = self.stack.last().copied() else {
            self.state = State::EndTop;
            return self.step(c);
        };
        if is_space(c) {
            self.state = State::EndValue;
            return Ok(());
        }
        match (top, c) {
            (Container::ObjectKey, b':') => {
                if let Some(t) = self.stack.last_mut() {
                    *t = Container::ObjectValue;
                }
                self.state = State::BeginValue;
                Ok(())
            }
            (Container::ObjectKey, _) => Err(invalid(c, "after object key")),
            (Container::ObjectValue, b',') => {
                if let Some(t) = self.stack.last_mut() {
                    *t = Container::ObjectKey;
                }
                self.state = State::BeginString;
                Ok(())
            }
            (Container::ObjectValue, b'}') | (Container::ArrayValue, b']') => {
                self.stack.pop();
                self.state = State::EndValue;
                Ok(())
            }
            (Container::ObjectValue, _) => Err(invalid(c, "after object key:value pair")),
            (Container::ArrayValue, b',') => {
                self.state = State::BeginValue;
                Ok(())
            }
            (Container::ArrayValue, _) => Err(invalid(c, "after array element")),
        }
    }

    fn step(&mut self, c: u8) -> Result<(), String> {
        match self.state {
            State::BeginValue => self.begin_value(c),
            State::BeginValueOrEmpty => {
                if is_space(c) {
                    Ok(())
                } else if c == b']' {
                    self.end_value(c)
                } else {
                    self.begin_value(c)
                }
            }
            State::BeginStringOrEmpty => {
                if is_space(c) {
                    Ok(())
                } else if c == b'}' {
                    if let Some(t) = self.stack.last_mut() {
                        *t = Container::ObjectValue;
                    }
                    self.end_value(c)
                } else {
                    self.state = State::BeginString;
                    self.step(c)
                }
            }
            State::BeginString => {
                if is_space(c) {
                    Ok(())
                } else if c == b'"' {
                    self.state = State::InString;
                    Ok(())
                } else {
                    Err(invalid(c, "looking for beginning of object key string"))
                }
            }
            State::EndValue => self.end_value(c),
            State::EndTop => {
                if is_space(c) {
                    Ok(())
                } else {
                    Err(invalid(c, "after top-level value"))
                }
            }
            State::InString => match c {
                b'"' => {
                    self.state = State::EndValue;
                    Ok(())
                }
                b'\\' => {
                    self.state = State::InStringEsc;
                    Ok(())
                }
                c if c < 0x20 => Err(invalid(c, "in string literal")),
                _ => Ok(()),
            },
            State::InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.state = State::InString;
                    Ok(())
                }
                b'u' => {
                    self.state = State::InStringEscU(0);
                    Ok(())
                }
                _ => Err(invalid(c, "in string escape code")),
            },
            State::InStringEscU(n) => {
                if !c.is_ascii_hexdigit() {
                    return Err(invalid(c, r"in \u hexadecimal character escape"));
                }
                self.state = if n == 3 {
                    State::InString
                } else {
                    State::InStringEscU(n + 1)
                };
                Ok(())
            }
            State::Neg => match c {
                b'0' => {
                    self.state = State::Zero;
                    Ok(())
                }
                b'1'..=b'9' => {
                    self.state = State::Digits;
                    Ok(())
                }
                _ => Err(invalid(c, "in numeric literal")),
            },
            State::Digits if c.is_ascii_digit() => Ok(()),
            State::Digits | State::Zero => match c {
                b'.' => {
                    self.state = State::Dot;
                    Ok(())
                }
                b'e' | b'E' => {
                    self.state = State::Exp;
                    Ok(())
                }
                _ => self.end_value(c),
            },
            State::Dot => {
                if c.is_ascii_digit() {
                    self.state = State::DotDigits;
                    Ok(())
                } else {
                    Err(invalid(c, "after decimal point in numeric literal"))
                }
            }
            State::DotDigits => match c {
                b'0'..=b'9' => Ok(()),
                b'e' | b'E' => {
                    self.state = State::Exp;
                    Ok(())
                }
                _ => self.end_value(c),
            },
            State::Exp => {
                self.state = State::ExpSign;
                if c == b'+' || c == b'-' {
                    Ok(())
                } else {
                    self.step(c)
                }
            }
            State::ExpSign => {
                if c.is_ascii_digit() {
                    self.state = State::ExpDigits;
                    Ok(())
                } else {
                    Err(invalid(c, "in exponent of numeric literal"))
                }
            }
            State::ExpDigits => {
                if c.is_ascii_digit() {
                    Ok(())
                } else {
                    self.end_value(c)
                }
            }
            State::Literal(rest, word) => {
                let Some((&want, more)) = rest.split_first() else {
                    return self.end_value(c);
                };
                if c != want {
                    let expecting = format!("in literal {word} (expecting {})", quote_char(want));
                    return Err(invalid(c, &expecting));
                }
                if more.is_empty() {
                    self.state = State::EndValue;
                } else {
                    self.state = State::Literal(more, word);
                }
                Ok(())
            }
        }
    }
}

/// Go's error for `data`, or None when it is one valid JSON value.
pub fn syntax_error(data: &[u8]) -> Option<String> {
    let mut s = Scanner {
        state: State::BeginValue,
        stack: Vec::new(),
    };
    for &c in data {
        if let Err(e) = s.step(c) {
            return Some(e);
        }
    }
    // At the end Go feeds one space: a number or literal then ends.
    if s.state != State::EndTop {
        match s.step(b' ') {
            Err(e) => return Some(e),
            Ok(()) if s.state == State::EndTop => {}
            Ok(()) => return Some("unexpected end of JSON input".into()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::syntax_error;

    #[test]
    fn valid_documents_have_no_error() {
        for ok in [
            r#"{}"#,
            r#" {"a": [1, -2.5e+3, 0, true, false, null, "x\u00e9\n"]} "#,
            "[]",
            "0",
            "-0.1E5",
            r#""s""#,
        ] {
            assert_eq!(syntax_error(ok.as_bytes()), None, "{ok}");
        }
    }

    #[test]
    fn errors_read_as_go_words_them() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "unexpected end of JSON input"),
            (b"{", "unexpected end of JSON input"),
            (b"{\"a\":1", "unexpected end of JSON input"),
            (
                b"apiVersion: v1\nkind: Namespace\n",
                "invalid character 'a' looking for beginning of value",
            ),
            (
                b"{bad",
                "invalid character 'b' looking for beginning of object key string",
            ),
            (
                b"{]",
                "invalid character ']' looking for beginning of object key string",
            ),
            (b"{\"a\" 1}", "invalid character '1' after object key"),
            (
                b"{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            (b"[1 2]", "invalid character '2' after array element"),
            (b"{} x", "invalid character 'x' after top-level value"),
            (b"\"a\nb\"", r"invalid character '\n' in string literal"),
            (b"\"\\q\"", "invalid character 'q' in string escape code"),
            (
                b"\"\\u12g4\"",
                r"invalid character 'g' in \u hexadecimal character escape",
            ),
            (b"-x", "invalid character 'x' in numeric literal"),
            (
                b"1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                b"1e+x",
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                b"tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            (b"-", "invalid character ' ' in numeric literal"),
            (b"\"open", "unexpected end of JSON input"),
            (
                b"trux",
                "invalid character 'x' in literal true (expecting 'e')",
            ),
            (
                b"nul1",
                "invalid character '1' in literal null (expecting 'l')",
            ),
            (b"[01]", "invalid character '1' after array element"),
            (
                b"{'a':1}",
                r"invalid character '\'' looking for beginning of object key string",
            ),
            (
                b"\x01",
                r"invalid character '\x01' looking for beginning of value",
            ),
            (
                b"\xc3",
                "invalid character 'Ã' looking for beginning of value",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                syntax_error(input).as_deref(),
                Some(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn nesting_beyond_go_limit_is_an_error() {
        let deep = "[".repeat(10_001);
        assert_eq!(
            syntax_error(deep.as_bytes()).as_deref(),
            Some("invalid character '[' exceeded max depth")
        );
        let ok = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(syntax_error(ok.as_bytes()), None);
    }
}
