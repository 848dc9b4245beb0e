//! Server-side apply (`application/apply-patch+yaml`): merges an applied
//! configuration into the live object by the schema's list and map types,
//! tracks which manager owns which field in `metadata.managedFields`, refuses
//! to change another manager's field without `force` (409 listing each
//! conflict), and removes fields a manager stopped applying when nobody else
//! owns them.

use kapi_generated::api::meta::v1::{StatusCause, StatusDetails};
use serde_json::{Map, Value};

pub use super::managed_fields::Conflict;
use super::managed_fields::{
    self, APPLY, Entry, FieldSet, ListKind, Write, atomic_map, item_key, list_kind, strip,
    to_field_set,
};
use super::schema::Node;
use crate::error::ApiError;

/// A request to apply.
pub struct Apply<'a> {
    /// `fieldManager`.
    pub manager: &'a str,
    /// `force`.
    pub force: bool,
    /// The kind applied to (with `write.api_version`, what the configuration
    /// must say it is).
    pub kind: &'a str,
    /// The write, as the field manager sees it.
    pub write: Write<'a>,
    /// The kind's empty object (what upstream's `before-first-apply` entry
    /// is compared with).
    pub zero: &'a Value,
}

/// Why an apply is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Fields other managers own and the configuration changes (409).
    Conflicts(Vec<Conflict>),
    /// A configuration that cannot be applied (400).
    BadRequest(String),
    /// The field manager failed (500).
    Internal(String),
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Conflicts(c) => conflict_error(&c),
            ApplyError::BadRequest(m) => ApiError::bad_request(m),
            ApplyError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// The kubectl client-side apply annotation.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Upstream's `GroupVersionKind.String()` of a configuration's apiVersion and kind.
fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [v] => ("", *v),
        [g, v] => (*g, *v),
        _ => ("", ""),
    };
    format!("{group}/{version}, Kind={kind}")
}

/// The live object after applying `config` to it (`live` is the kind's empty
/// object for a create), with its managedFields updated; or why not. As
/// upstream's field manager: the configuration must be of the served kind
/// and version and carry no managedFields; an object nobody tracked yet gets
/// a `before-first-apply` entry for what it holds; the applier owns exactly
/// the configuration's fields (less reset ones); fields it applied before
/// and no longer applies are removed when nobody else owns them; other
/// managers owning what changes conflict unless `force` (for the manager
/// `kubectl`, fields its client-side apply set as they are now do not
/// conflict); the entry's time only moves when the object changes.
pub fn apply(live: &Value, config: &Value, req: &Apply<'_>) -> Result<Value, ApplyError> {
    let w = &req.write;
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or("");
    if text("apiVersion") != w.api_version || text("kind") != req.kind {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {}",
            gvk_string(text("apiVersion"), text("kind"))
        )));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let mut entries = managed_fields::read(live)
        .map_err(|e| ApplyError::Internal(format!("failed to decode managed fields: {}", e.0)))?;
    if entries.is_empty() {
        entries = managed_fields::before_first_apply(req.zero, live, w);
    }
    let result = match apply_once(live, config, entries.clone(), req.force, req, w) {
        Err(ApplyError::Conflicts(found)) if req.manager == "kubectl" => {
            // Conflicts on fields kubectl's client-side apply set (as they still
            // are) are forced (upstream `lastAppliedManager`).
            let allowed = allowed_by_last_applied(live, w);
            let left: Vec<Conflict> = found
                .iter()
                .filter(|c| {
                    !allowed
                        .iter()
                        .any(|p| managed_fields::path_string(p) == c.field)
                })
                .cloned()
                .collect();
            if allowed.is_empty() || !left.is_empty() {
                let left = if allowed.is_empty() { found } else { left };
                return Err(ApplyError::Conflicts(left));
            }
            apply_once(live, config, entries, true, req, w)
        }
        other => other,
    };
    let mut object = result?;
    // kubectl's server-side apply keeps its client-side annotation in step
    // (upstream `lastAppliedUpdater`).
    if req.manager == "kubectl"
        && let Some(ann) = object
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        && ann
            .get(LAST_APPLIED)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    {
        let mut last = config.clone();
        if let Some(a) = last
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.remove(LAST_APPLIED);
        }
        ann.insert(LAST_APPLIED.into(), Value::String(go_json(&last)));
    }
    Ok(object)
}

