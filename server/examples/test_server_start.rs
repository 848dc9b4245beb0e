//! How long `kapi_server::testing::TestServer::start()` takes: prints the
//! figures (first start, then min/p50/max over a run) for BENCHMARKS.md.
//!
//! `cargo run --release -p kapi-server --example test_server_start [-- COUNT]`

use std::time::{Duration, Instant};

use kapi_server::testing::TestServer;

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let mut times: Vec<Duration> = Vec::with_capacity(count);
    let http = reqwest_free_get;
    for _ in 0..count {
        let t = Instant::now();
        let server = TestServer::start().await;
        let started = t.elapsed();
        // Ready means it answers: one request to /readyz.
        assert!(http(server.url()).await.starts_with("HTTP/1.1 200"));
        times.push(started);
        drop(server);
    }
    let first = times[0];
    let mut sorted = times.clone();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "TestServer::start(): {count} starts; first {:.2} ms, min {:.2} ms, p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        ms(first),
        ms(sorted[0]),
        ms(sorted[count / 2]),
        ms(sorted[count * 9 / 10]),
        ms(sorted[count - 1]),
    );
    let t = Instant::now();
    let many: Vec<TestServer> =
        futures::future::join_all((0..10).map(|_| TestServer::start())).await;
    println!(
        "10 TestServers started concurrently in {:.2} ms",
        ms(t.elapsed())
    );
    drop(many);
}

async fn reqwest_free_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let _ = s
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}
