//! Open watches end when the server stops, as kube-apiserver's do on graceful
//! termination: the watch body ends cleanly (the chunked body's last chunk),
//! so clients see the end of the watch rather than waiting on a connection
//! that graceful shutdown would otherwise keep open until the watch's timeout
//! (30–60 minutes).

use axum::body::Body;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::watch;

/// Marks a response whose body is a watch stream.
#[derive(Clone, Copy, Debug)]
pub struct WatchBody;

/// `resp` with its body ended when `stop` turns true (or its sender is
/// dropped), if it is a watch; any other response as it is.
pub fn end_watches_on_stop(resp: Response, stop: &watch::Receiver<bool>) -> Response {
    if resp.extensions().get::<WatchBody>().is_none() {
        return resp;
    }
    let mut stop = stop.clone();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let (parts, body) = resp.into_parts();
    let body = body.into_data_stream().take_until(stopped);
    Response::from_parts(parts, Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    #[tokio::test]
    async fn a_watch_body_ends_cleanly_when_the_server_stops() {
        let (tx, rx) = watch::channel(false);
        // One event, then nothing: a watch body that never ends by itself.
        let endless = futures::stream::once(async {
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"x\n"))
        })
        .chain(futures::stream::pending());
        let mut resp = Response::new(Body::from_stream(endless));
        resp.extensions_mut().insert(WatchBody);
        let resp = end_watches_on_stop(resp, &rx);
        let mut data = resp.into_body().into_data_stream();
        assert!(data.next().await.is_some());
        tx.send_replace(true);
        let rest = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(chunk) = data.next().await {
                chunk.unwrap();
            }
        })
        .await;
        assert!(rest.is_ok(), "the body ended (no error) after the stop");
    }

    #[tokio::test]
    async fn other_responses_are_left_alone() {
        let (_tx, rx) = watch::channel(true);
        let resp = Response::new(Body::from("whole"));
        let resp = end_watches_on_stop(resp, &rx);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"whole");
    }
}
