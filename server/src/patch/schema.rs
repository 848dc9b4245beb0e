//! The patch metadata of one kind, read from its published OpenAPI schema:
//! `x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type`, found by walking properties, `items`,
//! `additionalProperties` and `$ref`s (also behind `allOf`).

use std::sync::Arc;

use serde_json::{Map, Value};

/// The schemas of one group/version and the name of one kind's schema in it,
/// or a custom resource's `openAPIV3Schema` with the shared metadata schemas.
#[derive(Debug)]
pub struct PatchSchema {
    defs: Arc<Map<String, Value>>,
    root: Root,
}

#[derive(Debug)]
enum Root {
    /// A named definition in `defs`.
    Def(String),
    /// A schema of its own whose `metadata` is the named definition in `defs`
    /// (a CRD's schema says only `type: object` there).
    Custom {
        schema: Arc<Value>,
        metadata: String,
    },
}

/// The name of ObjectMeta's schema.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The `meta.k8s.io/v1` schemas (ObjectMeta and what it refers to), parsed
/// once and shared by every custom resource's patch schema.
fn meta_defs() -> Arc<Map<String, Value>> {
    static DEFS: std::sync::OnceLock<Arc<Map<String, Value>>> = std::sync::OnceLock::new();
    DEFS.get_or_init(|| {
        let defs = kapi_generated::api::OPENAPI_SCHEMAS
            .iter()
            .find(|s| s.group.is_empty() && s.version == "v1")
            .and_then(|s| serde_json::from_str::<Map<String, Value>>(s.schemas).ok())
            .unwrap_or_default();
        Arc::new(
            defs.into_iter()
                .filter(|(k, _)| k.starts_with("io.k8s.apimachinery.pkg.apis.meta.v1."))
                .collect(),
        )
    })
    .clone()
}

/// How deep `$ref` chains are followed.
const MAX_REF_DEPTH: usize = 8;

impl PatchSchema {
    /// The schema of a generated kind, or None when the generated schemas do
    /// not describe it (then it has no patch metadata).
    pub fn for_kind(group: &str, version: &str, kind: &str) -> Option<Arc<Self>> {
        let gv = kapi_generated::api::OPENAPI_SCHEMAS
            .iter()
            .find(|s| s.group == group && s.version == version)?;
        let (_, name) = gv.kinds.iter().find(|(k, _)| *k == kind)?;
        let defs: Map<String, Value> = serde_json::from_str(gv.schemas).ok()?;
        Self::from_defs(defs, name)
    }

    /// A schema from named definitions (`#/components/schemas/<name>` refs) and
    /// the name of the root.
    pub fn from_defs(defs: Map<String, Value>, root: &str) -> Option<Arc<Self>> {
        defs.get(root)?;
        Some(Arc::new(PatchSchema {
            defs: Arc::new(defs),
            root: Root::Def(root.to_string()),
        }))
    }

    /// The patch metadata of a custom resource version: its structural
    /// schema's `x-kubernetes-list-type`, `-list-map-keys` and `-map-type`,
    /// with `metadata` described by ObjectMeta's schema (labels and
    /// annotations granular maps, finalizers a set, ownerReferences a map by
    /// uid), as upstream's type converter builds it. The schema is shared,
    /// not copied.
    pub fn for_custom_resource(schema: Arc<Value>) -> Arc<Self> {
        Arc::new(PatchSchema {
            defs: meta_defs(),
            root: Root::Custom {
                schema,
                metadata: OBJECT_META.to_string(),
            },
        })
    }

    /// Drops what Go's `omitempty` leaves out of a typed object upstream:
    /// empty lists and maps (`additionalProperties`) at properties that are
    /// not required (a merge patch that removes the last label leaves no
    /// `labels: {}`). Of a custom resource only the metadata, which upstream
    /// decodes through ObjectMeta; the rest stays as sent.
    pub fn omit_empty(&self, v: &mut Value) {
        match &self.root {
            Root::Def(_) => omit_empty(self.root(), v, 0),
            Root::Custom { .. } => {
                if let (Some(n), Some(m)) = (self.root().field("metadata"), v.get_mut("metadata")) {
                    omit_empty(n, m, 0);
                }
            }
        }
    }

    /// The kind's schema.
    pub fn root(&self) -> Node<'_> {
        match &self.root {
            Root::Def(name) => {
                let schema = self.defs.get(name).unwrap_or(&Value::Null);
                Node::new(&self.defs, schema, true)
            }
            Root::Custom { schema, metadata } => Node {
                metadata: self.defs.get(metadata),
                ..Node::new(&self.defs, schema, false)
            },
        }
    }
}

