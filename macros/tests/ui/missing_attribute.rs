use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(Clone, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
pub struct Widget {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
