use kapi_generated::api::meta::v1::ObjectMeta;

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(name = "A", type = "string", json_path = ".spec.a", width = 3))]
pub struct UnknownKey {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(name = "A", type = "integer", json_path = ".spec.a",
                          count(".spec.b")))]
pub struct BothSources {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(name = "A", type = "string"))]
pub struct NoSource {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(name = "A", type = "integer", count()))]
pub struct EmptyCount {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced",
           printer_column(type = "string", json_path = ".spec.a"))]
pub struct NoName {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
}

fn main() {}
