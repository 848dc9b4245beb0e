//! A throw-away etcd server for tests and benchmarks: Debian's `/usr/bin/etcd`
//! (package `etcd-server`, or `$ETCD_BIN`) on free loopback ports with a
//! temporary data directory, stopped (SIGKILL) when dropped. Every wait is
//! bounded. Not used by the server itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long etcd may take to answer `/health`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running etcd.
pub struct EtcdProcess {
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    starts: u32,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local address").port()
}

/// The etcd binary: `$ETCD_BIN`, else `/usr/bin/etcd`.
pub fn etcd_bin() -> PathBuf {
    std::env::var_os("ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

impl EtcdProcess {
    /// Starts etcd and waits until it is healthy. Panics (with the reason)
    /// when it cannot: the README's test command installs `etcd-server`.
    pub fn start() -> EtcdProcess {
        let dir = tempfile::Builder::new()
            .prefix("kapi-etcd-")
            .tempdir()
            .expect("create a temporary directory for etcd");
        let mut p = EtcdProcess {
            dir,
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
            starts: 0,
        };
        p.spawn_and_wait();
        p
    }

    /// The client URL, like `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Stops etcd with SIGKILL (its data directory stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts etcd again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait();
    }

    /// etcd's log of its latest start.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("etcd-{}.log", self.starts))
    }

    fn spawn_and_wait(&mut self) {
        self.starts += 1;
        let bin = etcd_bin();
        assert!(
            bin.is_file(),
            "etcd is missing at {} (install the etcd-server package or set ETCD_BIN)",
            bin.display()
        );
        let log = std::fs::File::create(self.log_path()).expect("create the etcd log");
        let err = log.try_clone().expect("clone the etcd log handle");
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(&bin)
            .arg("--name")
            .arg("kapi-test")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .arg("--initial-cluster")
            .arg(format!("kapi-test={peer}"))
            .args(["--log-level", "warn", "--logger", "zap"])
            .env_remove("ETCDCTL_API")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
        // On a timeout the panic drops (stops) it and prints its log.
        crate::testing::wait_until("etcd to answer /health", STARTUP_TIMEOUT, || {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("etcd exited with {status}:\n{}", self.logs());
            }
            self.healthy()
        });
    }

    /// Whether `GET /health` answers `"health":"true"`.
    fn healthy(&self) -> bool {
        let addr = ([127, 0, 0, 1], self.client_port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.contains("\"health\":\"true\"")
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("etcd's log:\n{}", self.logs());
        }
    }
}
