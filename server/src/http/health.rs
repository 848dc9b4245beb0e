//! `/healthz`, `/livez`, `/readyz` as upstream's healthz package serves them:
//! `ok`, or with `?verbose` one `[+]check ok` line per check; `?exclude=name`
//! (repeatable) skips a check (`[+]name excluded: ok`, and a `warn:` line for
//! names that match none); `/<endpoint>/<check>` runs one check (`ok`, or 500
//! `internal server error: ...`). A failure is always verbose, with 500.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

type Checks = Vec<(&'static str, Result<(), String>)>;

fn live_checks() -> Checks {
    vec![("ping", Ok(())), ("log", Ok(()))]
}

async fn ready_checks(s: &AppState) -> Checks {
    let storage = s.storage.health().await.map_err(|e| e.to_string());
    let started = if s.ready.load(Ordering::Acquire) {
        Ok(())
    } else {
        Err("not finished".to_string())
    };
    vec![
        ("ping", Ok(())),
        ("log", Ok(())),
        ("etcd", storage),
        ("poststarthook/bootstrap-namespaces", started),
    ]
}

fn text(code: StatusCode, body: String) -> Response {
    let mut r = (code, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

/// The answer of `/<name>` for these checks and query.
pub fn report(checks: &Checks, query: Option<&str>, name: &str) -> Response {
    let params = params(query);
    let verbose = params.iter().any(|(k, _)| k == "verbose");
    let mut excluded: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "exclude")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = String::new();
    let mut failed = false;
    for (check, result) in checks {
        if let Some(i) = excluded.iter().position(|e| e == check) {
            excluded.remove(i);
            out.push_str(&format!("[+]{check} excluded: ok\n"));
            continue;
        }
        match result {
            Ok(()) => out.push_str(&format!("[+]{check} ok\n")),
            Err(_) => {
                failed = true;
                out.push_str(&format!("[-]{check} failed: reason withheld\n"));
            }
        }
    }
    if !excluded.is_empty() {
        excluded.sort_unstable();
        excluded.dedup();
        let quoted: Vec<String> = excluded.iter().map(|e| format!("{e:?}")).collect();
        out.push_str(&format!(
            "warn: some health checks cannot be excluded: no matches for {}\n",
            quoted.join(",")
        ));
    }
    if failed {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{out}{name} check failed\n"),
        );
    }
    if !verbose {
        return text(StatusCode::OK, "ok".into());
    }
    text(StatusCode::OK, format!("{out}{name} check passed\n"))
}

/// The answer of `/<name>/<check>`.
pub fn single(checks: &Checks, check: &str) -> Response {
    match checks.iter().find(|(c, _)| *c == check) {
        Some((_, Ok(()))) => text(StatusCode::OK, "ok".into()),
        Some((_, Err(e))) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal server error: {e}\n"),
        ),
        None => crate::error::ApiError::path_not_found().into_response(),
    }
}

/// `/healthz`.
pub async fn healthz(RawQuery(q): RawQuery) -> Response {
    report(&live_checks(), q.as_deref(), "healthz")
}

/// `/livez`.
pub async fn livez(RawQuery(q): RawQuery) -> Response {
    report(&live_checks(), q.as_deref(), "livez")
}

/// `/readyz`.
pub async fn readyz(State(s): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    report(&ready_checks(&s).await, q.as_deref(), "readyz")
}

/// `/healthz/<check>`.
pub async fn healthz_check(Path(check): Path<String>) -> Response {
    single(&live_checks(), &check)
}

/// `/livez/<check>`.
pub async fn livez_check(Path(check): Path<String>) -> Response {
    single(&live_checks(), &check)
}

/// `/readyz/<check>`.
pub async fn readyz_check(State(s): State<Arc<AppState>>, Path(check): Path<String>) -> Response {
    single(&ready_checks(&s).await, &check)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> (StatusCode, String) {
        let code = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("body");
        (code, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn checks(etcd: bool) -> Checks {
        vec![
            ("ping", Ok(())),
            ("etcd", if etcd { Ok(()) } else { Err("down".into()) }),
        ]
    }

    #[tokio::test]
    async fn plain_verbose_and_excluded() {
        assert_eq!(
            body(report(&checks(true), None, "readyz")).await,
            (StatusCode::OK, "ok".into())
        );
        assert_eq!(
            body(report(&checks(true), Some("verbose"), "readyz")).await,
            (
                StatusCode::OK,
                "[+]ping ok\n[+]etcd ok\nreadyz check passed\n".into()
            )
        );
        assert_eq!(
            body(report(&checks(false), None, "readyz")).await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n".into()
            )
        );
        assert_eq!(
            body(report(&checks(false), Some("verbose&exclude=etcd&exclude=nope"), "readyz")).await,
            (
                StatusCode::OK,
                "[+]ping ok\n[+]etcd excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n".into()
            )
        );
    }

    #[tokio::test]
    async fn single_checks() {
        assert_eq!(
            body(single(&checks(true), "etcd")).await,
            (StatusCode::OK, "ok".into())
        );
        assert_eq!(
            body(single(&checks(false), "etcd")).await,
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error: down\n".into()
            )
        );
        assert_eq!(
            body(single(&checks(true), "nope")).await.0,
            StatusCode::NOT_FOUND
        );
    }
}
