//! The CRD server as the HTTP delegate: a request for a custom resource is
//! served by its endpoint through the same dispatcher code as compiled-in
//! kinds (`http::resource::serve`); a deprecated version adds its `Warning`.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use serde_json::Value;

use super::CrdServer;
use crate::error::ApiError;
use crate::http::Delegate;
use crate::http::request_info::{self, ApiPath};

/// The delegate: custom resources, then 404.
pub struct CrdHandler(pub Arc<CrdServer>);

impl Delegate for CrdHandler {
    fn handle(&self, req: Request) -> BoxFuture<'static, Response> {
        let server = self.0.clone();
        Box::pin(async move {
            let ApiPath::Resource(info) = request_info::parse(req.uri().path()) else {
                return ApiError::path_not_found().into_response();
            };
            let Some(route) = server.route(&info.group, &info.version, &info.resource) else {
                return ApiError::path_not_found().into_response();
            };
            if route.terminating && req.method() == axum::http::Method::POST {
                let mut e = ApiError::method_not_allowed();
                e.message =
                    "create not allowed while custom resource definition is terminating".into();
                return e.into_response();
            }
            let mut resp = crate::http::resource::serve(route.endpoint, info, req)
                .await
                .unwrap_or_else(IntoResponse::into_response);
            if let Some(w) = &route.warning
                && let Ok(v) = HeaderValue::from_str(&format!("299 - {}", Value::String(w.clone())))
            {
                resp.headers_mut().append(header::WARNING, v);
            }
            resp
        })
    }
}
