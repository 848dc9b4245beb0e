//! Field sets and `metadata.managedFields`, computed the way upstream's field
//! manager computes them (apimachinery `util/managedfields/internal`, over
//! structured-merge-diff's `typed` comparison and `merge.Updater`).
//!
//! A field set is a set of paths; a path element is written as FieldsV1 writes
//! it: `f:<name>` (an object field), `k:<json object>` (an item of a list-type
//! map, by its keys), `v:<json>` (an item of a list-type set) or `i:<n>`. In
//! FieldsV1 a path is nested objects; a path that is itself in the set and has
//! children in it carries `".": {}`.
//!
//! What lands in a set follows from two walks:
//! - [`compare`] (upstream `typed/compare.go`), for every write that is not an
//!   apply: a leaf (scalar, atomic list or map, or a list/map empty on both
//!   sides) is added, removed or modified; a map, list or list item that had
//!   content and was absent before is itself *added* as well (so a new
//!   `labels` map, a new `k:{...}` item, a new `spec` of a custom resource get
//!   `"."`), while one that existed before (even as `null`) is not.
//! - [`to_field_set`] (upstream `typed/tofieldset.go`), for an applied
//!   configuration: every leaf and list item, plus every map key that is not
//!   a declared property, plus any field whose value is `null` or `{}`.
//!
//! [`update`] and [`apply`](super::apply::apply) then follow the field manager's
//! layers: managedFields sent by the client (`decodeLiveOrNew`), no tracking of
//! objects nobody tracked yet (`skipnonapplied.go`), the manager's identity
//! (`buildmanagerinfo.go`: manager, operation, apiVersion for updates,
//! subresource), the server's fields never owned (`stripmeta.go`), fields a
//! strategy resets ignored (`GetResetFields`), the time of an entry only
//! changed when it took fields (`managedfieldsupdater.go`), at most ten update
//! entries (`capmanagers.go`), and upstream's entry order
//! (`sortEncodedManagedFields`).

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
/// schemas that only carry patch metadata, the patch strategy and merge key
/// (as kube-openapi's schema converter reads them). No schema: atomic.
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

/// The `k:` element of a list-map item, or None when it lacks a key that has
/// no default either (upstream: "associative list with keys has an element
/// that omits key field").
pub fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    item_key_in(item, keys, None)
}

fn item_key_in(item: &Value, keys: &[String], item_node: Option<Node<'_>>) -> Option<String> {
    let obj = item.as_object()?;
    let mut m = Map::new();
    for k in keys {
        let v = match obj.get(k) {
            Some(v) => v.clone(),
            None => item_node
                .and_then(|n| n.field(k))
                .and_then(|f| f.default_value())?
                .clone(),
        };
        m.insert(k.clone(), v);
    }
    // serde_json's Map is ordered by key, as upstream sorts the key fields.
    Some(format!("k:{}", Value::Object(m)))
}

/// The `v:` element of a set item (scalars only, as upstream).
pub fn value_key(item: &Value) -> Option<String> {
    match item {
        Value::Object(_) | Value::Array(_) => None,
        v => Some(format!("v:{v}")),
    }
}

fn is_property(node: Option<Node<'_>>, name: &str) -> bool {
    node.is_some_and(|n| n.is_property(name))
}

/// Equality as upstream's `value.Equals`: numbers compare as numbers (an
/// integer equals the same float).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// What changed between two objects (upstream `typed.Comparison`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Fields present only in the new object.
    pub added: FieldSet,
    /// Fields present in both, with different values.
    pub modified: FieldSet,
    /// Fields present only in the old object.
    pub removed: FieldSet,
}

impl Comparison {
    /// Without the fields under any of `prefixes` (a strategy's reset fields).
    pub fn filter(mut self, reset: &FieldSet) -> Self {
        if !reset.is_empty() {
            self.added = self.added.recursive_difference(reset);
            self.modified = self.modified.recursive_difference(reset);
            self.removed = self.removed.recursive_difference(reset);
        }
        self
    }
}

/// A list item the walk cannot address (a list-map item without its keys, a
/// set item that is not a scalar): upstream's comparison fails on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unaddressable(pub String);

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Map,
    List,
    Leaf,
}

