//! CPU per server-side apply request through the typed store (no HTTP): an
//! unchanged 1 KiB ConfigMap (the no-op path controllers hit) and a changed
//! one (which also writes and fsyncs). Run with
//! `cargo run --release -p kapi-server --example apply_noop [N]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kapi_server::rest::install::RegistryBuilder;
use kapi_server::rest::{PatchBody, PatchType, RequestScope};
use kapi_server::storage::Storage;
use kapi_server::storage::embedded::EmbeddedStore;
use serde_json::{Value, json};

/// User + system CPU of this process, from /proc/self/stat (clock ticks of 10 ms).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the comm field, field 3 (state) is index 0: utime (14) and stime (15) are 11 and 12.
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

fn config(value: &str) -> Value {
    let data: serde_json::Map<String, Value> = (0..16)
        .map(|i| {
            (
                format!("key-{i:02}"),
                json!(format!("{value}-{}", "x".repeat(40))),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bench", "namespace": "default", "labels": {"app": "bench"}},
        "data": data})
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
    let mut b = RegistryBuilder::new(storage);
    b.add_generated();
    let registry = b.build();
    let ns = registry
        .lookup("", "v1", "namespaces")
        .and_then(|e| e.creater.clone())
        .expect("ns");
    ns.create(
        &RequestScope::default(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
    )
    .await
    .expect("namespace");
    let cms = registry
        .lookup("", "v1", "configmaps")
        .and_then(|e| e.patcher.clone())
        .expect("patcher");
    let scope = RequestScope {
        namespace: Some("default".into()),
        field_manager: Some("bench".into()),
        ..Default::default()
    };
    let body = |v: &str| PatchBody {
        type_: PatchType::Apply,
        patch: config(v),
        force: false,
    };
    let created = cms
        .patch(&scope, "bench", body("v"))
        .await
        .expect("create by apply");
    let size = serde_json::to_vec(&config("v"))
        .map(|b| b.len())
        .unwrap_or(0);
    println!(
        "object: {} bytes applied, {} bytes stored",
        size,
        serde_json::to_vec(&created.object)
            .map(|b| b.len())
            .unwrap_or(0)
    );

    for (label, count, changed) in [("unchanged", n, false), ("changed", n / 20, true)] {
        let (c0, t0) = (cpu(), Instant::now());
        for i in 0..count {
            let v = if changed {
                format!("v{i}")
            } else {
                "v".to_string()
            };
            cms.patch(&scope, "bench", body(&v)).await.expect("apply");
        }
        let (cpu_used, wall) = (cpu() - c0, t0.elapsed());
        println!(
            "{label}: {count} applies, {:.1} µs CPU and {:.1} µs wall per request, {:.0} requests/s on one thread",
            cpu_used.as_secs_f64() * 1e6 / count as f64,
            wall.as_secs_f64() * 1e6 / count as f64,
            count as f64 / wall.as_secs_f64()
        );
    }
}
