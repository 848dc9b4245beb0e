//! Field sets and `metadata.managedFields` in upstream's `FieldsV1` format.
//!
//! A field set is a set of paths; a path element is written as FieldsV1 writes
//! it: `f:<name>` (an object field), `k:<json object>` (an item of a list-type
//! map, by its keys), `v:<json>` (an item of a list-type set) or `i:<n>`. In
//! FieldsV1 a path is nested objects; a path that is itself in the set and has
//! children in it carries `".": {}`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::schema::Node;

/// One path in an object.
pub type Path = Vec<String>;

/// A set of paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// How a list is merged by apply and how its items are addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced whole, owned as one field.
    Atomic,
    /// Items are scalars, each owned alone.
    Set,
    /// Items are objects, identified by these keys.
    Map(Vec<String>),
}

/// The list semantics of a schema node: `x-kubernetes-list-type`, or for
/// schemas that only carry patch metadata, the patch strategy and merge key.
pub fn list_kind(node: Option<Node<'_>>) -> ListKind {
    let Some(n) = node else {
        return ListKind::Atomic;
    };
    match n.list_type() {
        Some("set") => ListKind::Set,
        Some("map") => {
            let keys: Vec<String> = n.list_map_keys().into_iter().map(str::to_string).collect();
            if keys.is_empty() {
                ListKind::Atomic
            } else {
                ListKind::Map(keys)
            }
        }
        Some(_) => ListKind::Atomic,
        None if n.has_strategy("merge") => match n.merge_key() {
            Some(k) => ListKind::Map(vec![k.to_string()]),
            None => ListKind::Set,
        },
        None => ListKind::Atomic,
    }
}

/// Whether an object at this node is atomic (`x-kubernetes-map-type: atomic`).
pub fn atomic_map(node: Option<Node<'_>>) -> bool {
    node.is_some_and(|n| n.map_type() == Some("atomic"))
}

/// The `k:` element of a list-map item, or None when it lacks a key.
pub fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let mut m = Map::new();
    for k in keys {
        m.insert(k.clone(), item.get(k)?.clone());
    }
    // serde_json's Map is ordered by key, as upstream writes keys.
    Some(format!("k:{}", Value::Object(m)))
}

/// The `v:` element of a set item.
pub fn value_key(item: &Value) -> String {
    format!("v:{item}")
}

/// Every leaf field of `v` (and every list item) as apply owns them.
pub fn of_value(v: &Value, node: Option<Node<'_>>) -> FieldSet {
    let mut out = FieldSet::default();
    walk(v, node, &mut Vec::new(), &mut out);
    out
}

fn walk(v: &Value, node: Option<Node<'_>>, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() && !atomic_map(node) => {
            for (k, child) in m {
                path.push(format!("f:{k}"));
                walk(child, node.and_then(|n| n.field(k)), path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match list_kind(node) {
            ListKind::Atomic => {
                out.0.insert(path.clone());
            }
            ListKind::Set => {
                for item in items {
                    path.push(value_key(item));
                    out.0.insert(path.clone());
                    path.pop();
                }
            }
            ListKind::Map(keys) => {
                let item_node = node.and_then(|n| n.items());
                for item in items {
                    let Some(key) = item_key(item, &keys) else {
                        continue;
                    };
                    path.push(key);
                    out.0.insert(path.clone());
                    walk(item, item_node, path, out);
                    path.pop();
                }
            }
        },
        _ => {
            if !path.is_empty() {
                out.0.insert(path.clone());
            }
        }
    }
}

/// The paths of `set` whose fields differ between `a` and `b`, as upstream's
/// comparison sees them: a list-map item (`k:` path) whose fields are paths
/// of their own in `set` is compared by those fields, so only its presence
/// counts; every other path (leaves, atomic lists and maps, atomic items,
/// set items) by value.
pub fn changed(set: &FieldSet, a: Option<&Value>, b: Option<&Value>) -> FieldSet {
    FieldSet(
        set.0
            .iter()
            .filter(|p| {
                let (x, y) = (a.and_then(|v| get(v, p)), b.and_then(|v| get(v, p)));
                if x.is_none() || y.is_none() {
                    return x.is_some() || y.is_some();
                }
                let container = p.last().is_some_and(|el| el.starts_with("k:"))
                    && set
                        .0
                        .range::<Path, _>((
                            std::ops::Bound::Excluded(*p),
                            std::ops::Bound::Unbounded,
                        ))
                        .next()
                        .is_some_and(|next| next.starts_with(p));
                !container && x != y
            })
            .cloned()
            .collect(),
    )
}

/// The value at `path` in `v`.
pub fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for el in path {
        cur = step(cur, el)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, el: &str) -> Option<&'a Value> {
    if let Some(f) = el.strip_prefix("f:") {
        return cur.get(f);
    }
    let items = cur.as_array()?;
    if let Some(k) = el.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        return items
            .iter()
            .find(|i| want.iter().all(|(k, v)| i.get(k) == Some(v)));
    }
    if let Some(val) = el.strip_prefix("v:") {
        let want: Value = serde_json::from_str(val).ok()?;
        return items.iter().find(|i| **i == want);
    }
    let i: usize = el.strip_prefix("i:")?.parse().ok()?;
    items.get(i)
}