fn shape(lhs: Option<&Value>, rhs: Option<&Value>) -> Shape {
    let of = |v: Option<&Value>| match v {
        Some(Value::Object(_)) => Some(Shape::Map),
        Some(Value::Array(_)) => Some(Shape::List),
        Some(Value::Null) | None => None,
        Some(_) => Some(Shape::Leaf),
    };
    match (of(lhs), of(rhs)) {
        (Some(a), Some(b)) if a != b => Shape::Leaf,
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => Shape::Leaf,
    }
}

fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The list items of a value, by path element; items with the same element
/// are kept together (duplicates). In the order first seen.
type Items<'v> = Vec<(String, Vec<&'v Value>)>;

fn index_items<'v>(
    list: Option<&'v Value>,
    kind: &ListKind,
    item_node: Option<Node<'_>>,
) -> Result<Items<'v>, Unaddressable> {
    let mut out: Items<'v> = Vec::new();
    for item in list.and_then(Value::as_array).into_iter().flatten() {
        let pe = match kind {
            ListKind::Set => value_key(item),
            ListKind::Map(keys) => item_key_in(item, keys, item_node),
            ListKind::Atomic => None,
        }
        .ok_or_else(|| Unaddressable(item.to_string()))?;
        match out.iter_mut().find(|(k, _)| *k == pe) {
            Some((_, v)) => v.push(item),
            None => out.push((pe, vec![item])),
        }
    }
    Ok(out)
}

struct Walk {
    out: Comparison,
    /// The new side's `metadata.managedFields` is left out (upstream removes
    /// them from the new object before comparing).
    skip_new_managed: bool,
}

/// Compares two objects as upstream's `TypedValue.Compare` does; `lhs` absent
/// is an object created, `rhs` absent one removed.
pub fn compare(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Option<Node<'_>>,
) -> Result<Comparison, Unaddressable> {
    compare_with(lhs, rhs, node, false)
}

fn compare_with(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: Option<Node<'_>>,
    skip_new_managed: bool,
) -> Result<Comparison, Unaddressable> {
    let mut w = Walk {
        out: Comparison::default(),
        skip_new_managed,
    };
    if lhs.is_some() || rhs.is_some() {
        w.node(lhs, rhs, node, &mut Vec::new())?;
    }
    Ok(w.out)
}

