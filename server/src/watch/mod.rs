//! The watch cache: one storage watch per resource type feeds an in-memory
//! cache that serves every API watch of the type ([`cache`]), and the
//! per-watcher streams that filter and deliver its events ([`watcher`]).

pub mod cache;
pub mod watcher;
