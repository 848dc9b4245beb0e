//! The `/scale` subresource of custom resources: the object seen as an
//! `autoscaling/v1` Scale (replicas at the CRD's `specReplicasPath` and
//! `statusReplicasPath`, selector at `labelSelectorPath`), read with GET and
//! written with PUT or PATCH (merge, JSON patch; a strategic merge patch of a
//! Scale, which has no lists, is a merge patch), which `kubectl scale` sends.
//! Writes go through the resource's own update, so its validation applies.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use kapi_generated::api::autoscaling::v1::Scale;
use kapi_generated::resource::ScaleSubresource;
use serde_json::{Value, json};

use super::body;
use super::negotiate;
use super::resource::object_response;
use crate::error::{ApiError, FieldError};
use crate::rest::options::Subresource;
use crate::rest::{Endpoint, PatchType, RequestScope};

fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .collect()
}

fn at<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).into_iter().try_fold(obj, |v, s| v.get(s))
}

fn set(obj: &mut Value, path: &str, value: Value) {
    let segs = segments(path);
    let mut cur = obj;
    for (i, s) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == segs.len() {
            map.insert((*s).to_string(), value);
            return;
        }
        cur = map.entry((*s).to_string()).or_insert_with(|| json!({}));
    }
}

/// The Scale view of an object.
pub fn to_scale(obj: &Value, sub: &ScaleSubresource) -> Value {
    let meta = &obj["metadata"];
    let mut m = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            m[k] = v.clone();
        }
    }
    let replicas = |p: &str| at(obj, p).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({"replicas": replicas(&sub.status_replicas_path)});
    if let Some(sel) = sub
        .label_selector_path
        .as_deref()
        .and_then(|p| at(obj, p))
        .and_then(Value::as_str)
    {
        status["selector"] = json!(sel);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": replicas(&sub.spec_replicas_path)},
        "status": status,
    })
}

fn invalid(name: &str, errs: Vec<FieldError>) -> ApiError {
    ApiError::invalid("Scale", "autoscaling", name, errs)
}

/// Serves GET, PUT and PATCH on `{resource}/{name}/scale`.
pub async fn serve(
    ep: &Endpoint,
    sub: &ScaleSubresource,
    scope: &RequestScope,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let na = ApiError::method_not_allowed;
    let getter = ep.getter.as_ref().ok_or_else(na)?;
    let current = getter.get(scope, name).await?;
    let scale = to_scale(&current, sub);
    let enc = negotiate::encoding(headers)?;
    let wanted = match *method {
        Method::GET => return Ok(object_response(StatusCode::OK, &scale, enc, &[])),
        Method::PUT => {
            let bytes = body::read(body).await?;
            body::decode_object(&negotiate::content_type(headers), &bytes, "Scale")?
        }
        Method::PATCH => {
            let ct = negotiate::content_type(headers);
            let bytes = body::read(body).await?;
            let patch = body::decode_patch(false, &bytes)?;
            let mut doc = scale.clone();
            match PatchType::from_media_type(&ct.essence) {
                Some(PatchType::Merge) | Some(PatchType::StrategicMerge) => {
                    json_patch::merge(&mut doc, &patch)
                }
                Some(PatchType::Json) => {
                    let ops: json_patch::Patch = serde_json::from_value(patch)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?;
                    json_patch::patch(&mut doc, &ops).map_err(|e| {
                        invalid(name, vec![FieldError::invalid("patch", "", &e.to_string())])
                    })?;
                }
                _ => {
                    return Err(ApiError::unsupported_media_type(&[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/strategic-merge-patch+json",
                    ]));
                }
            }
            doc
        }
        _ => return Err(na()),
    };
    let wanted: Scale = serde_json::from_value(wanted).map_err(|e| {
        ApiError::bad_request(format!(
            "Scale in version \"v1\" cannot be handled as a Scale: {e}"
        ))
    })?;
    let replicas = wanted.spec.replicas.unwrap_or(0);
    if replicas < 0 {
        return Err(invalid(
            name,
            vec![FieldError::invalid_raw(
                "spec.replicas",
                &replicas.to_string(),
                "must be greater than or equal to 0",
            )],
        ));
    }
    let mut obj = current;
    set(&mut obj, &sub.spec_replicas_path, json!(replicas));
    // The Scale's resourceVersion, when given, is a precondition.
    if let Some(rv) = wanted.metadata.resource_version.filter(|r| !r.is_empty()) {
        obj["metadata"]["resourceVersion"] = json!(rv);
    }
    // Recorded in managedFields as a write of the scale subresource (the
    // stored entries, not the object's, are what the write starts from).
    let scope = RequestScope {
        subresource: Some(Subresource::Scale),
        ..scope.clone()
    };
    let updater = ep.updater.as_ref().ok_or_else(na)?;
    let w = updater.update(&scope, name, obj).await?;
    Ok(object_response(
        StatusCode::OK,
        &to_scale(&w.object, sub),
        enc,
        &w.warnings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_and_set() {
        let sub = ScaleSubresource {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        };
        let mut obj = json!({"metadata": {"name": "w", "resourceVersion": "7"}, "spec": {"replicas": 2}, "status": {"replicas": 1, "selector": "app=w"}});
        let s = to_scale(&obj, &sub);
        assert_eq!(s["spec"]["replicas"], 2);
        assert_eq!(s["status"], json!({"replicas": 1, "selector": "app=w"}));
        assert_eq!(s["metadata"]["resourceVersion"], "7");
        set(&mut obj, ".spec.deep.replicas", json!(4));
        assert_eq!(obj["spec"]["deep"]["replicas"], 4);
    }
}