impl Walk {
    fn node<'v>(
        &mut self,
        lhs: Option<&'v Value>,
        rhs: Option<&'v Value>,
        node: Option<Node<'v>>,
        path: &mut Path,
    ) -> Result<(), Unaddressable> {
        let descended = match shape(lhs, rhs) {
            Shape::Map if !(atomic_map(node) || empty(lhs) && empty(rhs)) => {
                let l = lhs.and_then(Value::as_object);
                let r = rhs.and_then(Value::as_object);
                // A typed object holds Go's zero values for what JSON left out.
                let zeros = node.map(|n| n.zero_scalars()).unwrap_or_default();
                let zero = |k: &str| zeros.iter().find(|(z, _)| *z == k).map(|(_, v)| *v);
                let keys: BTreeSet<&str> = l
                    .into_iter()
                    .chain(r)
                    .flat_map(|m| m.keys().map(String::as_str))
                    .chain(zeros.iter().map(|(k, _)| *k))
                    .collect();
                let at_metadata = path.len() == 1 && path[0] == "f:metadata";
                for k in keys {
                    let side = |m: Option<&'v Map<String, Value>>| {
                        m.and_then(|m| m.get(k).or_else(|| zero(k)))
                    };
                    let mut rv = side(r);
                    if self.skip_new_managed && at_metadata && k == "managedFields" {
                        rv = None;
                    }
                    let lv = side(l);
                    if lv.is_none() && rv.is_none() {
                        continue;
                    }
                    path.push(format!("f:{k}"));
                    self.node(lv, rv, node.and_then(|n| n.field(k)), path)?;
                    path.pop();
                }
                true
            }
            Shape::List if !(empty(lhs) && empty(rhs)) => {
                let kind = list_kind(node);
                if kind == ListKind::Atomic {
                    self.leaf(lhs, rhs, path);
                    return Ok(());
                }
                let item_node = node.and_then(|n| n.items());
                let l = index_items(lhs, &kind, item_node)?;
                let r = index_items(rhs, &kind, item_node)?;
                let mut pes: Vec<&String> = l.iter().map(|(k, _)| k).collect();
                for (k, _) in &r {
                    if !l.iter().any(|(lk, _)| lk == k) {
                        pes.push(k);
                    }
                }
                fn find<'v>(items: &Items<'v>, pe: &str) -> Vec<&'v Value> {
                    items
                        .iter()
                        .find(|(k, _)| k == pe)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                }
                for pe in pes {
                    let (lv, rv) = (find(&l, pe), find(&r, pe));
                    path.push(pe.clone());
                    match (lv.len(), rv.len()) {
                        (0..=1, 0..=1) => {
                            self.node(lv.first().copied(), rv.first().copied(), item_node, path)?
                        }
                        (2.., 2..) => {
                            if lv.len() != rv.len() || lv.iter().zip(&rv).any(|(a, b)| !same(a, b))
                            {
                                self.out.modified.insert(path.clone());
                            }
                        }
                        (2.., _) => {
                            if let Some(r0) = rv.first() {
                                self.node(None, Some(r0), item_node, path)?;
                            }
                            self.out.removed.insert(path.clone());
                        }
                        (_, _) => {
                            if let Some(l0) = lv.first() {
                                self.node(Some(l0), None, item_node, path)?;
                            }
                            self.out.added.insert(path.clone());
                        }
                    }
                    path.pop();
                }
                true
            }
            _ => {
                self.leaf(lhs, rhs, path);
                false
            }
        };
        if descended {
            // A node with content that is new (or gone) is itself added (or removed).
            if lhs.is_none() {
                self.out.added.insert(path.clone());
            } else if rhs.is_none() {
                self.out.removed.insert(path.clone());
            }
        }
        Ok(())
    }

    fn leaf(&mut self, lhs: Option<&Value>, rhs: Option<&Value>, path: &Path) {
        match (lhs, rhs) {
            (None, Some(_)) => self.out.added.insert(path.clone()),
            (Some(_), None) => self.out.removed.insert(path.clone()),
            (Some(a), Some(b)) if !same(a, b) => self.out.modified.insert(path.clone()),
            _ => {}
        }
    }
}

/// The fields an applied configuration sets (upstream `ToFieldSet`): every
/// leaf and list item, every map key that is not a declared property, and
/// every field whose value is `null` or `{}`.
pub fn to_field_set(v: &Value, node: Option<Node<'_>>) -> FieldSet {
    let mut out = FieldSet::default();
    field_set_walk(v, node, &mut Vec::new(), &mut out);
    out
}

