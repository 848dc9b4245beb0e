//! The derive's integration tests, in one test binary: `verbs` (what the
//! derive emits, on hand-written types) and `ui` (its compile errors, one
//! trybuild run over `tests/ui/*.rs`).

mod ui;
mod verbs;