/// Removes the field at `path` from `v` (an object member or a list item);
/// objects left empty by the removal are removed too, up to `v`.
pub fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = &mut *v;
    for el in parent {
        let next = match step_index(cur, el) {
            Some(Slot::Field(f)) => cur.get_mut(f.as_str()),
            Some(Slot::Index(i)) => cur.get_mut(i),
            None => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match step_index(cur, last) {
        Some(Slot::Field(f)) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(&f);
            }
        }
        Some(Slot::Index(i)) => {
            if let Some(a) = cur.as_array_mut() {
                a.remove(i);
            }
        }
        None => return,
    }
    // Drop a map or list the removal emptied (as upstream, which removes a
    // map or list whose every member was removed), but never the root.
    let emptied = get(v, parent).is_some_and(|p| match p {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    });
    if emptied && !parent.is_empty() {
        remove(v, parent);
    }
}

enum Slot {
    Field(String),
    Index(usize),
}

fn step_index(cur: &Value, el: &str) -> Option<Slot> {
    if let Some(f) = el.strip_prefix("f:") {
        return cur.get(f).map(|_| Slot::Field(f.to_string()));
    }
    let items = cur.as_array()?;
    let target = step(cur, el)?;
    items
        .iter()
        .position(|i| std::ptr::eq(i, target))
        .map(Slot::Index)
}

impl FieldSet {
    /// Whether the set has no path.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Paths in both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Paths in self and not in other.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Paths in either.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// Without the paths under any of `prefixes` (and the prefixes themselves).
    pub fn without_prefixes(&self, prefixes: &[&[&str]]) -> FieldSet {
        FieldSet(
            self.0
                .iter()
                .filter(|p| {
                    !prefixes.iter().any(|pre| {
                        p.len() >= pre.len() && p.iter().zip(pre.iter()).all(|(a, b)| a == b)
                    })
                })
                .cloned()
                .collect(),
        )
    }

    /// The set in FieldsV1 form.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Tree {
            owned: bool,
            children: std::collections::BTreeMap<String, Tree>,
        }
        fn to_value(t: &Tree) -> Value {
            let mut m = Map::new();
            if t.owned && !t.children.is_empty() {
                m.insert(".".into(), Value::Object(Map::new()));
            }
            for (k, c) in &t.children {
                m.insert(k.clone(), to_value(c));
            }
            Value::Object(m)
        }
        let mut root = Tree::default();
        for path in &self.0 {
            let mut cur = &mut root;
            for el in path {
                cur = cur.children.entry(el.clone()).or_default();
            }
            cur.owned = true;
        }
        root.owned = false;
        to_value(&root)
    }

    /// A set from FieldsV1.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        fn go(v: &Value, path: &mut Path, out: &mut FieldSet) {
            let Some(m) = v.as_object() else { return };
            if m.is_empty() && !path.is_empty() {
                out.0.insert(path.clone());
            }
            for (k, child) in m {
                if k == "." {
                    out.0.insert(path.clone());
                    continue;
                }
                path.push(k.clone());
                go(child, path, out);
                path.pop();
            }
        }
        go(v, &mut Vec::new(), &mut out);
        out
    }
}

