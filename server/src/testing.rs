//! An in-process kapi for Rust users' own tests, instead of downloading and
//! starting etcd and kube-apiserver:
//!
//! ```no_run
//! # async fn demo() {
//! let server = kapi_server::testing::TestServer::start().await;
//! println!("{} {}", server.url(), server.kubeconfig().display());
//! # }
//! ```
//!
//! Each server listens on a free loopback port with an in-memory embedded
//! store (redb's in-memory backend: no file, no fsync) and writes its
//! kubeconfig into a temporary directory of its own, so many run side by side
//! in one process.
//! Dropping it stops it: the server task is aborted and the directory removed.
//!
//! [`wait_until`] and [`wait_until_async`] wait for a condition with a
//! deadline (an event arrived, a resource is served, a process exited):
//! kapi's own tests synchronise with them, never with a bare sleep.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::storage::Storage;
use crate::storage::embedded::EmbeddedStore;
use crate::{Config, Running, StartError};

/// A kapi serving on loopback for the length of a test.
pub struct TestServer {
    running: Option<Running>,
    url: String,
    kubeconfig: PathBuf,
    storage: Arc<dyn Storage>,
    // Dropped after the server (fields drop in order): the kubeconfig's directory.
    dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server; panics (with the reason) if it cannot, as a test fixture does.
    pub async fn start() -> TestServer {
        match TestServer::try_start().await {
            Ok(s) => s,
            Err(e) => panic!("kapi test server did not start: {e}"),
        }
    }

    /// Starts a server.
    pub async fn try_start() -> Result<TestServer, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("kapi-test-")
            .tempdir()
            .map_err(|e| StartError::DataDir {
                dir: std::env::temp_dir().display().to_string(),
                reason: e.to_string(),
            })?;
        let store = EmbeddedStore::open_in_memory().map_err(|e| StartError::DataDir {
            dir: "(memory)".into(),
            reason: e.to_string(),
        })?;
        let storage: Arc<dyn Storage> = Arc::new(store);
        let running = crate::start_with_storage(
            Config {
                data_dir: dir.path().to_path_buf(),
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                etcd_servers: Vec::new(),
                etcd_prefix: "/registry".into(),
                compaction_interval: Duration::ZERO,
            },
            storage.clone(),
        )
        .await?;
        Ok(TestServer {
            url: running.url(),
            kubeconfig: running.kubeconfig.clone(),
            running: Some(running),
            storage,
            dir,
        })
    }

    /// The server's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.running
            .as_ref()
            .map(|r| r.addr)
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// The kubeconfig file it wrote (context `kapi`, namespace `default`),
    /// for `KUBECONFIG=` or a client library.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig's text.
    pub fn kubeconfig_yaml(&self) -> String {
        crate::kubeconfig::render(&self.url)
    }

    /// The temporary directory holding the kubeconfig.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Compacts the store's history up to the current revision, as the
    /// periodic compaction of a real server would: a watch or continue token
    /// from an older resourceVersion then gets 410 Gone (to test relisting).
    pub async fn compact(&self) {
        let rev = match self.storage.current_rev().await {
            Ok(r) => r,
            Err(e) => panic!("kapi test server: current revision: {e}"),
        };
        if let Err(e) = self.storage.compact(rev).await {
            panic!("kapi test server: compaction: {e}");
        }
    }

    /// A `kube::Client` for this server (feature `kube`).
    #[cfg(feature = "kube")]
    pub fn kube_client(&self) -> kube::Client {
        let uri = match self.url.parse() {
            Ok(u) => u,
            Err(e) => panic!("kapi test server URL {}: {e}", self.url),
        };
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        match kube::Client::try_from(config) {
            Ok(c) => c,
            Err(e) => panic!("kube client for the kapi test server: {e}"),
        }
    }

    /// Stops the server gracefully (waits for open requests, such as watches,
    /// to end) and removes its directory.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop().await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}

/// How often [`wait_until`] and [`wait_until_async`] look again.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

#[track_caller]
fn waited_too_long(what: &str, timeout: Duration, started: Instant) -> ! {
    panic!(
        "timed out after {:?} (limit {timeout:?}) waiting for {what}",
        started.elapsed()
    )
}

/// Blocks until `cond` holds, looking again every 10 ms; panics naming
/// `what` when it still does not after `timeout`. The one polling loop of
/// kapi's tests (with its async twin [`wait_until_async`]): a test waits for
/// a condition, never for time to pass.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let done = Arc::new(AtomicBool::new(false));
/// let flag = done.clone();
/// std::thread::spawn(move || flag.store(true, Ordering::SeqCst));
/// kapi_server::testing::wait_until("the thread to finish", Duration::from_secs(5), || {
///     done.load(Ordering::SeqCst)
/// });
/// ```
#[track_caller]
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        if started.elapsed() >= timeout {
            waited_too_long(what, timeout, started);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// [`wait_until`] for async code: awaits `cond()` until it gives true,
/// every 10 ms, and panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until_async(
    what: &str,
    timeout: Duration,
    mut cond: impl AsyncFnMut() -> bool,
) -> impl std::future::Future<Output = ()> {
    let caller = std::panic::Location::caller();
    let what = what.to_string();
    async move {
        let started = Instant::now();
        while !cond().await {
            if started.elapsed() >= timeout {
                panic!(
                    "timed out after {:?} (limit {timeout:?}) waiting for {what} (at {caller})",
                    started.elapsed()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = url.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_and_is_gone_when_dropped() {
        let a = TestServer::start().await;
        let b = TestServer::start().await;
        assert_ne!(a.url(), b.url());
        assert!(get(a.url()).await.starts_with("HTTP/1.1 200"));
        assert!(get(b.url()).await.starts_with("HTTP/1.1 200"));
        let text = std::fs::read_to_string(a.kubeconfig()).unwrap();
        assert!(text.contains(&format!("server: {}", a.url())), "{text}");
        assert_eq!(text, a.kubeconfig_yaml());
        let (addr, dir) = (a.addr(), a.data_dir().to_path_buf());
        drop(a);
        // The task is aborted at once; the listener closes when it has run down.
        wait_until_async(
            "the dropped server to stop listening",
            Duration::from_secs(5),
            async || tokio::net::TcpStream::connect(addr).await.is_err(),
        )
        .await;
        assert!(!dir.exists());
        b.stop().await;
    }
}
