//! kapi-codegen's integration tests, one test binary (fewer to link):
//! bad schema files, the real api-defs tree, snapshots of a small fixture,
//! and api-defs against upstream's OpenAPI documents.

mod errors;
mod real_api_defs;
mod snapshots;
mod wire_compat;
