//! The floor of watch fan-out on this machine: what `kapi-load watch` measures
//! against a server that does nothing but the unavoidable work.
//!
//! It answers exactly the requests `kapi-load watch` makes, on raw tokio
//! sockets: no HTTP library, no store, no watch cache, no selectors. A create
//! is answered at once and its event line (made once) is written to every
//! open watch, one chunk per `write_all`. So the figures it gives are those of
//! the kernel's loopback writes, tokio's wake-ups and the load generator
//! itself, on the same cores. BENCHMARKS.md compares kapi with it.
//!
//!   target/release/fanout-floor 18190 &
//!   target/release/kapi-load --url http://127.0.0.1:18190 --pid $! watch --watchers 1000
//!
//! Not a server: it keeps nothing, checks nothing and answers any other
//! request as if it were a create.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// Events a watch may fall behind before it is dropped.
const BACKLOG: usize = 4096;

#[tokio::main]
async fn main() -> io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(io::Error::other)?,
        None => 18190,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let (events, _) = broadcast::channel::<Arc<Vec<u8>>>(BACKLOG);
    let revision = Arc::new(AtomicU64::new(1));
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        let (events, revision) = (events.clone(), revision.clone());
        tokio::spawn(async move {
            // A closed or broken connection just ends.
            let _ = serve(socket, events, revision).await;
        });
    }
}

/// One request off `buf` (filled from `socket` as needed): its head and body.
async fn request(
    socket: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut read = [0u8; 64 * 1024];
    let mut fill = async |buf: &mut Vec<u8>| -> io::Result<bool> {
        let n = socket.read(&mut read).await?;
        buf.extend_from_slice(&read[..n]);
        Ok(n > 0)
    };
    let end = loop {
        if let Some(i) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break i;
        }
        if !fill(buf).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let len = head
        .lines()
        .filter_map(|l| {
            let l = l.to_ascii_lowercase();
            l.strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<usize>().ok())
        })
        .next()
        .unwrap_or(0);
    while buf.len() < end + 4 + len {
        if !fill(buf).await? {
            return Ok(None);
        }
    }
    let body = buf[end + 4..end + 4 + len].to_vec();
    buf.drain(..end + 4 + len);
    Ok(Some((head, body)))
}

async fn serve(
    mut socket: TcpStream,
    events: broadcast::Sender<Arc<Vec<u8>>>,
    revision: Arc<AtomicU64>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    while let Some((head, body)) = request(&mut socket, &mut buf).await? {
        let line = head.lines().next().unwrap_or_default();
        if line.starts_with("GET") && line.contains("watch=1") {
            let mut rx = events.subscribe();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            while let Ok(ev) = rx.recv().await {
                let mut chunk = format!("{:x}\r\n", ev.len()).into_bytes();
                chunk.extend_from_slice(&ev);
                chunk.extend_from_slice(b"\r\n");
                socket.write_all(&chunk).await?;
            }
            return Ok(());
        }
        if line.starts_with("GET") {
            // The list `kapi-load watch` takes its resourceVersion from.
            let list = format!(
                r#"{{"kind":"ConfigMapList","apiVersion":"v1","metadata":{{"resourceVersion":"{}"}},"items":[]}}"#,
                revision.load(Ordering::SeqCst)
            );
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{list}",
                list.len()
            );
            socket.write_all(answer.as_bytes()).await?;
            continue;
        }
        // A create: the object back with a resourceVersion, and its event.
        let mut object: serde_json::Value =
            serde_json::from_slice(&body).map_err(io::Error::other)?;
        let rv = revision.fetch_add(1, Ordering::SeqCst) + 1;
        object["metadata"]["resourceVersion"] = rv.to_string().into();
        let json = serde_json::to_vec(&object).map_err(io::Error::other)?;
        if line.contains("/configmaps") {
            let mut ev = br#"{"type":"ADDED","object":"#.to_vec();
            ev.extend_from_slice(&json);
            ev.extend_from_slice(b"}\n");
            // No watcher yet is fine.
            let _ = events.send(Arc::new(ev));
        }
        let mut answer = format!(
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            json.len()
        )
        .into_bytes();
        answer.extend_from_slice(&json);
        socket.write_all(&answer).await?;
    }
    Ok(())
}
