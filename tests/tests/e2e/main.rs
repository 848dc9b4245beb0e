//! kapi end-to-end tests: each test starts its own kapi server (the binary
//! built by `cargo build -p kapi-server`, or `$KAPI_BIN`) and talks to it
//! with real clients: kubectl, the Python `kubernetes` client, raw HTTP.

mod harness;

mod client;
mod compaction;
mod crd;
mod durability;
mod etcd;
mod http;
mod kube_rs;
mod kube_watch;
mod kubectl;
mod list;
mod patch;
mod protobuf;
mod python;
mod restart_watch;
mod watch_cache;
mod watch_shutdown;
mod workflow;