fn omit_empty(node: Node<'_>, v: &mut Value, depth: usize) {
    if depth > MAX_OMIT_DEPTH {
        return;
    }
    match v {
        Value::Object(m) => {
            let required = node.required();
            m.retain(|k, child| {
                // `managedFields: []` is a request to reset them, which the
                // field manager reads before anything is left out.
                let droppable = k != "managedFields"
                    && node.is_property(k)
                    && !required.contains(&k.as_str())
                    && node.field(k).is_some_and(|f| match child {
                        Value::Array(a) => a.is_empty() && f.is_array(),
                        Value::Object(o) => o.is_empty() && f.is_map(),
                        _ => false,
                    });
                !droppable
            });
            for (k, child) in m.iter_mut() {
                if let Some(f) = node.field(k) {
                    omit_empty(f, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(n) = node.items() {
                for item in items {
                    omit_empty(n, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// How deep [`PatchSchema::omit_empty`] walks (schemas recurse, objects are finite).
const MAX_OMIT_DEPTH: usize = 64;

/// One place in a schema: the schema as written where it is used (which
/// carries a property's extensions) and what it resolves to.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    defs: &'a Map<String, Value>,
    here: &'a Value,
    resolved: &'a Value,
    /// The schema of `metadata` when this is a custom resource's root.
    metadata: Option<&'a Value>,
    /// Whether objects here are typed upstream (a Go struct: a built-in
    /// kind, or a custom resource's metadata), rather than kept as sent.
    typed: bool,
}

fn ref_of(v: &Value) -> Option<&str> {
    v.get("$ref")
        .or_else(|| v.get("allOf")?.get(0)?.get("$ref"))
        .and_then(Value::as_str)
}

impl<'a> Node<'a> {
    fn new(defs: &'a Map<String, Value>, here: &'a Value, typed: bool) -> Self {
        let mut resolved = here;
        for _ in 0..MAX_REF_DEPTH {
            let Some(r) = ref_of(resolved) else { break };
            let name = r.rsplit('/').next().unwrap_or(r);
            match defs.get(name) {
                Some(d) => resolved = d,
                None => break,
            }
        }
        Node {
            defs,
            here,
            resolved,
            metadata: None,
            typed,
        }
    }

    /// The schema of a field of this object: a property, or the value schema
    /// of a map (`additionalProperties`).
    pub fn field(&self, name: &str) -> Option<Node<'a>> {
        if let Some(m) = self.metadata.filter(|_| name == "metadata") {
            return Some(Node::new(self.defs, m, true));
        }
        if let Some(p) = self.resolved.get("properties").and_then(|p| p.get(name)) {
            return Some(Node::new(self.defs, p, self.typed));
        }
        match self.resolved.get("additionalProperties") {
            Some(a) if a.is_object() => Some(Node::new(self.defs, a, self.typed)),
            _ => None,
        }
    }

    /// Whether `name` is a declared property of this object (a struct field
    /// upstream), not a key of a map (`additionalProperties`) or an unknown
    /// field. A custom resource's root declares `apiVersion`, `kind` and
    /// `metadata` whatever its schema says, as upstream's type converter adds them.
    pub fn is_property(&self, name: &str) -> bool {
        if self.metadata.is_some() && matches!(name, "apiVersion" | "kind" | "metadata") {
            return true;
        }
        self.resolved
            .get("properties")
            .and_then(|p| p.get(name))
            .is_some()
    }

    /// The properties of a typed object that Go's zero value gives a
    /// value JSON may leave out (a scalar `default`: an Event's
    /// `reportingComponent: ""`); none for objects kept as sent.
    pub fn zero_scalars(&self) -> Vec<(&'a str, &'a Value)> {
        if !self.typed {
            return Vec::new();
        }
        let Some(props) = self.resolved.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        props
            .iter()
            .filter_map(|(k, p)| {
                let d = p.get("default")?;
                (!d.is_object() && !d.is_array() && !d.is_null()).then_some((k.as_str(), d))
            })
            .collect()
    }

    /// The schema's `default`, if any.
    pub fn default_value(&self) -> Option<&'a Value> {
        self.ext("default")
    }

    /// The schema of this list's items.
    pub fn items(&self) -> Option<Node<'a>> {
        self.resolved
            .get("items")
            .filter(|i| i.is_object())
            .map(|i| Node::new(self.defs, i, self.typed))
    }

    /// The object's `required` properties.
    pub fn required(&self) -> Vec<&'a str> {
        self.resolved
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether this is a list.
    pub fn is_array(&self) -> bool {
        self.resolved.get("type").and_then(Value::as_str) == Some("array")
            || self.resolved.get("items").is_some_and(Value::is_object)
    }

    /// Whether this is a map with arbitrary keys (`additionalProperties`)
    /// rather than a struct.
    pub fn is_map(&self) -> bool {
        self.resolved.get("properties").is_none()
            && self
                .resolved
                .get("additionalProperties")
                .is_some_and(Value::is_object)
    }

    fn ext(&self, key: &str) -> Option<&'a Value> {
        self.here.get(key).or_else(|| self.resolved.get(key))
    }

    /// `x-kubernetes-patch-strategy`, split at commas (`merge`, `replace`, `retainKeys`).
    pub fn patch_strategies(&self) -> Vec<&'a str> {
        self.ext("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .map(|s| s.split(',').map(str::trim).collect())
            .unwrap_or_default()
    }

    /// Whether the patch strategy includes `s`.
    pub fn has_strategy(&self, s: &str) -> bool {
        self.patch_strategies().contains(&s)
    }

    /// `x-kubernetes-patch-merge-key`.
    pub fn merge_key(&self) -> Option<&'a str> {
        self.ext("x-kubernetes-patch-merge-key")
            .and_then(Value::as_str)
    }

    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub fn list_type(&self) -> Option<&'a str> {
        self.ext("x-kubernetes-list-type").and_then(Value::as_str)
    }

    /// `x-kubernetes-list-map-keys`.
    pub fn list_map_keys(&self) -> Vec<&'a str> {
        self.ext("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `x-kubernetes-map-type` (`granular`, `atomic`).
    pub fn map_type(&self) -> Option<&'a str> {
        self.ext("x-kubernetes-map-type").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_metadata_has_ownerreference_merge_key() {
        let s = PatchSchema::for_kind("", "v1", "ConfigMap").expect("configmap schema");
        let meta = s.root().field("metadata").expect("metadata");
        let owners = meta.field("ownerReferences").expect("ownerReferences");
        assert_eq!(owners.merge_key(), Some("uid"));
        assert!(owners.has_strategy("merge"));
        assert_eq!(owners.list_type(), Some("map"));
        assert_eq!(owners.list_map_keys(), vec!["uid"]);
        assert_eq!(owners.items().and_then(|i| i.map_type()), Some("atomic"));
        let fin = meta.field("finalizers").expect("finalizers");
        assert_eq!(fin.list_type(), Some("set"));
        assert!(fin.has_strategy("merge"));
        // data is a map of strings: any key has the string schema.
        let data = s.root().field("data").expect("data");
        assert!(data.is_map());
        assert!(data.field("anything").is_some());
        assert!(s.root().field("nope").is_none());
    }

    #[test]
    fn custom_resource_metadata_comes_from_its_schema_and_object_meta() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object"},
                "spec": {"type": "object", "properties": {
                    "listeners": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "port": {"type": "integer"},
                            "tls": {"type": "object", "x-kubernetes-map-type": "atomic"}}}},
                    "hosts": {"type": "array", "x-kubernetes-list-type": "set",
                        "items": {"type": "string"}},
                    "rules": {"type": "array", "items": {"type": "object"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }}
            }
        });
        let s = PatchSchema::for_custom_resource(Arc::new(schema));
        let spec = s.root().field("spec").expect("spec");
        let listeners = spec.field("listeners").expect("listeners");
        assert_eq!(listeners.list_type(), Some("map"));
        assert_eq!(listeners.list_map_keys(), vec!["name", "port"]);
        let tls = listeners.items().and_then(|i| i.field("tls")).expect("tls");
        assert_eq!(tls.map_type(), Some("atomic"));
        assert_eq!(spec.field("hosts").and_then(|h| h.list_type()), Some("set"));
        assert_eq!(spec.field("rules").and_then(|h| h.list_type()), None);
        assert!(spec.field("labels").is_some_and(|l| l.is_map()));
        assert!(spec.field("nope").is_none());
        // metadata is ObjectMeta, not the CRD's `type: object`.
        let meta = s.root().field("metadata").expect("metadata");
        assert_eq!(
            meta.field("finalizers").and_then(|f| f.list_type()),
            Some("set")
        );
        assert_eq!(
            meta.field("ownerReferences").map(|o| o.list_map_keys()),
            Some(vec!["uid"])
        );
        assert!(meta.field("labels").is_some_and(|l| l.is_map()));
        // Only the root's metadata is ObjectMeta.
        assert!(spec.field("metadata").is_none());
    }

    #[test]
    fn unknown_kind_has_no_schema() {
        assert!(PatchSchema::for_kind("", "v1", "Widget").is_none());
        assert!(PatchSchema::for_kind("example.com", "v1", "ConfigMap").is_none());
    }
}
