use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(Clone, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced", selectable_field("source", paths = "source.component"))]
pub struct Widget {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
