//! kapi's load generator: drives a Kubernetes API server over loopback
//! HTTP/1.1 with many keep-alive connections, for a fixed duration or count,
//! and prints requests/s, latency percentiles and the server's CPU per
//! request (from `/proc/<pid>/stat`) and RSS.
//!
//! ```text
//! kapi-load --url http://127.0.0.1:8080 --pid 1234 preload --count 10000
//! kapi-load --url … --pid … create|get|list --concurrency 64 --duration 15
//! kapi-load --url … --pid … watch --watchers 1000 --events 100 [--interval-ms 20]
//! kapi-load --url … --pid … apply-noop|apply-changed --concurrency 64 --duration 15
//! kapi-load … --encoding protobuf get|list|create|watch|apply-…
//! kapi-load --threads 1 …   (one runtime thread; default one per core)
//! ```
//!
//! Every answer is decoded into the project's typed values (`ConfigMap`,
//! `ConfigMapList`, watch events) in the run's encoding (`--encoding json`,
//! the default, or `protobuf`), and an answer that is not the expected object
//! counts as an error. A protobuf run first checks once that the server's
//! protobuf answers hold what its JSON answers hold.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kapi_tests::load_wire::{self as wire, Encoding};
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
    /// Pause between the watch scenario's creates (0: back to back).
    interval: Duration,
    /// Runtime threads (0: tokio's default).
    threads: usize,
    encoding: Encoding,
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
        interval: Duration::ZERO,
        threads: 0,
        encoding: Encoding::Json,
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
            "--interval-ms" => {
                a.interval = Duration::from_micros(
                    (val()?.parse::<f64>().map_err(|e| format!("{e}"))? * 1000.0) as u64,
                )
            }
            "--threads" => a.threads = val()?.parse().map_err(|e| format!("{e}"))?,
            "--encoding" => a.encoding = Encoding::parse(&val()?)?,
            s if !s.starts_with('-') && a.scenario.is_empty() => a.scenario = s.to_string(),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    if a.scenario.is_empty() {
        return Err("usage: kapi-load [--url U] [--pid P]… preload|create|get|list|watch|apply-noop|apply-changed [--encoding json|protobuf] [--concurrency C] [--duration S] [--count N] [--watchers N] [--events N] [--interval-ms MS] [--threads N]".into());
    }
    Ok(a)
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    host: String,
    /// The Accept header of every request.
    accept: &'static str,
    r: BufReader<TcpStream>,
}

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn open(url: &str, enc: Encoding) -> io::Result<Conn> {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let s = TcpStream::connect(&host).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            host,
            accept: enc.media_type(),
            r: BufReader::with_capacity(64 * 1024, s),
        })
    }

    /// Sends a request; `body` is (bytes, Content-Type).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&[u8], &str)>,
    ) -> io::Result<()> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\n",
            self.host, self.accept
        );
        if let Some((b, ct)) = body {
            req.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut buf = req.into_bytes();
        if let Some((b, _)) = body {
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

    /// The next chunk of a chunked body (empty at its end), appended to `out`.
    async fn chunk(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut line = Vec::with_capacity(16);
        if self.r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(0);
        }
        let hex = line
            .split(|b| *b == b';' || *b == b'\r' || *b == b'\n')
            .next();
        let size = hex
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| usize::from_str_radix(h.trim(), 16).ok())
            .ok_or_else(|| {
                io::Error::other(format!("chunk size {:?}", String::from_utf8_lossy(&line)))
            })?;
        let start = out.len();
        out.resize(start + size, 0);
        self.r.read_exact(&mut out[start..]).await?;
        let mut crlf = [0u8; 2];
        self.r.read_exact(&mut crlf).await?;
        Ok(size)
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&[u8], &str)>,
    ) -> io::Result<Resp> {
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

/// A ConfigMap of about 1 KiB as a create body: (bytes, Content-Type).
fn configmap(name: &str, enc: Encoding) -> (Vec<u8>, &'static str) {
    (
        wire::encode_config_map(&wire::config_map(name, NS, &[]), enc),
        enc.media_type(),
    )
}

/// Checks that an answer is the ConfigMap `name`.
fn check_config_map(r: &Resp, name: &str, enc: Encoding) -> Result<(), String> {
    let cm = wire::decode_config_map(&r.body, enc)?;
    match cm.metadata.name.as_deref() {
        Some(n) if n == name => Ok(()),
        other => Err(format!("expected ConfigMap {name}, got {other:?}")),
    }
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
    let mut c = Conn::open(url, Encoding::Json).await?;
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NS}"}}}}"#);
    let r = c
        .request(
            "POST",
            "/api/v1/namespaces",
            Some((body.as_bytes(), "application/json")),
        )
        .await?;
    if r.status != 201 && r.status != 409 {
        return Err(io::Error::other(format!("namespace create: {}", r.status)));
    }
    Ok(())
}

