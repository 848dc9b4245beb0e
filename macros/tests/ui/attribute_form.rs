use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(kapi_generated::Resource)]
#[resource]
pub struct NoList {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource = "example.com/v1"]
pub struct NameValue {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
