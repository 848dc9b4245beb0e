//! Strategic merge patch, as kube-apiserver applies it
//! (`application/strategic-merge-patch+json`): a JSON merge patch whose lists
//! are merged element by element where the schema says so
//! (`x-kubernetes-patch-strategy: merge`, by `x-kubernetes-patch-merge-key` for
//! lists of objects, as sets for lists of scalars), with the directives kubectl
//! sends: `$patch: replace|delete|merge`, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`. Where the
//! schema says nothing (unknown fields, maps of values) objects merge and lists
//! are replaced, as upstream does.

use serde_json::{Map, Value};

use super::schema::Node;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch does not apply.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SmpError {
    /// The patch is malformed (400).
    #[error("{0}")]
    BadPatch(String),
    /// The patch is well formed but does not fit the object (422).
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, SmpError>;

/// Applies `patch` to `original` using `schema` (the kind's root).
pub fn apply(original: &Value, patch: &Value, schema: Node<'_>) -> Result<Value> {
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return Err(SmpError::BadPatch(
            "invalid JSON document: a strategic merge patch and the object must be JSON objects"
                .into(),
        ));
    };
    Ok(Value::Object(merge_map(
        o.clone(),
        p.clone(),
        Some(schema),
    )?))
}

fn field<'a>(schema: Option<Node<'a>>, name: &str) -> Option<Node<'a>> {
    schema.and_then(|s| s.field(name))
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<Node<'_>>,
) -> Result<Map<String, Value>> {
    if let Some(d) = patch.remove(PATCH) {
        return match d.as_str() {
            Some("replace") => Ok(strip_directives_map(patch)),
            Some("delete") => Ok(Map::new()),
            _ => Err(SmpError::BadPatch(format!(
                "Unknown patch type: {d} in map: {}",
                Value::Object(patch)
            ))),
        };
    }
    if let Some(keys) = patch.remove(RETAIN_KEYS) {
        let Some(keys) = keys.as_array() else {
            return Err(SmpError::BadPatch(format!(
                "invalid patch: $retainKeys must be a list, got {keys}"
            )));
        };
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        for k in patch.keys() {
            if !k.starts_with('$') && !keys.contains(&k.as_str()) {
                return Err(SmpError::Invalid(format!(
                    "The patch contains fields that are not present in the retainKeys list: {k}"
                )));
            }
        }
        original.retain(|k, _| keys.contains(&k.as_str()));
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut deletes: Vec<(String, Value)> = Vec::new();
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    for (k, v) in patch {
        if let Some(f) = k.strip_prefix(SET_ORDER) {
            let Value::Array(order) = v else {
                return Err(SmpError::BadPatch(format!(
                    "invalid patch: {k} must be a list, got {v}"
                )));
            };
            orders.push((f.to_string(), order));
        } else if let Some(f) = k.strip_prefix(DELETE_PRIMITIVE) {
            deletes.push((f.to_string(), v));
        } else {
            fields.push((k, v));
        }
    }
    for (f, values) in deletes {
        let Value::Array(values) = values else {
            return Err(SmpError::BadPatch(format!(
                "invalid patch: {DELETE_PRIMITIVE}{f} must be a list, got {values}"
            )));
        };
        if let Some(Value::Array(list)) = original.get_mut(&f) {
            list.retain(|x| !values.contains(x));
        }
    }
    for (k, pv) in fields {
        let sub = field(schema, &k);
        let order = orders
            .iter()
            .find(|(f, _)| *f == k)
            .map(|(_, o)| o.as_slice());
        touched.push(k.clone());
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let merged = match (original.remove(&k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                if sub.is_some_and(|s| s.has_strategy("replace")) {
                    Value::Object(strip_directives_map(p))
                } else {
                    Value::Object(merge_map(o, p, sub)?)
                }
            }
            (None, Value::Object(p)) => Value::Object(merge_map(Map::new(), p, sub)?),
            (Some(Value::Array(o)), Value::Array(p)) => Value::Array(merge_list(o, p, sub, order)?),
            (None, Value::Array(p)) => Value::Array(merge_list(Vec::new(), p, sub, order)?),
            (_, pv) => strip_directives(pv),
        };
        original.insert(k, merged);
    }
    // An order for a list the patch does not otherwise touch only reorders it.
    for (f, order) in orders {
        if touched.contains(&f) {
            continue;
        }
        if let Some(Value::Array(list)) = original.get_mut(&f) {
            let mk = field(schema, &f).and_then(|s| s.merge_key());
            let current = std::mem::take(list);
            *list = normalize_order(current.clone(), &order, &current, mk);
        }
    }
    Ok(original)
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Option<Node<'_>>,
    order: Option<&[Value]>,
) -> Result<Vec<Value>> {
    let merging = schema.is_some_and(|s| s.has_strategy("merge"));
    if !merging {
        return Ok(patch
            .into_iter()
            .filter(|v| !is_directive_element(v))
            .map(strip_directives)
            .collect());
    }
    let items = schema.and_then(|s| s.items());
    let maps = original.iter().chain(&patch).all(Value::is_object)
        && !(original.is_empty() && patch.is_empty());
    if !maps {
        if original.iter().chain(&patch).any(Value::is_object) {
            return Err(SmpError::BadPatch(
                "invalid patch: a merged list mixes objects and other values".into(),
            ));
        }
        let mut merged: Vec<Value> = Vec::new();
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let wanted: Vec<Value> = order.map(<[Value]>::to_vec).unwrap_or(patch);
        return Ok(normalize_order(merged, &wanted, &original, None));
    }
    let Some(key) = schema.and_then(|s| s.merge_key()) else {
        return Err(SmpError::BadPatch(
            "cannot merge lists without merge key".into(),
        ));
    };
    let mut original_now = original.clone();
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        match v.get(PATCH) {
            None => plain.push(v),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let Some(kv) = v.get(key) else {
                        return Err(SmpError::BadPatch(format!(
                            "map: {v} does not contain declared merge key: {key}"
                        )));
                    };
                    original_now.retain(|o| o.get(key) != Some(kv));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(SmpError::BadPatch(
                        "merging lists cannot yet be specified in the patch".into(),
                    ));
                }
                _ => {
                    return Err(SmpError::BadPatch(format!(
                        "Unknown patch type: {d} in map: {v}"
                    )));
                }
            },
        }
    }
    if replace {
        return Ok(plain.into_iter().map(strip_directives).collect());
    }
    let mut merged = original_now;
    for p in &plain {
        let Some(kv) = p.get(key) else {
            return Err(SmpError::BadPatch(format!(
                "map: {p} does not contain declared merge key: {key}"
            )));
        };
        let pm = p.as_object().cloned().unwrap_or_default();
        match merged.iter_mut().find(|o| o.get(key) == Some(kv)) {
            Some(slot) => {
                let om = slot.as_object().cloned().unwrap_or_default();
                *slot = Value::Object(merge_map(om, pm, items)?);
            }
            None => merged.push(Value::Object(merge_map(Map::new(), pm, items)?)),
        }
    }
    let wanted: Vec<Value> = order.map(<[Value]>::to_vec).unwrap_or(plain);
    Ok(normalize_order(merged, &wanted, &original, Some(key)))
}

