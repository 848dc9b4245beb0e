//! Stage 1: find the schema files under `api-defs/` and read each one as an
//! OpenAPI 3.0 document (`openapiv3`), keeping the raw JSON value beside it
//! for the OpenAPI the server publishes.

use std::path::{Path, PathBuf};

use crate::error::{Error, pointer_token};

/// One schema file, read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The group (`""` for the core group) taken from the path.
    pub group: String,
    /// The version taken from the file name.
    pub version: String,
    /// Path shown in messages and headers, e.g. `api-defs/core/v1.yaml`.
    pub display_path: String,
    /// The document as parsed by `openapiv3`.
    pub doc: openapiv3::OpenAPI,
    /// The same document as a plain JSON value.
    pub raw: serde_json::Value,
}

/// Lists the schema files of an api-defs directory: `<dir>/<group>/<version>.yaml`, sorted.
pub fn find_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(&shown, None, format!("cannot read directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::new(&shown, None, e.to_string()))?;
        let group_dir = entry.path();
        if !group_dir.is_dir() {
            continue;
        }
        let inner = std::fs::read_dir(&group_dir).map_err(|e| {
            Error::new(
                group_dir.display().to_string(),
                None,
                format!("cannot read directory: {e}"),
            )
        })?;
        for f in inner {
            let f =
                f.map_err(|e| Error::new(group_dir.display().to_string(), None, e.to_string()))?;
            let p = f.path();
            if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The name a file is shown by: `api-defs/<group>/<file>` (the last three path components).
pub fn display_path(path: &Path) -> String {
    let parts: Vec<_> = path
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let n = parts.len();
    if n >= 3 {
        parts[n - 3..].join("/")
    } else {
        path.display().to_string()
    }
}

/// Reads and parses one schema file.
pub fn read_file(path: &Path) -> Result<SourceFile, Error> {
    let display = display_path(path);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(&display, None, format!("cannot read: {e}")))?;
    parse_text(&display, &text)
}

/// Parses a schema file's text; `display_path` must be `<anything>/<group>/<version>.yaml`.
pub fn parse_text(display_path: &str, text: &str) -> Result<SourceFile, Error> {
    let (group, version) = group_version_of(display_path)?;
    let raw: serde_json::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| Error::new(display_path, None, format!("invalid YAML: {e}")))?;
    if !raw.is_object() {
        return Err(Error::at(
            display_path,
            "#",
            "the document must be a mapping",
        ));
    }
    // openapiv3 reads a schema with an unknown `type` as "any value" instead of
    // failing, so unknown types are looked for before it sees the document.
    if let Some((pointer, message)) = find_unknown_type(&raw) {
        return Err(Error::at(display_path, &pointer, message));
    }
    let doc: openapiv3::OpenAPI = match serde_json::from_value(raw.clone()) {
        Ok(doc) => doc,
        Err(e) => return Err(locate_parse_error(display_path, &raw, e)),
    };
    if !doc.openapi.starts_with("3.0") {
        return Err(Error::at(
            display_path,
            "#/openapi",
            format!(
                "only OpenAPI 3.0 documents are supported, found {:?}",
                doc.openapi
            ),
        ));
    }
    Ok(SourceFile {
        group,
        version,
        display_path: display_path.to_string(),
        doc,
        raw,
    })
}

fn group_version_of(display_path: &str) -> Result<(String, String), Error> {
    let mut parts = display_path.rsplit('/');
    let file = parts.next().unwrap_or_default();
    let dir = parts.next().unwrap_or_default();
    let version = file.trim_end_matches(".yaml").trim_end_matches(".yml");
    if dir.is_empty() || version.is_empty() || version == file {
        return Err(Error::new(
            display_path,
            None,
            "schema files must be named api-defs/<group>/<version>.yaml",
        ));
    }
    if !is_version(version) {
        return Err(Error::new(
            display_path,
            None,
            format!("{version:?} is not a Kubernetes API version (v1, v1beta1, v2alpha3, ...)"),
        ));
    }
    let group = if dir == "core" {
        String::new()
    } else {
        dir.to_string()
    };
    Ok((group, version.to_string()))
}

fn is_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.starts_with('0') {
        return false;
    }
    let rest = &rest[digits.len()..];
    if rest.is_empty() {
        return true;
    }
    for stage in ["alpha", "beta"] {
        if let Some(n) = rest.strip_prefix(stage) {
            return !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0');
        }
    }
    false
}

const KNOWN_TYPES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];

