use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field(path = "spec.color"))]
pub struct NoLabel {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field())]
pub struct Empty {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field("source", path = ".source.component"))]
pub struct BadSubPath {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           selectable_field("metadata.name"))]
pub struct MetadataName {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