/// Where `v` is in `list`, comparing by merge key for objects.
fn index_of(list: &[Value], v: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(k) => {
            let kv = v.get(k)?;
            list.iter().position(|x| x.get(k) == Some(kv))
        }
        None => list.iter().position(|x| x == v),
    }
}

/// Orders a merged list as upstream does: the elements the patch names
/// (`wanted`, the `$setElementOrder` list or the patch list) in that order,
/// interleaved with the server-only elements in their original order.
fn normalize_order(
    merged: Vec<Value>,
    wanted: &[Value],
    server: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut named, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| index_of(wanted, v, key).is_some());
    named.sort_by_key(|v| index_of(wanted, v, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(named.len() + server_only.len());
    let (mut i, mut j) = (0, 0);
    while i < server_only.len() || j < named.len() {
        let take_left = if i >= server_only.len() {
            false
        } else if j >= named.len() {
            true
        } else {
            match (
                index_of(server, &server_only[i], key),
                index_of(server, &named[j], key),
            ) {
                (Some(l), Some(r)) => l < r,
                _ => false,
            }
        };
        if take_left {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            out.push(named[j].clone());
            j += 1;
        }
    }
    out
}

fn is_directive_element(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key(PATCH))
}

fn is_directive_key(k: &str) -> bool {
    k == PATCH || k == RETAIN_KEYS || k.starts_with(SET_ORDER) || k.starts_with(DELETE_PRIMITIVE)
}