fn field_set_walk(v: &Value, node: Option<Node<'_>>, path: &mut Path, out: &mut FieldSet) {
    match v {
        Value::Object(m) => {
            if atomic_map(node) {
                out.insert(path.clone());
                return;
            }
            for (k, child) in m {
                path.push(format!("f:{k}"));
                field_set_walk(child, node.and_then(|n| n.field(k)), path, out);
                let emptyish = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if emptyish || !is_property(node, k) {
                    out.insert(path.clone());
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let kind = list_kind(node);
            if kind == ListKind::Atomic {
                out.insert(path.clone());
                return;
            }
            let item_node = node.and_then(|n| n.items());
            let pes: Vec<Option<String>> = items
                .iter()
                .map(|item| match &kind {
                    ListKind::Set => value_key(item),
                    ListKind::Map(keys) => item_key_in(item, keys, item_node),
                    ListKind::Atomic => None,
                })
                .collect();
            let mut seen = BTreeSet::new();
            let mut dups = BTreeSet::new();
            for pe in pes.iter().flatten() {
                if !seen.insert(pe) {
                    dups.insert(pe);
                }
            }
            for pe in &dups {
                let mut p = path.clone();
                p.push((*pe).clone());
                out.insert(p);
            }
            for (item, pe) in items.iter().zip(&pes) {
                let Some(pe) = pe else { continue };
                if dups.contains(pe) {
                    continue;
                }
                path.push(pe.clone());
                field_set_walk(item, item_node, path, out);
                out.insert(path.clone());
                path.pop();
            }
        }
        _ => out.insert(path.clone()),
    }
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

    /// Adds a path; the empty path (the whole object) is never tracked.
    pub fn insert(&mut self, path: Path) {
        if !path.is_empty() {
            self.0.insert(path);
        }
    }

    /// A set of the given paths.
    pub fn of(paths: &[&[&str]]) -> FieldSet {
        FieldSet(
            paths
                .iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect(),
        )
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

    /// Without the paths that are in `other` or below one of its paths
    /// (upstream `Set.RecursiveDifference`).
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(
            self.0
                .iter()
                .filter(|p| !(1..=p.len()).any(|n| other.0.contains(&p[..n])))
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

    /// A set from FieldsV1; an element that is not `.`, `f:`, `k:` (a JSON
    /// object), `v:` (JSON) or `i:` (an integer), or a value that is not an
    /// object, is an error (upstream `Set.FromJSON`).
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        fn valid(k: &str) -> bool {
            if k.starts_with("f:") {
                return true;
            }
            if let Some(j) = k.strip_prefix("k:") {
                return serde_json::from_str::<Map<String, Value>>(j).is_ok();
            }
            if let Some(j) = k.strip_prefix("v:") {
                return serde_json::from_str::<Value>(j).is_ok();
            }
            if let Some(i) = k.strip_prefix("i:") {
                return i.parse::<i64>().is_ok();
            }
            false
        }
        fn go(v: &Value, path: &mut Path, out: &mut FieldSet) -> Result<(), String> {
            let Some(m) = v.as_object() else {
                return Err(format!("expected an object at {}", path.join(".")));
            };
            if m.is_empty() {
                out.insert(path.clone());
            }
            for (k, child) in m {
                if k == "." {
                    out.insert(path.clone());
                    continue;
                }
                if !valid(k) {
                    return Err(format!("invalid path element {k:?}"));
                }
                path.push(k.clone());
                go(child, path, out)?;
                path.pop();
            }
            Ok(())
        }
        let mut out = FieldSet::default();
        go(v, &mut Vec::new(), &mut out)?;
        Ok(out)
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

/// `operation: Apply`.
pub const APPLY: &str = "Apply";
/// `operation: Update`.
pub const UPDATE: &str = "Update";

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

impl Entry {
    /// Whether the entry is `(manager, operation, subresource)`, and for an
    /// update also `api_version`: upstream's manager identifier
    /// (`BuildManagerIdentifier`), under which one entry is kept.
    pub fn is(&self, manager: &str, operation: &str, api_version: &str, sub: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref().unwrap_or("") == sub.unwrap_or("")
            && (operation == APPLY || self.api_version == api_version)
    }

    fn same_identity(&self, other: &Entry) -> bool {
        other.is(
            &self.manager,
            &self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    /// The manager identifier as upstream writes it (JSON of the entry
    /// without fields, time and, for appliers, apiVersion), which orders
    /// entries of the same time and managers in conflict messages.
    pub fn identifier(&self) -> String {
        let mut s = String::from("{");
        let mut sep = "";
        let mut field = |k: &str, v: &str| {
            if !v.is_empty() {
                s.push_str(sep);
                s.push_str(&format!("{}:{}", Value::from(k), Value::from(v)));
                sep = ",";
            }
        };
        field("manager", &self.manager);
        field("operation", &self.operation);
        if self.operation != APPLY {
            field("apiVersion", &self.api_version);
        }
        field("subresource", self.subresource.as_deref().unwrap_or(""));
        s.push('}');
        s
    }

    /// The manager as upstream's conflict messages print it (`printManager`):
    /// `"name"`, `"name" with subresource "status"`, and ` using v1` after
    /// an update entry.
    pub fn display(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == UPDATE {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .unwrap_or(0)
    }
}

/// A time as upstream's `metav1.Time` writes it: RFC 3339 in UTC, whole seconds.
fn normalize_time(t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => t.to_string(),
    }
}

/// Why managedFields cannot be read (upstream `DecodeManagedFields`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadManagedFields(pub String);

/// The entries of an object's `metadata.managedFields`, checked as upstream
/// decodes them: operation `Apply` or `Update`, an apiVersion, fieldsType
/// `FieldsV1`, valid FieldsV1. Two entries of one manager identity: the later wins.
pub fn read(obj: &Value) -> Result<Vec<Entry>, BadManagedFields> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let list = match list {
        Value::Null => return Ok(Vec::new()),
        Value::Array(l) => l,
        _ => return Err(BadManagedFields("managedFields must be a list".into())),
    };
    let mut out: Vec<Entry> = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let operation = s("operation").unwrap_or_default();
        if operation != APPLY && operation != UPDATE {
            return Err(BadManagedFields(
                "operation must be `Apply` or `Update`".into(),
            ));
        }
        let api_version = s("apiVersion").unwrap_or_default();
        if api_version.is_empty() {
            return Err(BadManagedFields("apiVersion must not be empty".into()));
        }
        match s("fieldsType").as_deref() {
            Some("FieldsV1") => {}
            None | Some("") => {
                return Err(BadManagedFields(format!(
                    "missing fieldsType in managed fields entry {i}"
                )));
            }
            Some(other) => {
                return Err(BadManagedFields(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                )));
            }
        }
        let fields = match e.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(v) => FieldSet::from_fields_v1(v).map_err(BadManagedFields)?,
        };
        let entry = Entry {
            manager: s("manager").unwrap_or_default(),
            operation,
            api_version,
            time: s("time").map(|t| normalize_time(&t)),
            subresource: s("subresource").filter(|s| !s.is_empty()),
            fields,
        };
        out.retain(|o| !o.same_identity(&entry));
        out.push(entry);
    }
    Ok(out)
}

/// Sorts entries as upstream writes them (`sortEncodedManagedFields`): by
/// operation (Apply first), time (to the second; none first), manager,
/// apiVersion, subresource.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then(p.seconds().cmp(&q.seconds()))
            .then(p.manager.cmp(&q.manager))
            .then(p.api_version.cmp(&q.api_version))
            .then(
                p.subresource
                    .as_deref()
                    .unwrap_or("")
                    .cmp(q.subresource.as_deref().unwrap_or("")),
            )
    });
}

