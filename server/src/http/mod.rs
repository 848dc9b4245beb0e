//! The HTTP edge: the router, the shared state, the fixed endpoints
//! (version, health, discovery roots, OpenAPI) and the delegate that answers
//! what no route serves.

pub mod body;
pub mod duplicates;
pub mod health;
pub mod json_syntax;
pub mod negotiate;
pub mod protobuf;
pub mod protobuf_list;
pub mod request_info;
pub mod resource;
pub mod scale;
pub mod shutdown;
pub mod watch_frames;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::json;

use crate::discovery::Discovery;
use crate::error::ApiError;
use crate::openapi::OpenApi;
use crate::rest::install::Registry;
use crate::snapshot::Snapshot;

/// The Kubernetes minor version kapi implements (kubectl's dispatcher picks its binary from it).
pub const KUBE_MINOR: &str = "33";

/// Answers requests no route serves: the seam where the CRD server plugs in,
/// as kube-apiserver delegates to its extensions server.
pub trait Delegate: Send + Sync {
    /// Answers a request.
    fn handle(&self, req: Request) -> BoxFuture<'static, Response>;
}

/// The delegate at the end of the chain: 404.
pub struct NotFound;

impl Delegate for NotFound {
    fn handle(&self, _req: Request) -> BoxFuture<'static, Response> {
        Box::pin(async { ApiError::path_not_found().into_response() })
    }
}

/// What every handler shares.
pub struct AppState {
    /// The served resources.
    pub registry: Registry,
    /// Discovery documents (rebuilt when CRDs change).
    pub discovery: Arc<Snapshot<Discovery>>,
    /// OpenAPI documents (a group/version's is rebuilt when its CRDs change).
    pub openapi: Arc<Snapshot<OpenApi>>,
    /// Where unknown paths go.
    pub delegate: Arc<dyn Delegate>,
    /// Whether start-up has finished.
    pub ready: AtomicBool,
    /// The store, for `/readyz`'s storage check.
    pub storage: Arc<dyn crate::storage::Storage>,
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/version/", get(version))
        .route("/healthz", get(health::healthz))
        .route("/healthz/{*check}", get(health::healthz_check))
        .route("/livez", get(health::livez))
        .route("/livez/{*check}", get(health::livez_check))
        .route("/readyz", get(health::readyz))
        .route("/readyz/{*check}", get(health::readyz_check))
        .route("/api", get(api))
        .route("/api/", get(api))
        .route("/apis", get(apis))
        .route("/apis/", get(apis))
        .route("/openapi/v3", get(openapi_index))
        .route("/openapi/v3/", get(openapi_no_document))
        .route("/openapi/v3/{*path}", get(openapi_document))
        .route("/openapi/v2", get(openapi_v2))
        .fallback(resource::handle)
        .with_state(state)
}

/// The `/version` document.
pub fn version_info() -> serde_json::Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": format!("v1.{KUBE_MINOR}.0+kapi-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else if std::env::consts::ARCH == "aarch64" { "arm64" } else { std::env::consts::ARCH }),
    })
}

async fn version() -> Response {
    let mut r = (
        StatusCode::OK,
        serde_json::to_vec(&version_info()).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn api(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    s.discovery.load().api(&headers)
}

async fn apis(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    s.discovery.load().apis(&headers)
}

async fn openapi_index(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    s.openapi.load().index(&headers)
}

async fn openapi_no_document(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    s.openapi.load().document("", None, &headers)
}

async fn openapi_v2(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    s.openapi.load().v2().serve(&headers)
}

#[derive(serde::Deserialize)]
struct HashQuery {
    hash: Option<String>,
}

async fn openapi_document(
    State(s): State<Arc<AppState>>,
    Path(path): Path<String>,
    Query(q): Query<HashQuery>,
    headers: HeaderMap,
) -> Response {
    s.openapi
        .load()
        .document(&path, q.hash.as_deref(), &headers)
}
