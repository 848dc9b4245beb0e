// One compile reports every mistake: of the attribute (whichever keys are
// wrong, and the required ones that are missing) and of the type's fields.
#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = 1, plural = "widgets", scope = "Global",
           verbs(get, fetch), colour = "blue", serde::rename = "w",
           printer_column(name = "Size", type = "int"))]
pub struct Widget {
    pub api_version: Option<String>,
    pub spec: String,
}

fn main() {}
