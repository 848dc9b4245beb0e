use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced")]
pub struct Widget {
    pub api_version: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
