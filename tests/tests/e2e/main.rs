//! kapi end-to-end tests: each test starts its own kapi server (the binary
//! built by `cargo build -p kapi-server`, or `$KAPI_BIN`) and talks to it
//! with real clients: kubectl, the Python `kubernetes` client, raw HTTP.

mod harness;

mod accept_and_defaults;
mod auth;
mod ci_command;
mod client;
mod compaction;
mod crd;
mod crd_apply;
mod crd_cel_limits;
mod crd_schema_rules;
mod delete_collection;
mod durability;
mod etcd;
mod field_selectors;
mod get_cache;
mod http;
mod kube_rs;
mod kube_watch;
mod kubectl;
mod kubectl_sweep;
mod list;
mod list_snapshot;
mod load_wire;
mod managed_fields;
mod no_protoc;
mod openapi;
mod patch;
mod protobuf;
mod python;
mod restart_watch;
mod upstream;
mod watch_cache;
mod watch_shutdown;
mod workflow;