/// Upstream's text for a path: `.data.k`, `.spec.containers[name="a"].image`,
/// `.metadata.finalizers[="x"]`.
pub fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`: `Apply` or `Update`.
    pub operation: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `time`.
    pub time: Option<String>,
    /// `subresource`.
    pub subresource: Option<String>,
    /// The fields.
    pub fields: FieldSet,
}

/// The entries of an object's `metadata.managedFields`.
pub fn read(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Entry {
                manager: s("manager").unwrap_or_default(),
                operation: s("operation")?,
                api_version: s("apiVersion").unwrap_or_default(),
                time: s("time"),
                subresource: s("subresource"),
                fields: e
                    .get("fieldsV1")
                    .map(FieldSet::from_fields_v1)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes `entries` as `metadata.managedFields` (removed when empty);
/// entries that own nothing are dropped, as upstream drops them.
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut m = Map::new();
            m.insert("manager".into(), Value::String(e.manager.clone()));
            m.insert("operation".into(), Value::String(e.operation.clone()));
            m.insert("apiVersion".into(), Value::String(e.api_version.clone()));
            if let Some(t) = &e.time {
                m.insert("time".into(), Value::String(t.clone()));
            }
            m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
            m.insert("fieldsV1".into(), e.fields.to_fields_v1());
            if let Some(s) = &e.subresource {
                m.insert("subresource".into(), Value::String(s.clone()));
            }
            Value::Object(m)
        })
        .collect();
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Fields the server sets or that identify the object: never owned.
pub const UNOWNED: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:resourceVersion"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:deletionTimestamp"],
    &["f:metadata", "f:deletionGracePeriodSeconds"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:managedFields"],
];

/// The owned fields of an object (or applied configuration).
pub fn owned_fields(v: &Value, node: Option<Node<'_>>) -> FieldSet {
    let mut set = of_value(v, node).without_prefixes(UNOWNED);
    // An emptied `metadata: {}` is not a field anybody owns.
    set.0.remove(&vec!["f:metadata".to_string()]);
    set
}

/// Records an update (PUT, non-apply PATCH, create) by `manager`: the fields
/// it changed become its own (operation `Update`) and no longer anyone
/// else's; fields gone from the object leave every entry.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    node: Option<Node<'_>>,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    now: &str,
) {
    // managedFields the request itself changes are taken as given (as
    // upstream does, e.g. kubectl's client-side to server-side migration).
    let sent = new.pointer("/metadata/managedFields");
    let before = old.and_then(|o| o.pointer("/metadata/managedFields"));
    let mut entries = if sent.is_some() && sent != before {
        read(new)
    } else {
        old.map(read).unwrap_or_default()
    };
    let now_fields = owned_fields(new, node);
    let changed = changed(&now_fields, old, Some(new));
    for e in &mut entries {
        e.fields = e.fields.intersection(&now_fields);
        if !(e.manager == manager && e.operation == "Update") {
            e.fields = e.fields.difference(&changed);
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update")
    {
        Some(e) => {
            if !changed.is_empty() {
                e.time = Some(now.to_string());
            }
            e.fields = e.fields.union(&changed);
            e.api_version = api_version.to_string();
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: "Update".into(),
            api_version: api_version.to_string(),
            time: Some(now.to_string()),
            subresource: subresource.map(str::to_string),
            fields: changed,
        }),
    }
    write(new, &entries);
}

/// The manager of a non-apply write: `fieldManager`, else the User-Agent up
/// to its first `/` (as upstream derives it), at most 128 characters.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = user_agent.unwrap_or("");
    let prefix = ua.split('/').next().unwrap_or("");
    prefix.chars().take(128).collect()
}

#[cfg(test)]
mod tests;
