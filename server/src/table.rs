//! Server-side printing: objects to a `meta.k8s.io/v1` Table with the
//! printer columns a resource declares, formatted as kubectl prints them.

use kapi_generated::ApiResource;
use kapi_generated::resource::ColumnSource;
use serde_json::{Value, json};

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// A PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` parameter.
    pub fn parse(s: Option<&str>) -> Result<Self, crate::error::ApiError> {
        match s {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(crate::error::ApiError::bad_request(format!(
                "includeObject must be one of None, Metadata or Object, got {other:?}"
            ))),
        }
    }
}

/// The columns of a resource: Name, then its printer columns (Age when it declares none).
pub fn column_definitions(r: &ApiResource) -> Value {
    if crate::table_events::is_events(r) {
        return crate::table_events::column_definitions();
    }
    let mut cols = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "The object's name, unique among objects of its kind in its namespace (or in the cluster)."
    })];
    if r.printer_columns.is_empty() {
        cols.push(
            json!({"name": "Age", "type": "date", "format": "", "priority": 0,
            "description": "The time since the object was created."}),
        );
    }
    for c in &r.printer_columns {
        cols.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    Value::Array(cols)
}

/// A column's value: a simple dotted path, or a JSONPath (CRD printer
/// columns); several results are joined with spaces, as kubectl prints them.
fn path_cell(obj: &Value, path: &str) -> Option<Value> {
    if !path.contains(['[', '*', '{']) {
        return at_path(obj, path).cloned();
    }
    let found = crate::jsonpath::JsonPath::parse(path).ok()?.find(obj);
    match found.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(Value::String(
            many.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        )),
    }
}

fn at_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
    {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

/// A duration as kubectl prints ages: `45s`, `5m10s`, `3h`, `2d4h`, `1y20d`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{d}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(v: Option<&Value>, now: jiff::Timestamp) -> Value {
    match v
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    {
        Some(t) => Value::String(human_duration(now.as_second() - t.as_second())),
        None => Value::String("<unknown>".into()),
    }
}

fn cells(r: &ApiResource, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    if crate::table_events::is_events(r) {
        return crate::table_events::cells(obj, now);
    }
    let mut out = vec![
        at_path(obj, ".metadata.name")
            .cloned()
            .unwrap_or(Value::Null),
    ];
    if r.printer_columns.is_empty() {
        out.push(age(at_path(obj, ".metadata.creationTimestamp"), now));
    }
    for c in &r.printer_columns {
        let cell = match &c.source {
            ColumnSource::Path(p) => path_cell(obj, p).unwrap_or(Value::Null),
            ColumnSource::Age(p) => match path_cell(obj, p) {
                Some(v) if !v.is_null() => age(Some(&v), now),
                _ => Value::Null,
            },
            ColumnSource::Count(paths) => {
                let n: usize = paths
                    .iter()
                    .filter_map(|p| at_path(obj, p))
                    .map(|v| match v {
                        Value::Object(m) => m.len(),
                        Value::Array(a) => a.len(),
                        _ => 0,
                    })
                    .sum();
                json!(n)
            }
        };
        out.push(cell);
    }
    out
}

fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => Some(partial_object_metadata(obj)),
    }
}

/// An object's `PartialObjectMetadata`.
pub fn partial_object_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A Table of `items`; `headers` false leaves out the column definitions (watch events after the first).
pub fn to_table(
    r: &ApiResource,
    items: &[Value],
    include: IncludeObject,
    headers: bool,
    list_meta: Value,
) -> Value {
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let mut row = json!({"cells": cells(r, obj, now)});
            if let Some(o) = row_object(obj, include) {
                row["object"] = o;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": if headers { column_definitions(r) } else { json!([]) },
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(130), "2m10s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(10 * 3600), "10h");
        assert_eq!(human_duration(3 * 86400 + 7200), "3d2h");
        assert_eq!(human_duration(100 * 86400), "100d");
        assert_eq!(human_duration(3 * 365 * 86400 + 86400 * 5), "3y5d");
    }

    #[test]
    fn configmap_row() {
        use kapi_generated::StaticResource;
        let r = kapi_generated::api::core::v1::ConfigMap::resource();
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        let t = to_table(
            r,
            &[obj],
            IncludeObject::Metadata,
            true,
            json!({"resourceVersion": "5"}),
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Data", "Age"]);
        assert_eq!(t["rows"][0]["cells"][0], "x");
        assert_eq!(t["rows"][0]["cells"][1], 3);
        assert!(
            t["rows"][0]["cells"][2].as_str().unwrap().ends_with('y')
                || t["rows"][0]["cells"][2].as_str().unwrap().contains('y')
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