/// Writes `entries` as `metadata.managedFields`, in upstream's order (removed
/// when there are none); entries that own nothing are dropped, as upstream
/// drops them.
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let mut entries: Vec<Entry> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .cloned()
        .collect();
    sort(&mut entries);
    let list: Vec<Value> = entries
        .iter()
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
            if let Some(s) = e.subresource.as_deref().filter(|s| !s.is_empty()) {
                m.insert("subresource".into(), Value::String(s.to_string()));
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

/// The fields of the server or of the object's identity that no manager ever
/// owns (upstream `stripmeta.go`). Exact paths: what is below `metadata`
/// (labels, annotations, ...) stays.
pub const STRIPPED: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:clusterName"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
];

/// Without the [`STRIPPED`] paths.
pub fn strip(set: &FieldSet) -> FieldSet {
    set.difference(&FieldSet::of(STRIPPED))
}

/// The most update entries kept; older ones merge into `ancient-changes`
/// (upstream `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// What a write is, for the field manager.
#[derive(Clone, Copy)]
pub struct Write<'a> {
    /// The kind's schema, if any.
    pub schema: Option<Node<'a>>,
    /// The resource's `apiVersion`, recorded in entries.
    pub api_version: &'a str,
    /// The subresource written (`status`), recorded in entries.
    pub subresource: Option<&'a str>,
    /// The fields the kind's strategy resets for this write (`status` on the
    /// main resource, `spec` on `/status`...): never owned, never taken.
    pub reset: &'a FieldSet,
    /// The time recorded in entries.
    pub now: &'a str,
}

/// Whether an object has a `metadata.uid` (was stored before).
fn has_uid(obj: &Value) -> bool {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .is_some_and(|u| !u.is_empty())
}

