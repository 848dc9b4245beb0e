//! kapi's load generator: drives a Kubernetes API server over loopback
//! HTTP/1.1 with many keep-alive connections, for a fixed duration or count,
//! and prints requests/s, latency percentiles and the server's CPU per
//! request (from `/proc/<pid>/stat`) and RSS.
//!
//! ```text
//! kapi-load --url http://127.0.0.1:8080 --pid 1234 preload --count 10000
//! kapi-load --url … --pid … create|get|list --concurrency 64 --duration 15
//! kapi-load --url … --pid … watch --watchers 1000 --events 100
//! ```

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const NS: &str = "load";

struct Args {
    url: String,
    pids: Vec<u32>,
    scenario: String,
    concurrency: usize,
    duration: Duration,
    count: usize,
    watchers: usize,
    events: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        pids: Vec::new(),
        scenario: String::new(),
        concurrency: 64,
        duration: Duration::from_secs(15),
        count: 10_000,
        watchers: 100,
        events: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--url" => a.url = val()?,
            "--pid" => a
                .pids
                .push(val()?.parse().map_err(|e| format!("--pid: {e}"))?),
            "--concurrency" => a.concurrency = val()?.parse().map_err(|e| format!("{e}"))?,
            "--duration" => {
                a.duration = Duration::from_secs(val()?.parse().map_err(|e| format!("{e}"))?)
            }
            "--count" => a.count = val()?.parse().map_err(|e| format!("{e}"))?,
            "--watchers" => a.watchers = val()?.parse().map_err(|e| format!("{e}"))?,
            "--events" => a.events = val()?.parse().map_err(|e| format!("{e}"))?,
            s if !s.starts_with('-') && a.scenario.is_empty() => a.scenario = s.to_string(),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    if a.scenario.is_empty() {
        return Err("usage: kapi-load [--url U] [--pid P]… preload|create|get|list|watch [--concurrency C] [--duration S] [--count N] [--watchers N] [--events N]".into());
    }
    Ok(a)
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    host: String,
    r: BufReader<TcpStream>,
}

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(url: &str) -> io::Result<Conn> {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let s = TcpStream::connect(&host).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            host,
            r: BufReader::with_capacity(64 * 1024, s),
        })
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<()> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n",
            self.host
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut buf = req.into_bytes();
        if let Some(b) = body {
            buf.extend_from_slice(b);
        }
        self.r.get_mut().write_all(&buf).await
    }

    /// Status and headers; returns (status, content-length, chunked).
    async fn head(&mut self) -> io::Result<(u16, Option<usize>, bool)> {
        let mut line = String::new();
        self.r.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let (mut len, mut chunked) = (None, false);
        loop {
            line.clear();
            if self.r.read_line(&mut line).await? == 0 {
                return Err(io::Error::other("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        Ok((status, len, chunked))
    }

    /// The next chunk of a chunked body (empty at its end).
    async fn chunk(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut line = String::new();
        if self.r.read_line(&mut line).await? == 0 {
            return Ok(0);
        }
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| io::Error::other(format!("chunk size {line:?}: {e}")))?;
        let start = out.len();
        out.resize(start + size, 0);
        self.r.read_exact(&mut out[start..]).await?;
        let mut crlf = [0u8; 2];
        self.r.read_exact(&mut crlf).await?;
        Ok(size)
    }

    async fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<Resp> {
        self.send(method, path, body).await?;
        let (status, len, chunked) = self.head().await?;
        let mut out = Vec::new();
        if chunked {
            while self.chunk(&mut out).await? > 0 {}
        } else if let Some(n) = len {
            out.resize(n, 0);
            self.r.read_exact(&mut out).await?;
        }
        Ok(Resp { status, body: out })
    }
}

/// A ConfigMap of about 1 KiB.
fn configmap(name: &str) -> Vec<u8> {
    let data: String = "x".repeat(1000);
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": {"payload": data},
    }))
    .unwrap_or_default()
}

/// utime + stime of the pids, in seconds.
fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .sum::<f64>()
        / 100.0
}