/// The first schema under `components.schemas` whose `type` is not an OpenAPI 3.0 type.
fn find_unknown_type(raw: &serde_json::Value) -> Option<(String, String)> {
    let schemas = raw.pointer("/components/schemas")?.as_object()?;
    schemas.iter().find_map(|(name, schema)| {
        unknown_type_in(
            &format!("#/components/schemas/{}", pointer_token(name)),
            schema,
        )
    })
}

fn unknown_type_in(ptr: &str, value: &serde_json::Value) -> Option<(String, String)> {
    let obj = value.as_object()?;
    if let Some(t) = obj.get("type")
        && !t.as_str().is_some_and(|t| KNOWN_TYPES.contains(&t))
    {
        return Some((
            format!("{ptr}/type"),
            format!(
                "unknown type {t}; expected one of {}",
                KNOWN_TYPES.join(", ")
            ),
        ));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(props) = obj.get(key).and_then(|p| p.as_object()) {
            for (name, sub) in props {
                let p = format!("{ptr}/{key}/{}", pointer_token(name));
                if let Some(found) = unknown_type_in(&p, sub) {
                    return Some(found);
                }
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get(key)
            && let Some(found) = unknown_type_in(&format!("{ptr}/{key}"), sub)
        {
            return Some(found);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = obj.get(key).and_then(|l| l.as_array()) {
            for (i, sub) in list.iter().enumerate() {
                if let Some(found) = unknown_type_in(&format!("{ptr}/{key}/{i}"), sub) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// openapiv3's untagged enums give poor errors; find the deepest schema that
/// does not parse on its own and report its location.
fn locate_parse_error(file: &str, raw: &serde_json::Value, err: serde_json::Error) -> Error {
    if let Some(schemas) = raw
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
    {
        for (name, schema) in schemas {
            let ptr = format!("#/components/schemas/{}", pointer_token(name));
            if let Some(found) = deepest_bad_schema(&ptr, schema) {
                return Error::at(file, &found.0, found.1);
            }
        }
    }
    Error::new(
        file,
        None,
        format!("not a valid OpenAPI 3.0 document: {err}"),
    )
}

fn deepest_bad_schema(ptr: &str, value: &serde_json::Value) -> Option<(String, String)> {
    if let Some(obj) = value.as_object() {
        // Children first, so that the innermost failure wins.
        for key in ["properties", "patternProperties"] {
            if let Some(props) = obj.get(key).and_then(|p| p.as_object()) {
                for (name, sub) in props {
                    let p = format!("{ptr}/{key}/{}", pointer_token(name));
                    if let Some(found) = deepest_bad_schema(&p, sub) {
                        return Some(found);
                    }
                }
            }
        }
        for key in ["items", "additionalProperties", "not"] {
            if let Some(sub) = obj.get(key).filter(|s| s.is_object())
                && let Some(found) = deepest_bad_schema(&format!("{ptr}/{key}"), sub)
            {
                return Some(found);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = obj.get(key).and_then(|l| l.as_array()) {
                for (i, sub) in list.iter().enumerate() {
                    if let Some(found) = deepest_bad_schema(&format!("{ptr}/{key}/{i}"), sub) {
                        return Some(found);
                    }
                }
            }
        }
        if obj.contains_key("$ref") {
            return None;
        }
    }
    match serde_json::from_value::<openapiv3::Schema>(value.clone()) {
        Ok(_) => None,
        Err(e) => Some((ptr.to_string(), format!("not a valid schema: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["v1", "v2", "v1beta1", "v1alpha2", "v10"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in ["1", "v0", "v1beta", "v1gamma1", "vx", "v01"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn group_from_path() {
        assert_eq!(
            group_version_of("api-defs/core/v1.yaml").unwrap(),
            ("".into(), "v1".into())
        );
        assert_eq!(
            group_version_of("api-defs/example.com/v1beta1.yaml").unwrap(),
            ("example.com".into(), "v1beta1".into())
        );
        assert!(group_version_of("v1.yaml").is_err());
    }

    #[test]
    fn bad_type_is_located() {
        let text = "openapi: 3.0.0\ninfo: {title: t, version: v1}\npaths: {}\ncomponents:\n  schemas:\n    A:\n      type: object\n      properties:\n        b: {type: strng}\n";
        let err = parse_text("api-defs/core/v1.yaml", text).unwrap_err();
        assert_eq!(
            err.pointer.as_deref(),
            Some("#/components/schemas/A/properties/b/type")
        );
        assert!(err.to_string().starts_with(
            "api-defs/core/v1.yaml: #/components/schemas/A/properties/b/type: unknown type"
        ));
    }
}