/// The name of connection `conn`'s object in the apply scenarios.
fn apply_name(run: &str, conn: usize) -> String {
    format!("apply-{run}-{conn}")
}

/// A server-side apply of connection `conn`'s object by field manager
/// `bench`: the same ≈ 1 KiB body every time (`apply-noop`) or one whose
/// `counter` value is `n` (`apply-changed`). Bodies are JSON (valid YAML);
/// apply patches have no protobuf form.
async fn apply(c: &mut Conn, run: &str, conn: usize, counter: u64) -> io::Result<Resp> {
    let name = apply_name(run, conn);
    let counter = counter.to_string();
    let cm = wire::config_map(&name, NS, &[("counter", &counter)]);
    let body = wire::encode_config_map(&cm, Encoding::Json);
    c.request(
        "PATCH",
        &format!("/api/v1/namespaces/{NS}/configmaps/{name}?fieldManager=bench"),
        Some((&body, "application/apply-patch+yaml")),
    )
    .await
}

/// What every request of one closed-loop connection shares.
struct Loop {
    what: String,
    /// This connection's index (its object in the apply scenarios).
    conn: usize,
    run: String,
    count: usize,
    enc: Encoding,
    /// Items in the last list answer.
    items: Arc<AtomicUsize>,
}

/// The `n`th request of a closed loop; `Err` inside is a wrong answer (status or body).
async fn one_request(c: &mut Conn, l: &Loop, n: u64) -> io::Result<Result<(), String>> {
    let (what, conn, run, count, enc) = (l.what.as_str(), l.conn, l.run.as_str(), l.count, l.enc);
    let ok_status = |r: &Resp| {
        if (200..300).contains(&r.status) {
            Ok(())
        } else {
            Err(format!(
                "status {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
            ))
        }
    };
    Ok(match what {
        "create" => {
            let name = format!("c-{run}-{n}");
            let (body, ct) = configmap(&name, enc);
            let r = c
                .request(
                    "POST",
                    &format!("/api/v1/namespaces/{NS}/configmaps"),
                    Some((&body, ct)),
                )
                .await?;
            ok_status(&r).and_then(|()| check_config_map(&r, &name, enc))
        }
        "get" => {
            let name = format!("cm-{:05}", rand_index(n, count));
            let r = c
                .request(
                    "GET",
                    &format!("/api/v1/namespaces/{NS}/configmaps/{name}"),
                    None,
                )
                .await?;
            ok_status(&r).and_then(|()| check_config_map(&r, &name, enc))
        }
        "apply-noop" | "apply-changed" => {
            let counter = if what == "apply-noop" { 0 } else { n + 1 };
            let r = apply(c, run, conn, counter).await?;
            ok_status(&r).and_then(|()| check_config_map(&r, &apply_name(run, conn), enc))
        }
        _ => {
            let r = c
                .request("GET", &format!("/api/v1/namespaces/{NS}/configmaps"), None)
                .await?;
            ok_status(&r).and_then(|()| {
                let list = wire::decode_config_map_list(&r.body, enc)?;
                l.items.store(list.items.len(), Ordering::Relaxed);
                Ok(())
            })
        }
    })
}

