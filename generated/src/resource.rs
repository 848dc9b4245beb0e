//! What makes a type a resource: the [`Resource`] trait (one abstraction for
//! compiled-in kinds and, through [`Resource::DynamicType`], for kinds known
//! only at run time), the [`ApiResource`] description of how it is served, and
//! the verb markers from which a server detects the verbs a storage supports.

use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};

use crate::api::meta::v1::ObjectMeta;

/// Namespaced or cluster-scoped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects live in a namespace (`/namespaces/{ns}/...`).
    Namespaced,
    /// Objects live at the top level.
    Cluster,
}

/// Where a scale subresource reads and writes its numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleSubresource {
    /// JSON path of the desired replicas, like `.spec.replicas`.
    pub spec_replicas_path: String,
    /// JSON path of the observed replicas, like `.status.replicas`.
    pub status_replicas_path: String,
    /// JSON path of the label selector in string form, if any.
    pub label_selector_path: Option<String>,
}

/// Where a printer column's cell comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnSource {
    /// The value at a simple dotted JSON path.
    Path(String),
    /// The number of entries of the maps or lists at these paths, added up.
    Count(Vec<String>),
    /// The time since the timestamp at a simple dotted JSON path, as kubectl
    /// prints ages (`5m`, `3d`): what upstream's built-in printers put in
    /// their `Age` columns, and what a custom resource's `date` column shows.
    Age(String),
}

/// A `kubectl get` column (after the name column, which is always first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// The header.
    pub name: String,
    /// integer, number, string, boolean or date.
    pub type_: String,
    /// An OpenAPI format hint.
    pub format: String,
    /// What the column shows.
    pub description: String,
    /// 0: always shown; more: only with `-o wide`.
    pub priority: i32,
    /// Where the cell comes from.
    pub source: ColumnSource,
}

/// A field a `fieldSelector` may name besides `metadata.name` and
/// `metadata.namespace` (upstream's `GetAttrs`/`ToSelectableFields` of a
/// kind, or a CRD version's `selectableFields`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectableField {
    /// The field label clients select on, like `spec.nodeName` or `source`.
    pub name: String,
    /// Dotted JSON paths (without a leading `.`) read in order; the first
    /// one with a non-empty value gives the field's value (upstream's Event
    /// `source` is `source.component`, else `reportingComponent`).
    pub paths: Vec<String>,
    /// The value when no path has one (Go's zero value of the field: `false`
    /// for a boolean, `0` for an integer, empty for a string or a custom
    /// resource's missing field).
    pub default: String,
}

impl SelectableField {
    /// A field whose label is its path, with an empty default.
    pub fn path(name: &str) -> Self {
        SelectableField {
            name: name.to_string(),
            paths: vec![name.to_string()],
            default: String::new(),
        }
    }
}

/// How a kind is served: its names, scope, subresources and columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// API group, empty for the core group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name (the URL segment).
    pub plural: String,
    /// Singular resource name.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// Short names (`cm`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether `/status` is served.
    pub status_subresource: bool,
    /// The scale subresource, if served.
    pub scale_subresource: Option<ScaleSubresource>,
    /// `kubectl get` columns.
    pub printer_columns: Vec<PrinterColumn>,
    /// Fields `fieldSelector` may name besides `metadata.name` and `metadata.namespace`.
    pub selectable_fields: Vec<SelectableField>,
    /// The version of the group objects are stored in (upstream's storage
    /// version, which discovery's `storageVersionHash` names); None: the
    /// served version.
    pub storage_version: Option<String>,
}

impl ApiResource {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects live in namespaces.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// `configmaps` for the core group, `leases.coordination.k8s.io` otherwise,
    /// as Kubernetes names a resource in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// A Kubernetes object type: compiled in (`DynamicType = ()`) or described at
/// run time (`DynamicType = ApiResource`), served by one copy of the storage code.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What is needed besides the type to know how it is served.
    type DynamicType: Send + Sync + 'static;

    /// How the type is served.
    fn api_resource(dt: &Self::DynamicType) -> &ApiResource;

    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;

    /// The object's metadata, to change it.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// The `apiVersion` and `kind` the object carries.
    fn type_meta(&self) -> (Option<&str>, Option<&str>);

    /// Sets `apiVersion` and `kind`.
    fn set_type_meta(&mut self, api_version: String, kind: String);
}

/// A compiled-in resource, whose verbs are found from the verb traits it implements.
pub trait StaticResource: Resource<DynamicType = ()> {
    /// How the type is served.
    fn resource() -> &'static ApiResource {
        Self::api_resource(&())
    }

    /// Calls the visitor's method of every verb the type implements (see [`detect`]).
    fn visit_verbs<V: VerbVisitor<Self>>(v: &mut V);
}

