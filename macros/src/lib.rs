//! Derive macros that make a Rust type a kapi resource.
//!
//! `#[derive(Resource)]` with a `#[resource(...)]` attribute implements
//! `kapi_generated::Resource` (how the type is served), the verb markers named
//! in `verbs(...)`, and `StaticResource::visit_verbs`, which detects the verbs
//! from the markers the type implements. The server's installer turns those
//! verbs into routes and discovery entries. It works the same on generated
//! types and on hand-written ones in any crate.
//!
//! ```ignore
//! #[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, kapi_generated::Resource)]
//! #[resource(group = "example.com", version = "v1", kind = "Widget", plural = "widgets",
//!            scope = "Namespaced", verbs(get, list, watch, create, update, patch, delete), status)]
//! pub struct Widget {
//!     #[serde(rename = "apiVersion")]
//!     pub api_version: Option<String>,
//!     pub kind: Option<String>,
//!     pub metadata: kapi_generated::api::meta::v1::ObjectMeta,
//!     pub spec: WidgetSpec,
//! }
//! ```

mod attrs;
mod resource;

use proc_macro::TokenStream;

/// Makes a struct a resource. See the crate documentation.
#[proc_macro_derive(Resource, attributes(resource))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    resource::derive(input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}
