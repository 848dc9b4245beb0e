use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           group = "other.example.com")]
pub struct GroupTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           status, status)]
pub struct StatusTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           verbs(get), verbs(list))]
pub struct VerbsTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           scale(spec_replicas_path = ".spec.a", spec_replicas_path = ".spec.b",
                 status_replicas_path = ".status.a"))]
pub struct ScaleKeyTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(name = "A", name = "B", type = "string", json_path = ".spec.a"))]
pub struct ColumnKeyTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field("spec.ready", default = "false", default = "true"))]
pub struct SelectableDefaultTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field("spec.color"), selectable_field("spec.color"))]
pub struct SelectableFieldTwice {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

// Several #[resource] attributes are read as one list.
#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets")]
#[resource(scope = "Namespaced",
           plural = "gadgets")]
pub struct PluralInTwoAttributes {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