/// (VmRSS, VmHWM) of the pids, in MiB.
fn rss_mib(pids: &[u32]) -> (f64, f64) {
    let mut out = (0.0, 0.0);
    for p in pids {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            for l in s.lines() {
                let kb = |l: &str| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0)
                        / 1024.0
                };
                if l.starts_with("VmRSS:") {
                    out.0 += kb(l);
                } else if l.starts_with("VmHWM:") {
                    out.1 += kb(l);
                }
            }
        }
    }
    out
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn ensure_namespace(url: &str) -> io::Result<()> {
    let mut c = Conn::open(url).await?;
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NS}"}}}}"#);
    let r = c
        .request("POST", "/api/v1/namespaces", Some(body.as_bytes()))
        .await?;
    if r.status != 201 && r.status != 409 {
        return Err(io::Error::other(format!("namespace create: {}", r.status)));
    }
    Ok(())
}

/// Runs `concurrency` connections doing `op` until `duration` passes; prints the figures.
async fn closed_loop(a: &Args, what: &str) -> io::Result<()> {
    let stop = Instant::now() + a.duration;
    let seq = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let run = format!("{:x}", std::process::id());
    let cpu0 = cpu_seconds(&a.pids);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (url, seq, errors, what, run, count) = (
            a.url.clone(),
            seq.clone(),
            errors.clone(),
            what.to_string(),
            run.clone(),
            a.count,
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut c = Conn::open(&url).await?;
            while Instant::now() < stop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let start = Instant::now();
                let r = match what.as_str() {
                    "create" => {
                        let body = configmap(&format!("c-{run}-{n}"));
                        c.request(
                            "POST",
                            &format!("/api/v1/namespaces/{NS}/configmaps"),
                            Some(&body),
                        )
                        .await?
                    }
                    "get" => {
                        let i = rand_index(n, count);
                        c.request(
                            "GET",
                            &format!("/api/v1/namespaces/{NS}/configmaps/cm-{i:05}"),
                            None,
                        )
                        .await?
                    }
                    _ => {
                        c.request("GET", &format!("/api/v1/namespaces/{NS}/configmaps"), None)
                            .await?
                    }
                };
                if !(200..300).contains(&r.status) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(start.elapsed().as_micros() as u64);
            }
            Ok::<_, io::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(io::Error::other)??);
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&a.pids) - cpu0;
    lat.sort_unstable();
    let (rss, hwm) = rss_mib(&a.pids);
    println!(
        "{what}: c={} {:.1}s requests={} errors={} req/s={:.0} p50={:.2}ms p99={:.2}ms server_cpu={:.2}s cpu/request={:.0}µs rss={rss:.1}MiB peak={hwm:.1}MiB",
        a.concurrency,
        secs,
        lat.len(),
        errors.load(Ordering::Relaxed),
        lat.len() as f64 / secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        cpu,
        if lat.is_empty() {
            0.0
        } else {
            cpu / lat.len() as f64 * 1e6
        },
    );
    Ok(())
}

/// A well-spread index in 0..count (a multiplicative hash, no RNG needed).
fn rand_index(n: u64, count: usize) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % count.max(1) as u64
}

