//! Patch formats that need the schema: strategic merge patch (and, later,
//! server-side apply). The schema lookup ([`schema`]) is built once per kind
//! from the generated OpenAPI schemas; a resource with no schema metadata
//! (custom resources) has none, and refuses strategic merge with 415.

pub mod apply;
pub mod managed_fields;
pub mod merge;
pub mod schema;
pub mod strategic;

pub use schema::{Node, PatchSchema};
