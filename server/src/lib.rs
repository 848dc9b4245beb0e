//! kapi's runtime.
pub mod storage;
