//! kapi's runtime: routing, REST storage, storage backends, watch,
//! discovery and OpenAPI for the resources generated from `api-defs/`.
//!
//! [`start`] serves on the embedded store; the binary (`kapi`) is a thin
//! wrapper around it.

pub mod cli;
pub mod crd;
pub mod discovery;
pub mod error;
pub mod http;
pub mod jsonpath;
pub mod kubeconfig;
pub mod openapi;
pub mod patch;
pub mod rest;
pub mod review;
pub mod selector;
pub mod snapshot;
pub mod storage;
pub mod table;
pub mod table_events;
pub mod testing;
pub mod watch;
pub mod wire_json;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::rest::RequestScope;
use crate::rest::install::{Registry, RegistryBuilder};
use crate::storage::Storage;
use crate::storage::embedded::EmbeddedStore;
use crate::storage::etcd::EtcdStore;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the embedded store and the kubeconfig live.
    pub data_dir: PathBuf,
    /// Where to listen (port 0: any free port).
    pub addr: SocketAddr,
    /// etcd servers (`--etcd-servers`); empty: the embedded store.
    pub etcd_servers: Vec<String>,
    /// The root of every key in etcd (`--etcd-prefix`).
    pub etcd_prefix: String,
    /// How often the store's history is compacted (`--compaction-interval`; zero: never).
    pub compaction_interval: std::time::Duration,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be used.
    #[error("cannot use data directory {dir}: {reason}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The system namespaces could not be created.
    #[error("cannot create the system namespaces: {0}")]
    Bootstrap(String),
    /// The etcd client could not be set up.
    #[error("cannot use etcd: {0}")]
    Etcd(String),
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    /// Ends when the server stops.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// The server's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.unwrap_or(Ok(()))
    }
}

async fn bootstrap(registry: &Registry) -> Result<(), StartError> {
    let ep = registry
        .lookup("", "v1", "namespaces")
        .and_then(|e| e.creater.clone())
        .ok_or_else(|| StartError::Bootstrap("namespaces are not served".into()))?;
    // Created as upstream's system-namespaces controller does, whose
    // requests name the manager `kube-apiserver` (by their User-Agent).
    let scope = RequestScope {
        field_manager: Some("kube-apiserver".into()),
        ..RequestScope::default()
    };
    for name in rest::strategy::SYSTEM_NAMESPACES {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match ep.create(&scope, body).await {
            Ok(_) => {}
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(StartError::Bootstrap(e.message)),
        }
    }
    Ok(())
}

/// Compacts the store's history every `interval`, as upstream does: each run
/// compacts to the revision the previous run saw, so at least one interval
/// of history stays for watches and continue tokens.
fn spawn_compactor(
    storage: Arc<dyn Storage>,
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut previous = None;
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                _ = ticks.tick() => {}
            }
            if let Some(rev) = previous {
                match storage.compact(rev).await {
                    Ok(done) => tracing::debug!(revision = done, "compacted the store's history"),
                    Err(e) => tracing::warn!(error = %e, "compaction failed"),
                }
            }
            previous = storage.current_rev().await.ok();
        }
    });
}

/// Opens the store, binds, bootstraps, writes the kubeconfig and serves.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let dir_err = |reason: String| StartError::DataDir {
        dir: config.data_dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|e| dir_err(e.to_string()))?;
    let storage: Arc<dyn Storage> = if config.etcd_servers.is_empty() {
        Arc::new(EmbeddedStore::open(&config.data_dir).map_err(|e| dir_err(e.to_string()))?)
    } else {
        Arc::new(
            EtcdStore::connect(&config.etcd_servers, &config.etcd_prefix)
                .await
                .map_err(|e| StartError::Etcd(e.to_string()))?,
        )
    };
    start_with_storage(config, storage).await
}

