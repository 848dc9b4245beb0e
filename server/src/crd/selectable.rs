//! A CRD version's `selectableFields`, checked as upstream's
//! `ValidateCustomResourceSelectableFields`: each `jsonPath` is a simple path
//! (`.spec.color`, no array notation) to a `string`, `integer` or `boolean`
//! property of the version's schema, not under `metadata`, not repeated, and
//! at most 8 distinct ones. The field label clients select on is the path
//! without its leading `.` (`spec.color`).

use serde_json::Value;

use crate::error::FieldError;

/// Upstream's `MaxSelectableFields`.
pub const MAX_SELECTABLE_FIELDS: usize = 8;

/// Adds the problems of `version.selectableFields` (a version of `spec.versions`
/// at `base`, like `spec.versions[0]`) to `errs`.
pub fn validate(version: &Value, base: &str, errs: &mut Vec<FieldError>) {
    let Some(fields) = version.get("selectableFields").and_then(Value::as_array) else {
        return;
    };
    let schema = version.pointer("/schema/openAPIV3Schema");
    let path = format!("{base}.selectableFields");
    let mut unique: Vec<String> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let at = format!("{path}[{i}].jsonPath");
        let jp = f.get("jsonPath").and_then(Value::as_str).unwrap_or("");
        if jp.is_empty() {
            errs.push(FieldError::required(&at, ""));
            continue;
        }
        let (segments, found) = match walk(jp, schema) {
            Ok(x) => x,
            Err(e) => {
                errs.push(FieldError::invalid(
                    &at,
                    jp,
                    &format!("is an invalid path: {e}"),
                ));
                continue;
            }
        };
        if segments.first().map(String::as_str) == Some("metadata") {
            errs.push(FieldError::invalid(
                &at,
                jp,
                "must not point to fields in metadata",
            ));
        }
        if !matches!(
            found.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "boolean")
        ) {
            errs.push(FieldError::invalid(
                &at,
                jp,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        let key = segments.join(".");
        if unique.contains(&key) {
            errs.push(FieldError {
                reason: "FieldValueDuplicate",
                field: at,
                message: format!("Duplicate value: {}", Value::String(jp.into())),
            });
        } else {
            unique.push(key);
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errs.push(FieldError {
            reason: "FieldValueTooMany",
            field: path,
            message: format!(
                "Too many: {}: must have at most {MAX_SELECTABLE_FIELDS} items",
                unique.len()
            ),
        });
    }
}

/// Follows `.a.b.c` through the schema's `properties`; the segments and the
/// schema found, or why the path is not valid.
fn walk<'a>(jp: &str, schema: Option<&'a Value>) -> Result<(Vec<String>, &'a Value), String> {
    let Some(rest) = jp.strip_prefix('.') else {
        let c = jp.chars().next().unwrap_or(' ');
        return Err(format!("expected [ or . at position 0 but found {c}"));
    };
    if jp.contains('[') {
        return Err("array notation is not allowed".into());
    }
    let mut cur = schema.ok_or("does not refer to a valid field")?;
    let mut segments = Vec::new();
    for seg in rest.split('.') {
        if seg.is_empty() {
            return Err("must not have an empty path segment".into());
        }
        cur = cur
            .get("properties")
            .and_then(|p| p.get(seg))
            .ok_or("does not refer to a valid field")?;
        segments.push(seg.to_string());
    }
    Ok((segments, cur))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(fields: Value) -> Value {
        json!({"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": {"type": "object", "properties": {
                "color": {"type": "string", "enum": ["red", "blue"]},
                "size": {"type": "integer"},
                "branded": {"type": "boolean"},
                "weight": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
            }}}}},
            "selectableFields": fields})
    }

    fn check(fields: Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate(&version(fields), "spec.versions[0]", &mut errs);
        errs
    }

    #[test]
    fn accepts_scalar_fields() {
        assert_eq!(
            check(
                json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"}, {"jsonPath": ".spec.branded"}])
            ),
            []
        );
    }

    #[test]
    fn refuses_what_upstream_refuses() {
        let errs = check(json!([
            {"jsonPath": ""},
            {"jsonPath": ".spec.missing"},
            {"jsonPath": ".spec.weight"},
            {"jsonPath": ".spec.tags"},
            {"jsonPath": ".metadata.name"},
            {"jsonPath": ".spec.color"},
            {"jsonPath": ".spec.color"},
            {"jsonPath": "spec.size"},
            {"jsonPath": ".spec.tags[0]"},
        ]));
        let got: Vec<(String, String)> = errs
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect();
        let p = |i: usize| format!("spec.versions[0].selectableFields[{i}].jsonPath");
        let scalar = "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.";
        let expected = [
            (p(0), "Required value".to_string()),
            (
                p(1),
                "Invalid value: \".spec.missing\": is an invalid path: does not refer to a valid field".into(),
            ),
            (p(2), format!("Invalid value: \".spec.weight\": {scalar}")),
            (p(3), format!("Invalid value: \".spec.tags\": {scalar}")),
            (
                p(4),
                "Invalid value: \".metadata.name\": must not point to fields in metadata".into(),
            ),
            (p(6), "Duplicate value: \".spec.color\"".into()),
            (
                p(7),
                "Invalid value: \"spec.size\": is an invalid path: expected [ or . at position 0 but found s".into(),
            ),
            (
                p(8),
                "Invalid value: \".spec.tags[0]\": is an invalid path: array notation is not allowed".into(),
            ),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn at_most_eight() {
        let mut props = serde_json::Map::new();
        let mut fields = Vec::new();
        for i in 0..9 {
            props.insert(format!("f{i}"), json!({"type": "string"}));
            fields.push(json!({"jsonPath": format!(".spec.f{i}")}));
        }
        let v = json!({"schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": {"type": "object", "properties": props}}}}, "selectableFields": fields});
        let mut errs = Vec::new();
        validate(&v, "spec.versions[0]", &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, "FieldValueTooMany");
        assert_eq!(errs[0].field, "spec.versions[0].selectableFields");
        assert_eq!(errs[0].message, "Too many: 9: must have at most 8 items");
    }
}