/// One marker trait per verb. A type serves a verb exactly when it implements
/// the verb's marker; `#[resource(verbs(...))]` implements them, or a
/// hand-written type can implement them itself.
pub mod verbs {
    use super::Resource;

    /// `get`: read one object.
    pub trait Get: Resource {}
    /// `list`: read a collection.
    pub trait List: Resource {}
    /// `watch`: stream changes.
    pub trait Watch: Resource {}
    /// `create`: POST a new object.
    pub trait Create: Resource {}
    /// `update`: PUT a whole object.
    pub trait Update: Resource {}
    /// `patch`: PATCH an object.
    pub trait Patch: Resource {}
    /// `delete`: DELETE one object.
    pub trait Delete: Resource {}
    /// `deletecollection`: DELETE a collection.
    pub trait DeleteCollection: Resource {}
}

/// Receives the verbs a resource serves. Each method may only be called when
/// the resource implements the verb's marker, so an implementation can rely
/// on the verb being there (the server registers the verb's route in it).
pub trait VerbVisitor<K: Resource> {
    /// The resource serves `get`.
    fn get(&mut self)
    where
        K: verbs::Get;
    /// The resource serves `list`.
    fn list(&mut self)
    where
        K: verbs::List;
    /// The resource serves `watch`.
    fn watch(&mut self)
    where
        K: verbs::Watch;
    /// The resource serves `create`.
    fn create(&mut self)
    where
        K: verbs::Create;
    /// The resource serves `update`.
    fn update(&mut self)
    where
        K: verbs::Update;
    /// The resource serves `patch`.
    fn patch(&mut self)
    where
        K: verbs::Patch;
    /// The resource serves `delete`.
    fn delete(&mut self)
    where
        K: verbs::Delete;
    /// The resource serves `deletecollection`.
    fn delete_collection(&mut self)
    where
        K: verbs::DeleteCollection;
}

/// Receives every compiled-in resource (see `api::visit_resources`).
pub trait ResourceVisitor {
    /// Called once per served kind.
    fn visit<K: StaticResource>(&mut self);
}

/// Verb detection for a concrete type, in the manner of kube-apiserver's
/// installer asking a storage which verb interfaces it implements: for a type
/// `T`, `(&Probe::<T>::new()).get(v)` calls `v.get()` if `T: verbs::Get` and
/// does nothing otherwise (method resolution prefers the by-value impl when it
/// applies and falls back to the by-reference one). The derive emits these
/// calls for every verb.
pub mod detect {
    use super::*;

    /// A type-level question: which verbs does `K` implement?
    pub struct Probe<K>(PhantomData<K>);

    impl<K> Probe<K> {
        /// A probe for `K`.
        pub fn new() -> Self {
            Probe(PhantomData)
        }
    }

    impl<K> Default for Probe<K> {
        fn default() -> Self {
            Self::new()
        }
    }

    macro_rules! probes {
        ($($method:ident $marker:ident $has:ident $lacks:ident;)*) => {$(
            #[doc = concat!("Chosen when the type implements `verbs::", stringify!($marker), "`.")]
            pub trait $has<K: Resource, V: VerbVisitor<K>> {
                #[doc = concat!("Reports `", stringify!($method), "`.")]
                fn $method(&self, v: &mut V);
            }
            impl<K: verbs::$marker, V: VerbVisitor<K>> $has<K, V> for Probe<K> {
                fn $method(&self, v: &mut V) {
                    v.$method()
                }
            }
            #[doc = concat!("Chosen when the type does not implement `verbs::", stringify!($marker), "`.")]
            pub trait $lacks<V> {
                #[doc = concat!("Reports nothing.")]
                fn $method(&self, v: &mut V);
            }
            impl<K, V> $lacks<V> for &Probe<K> {
                fn $method(&self, _v: &mut V) {}
            }
        )*};
    }

    probes! {
        get Get HasGet LacksGet;
        list List HasList LacksList;
        watch Watch HasWatch LacksWatch;
        create Create HasCreate LacksCreate;
        update Update HasUpdate LacksUpdate;
        patch Patch HasPatch LacksPatch;
        delete Delete HasDelete LacksDelete;
        delete_collection DeleteCollection HasDeleteCollection LacksDeleteCollection;
    }
}

/// The OpenAPI v3 `components.schemas` of one served group/version (JSON).
#[derive(Clone, Copy, Debug)]
pub struct OpenApiSchemas {
    /// API group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// A JSON object: published schema name → schema.
    pub schemas: &'static str,
    /// Each served kind and the name its schema is published under.
    pub kinds: &'static [(&'static str, &'static str)],
}
