//! kapi's API types, generated at build time from the schema files in
//! `api-defs/` (see `api-defs/README.md`), and the [`Resource`] abstraction
//! they share with hand-written types.
//!
//! This crate does no IO: clients use its types without pulling in the server.
//! The `client` feature adds a typed HTTP client, [`client::Api`] (not built by default).
//! Types live under [`api`], by group and version: `api::core::v1::ConfigMap`,
//! `api::coordination::v1::Lease`, `api::meta::v1::ObjectMeta`.

extern crate self as kapi_generated;

#[cfg(feature = "client")]
pub mod client;
mod int_or_string;
mod meta;
pub mod proto;
pub mod resource;
mod unstructured;

pub use int_or_string::IntOrString;
/// Makes a struct a resource; see the `kapi-macros` crate.
pub use kapi_macros::Resource;
pub use resource::{ApiResource, Resource, Scope, StaticResource};
pub use unstructured::Unstructured;

/// The generated types, one module per group and version.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod api {
    include!(concat!(env!("OUT_DIR"), "/api.rs"));
}