/// The managedFields a non-apply write starts from (upstream
/// `decodeLiveOrNew`): on a subresource, always the stored ones; else the
/// request's when it sends valid non-empty ones, none when it sends `[]` (or
/// one empty entry: a reset), the stored ones otherwise.
fn live_or_new(live: &Value, new: &Value, subresource: bool) -> Vec<Entry> {
    let live_entries = || read(live).unwrap_or_default();
    if subresource {
        return live_entries();
    }
    if let Some(Value::Array(l)) = new.pointer("/metadata/managedFields") {
        // `[]`, or one entry with nothing set, resets the managedFields.
        let empty_entry = |e: &Value| {
            e.as_object().is_some_and(|e| {
                e.values().all(|v| match v {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    _ => false,
                })
            })
        };
        if l.is_empty() || (l.len() == 1 && empty_entry(&l[0])) {
            return Vec::new();
        }
    }
    match read(new) {
        Ok(m) if !m.is_empty() => m,
        _ => live_entries(),
    }
}

/// Takes what `c` adds or changes from every entry but `keep` and drops what
/// it removes; entries left with nothing go (upstream `Updater.update` with
/// force).
fn take_from_others(entries: &mut Vec<Entry>, keep: Option<usize>, c: &Comparison) {
    let taken = c.modified.union(&c.added);
    for (i, e) in entries.iter_mut().enumerate() {
        if Some(i) == keep {
            continue;
        }
        e.fields = e.fields.difference(&taken).difference(&c.removed);
    }
    let mut i = 0;
    entries.retain(|e| {
        let k = Some(i) == keep || !e.fields.is_empty();
        i += 1;
        k
    });
}

/// The update the field manager records for a write that is not an apply
/// (upstream `FieldManager.Update`), given the stored object (`live`; the
/// kind's empty object on create) and the new object as decoded and
/// defaulted, before the kind's strategy changes it. Returns the entries to
/// store (none: no managedFields).
pub fn update(live: &Value, new: &Value, manager: &str, w: &Write<'_>) -> Vec<Entry> {
    let mut entries = live_or_new(live, new, w.subresource.is_some());
    // An object nobody tracked yet is only tracked from its creation on
    // (upstream `skipNonAppliedManager`, with a track-on-create probability of 1).
    if entries.is_empty() && has_uid(live) {
        return entries;
    }
    let cmp = match compare_with(Some(live), Some(new), w.schema, true) {
        Ok(c) => c.filter(w.reset),
        // Upstream keeps the stored managedFields when it cannot compare.
        Err(_) => return read(live).unwrap_or_default(),
    };
    take_from_others(&mut entries, None, &cmp);
    let taken = strip(&cmp.modified.union(&cmp.added).recursive_difference(w.reset));
    let manager = if manager.is_empty() {
        "unknown"
    } else {
        manager
    };
    // Upstream's scale handler rebuilds the entries of `/scale` writes
    // without their time (`ScaleHandler.ToParent` looks it up under the
    // Scale's apiVersion, where there is none).
    let time = (w.subresource != Some("scale")).then(|| w.now.to_string());
    if !taken.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(manager, UPDATE, w.api_version, w.subresource))
        {
            Some(e) => {
                e.fields = e.fields.union(&taken);
                e.time = time;
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: UPDATE.into(),
                api_version: w.api_version.to_string(),
                time,
                subresource: w.subresource.map(str::to_string),
                fields: taken,
            }),
        }
    }
    cap_update_managers(&mut entries);
    entries
}

/// At most [`MAX_UPDATE_MANAGERS`] update entries: the oldest are merged,
/// per apiVersion, into an `ancient-changes` entry (upstream
/// `capManagersManager.capUpdateManagers`, step by step).
fn cap_update_managers(entries: &mut Vec<Entry>) {
    let mut updaters: Vec<Entry> = entries
        .iter()
        .filter(|e| e.operation == UPDATE)
        .cloned()
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|p, q| {
        p.seconds()
            .cmp(&q.seconds())
            .then_with(|| p.identifier().cmp(&q.identifier()))
    });
    let position = |entries: &[Entry], id: &str| entries.iter().position(|e| e.identifier() == id);
    let mut first_of_version: Vec<(String, String)> = Vec::new();
    let mut length = updaters.len();
    for e in &updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let bucket = Entry {
            manager: "ancient-changes".into(),
            operation: UPDATE.into(),
            api_version: e.api_version.clone(),
            time: None,
            subresource: None,
            fields: FieldSet::default(),
        };
        let bucket_id = bucket.identifier();
        let first = first_of_version
            .iter()
            .find(|(v, _)| *v == e.api_version)
            .map(|(_, id)| id.clone());
        let Some(first) = first else {
            first_of_version.push((e.api_version.clone(), e.identifier()));
            continue;
        };
        if position(entries, &bucket_id).is_none()
            && let Some(i) = position(entries, &first)
        {
            let moved = entries.remove(i);
            entries.push(Entry {
                fields: moved.fields,
                time: moved.time,
                ..bucket
            });
        }
        let fields = position(entries, &e.identifier())
            .map(|i| entries[i].fields.clone())
            .unwrap_or_default();
        if let Some(b) = position(entries, &bucket_id) {
            entries[b].fields = fields.union(&entries[b].fields);
        }
        if let Some(i) = position(entries, &e.identifier()) {
            entries.remove(i);
        }
        length -= 1;
        if let Some(b) = position(entries, &bucket_id) {
            entries[b].time = e.time.clone();
        }
    }
}

