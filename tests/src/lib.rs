//! kapi's end-to-end tests live in `tests/e2e/`; this library holds the load
//! generator's wire helpers (`load_wire`), tested there (`load_wire.rs`).

pub mod load_wire;
