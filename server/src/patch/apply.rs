//! Server-side apply (`application/apply-patch+yaml`): merges an applied
//! configuration into the live object by the schema's list and map types,
//! tracks which manager owns which field in `metadata.managedFields`, refuses
//! to change another manager's field without `force` (409 listing each
//! conflict), and removes fields a manager stopped applying when nobody else
//! owns them.

use kapi_generated::api::meta::v1::{StatusCause, StatusDetails};
use serde_json::{Map, Value};

use super::managed_fields::{
    self, Entry, FieldSet, ListKind, atomic_map, item_key, list_kind, owned_fields, path_string,
};
use super::schema::Node;
use crate::error::ApiError;

/// One field another manager owns and the applied configuration changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager as upstream prints it: `"name"`, or `"name" using v1` for
    /// an Update entry.
    pub manager: String,
    /// The field, as `.data.k`.
    pub field: String,
}

/// A request to apply.
pub struct Apply<'a> {
    /// `fieldManager`.
    pub manager: &'a str,
    /// `force`.
    pub force: bool,
    /// The resource's apiVersion, recorded in the entry.
    pub api_version: &'a str,
    /// The time recorded in the entry.
    pub now: &'a str,
    /// The kind's schema, if any.
    pub schema: Option<Node<'a>>,
    /// The subresource applied to (`status`), recorded in the entry.
    pub subresource: Option<&'a str>,
}

/// The live object after applying `config` to it (`live` is `{}` for a
/// create), with its managedFields updated; or the conflicts.
pub fn apply(live: &Value, config: &Value, req: &Apply<'_>) -> Result<Value, Vec<Conflict>> {
    let mut config = config.clone();
    drop_nulls(&mut config);
    if let Some(m) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    let mut entries = managed_fields::read(live);
    let applied = owned_fields(&config, req.schema);
    let mut merged = merge(live, &config, req.schema);
    let changed = managed_fields::changed(&applied, Some(live), Some(&config));
    let is_self = |e: &Entry| {
        e.manager == req.manager
            && e.operation == "Apply"
            && e.subresource.as_deref() == req.subresource
    };
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !is_self(e)) {
        for p in e.fields.intersection(&changed).0 {
            conflicts.push(Conflict {
                manager: display_manager(e),
                field: path_string(&p),
            });
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(conflicts);
    }
    for e in entries.iter_mut().filter(|e| !is_self(e)) {
        e.fields = e.fields.difference(&changed);
    }
    let previous = entries
        .iter()
        .find(|e| is_self(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: FieldSet = entries
        .iter()
        .filter(|e| !is_self(e))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let mut dropped: Vec<_> = previous.difference(&applied).0.into_iter().collect();
    // Deepest first, so items go after their fields.
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        let owned_elsewhere = others.0.iter().any(|o| o.starts_with(&p));
        if !owned_elsewhere {
            managed_fields::remove(&mut merged, &p);
        }
    }
    let present = owned_fields(&merged, req.schema);
    for e in &mut entries {
        e.fields = e.fields.intersection(&present);
    }
    match entries.iter_mut().find(|e| is_self(e)) {
        Some(e) => {
            e.fields = applied;
            e.api_version = req.api_version.to_string();
            if previous != e.fields || !changed.is_empty() {
                e.time = Some(req.now.to_string());
            }
        }
        None => entries.push(Entry {
            manager: req.manager.to_string(),
            operation: "Apply".into(),
            api_version: req.api_version.to_string(),
            time: Some(req.now.to_string()),
            subresource: req.subresource.map(str::to_string),
            fields: applied,
        }),
    }
    managed_fields::write(&mut merged, &entries);
    Ok(merged)
}

/// A `null` in an applied configuration (an empty `data:` in YAML) sets
/// nothing and owns nothing.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn display_manager(e: &Entry) -> String {
    if e.operation == "Update" {
        format!("{:?} using {}", e.manager, e.api_version)
    } else {
        format!("{:?}", e.manager)
    }
}

/// Merges an applied configuration into an object: objects field by field
/// (atomic maps whole), list-type maps item by item, sets as unions, other
/// lists whole.
pub fn merge(live: &Value, config: &Value, node: Option<Node<'_>>) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !atomic_map(node) => {
            let mut out = l.clone();
            for (k, cv) in c {
                let sub = node.and_then(|n| n.field(k));
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, cv, sub),
                    None => cv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match list_kind(node) {
            ListKind::Atomic => config.clone(),
            ListKind::Set => {
                let mut out = l.clone();
                for v in c {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Map(keys) => {
                let items = node.and_then(|n| n.items());
                let mut out = l.clone();
                for cv in c {
                    let key = item_key(cv, &keys);
                    let slot = key.as_ref().and_then(|k| {
                        out.iter_mut()
                            .find(|lv| item_key(lv, &keys).as_ref() == Some(k))
                    });
                    match slot {
                        Some(lv) => *lv = merge(lv, cv, items),
                        None => out.push(cv.clone()),
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

/// The 409 upstream answers for apply conflicts.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let message = if let [c] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.field
        )
    } else {
        let mut by_manager: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        by_manager.sort();
        by_manager.dedup();
        let mut lines = Vec::new();
        for m in by_manager {
            lines.push(format!("conflicts with {m}:"));
            for c in conflicts.iter().filter(|c| c.manager == m) {
                lines.push(format!("- {}", c.field));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let mut e = ApiError::bad_request(message);
    e.code = 409;
    e.reason = "Conflict";
    e.details = Some(Box::new(StatusDetails {
        causes: Some(
            conflicts
                .iter()
                .map(|c| StatusCause {
                    reason: Some("FieldManagerConflict".into()),
                    message: Some(format!("conflict with {}", c.manager)),
                    field: Some(c.field.clone()),
                })
                .collect(),
        ),
        ..Default::default()
    }));
    e
}

/// Checks the options of an apply request as upstream's
/// `ValidatePatchOptions` does: a field manager is required.
pub fn check_manager(field_manager: Option<&str>) -> Result<&str, ApiError> {
    match field_manager.filter(|m| !m.is_empty()) {
        Some(m) => Ok(m),
        None => Err(ApiError::invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            vec![crate::error::FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )],
        )),
    }
}

/// An applied configuration must be an object naming the object.
pub fn check_config(config: &Value) -> Result<&Map<String, Value>, ApiError> {
    config
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the apply configuration must be an object"))
}

#[cfg(test)]
mod tests;