fn strip_directives_map(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, _)| !is_directive_key(k))
        .map(|(k, v)| (k, strip_directives(v)))
        .collect()
}

/// A value with every directive removed (for values taken whole).
fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives_map(m)),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .filter(|v| !is_directive_element(v))
                .map(strip_directives)
                .collect(),
        ),
        v => v,
    }
}

/// The two-way strategic merge patch from `from` to `to` (what kubectl's
/// `CreateTwoWayMergePatch` computes): changed fields, `null` for removed
/// ones; lists merged by key get `$setElementOrder`, the changed and new
/// elements and `$patch: delete` for removed ones; merged scalar lists get
/// `$setElementOrder`, the new values and `$deleteFromPrimitiveList`; other
/// lists are sent whole.
pub fn diff(from: &Value, to: &Value, schema: Option<Node<'_>>) -> Value {
    match (from, to) {
        (Value::Object(f), Value::Object(t)) => Value::Object(diff_map(f, t, schema)),
        (_, to) => to.clone(),
    }
}

fn diff_map(
    f: &Map<String, Value>,
    t: &Map<String, Value>,
    schema: Option<Node<'_>>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for k in f.keys() {
        if !t.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    for (k, tv) in t {
        let sub = field(schema, k);
        let fv = f.get(k);
        if fv == Some(tv) {
            continue;
        }
        match (fv, tv) {
            (Some(Value::Object(fo)), Value::Object(to))
                if !sub.is_some_and(|s| s.has_strategy("replace")) =>
            {
                out.insert(k.clone(), Value::Object(diff_map(fo, to, sub)));
            }
            (Some(Value::Array(fl)), Value::Array(tl))
                if sub.is_some_and(|s| s.has_strategy("merge")) =>
            {
                diff_list(&mut out, k, fl, tl, sub);
            }
            (_, tv) => {
                out.insert(k.clone(), tv.clone());
            }
        }
    }
    out
}

fn diff_list(
    out: &mut Map<String, Value>,
    k: &str,
    from: &[Value],
    to: &[Value],
    schema: Option<Node<'_>>,
) {
    let key = schema.and_then(|s| s.merge_key());
    let all_maps = from.iter().chain(to).all(Value::is_object);
    match key {
        Some(key) if all_maps => {
            let order: Vec<Value> = to
                .iter()
                .filter_map(|v| v.get(key))
                .map(|kv| {
                    let mut m = Map::new();
                    m.insert(key.to_string(), kv.clone());
                    Value::Object(m)
                })
                .collect();
            let mut elems = Vec::new();
            for tv in to {
                match from.iter().find(|fv| fv.get(key) == tv.get(key)) {
                    Some(fv) if fv == tv => {}
                    Some(fv) => {
                        let mut d = diff(fv, tv, schema.and_then(|s| s.items()));
                        if let (Some(m), Some(kv)) = (d.as_object_mut(), tv.get(key)) {
                            m.insert(key.to_string(), kv.clone());
                        }
                        elems.push(d);
                    }
                    None => elems.push(tv.clone()),
                }
            }
            for fv in from {
                if let Some(kv) = fv.get(key)
                    && !to.iter().any(|tv| tv.get(key) == Some(kv))
                {
                    let mut m = Map::new();
                    m.insert(key.to_string(), kv.clone());
                    m.insert(PATCH.into(), Value::String("delete".into()));
                    elems.push(Value::Object(m));
                }
            }
            out.insert(format!("{SET_ORDER}{k}"), Value::Array(order));
            out.insert(k.to_string(), Value::Array(elems));
        }
        None if !from.iter().chain(to).any(Value::is_object) => {
            let added: Vec<Value> = to.iter().filter(|v| !from.contains(v)).cloned().collect();
            let removed: Vec<Value> = from.iter().filter(|v| !to.contains(v)).cloned().collect();
            out.insert(format!("{SET_ORDER}{k}"), Value::Array(to.to_vec()));
            if !added.is_empty() {
                out.insert(k.to_string(), Value::Array(added));
            }
            if !removed.is_empty() {
                out.insert(format!("{DELETE_PRIMITIVE}{k}"), Value::Array(removed));
            }
        }
        _ => {
            out.insert(k.to_string(), Value::Array(to.to_vec()));
        }
    }
}

#[cfg(test)]
mod tests;
