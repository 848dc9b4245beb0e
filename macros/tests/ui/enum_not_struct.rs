#[derive(Clone, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced")]
pub enum Widget {
    Small,
    Large,
}

fn main() {}
