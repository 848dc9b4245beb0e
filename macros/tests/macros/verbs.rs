//! `#[derive(Resource)]` on hand-written types: what `api_resource()` returns
//! and which verbs `visit_verbs` detects, from `verbs(...)` or from verb
//! markers implemented by hand.

use kapi_generated::api::meta::v1::ObjectMeta;
use kapi_generated::resource::{
    ColumnSource, PrinterColumn, Resource, ScaleSubresource, Scope, SelectableField,
    StaticResource, VerbVisitor, verbs,
};

/// Records the verb methods a resource's `visit_verbs` calls, in order.
#[derive(Default)]
struct Recorder(Vec<&'static str>);

impl<K: Resource> VerbVisitor<K> for Recorder {
    fn get(&mut self)
    where
        K: verbs::Get,
    {
        self.0.push("get");
    }
    fn list(&mut self)
    where
        K: verbs::List,
    {
        self.0.push("list");
    }
    fn watch(&mut self)
    where
        K: verbs::Watch,
    {
        self.0.push("watch");
    }
    fn create(&mut self)
    where
        K: verbs::Create,
    {
        self.0.push("create");
    }
    fn update(&mut self)
    where
        K: verbs::Update,
    {
        self.0.push("update");
    }
    fn patch(&mut self)
    where
        K: verbs::Patch,
    {
        self.0.push("patch");
    }
    fn delete(&mut self)
    where
        K: verbs::Delete,
    {
        self.0.push("delete");
    }
    fn delete_collection(&mut self)
    where
        K: verbs::DeleteCollection,
    {
        self.0.push("deletecollection");
    }
}

fn verbs_of<K: StaticResource>() -> Vec<&'static str> {
    let mut r = Recorder::default();
    K::visit_verbs(&mut r);
    r.0
}

/// A create-only, cluster-scoped kind, like a TokenReview.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(
    group = "review.example.com",
    version = "v1",
    kind = "Review",
    plural = "reviews",
    scope = "Cluster",
    verbs(create)
)]
pub struct Review {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub allowed: bool,
}

/// No `verbs(...)`: its verbs are the markers implemented below.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(
    group = "example.com",
    version = "v1alpha1",
    kind = "Gadget",
    plural = "gadgets",
    scope = "Namespaced"
)]
pub struct Gadget {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
}

impl kapi_generated::resource::verbs::Get for Gadget {}

/// Every attribute the derive knows.
// Clippy reads the two `type = "integer"` of the printer columns as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    plural = "widgets",
    singular = "wdgt",
    scope = "Namespaced",
    short_names("wd", "wg"),
    categories("all"),
    verbs(deletecollection, get, list, watch, create, update, patch, delete),
    status,
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printer_column(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
    printer_column(
        name = "Data",
        type = "integer",
        count(".data", ".binaryData"),
        format = "int32",
        description = "Entries.",
        priority = 1
    ),
    selectable_field("spec.color"),
    selectable_field("source", path = "source.component", path = "reportingComponent"),
    selectable_field("spec.ready", default = "false")
)]
pub struct Widget {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
}

#[test]
fn verbs_attribute_implements_exactly_the_named_verbs() {
    assert_eq!(verbs_of::<Review>(), ["create"]);
}

#[test]
fn a_hand_implemented_marker_is_detected() {
    assert_eq!(verbs_of::<Gadget>(), ["get"]);
}

#[test]
fn all_verbs_are_detected_in_a_fixed_order() {
    assert_eq!(
        verbs_of::<Widget>(),
        [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection"
        ]
    );
}

#[test]
fn api_resource_of_a_minimal_kind() {
    let r = Review::resource();
    assert_eq!(r.group, "review.example.com");
    assert_eq!(r.version, "v1");
    assert_eq!(r.kind, "Review");
    assert_eq!(r.plural, "reviews");
    // singular defaults to the kind in lower case
    assert_eq!(r.singular, "review");
    assert_eq!(r.scope, Scope::Cluster);
    assert!(r.short_names.is_empty());
    assert!(r.categories.is_empty());
    assert!(!r.status_subresource);
    assert_eq!(r.scale_subresource, None);
    assert!(r.printer_columns.is_empty());
    assert!(r.selectable_fields.is_empty());
    assert_eq!(r.api_version(), "review.example.com/v1");
}

#[test]
fn api_resource_of_a_full_kind() {
    let r = Widget::resource();
    assert_eq!(r.singular, "wdgt");
    assert_eq!(r.scope, Scope::Namespaced);
    assert_eq!(r.short_names, ["wd", "wg"]);
    assert_eq!(r.categories, ["all"]);
    assert!(r.status_subresource);
    assert_eq!(
        r.scale_subresource,
        Some(ScaleSubresource {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        })
    );
    assert_eq!(
        r.printer_columns,
        [
            PrinterColumn {
                name: "Replicas".into(),
                type_: "integer".into(),
                format: String::new(),
                description: String::new(),
                priority: 0,
                source: ColumnSource::Path(".spec.replicas".into()),
            },
            PrinterColumn {
                name: "Data".into(),
                type_: "integer".into(),
                format: "int32".into(),
                description: "Entries.".into(),
                priority: 1,
                source: ColumnSource::Count(vec![".data".into(), ".binaryData".into()]),
            },
        ]
    );
    assert_eq!(
        r.selectable_fields,
        [
            SelectableField::path("spec.color"),
            SelectableField {
                name: "source".into(),
                paths: vec!["source.component".into(), "reportingComponent".into()],
                default: String::new(),
            },
            SelectableField {
                name: "spec.ready".into(),
                paths: vec!["spec.ready".into()],
                default: "false".into(),
            },
        ]
    );
}

#[test]
fn type_meta_and_metadata_accessors() {
    let mut g = Gadget::default();
    assert_eq!(g.type_meta(), (None, None));
    g.set_type_meta("example.com/v1alpha1".into(), "Gadget".into());
    assert_eq!(
        g.type_meta(),
        (Some("example.com/v1alpha1"), Some("Gadget"))
    );
    assert_eq!(g.api_version.as_deref(), Some("example.com/v1alpha1"));
    g.metadata_mut().name = Some("g1".into());
    assert_eq!(g.metadata().name.as_deref(), Some("g1"));
}