async fn preload(a: &Args) -> io::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.min(16) {
        let (url, next, count) = (a.url.clone(), next.clone(), a.count);
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&url).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, io::Error>(());
                }
                let body = configmap(&format!("cm-{i:05}"));
                let r = c
                    .request(
                        "POST",
                        &format!("/api/v1/namespaces/{NS}/configmaps"),
                        Some(&body),
                    )
                    .await?;
                if r.status != 201 && r.status != 409 {
                    return Err(io::Error::other(format!("preload create: {}", r.status)));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(io::Error::other)??;
    }
    let (rss, hwm) = rss_mib(&a.pids);
    println!(
        "preload: {} ConfigMaps in {:.1}s; server rss={rss:.1}MiB peak={hwm:.1}MiB",
        a.count,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Opens `watchers` watches from one list's resourceVersion, creates `events`
/// ConfigMaps one after the other and measures when each watcher got each.
async fn watch(a: &Args) -> io::Result<()> {
    let mut c = Conn::open(&a.url).await?;
    let r = c
        .request(
            "GET",
            &format!("/api/v1/namespaces/{NS}/configmaps?limit=1"),
            None,
        )
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&r.body).map_err(io::Error::other)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let run = format!("w{:x}", std::process::id());
    let opened = Arc::new(AtomicUsize::new(0));
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.watchers {
        let (url, rv, run, opened, want) = (
            a.url.clone(),
            rv.clone(),
            run.clone(),
            opened.clone(),
            a.events,
        );
        tasks.push(tokio::spawn(async move {
            // Arrival time (µs since epoch) per event index.
            let mut got: HashMap<usize, u64> = HashMap::new();
            let mut conn = None;
            for attempt in 0..20 {
                match Conn::open(&url).await {
                    Ok(c) => {
                        conn = Some(c);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await,
                }
            }
            let Some(mut c) = conn else {
                return got;
            };
            let path = format!(
                "/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=600"
            );
            if c.send("GET", &path, None).await.is_err() {
                return got;
            }
            match c.head().await {
                Ok((200, _, true)) => {}
                _ => return got,
            }
            opened.fetch_add(1, Ordering::Relaxed);
            let marker = format!("\"name\":\"{run}-");
            let mut buf = Vec::new();
            while got.len() < want {
                match c.chunk(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let now = epoch.elapsed().as_micros() as u64;
                while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let s = String::from_utf8_lossy(&line);
                    if let Some(i) = s.find(&marker) {
                        let rest = &s[i + marker.len()..];
                        let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        if let Ok(n) = n.parse() {
                            got.entry(n).or_insert(now);
                        }
                    }
                }
            }
            got
        }));
    }
    // Wait until every watch is open (or give up after a minute).
    let wait = Instant::now();
    while opened.load(Ordering::Relaxed) < a.watchers && wait.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open = opened.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = cpu_seconds(&a.pids);
    let mut sent = Vec::new();
    for i in 0..a.events {
        sent.push(epoch.elapsed().as_micros() as u64);
        let body = configmap(&format!("{run}-{i}"));
        let r = c
            .request(
                "POST",
                &format!("/api/v1/namespaces/{NS}/configmaps"),
                Some(&body),
            )
            .await?;
        if r.status != 201 {
            return Err(io::Error::other(format!("create: {}", r.status)));
        }
    }
    let mut lat = Vec::new();
    let mut slowest = vec![0u64; a.events];
    let mut received = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for t in tasks {
        let got = match tokio::time::timeout_at(deadline, t).await {
            Ok(Ok(g)) => g,
            _ => HashMap::new(),
        };
        received += got.len();
        for (i, at) in got {
            if let Some(s) = sent.get(i) {
                let d = at.saturating_sub(*s);
                lat.push(d);
                slowest[i] = slowest[i].max(d);
            }
        }
    }
    let cpu = cpu_seconds(&a.pids) - cpu0;
    lat.sort_unstable();
    slowest.sort_unstable();
    let (rss, hwm) = rss_mib(&a.pids);
    println!(
        "watch: watchers={} open={open} events={} delivered={received}/{} ({:.2}%) p50={:.2}ms p99={:.2}ms slowest-watcher p50={:.2}ms p99={:.2}ms server_cpu={cpu:.2}s rss={rss:.1}MiB peak={hwm:.1}MiB",
        a.watchers,
        a.events,
        a.watchers * a.events,
        received as f64 * 100.0 / (a.watchers * a.events).max(1) as f64,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&slowest, 0.5),
        pct(&slowest, 0.99),
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = async {
        ensure_namespace(&a.url).await?;
        match a.scenario.as_str() {
            "preload" => preload(&a).await,
            "create" | "get" | "list" => closed_loop(&a, &a.scenario).await,
            "watch" => watch(&a).await,
            s => Err(io::Error::other(format!("unknown scenario {s}"))),
        }
    }
    .await;
    if let Err(e) = result {
        eprintln!("kapi-load: {e}");
        std::process::exit(1);
    }
}
