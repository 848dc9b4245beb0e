//! Duplicate fields in a JSON or YAML body, for `fieldValidation`: parsing
//! into a `Value` keeps the last of repeated keys silently, so the raw body
//! is walked once more, recording each repeated key by its path
//! (`metadata.name`, `spec.items[0].x`), as upstream's strict decoder names them.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

struct Walk<'a> {
    path: String,
    out: &'a RefCell<Vec<String>>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<Value>()? {
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let path = join(&self.path, &key);
            if !seen.insert(key) {
                self.out.borrow_mut().push(path.clone());
            }
            map.next_value_seed(Walk {
                path,
                out: self.out,
            })?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Walk {
                path: format!("{}[{i}]", self.path),
                out: self.out,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// The paths of repeated keys in a body already known to parse (`yaml`
/// selects the YAML parser); a body that does not parse reports none.
pub fn find(yaml: bool, bytes: &[u8]) -> Vec<String> {
    let out = RefCell::new(Vec::new());
    let walk = Walk {
        path: String::new(),
        out: &out,
    };
    let ok = if yaml {
        std::str::from_utf8(bytes).ok().is_some_and(|text| {
            walk.deserialize(serde_yaml_ng::Deserializer::from_str(text))
                .is_ok()
        })
    } else {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        walk.deserialize(&mut de).is_ok()
    };
    if ok { out.into_inner() } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_duplicates_by_path() {
        let body =
            br#"{"kind":"ConfigMap","data":{"a":"1","a":"2"},"kind":"x","items":[{"n":1,"n":2}]}"#;
        assert_eq!(find(false, body), ["data.a", "kind", "items[0].n"]);
        assert!(find(false, br#"{"a":{"b":1},"c":{"b":2}}"#).is_empty());
    }

    #[test]
    fn yaml_duplicates_by_path() {
        let body = b"kind: ConfigMap\ndata:\n  a: \"1\"\n  a: \"2\"\nmetadata:\n  name: x\n";
        assert_eq!(find(true, body), ["data.a"]);
    }

    #[test]
    fn unparsable_reports_nothing() {
        assert!(find(false, b"{").is_empty());
    }
}