/// One field another manager owns and an apply changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager as upstream prints it (see [`Entry::display`]).
    pub manager: String,
    /// The field, as `.data.k`.
    pub field: String,
    /// The manager's identifier, which orders conflict messages.
    pub identifier: String,
}

/// The conflicts of `changes` with every entry but the one at `keep`.
pub(crate) fn conflicts(entries: &[Entry], keep: usize, c: &Comparison) -> Vec<Conflict> {
    let changed = c.modified.union(&c.added);
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i == keep {
            continue;
        }
        for p in e.fields.intersection(&changed).0 {
            out.push(Conflict {
                manager: e.display(),
                field: path_string(&p),
                identifier: e.identifier(),
            });
        }
    }
    out
}

/// Records that `manager` owns the fields of `live` nobody owned before an
/// apply to an untracked object (upstream `skipNonAppliedManager.Apply`:
/// `before-first-apply`).
pub(crate) fn before_first_apply(zero: &Value, live: &Value, w: &Write<'_>) -> Vec<Entry> {
    let fields = compare_with(Some(zero), Some(live), w.schema, true)
        .map(|c| strip(&c.modified.union(&c.added).recursive_difference(w.reset)))
        .unwrap_or_default();
    if fields.is_empty() {
        return Vec::new();
    }
    vec![Entry {
        manager: "before-first-apply".into(),
        operation: UPDATE.into(),
        api_version: w.api_version.to_string(),
        time: Some(w.now.to_string()),
        subresource: w.subresource.map(str::to_string),
        fields,
    }]
}

/// Why [`apply_entries`] fails.
#[derive(Debug)]
pub(crate) enum ApplyFailure {
    /// Other managers own what the apply changes.
    Conflicts(Vec<Conflict>),
    /// The objects cannot be compared (a list item without its keys).
    Compare(String),
}

/// The apply's merge of the entries: the applier's entry gets `applied`, the
/// others lose what the merge changed (conflicts, unless `force`) and what
/// it removed.
pub(crate) fn apply_entries(
    mut entries: Vec<Entry>,
    me: Entry,
    live: &Value,
    merged: &Value,
    force: bool,
    w: &Write<'_>,
) -> Result<Vec<Entry>, ApplyFailure> {
    let keep = match entries.iter().position(|e| e.same_identity(&me)) {
        Some(i) => {
            let time = entries[i].time.clone();
            entries[i] = Entry { time, ..me };
            i
        }
        None => {
            entries.push(me);
            entries.len() - 1
        }
    };
    let cmp = compare_with(Some(live), Some(merged), w.schema, true)
        .map_err(|e| {
            ApplyFailure::Compare(format!(
                "failed to compare objects: list item {} has no key",
                e.0
            ))
        })?
        .filter(w.reset);
    let found = conflicts(&entries, keep, &cmp);
    if !found.is_empty() && !force {
        return Err(ApplyFailure::Conflicts(found));
    }
    take_from_others(&mut entries, Some(keep), &cmp);
    Ok(entries)
}

/// The manager of a non-apply write: `fieldManager`, else the User-Agent up
/// to its first `/`, without unprintable characters, at most 128 bytes (as
/// upstream's `managerOrUserAgent` derives it). Empty stays empty ([`update`]
/// records it as `unknown`).
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = user_agent.unwrap_or("");
    let prefix = ua.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