/// Binds, bootstraps, writes the kubeconfig (into `config.data_dir`) and
/// serves on a store opened by the caller (the in-process test server uses
/// an in-memory one).
pub async fn start_with_storage(
    config: Config,
    storage: Arc<dyn Storage>,
) -> Result<Running, StartError> {
    let dir_err = |reason: String| StartError::DataDir {
        dir: config.data_dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|e| dir_err(e.to_string()))?;
    if let Err(e) = storage.health().await {
        tracing::error!(servers = ?config.etcd_servers, error = %e, "etcd is not reachable");
    }
    let mut builder = RegistryBuilder::new(storage.clone());
    builder.add_generated();
    let registry = builder.build();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| StartError::Listen {
            addr: config.addr,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen {
        addr: config.addr,
        reason: e.to_string(),
    })?;
    // On etcd, an unreachable server is not fatal: serve (not ready) and retry.
    let on_etcd = !config.etcd_servers.is_empty();
    let bootstrapped = match bootstrap(&registry).await {
        Ok(()) => true,
        Err(e) if on_etcd => {
            tracing::error!(servers = ?config.etcd_servers, error = %e, "etcd is not reachable; /readyz reports not ready and start-up retries");
            false
        }
        Err(e) => return Err(e),
    };
    let gv = format!("v1.{}.0", http::KUBE_MINOR);
    let discovery = Arc::new(snapshot::Snapshot::new(discovery::Discovery::build(
        &registry,
    )));
    let openapi = Arc::new(snapshot::Snapshot::new(openapi::OpenApi::build(
        &registry, &gv,
    )));
    let crds = crd::CrdServer::new(
        storage.clone(),
        registry.clone(),
        discovery.clone(),
        openapi.clone(),
        gv.clone(),
    );
    let crds_started = match crds.start().await {
        Ok(()) => true,
        Err(e) if on_etcd => {
            tracing::error!(error = %e, "cannot read CustomResourceDefinitions yet; start-up retries");
            false
        }
        Err(e) => {
            return Err(StartError::Bootstrap(format!(
                "cannot read CustomResourceDefinitions: {e}"
            )));
        }
    };
    let crd_server = crds.clone();
    let state = Arc::new(http::AppState {
        discovery,
        openapi,
        registry,
        delegate: Arc::new(crd::handler::CrdHandler(crds)),
        ready: AtomicBool::new(false),
        storage,
    });
    let url = format!("http://{addr}");
    let kubeconfig =
        kubeconfig::write(&config.data_dir, &url).map_err(|e| dir_err(e.to_string()))?;
    if bootstrapped && crds_started {
        state.ready.store(true, Ordering::Release);
    } else {
        let state = state.clone();
        tokio::spawn(async move {
            let (mut bootstrapped, mut crds_started) = (bootstrapped, crds_started);
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                if !bootstrapped {
                    match bootstrap(&state.registry).await {
                        Ok(()) => bootstrapped = true,
                        Err(e) => tracing::warn!(error = %e, "etcd still not reachable; retrying"),
                    }
                }
                if bootstrapped && !crds_started {
                    match crd_server.start().await {
                        Ok(()) => crds_started = true,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read CustomResourceDefinitions yet; retrying")
                        }
                    }
                }
                if bootstrapped && crds_started {
                    tracing::info!("etcd reached; start-up finished");
                    state.ready.store(true, Ordering::Release);
                    return;
                }
            }
        });
    }
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    spawn_compactor(
        state.storage.clone(),
        config.compaction_interval,
        rx.clone(),
    );
    let stop = rx.clone();
    let app = http::router(state).layer(axum::middleware::map_response(
        move |resp: axum::response::Response| {
            let resp = http::shutdown::end_watches_on_stop(resp, &stop);
            async move { resp }
        },
    ));
    let task = tokio::spawn(async move {
        // TCP_NODELAY on every connection, as Go's net package (and so
        // kube-apiserver) does: with Nagle's algorithm a watch event written
        // while the previous one is unacknowledged waits for the client's
        // delayed ACK (up to 40 ms on Linux).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(Running {
        addr,
        kubeconfig,
        task,
        shutdown,
    })
}
