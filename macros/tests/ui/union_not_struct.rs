#[derive(kapi_generated::Resource)]
#[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
           scope = "Namespaced")]
pub union Widget {
    small: u8,
    large: u64,
}

fn main() {}