/// JSON as Go's `json.Encoder` writes it (the annotation upstream builds
/// with `runtime.Encode`): keys sorted, `<`, `>`, `&`, U+2028 and U+2029
/// escaped, a newline at the end.
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// The fields of kubectl's last client-side apply that still hold the value
/// it set (upstream `allowedConflictsFromLastApplied`); empty without the annotation.
fn allowed_by_last_applied(live: &Value, w: &Write<'_>) -> Vec<Vec<String>> {
    let Some(last) = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    else {
        return Vec::new();
    };
    if last.get("apiVersion").and_then(Value::as_str) != Some(w.api_version) {
        return Vec::new();
    }
    let Ok(cmp) = managed_fields::compare(Some(&last), Some(live), w.schema) else {
        return Vec::new();
    };
    to_field_set(&last, w.schema)
        .difference(&cmp.modified)
        .difference(&cmp.added)
        .difference(&cmp.removed)
        .0
        .into_iter()
        .collect()
}

/// Whether `path` is a key field of a list-map item (`...k:{"name":..}.f:name`),
/// which stays as long as its item does.
fn is_item_key(path: &[String]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(keys), Some(field)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(keys).is_ok_and(|k| k.contains_key(field))
}

fn apply_once(
    live: &Value,
    config: &Value,
    entries: Vec<Entry>,
    force: bool,
    req: &Apply<'_>,
    w: &Write<'_>,
) -> Result<Value, ApplyError> {
    let mut merged = merge(live, config, w.schema);
    let applied = to_field_set(config, w.schema).recursive_difference(w.reset);
    let is_me = |e: &Entry| e.is(req.manager, APPLY, w.api_version, w.subresource);
    let previous = entries
        .iter()
        .find(|e| is_me(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    // Prune what the applier stopped applying, unless someone (the applier
    // included) still owns it or something in it.
    let owned: FieldSet = entries
        .iter()
        .filter(|e| !is_me(e))
        .fold(applied.clone(), |acc, e| acc.union(&e.fields));
    let mut dropped: Vec<_> = previous.difference(&applied).0.into_iter().collect();
    // Shallowest first: an item nobody owns goes whole, before its fields
    // are looked for (which then are gone with it).
    dropped.sort_by_key(Vec::len);
    for p in dropped {
        if owned.0.iter().any(|o| o.starts_with(&p)) || is_item_key(&p) {
            continue;
        }
        managed_fields::remove(&mut merged, &p);
    }
    let me = Entry {
        manager: req.manager.to_string(),
        operation: APPLY.into(),
        api_version: w.api_version.to_string(),
        time: None,
        subresource: w.subresource.map(str::to_string),
        fields: applied,
    };
    let mut entries = managed_fields::apply_entries(entries, me, live, &merged, force, w).map_err(
        |e| match e {
            managed_fields::ApplyFailure::Conflicts(c) => ApplyError::Conflicts(c),
            managed_fields::ApplyFailure::Compare(m) => ApplyError::Internal(m),
        },
    )?;
    let changed = merged != *live;
    for e in entries.iter_mut().filter(|e| is_me(e)) {
        e.fields = strip(&e.fields);
        if changed {
            e.time = Some(w.now.to_string());
        }
    }
    entries.retain(|e| !(is_me(e) && e.fields.is_empty()));
    let mut object = if changed { merged } else { live.clone() };
    managed_fields::write(&mut object, &entries);
    Ok(object)
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
        // A `null` leaves a granular map or list with content as it is
        // (upstream's merge walks the live side's members alone).
        (Value::Object(l), Value::Null) if !atomic_map(node) && !l.is_empty() => live.clone(),
        (Value::Array(l), Value::Null) if list_kind(node) != ListKind::Atomic && !l.is_empty() => {
            live.clone()
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
        // Grouped by manager, managers in the order of their identifiers.
        let mut by_manager: Vec<(&str, &str)> = conflicts
            .iter()
            .map(|c| (c.identifier.as_str(), c.manager.as_str()))
            .collect();
        by_manager.sort();
        by_manager.dedup();
        let mut lines = Vec::new();
        for (id, m) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            for c in conflicts.iter().filter(|c| c.identifier == id) {
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