/// Runs `concurrency` connections doing `what` until `duration` passes; prints the figures.
async fn closed_loop(a: &Args, what: &str) -> io::Result<()> {
    let seq = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let items = Arc::new(AtomicUsize::new(0));
    let run = format!("{:x}", std::process::id());
    // Every connection's connection and (for apply) its object exist before the clock starts.
    let mut conns = Vec::new();
    for i in 0..a.concurrency {
        let mut c = Conn::open(&a.url, a.encoding).await?;
        if what.starts_with("apply-") {
            let r = apply(&mut c, &run, i, 0).await?;
            if !(200..300).contains(&r.status) {
                return Err(io::Error::other(format!(
                    "apply (create): {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )));
            }
        }
        conns.push(c);
    }
    let me = [std::process::id()];
    let cpu0 = cpu_seconds(&a.pids);
    let client0 = cpu_seconds(&me);
    let t0 = Instant::now();
    let stop = t0 + a.duration;
    let mut tasks = Vec::new();
    for (i, mut c) in conns.into_iter().enumerate() {
        let (seq, errors, first_error) = (seq.clone(), errors.clone(), first_error.clone());
        let l = Loop {
            what: what.to_string(),
            conn: i,
            run: run.clone(),
            count: a.count,
            enc: a.encoding,
            items: items.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < stop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let start = Instant::now();
                let checked = one_request(&mut c, &l, n).await?;
                lat.push(start.elapsed().as_micros() as u64);
                if let Err(e) = checked {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first_error.lock() {
                        f.get_or_insert(e);
                    }
                }
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
    let client = cpu_seconds(&me) - client0;
    lat.sort_unstable();
    let (rss, hwm) = rss_mib(&a.pids);
    let listed = if what == "list" {
        format!(" items={}", items.load(Ordering::Relaxed))
    } else {
        String::new()
    };
    println!(
        "{what} [{}]: c={} {:.1}s requests={} errors={}{listed} req/s={:.0} p50={:.2}ms p99={:.2}ms server_cpu={:.2}s cpu/request={:.0}µs client_cpu={client:.2}s rss={rss:.1}MiB peak={hwm:.1}MiB",
        a.encoding.name(),
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
    if let Ok(Some(e)) = first_error.lock().map(|f| f.clone()) {
        eprintln!("first error: {e}");
    }
    Ok(())
}

/// A well-spread index in 0..count (a multiplicative hash, no RNG needed).
fn rand_index(n: u64, count: usize) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % count.max(1) as u64
}

/// Once per protobuf run: the server's protobuf answers (a GET of `cm-00000`
/// and the namespace's LIST) hold the same objects as its JSON answers.
async fn cross_check(url: &str) -> io::Result<()> {
    let mut json = Conn::open(url, Encoding::Json).await?;
    let mut pb = Conn::open(url, Encoding::Protobuf).await?;
    let bad = |e: String| io::Error::other(format!("protobuf cross-check: {e}"));
    let get = format!("/api/v1/namespaces/{NS}/configmaps/cm-00000");
    let (j, p) = (
        json.request("GET", &get, None).await?,
        pb.request("GET", &get, None).await?,
    );
    if j.status == 200 || p.status == 200 {
        let j = wire::decode_config_map(&j.body, Encoding::Json).map_err(bad)?;
        let p = wire::decode_config_map(&p.body, Encoding::Protobuf).map_err(bad)?;
        if j != p {
            return Err(bad(format!("GET differs:\n json {j:?}\n protobuf {p:?}")));
        }
    }
    let list = format!("/api/v1/namespaces/{NS}/configmaps");
    let j = json.request("GET", &list, None).await?;
    let p = pb.request("GET", &list, None).await?;
    let (json_bytes, pb_bytes) = (j.body.len(), p.body.len());
    let mut j = wire::decode_config_map_list(&j.body, Encoding::Json).map_err(bad)?;
    let p = wire::decode_config_map_list(&p.body, Encoding::Protobuf).map_err(bad)?;
    // Protobuf items cannot carry apiVersion/kind; upstream's JSON items omit them too.
    let mut typed_items = 0;
    for it in &mut j.items {
        if it.api_version.take().is_some() | it.kind.take().is_some() {
            typed_items += 1;
        }
    }
    if j.items.len() != p.items.len() {
        return Err(bad(format!(
            "LIST has {} items in JSON, {} in protobuf",
            j.items.len(),
            p.items.len()
        )));
    }
    if let Some(i) = (0..j.items.len()).find(|i| j.items[*i] != p.items[*i]) {
        return Err(bad(format!(
            "LIST item {i} differs:\n json {:?}\n protobuf {:?}",
            j.items[i], p.items[i]
        )));
    }
    println!(
        "protobuf cross-check: GET cm-00000 and LIST of {} ConfigMaps identical in JSON and protobuf (answers of {} and {} bytes; {typed_items} JSON items carried apiVersion/kind, which upstream omits)",
        j.items.len(),
        json_bytes,
        pb_bytes,
    );
    Ok(())
}

async fn preload(a: &Args) -> io::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency.min(16) {
        let (url, next, count, enc) = (a.url.clone(), next.clone(), a.count, a.encoding);
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&url, enc).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, io::Error>(());
                }
                let (body, ct) = configmap(&format!("cm-{i:05}"), enc);
                let r = c
                    .request(
                        "POST",
                        &format!("/api/v1/namespaces/{NS}/configmaps"),
                        Some((&body, ct)),
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
/// ConfigMaps one after the other and measures when each watcher got each
/// (every event decoded: a JSON line or a length-prefixed protobuf frame).
async fn watch(a: &Args) -> io::Result<()> {
    let enc = a.encoding;
    let mut c = Conn::open(&a.url, enc).await?;
    let r = c
        .request(
            "GET",
            &format!("/api/v1/namespaces/{NS}/configmaps?limit=1"),
            None,
        )
        .await?;
    let list = wire::decode_config_map_list(&r.body, enc).map_err(io::Error::other)?;
    let rv = list.metadata.resource_version.unwrap_or_else(|| "0".into());
    let run = format!("w{:x}", std::process::id());
    let opened = Arc::new(AtomicUsize::new(0));
    let bad_events = Arc::new(AtomicUsize::new(0));
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.watchers {
        let (url, rv, run, opened, bad_events, want) = (
            a.url.clone(),
            rv.clone(),
            run.clone(),
            opened.clone(),
            bad_events.clone(),
            a.events,
        );
        tasks.push(tokio::spawn(async move {
            // Arrival time (µs since epoch) per event index.
            let mut got: HashMap<usize, u64> = HashMap::new();
            let mut conn = None;
            for attempt in 0..20 {
                match Conn::open(&url, enc).await {
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
            let prefix = format!("{run}-");
            let mut buf = Vec::new();
            while got.len() < want {
                match c.chunk(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let now = epoch.elapsed().as_micros() as u64;
                while let Some(frame) = wire::next_watch_frame(&mut buf, enc) {
                    let cm = match wire::decode_watch_event(&frame, enc) {
                        Ok((_, cm)) => cm,
                        Err(_) => {
                            bad_events.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    if let Some(n) = cm
                        .metadata
                        .name
                        .as_deref()
                        .and_then(|n| n.strip_prefix(&prefix))
                        .and_then(|n| n.parse().ok())
                    {
                        got.entry(n).or_insert(now);
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
    let me = [std::process::id()];
    let cpu0 = cpu_seconds(&a.pids);
    let client0 = cpu_seconds(&me);
    let mut sent = Vec::new();
    let mut created = Vec::new();
    for i in 0..a.events {
        if i > 0 && !a.interval.is_zero() {
            tokio::time::sleep(a.interval).await;
        }
        sent.push(epoch.elapsed().as_micros() as u64);
        let (body, ct) = configmap(&format!("{run}-{i}"), enc);
        let r = c
            .request(
                "POST",
                &format!("/api/v1/namespaces/{NS}/configmaps"),
                Some((&body, ct)),
            )
            .await?;
        if r.status != 201 {
            return Err(io::Error::other(format!("create: {}", r.status)));
        }
        created.push(epoch.elapsed().as_micros() as u64);
    }
    let mut lat = Vec::new();
    let mut slowest = vec![0u64; a.events];
    let mut fastest = vec![u64::MAX; a.events];
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
                fastest[i] = fastest[i].min(d);
            }
        }
    }
    let cpu = cpu_seconds(&a.pids) - cpu0;
    let client = cpu_seconds(&me) - client0;
    lat.sort_unstable();
    slowest.sort_unstable();
    fastest.retain(|f| *f != u64::MAX);
    fastest.sort_unstable();
    // The create's answer, from its send: how long the write itself took.
    let mut create_rtt: Vec<u64> = created.iter().zip(&sent).map(|(c, s)| c - s).collect();
    create_rtt.sort_unstable();
    let (rss, hwm) = rss_mib(&a.pids);
    println!(
        "watch [{}]: watchers={} open={open} events={} delivered={received}/{} ({:.2}%) undecodable={} p50={:.2}ms p99={:.2}ms slowest-watcher p50={:.2}ms p99={:.2}ms first-watcher p50={:.2}ms p99={:.2}ms create p50={:.2}ms p99={:.2}ms server_cpu={cpu:.2}s cpu/event/watcher={:.1}µs client_cpu={client:.2}s rss={rss:.1}MiB peak={hwm:.1}MiB",
        enc.name(),
        a.watchers,
        a.events,
        a.watchers * a.events,
        received as f64 * 100.0 / (a.watchers * a.events).max(1) as f64,
        bad_events.load(Ordering::Relaxed),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&slowest, 0.5),
        pct(&slowest, 0.99),
        pct(&fastest, 0.5),
        pct(&fastest, 0.99),
        pct(&create_rtt, 0.5),
        pct(&create_rtt, 0.99),
        cpu * 1e6 / received.max(1) as f64,
    );
    Ok(())
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // `--threads 1`: one thread for the whole generator (it then leaves more
    // of a shared machine to the server); default: tokio's, one per core.
    let rt = if a.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if a.threads > 1 {
            b.worker_threads(a.threads);
        }
        b.enable_all().build()
    };
    match rt {
        Ok(rt) => rt.block_on(run(a)),
        Err(e) => {
            eprintln!("kapi-load: runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(a: Args) {
    let result = async {
        ensure_namespace(&a.url).await?;
        if a.encoding == Encoding::Protobuf
            && matches!(a.scenario.as_str(), "get" | "list" | "watch")
        {
            cross_check(&a.url).await?;
        }
        match a.scenario.as_str() {
            "preload" => preload(&a).await,
            "create" | "get" | "list" | "apply-noop" | "apply-changed" => {
                closed_loop(&a, &a.scenario).await
            }
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
