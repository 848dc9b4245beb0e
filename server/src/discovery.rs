//! Discovery documents, built once from the registry: legacy (`/api`,
//! `/apis`, `/api/v1`, `/apis/{group}`, `/apis/{group}/{version}`) and
//! aggregated (`APIGroupDiscoveryList` for `/api` and `/apis`, with ETag).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::http::negotiate::accept_list;
use crate::rest::Endpoint;
use crate::rest::install::Registry;

/// The discovery documents of one registry.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    api_versions: Value,
    group_list: Value,
    groups: BTreeMap<String, Value>,
    resource_lists: BTreeMap<(String, String), Value>,
    aggregated_core: Value,
    aggregated_apis: Value,
}

/// Kubernetes' version order: GA before beta before alpha, higher numbers first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> (u8, u32, u32) {
        let rest = v.strip_prefix('v').unwrap_or(v);
        let major_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major = rest[..major_len].parse().unwrap_or(0);
        let tail = &rest[major_len..];
        if tail.is_empty() {
            (3, major, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (2, major, n.parse().unwrap_or(0))
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, major, n.parse().unwrap_or(0))
        } else {
            (0, 0, 0)
        }
    }
    key(b).cmp(&key(a)).then_with(|| a.cmp(b))
}

/// A served subresource as discovery lists it.
struct Sub {
    name: &'static str,
    /// The group and version of its kind, when it is another group's
    /// (`autoscaling/v1` Scale).
    elsewhere: Option<(&'static str, &'static str)>,
    kind: String,
    verbs: Vec<&'static str>,
}

/// The subresources of an endpoint, in upstream's order: compiled-in
/// resources by name (upstream's installer sorts the paths it registers),
/// custom resources status first, then scale (the apiextensions server's
/// own order).
fn subresources(ep: &Endpoint) -> Vec<Sub> {
    let r = &ep.resource;
    let mut subs = Vec::new();
    let status_verbs = ep.status_verbs();
    if !status_verbs.is_empty() {
        subs.push(Sub {
            name: "status",
            elsewhere: None,
            kind: r.kind.clone(),
            verbs: status_verbs,
        });
    }
    if r.scale_subresource.is_some() {
        subs.push(Sub {
            name: "scale",
            elsewhere: Some(("autoscaling", "v1")),
            kind: "Scale".into(),
            verbs: vec!["get", "patch", "update"],
        });
    }
    if !ep.facts.custom_resource {
        subs.sort_by_key(|s| s.name);
    }
    subs
}

fn legacy_resource(ep: &Endpoint) -> Vec<Value> {
    let r = &ep.resource;
    let mut main = json!({
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced(),
        "kind": r.kind,
        "verbs": ep.verbs(),
    });
    if !r.short_names.is_empty() {
        main["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        main["categories"] = json!(r.categories);
    }
    if let Some(hash) = ep.storage_version_hash() {
        main["storageVersionHash"] = json!(hash);
    }
    let mut out = vec![main];
    for sub in subresources(ep) {
        let mut entry = json!({
            "name": format!("{}/{}", r.plural, sub.name),
            "singularName": "",
            "namespaced": r.namespaced(),
            "kind": sub.kind,
            "verbs": sub.verbs,
        });
        if let Some((g, v)) = sub.elsewhere {
            entry["group"] = json!(g);
            entry["version"] = json!(v);
        }
        out.push(entry);
    }
    out
}

fn aggregated_resource(ep: &Endpoint) -> Value {
    let r = &ep.resource;
    // Upstream converts a compiled-in resource's legacy entry, whose group
    // and version are empty unless the kind is another group's; the
    // apiextensions server names a custom resource's own.
    let response_kind = |elsewhere: Option<(&str, &str)>, kind: &str| match elsewhere {
        Some((g, v)) => json!({"group": g, "version": v, "kind": kind}),
        None if ep.facts.custom_resource => {
            json!({"group": r.group, "version": r.version, "kind": kind})
        }
        None => json!({"group": "", "version": "", "kind": kind}),
    };
    let mut v = json!({
        "resource": r.plural,
        "responseKind": response_kind(None, &r.kind),
        "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": ep.verbs(),
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    let subs: Vec<Value> = subresources(ep)
        .into_iter()
        .map(|sub| {
            json!({
                "subresource": sub.name,
                "responseKind": response_kind(sub.elsewhere, &sub.kind),
                "verbs": sub.verbs,
            })
        })
        .collect();
    if !subs.is_empty() {
        v["subresources"] = json!(subs);
    }
    v
}

impl Discovery {
    /// Builds every document.
    pub fn build(registry: &Registry) -> Self {
        // group → version → endpoints
        let mut tree: BTreeMap<String, BTreeMap<String, Vec<&Endpoint>>> = BTreeMap::new();
        for ep in registry.endpoints() {
            tree.entry(ep.resource.group.clone())
                .or_default()
                .entry(ep.resource.version.clone())
                .or_default()
                .push(ep);
        }
        let mut d = Discovery::default();
        let mut group_list = Vec::new();
        let mut aggregated_groups = Vec::new();
        for (group, versions) in &tree {
            let mut names: Vec<&String> = versions.keys().collect();
            names.sort_by(|a, b| compare_versions(a, b));
            let mut agg_versions = Vec::new();
            for v in &names {
                let eps = &versions[*v];
                let gv = if group.is_empty() {
                    v.to_string()
                } else {
                    format!("{group}/{v}")
                };
                let resources: Vec<Value> = eps.iter().flat_map(|e| legacy_resource(e)).collect();
                let mut list =
                    json!({"kind": "APIResourceList", "groupVersion": gv, "resources": resources});
                // Upstream strips the apiVersion of the core group's list
                // (kept as it was before API groups existed).
                if !group.is_empty() {
                    list["apiVersion"] = json!("v1");
                }
                d.resource_lists
                    .insert((group.clone(), v.to_string()), list);
                agg_versions.push(json!({
                    "version": v,
                    "resources": eps.iter().map(|e| aggregated_resource(e)).collect::<Vec<_>>(),
                    "freshness": "Current",
                }));
            }
            // ObjectMeta's name is omitted when empty (the core group).
            let mut agg =
                json!({"metadata": {"creationTimestamp": null}, "versions": agg_versions});
            if !group.is_empty() {
                agg["metadata"]["name"] = json!(group);
            }
            if group.is_empty() {
                d.api_versions = json!({
                    "kind": "APIVersions",
                    "versions": names,
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
                });
                d.aggregated_core = agg;
            } else {
                let gvs: Vec<Value> = names
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
                    .collect();
                let group_doc = json!({
                    "name": group,
                    "versions": gvs,
                    "preferredVersion": gvs.first().cloned().unwrap_or(Value::Null),
                });
                let mut standalone = group_doc.clone();
                standalone["kind"] = json!("APIGroup");
                standalone["apiVersion"] = json!("v1");
                d.groups.insert(group.clone(), standalone);
                group_list.push(group_doc);
                aggregated_groups.push(agg);
            }
        }
        d.group_list = json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_list});
        d.aggregated_apis = json!({"items": aggregated_groups});
        if d.api_versions.is_null() {
            d.api_versions = json!({"kind": "APIVersions", "versions": []});
            d.aggregated_core = json!({"metadata": {"creationTimestamp": null}, "versions": []});
        }
        d
    }

    /// `GET /api`.
    pub fn api(&self, headers: &HeaderMap) -> Response {
        let items = json!([self.aggregated_core]);
        self.negotiate(headers, items, &self.api_versions)
    }

    /// `GET /apis`.
    pub fn apis(&self, headers: &HeaderMap) -> Response {
        let items = self.aggregated_apis["items"].clone();
        self.negotiate(headers, items, &self.group_list)
    }

    /// `GET /api/{version}`.
    pub fn core_version(&self, version: &str, _headers: &HeaderMap) -> Option<Response> {
        self.resource_lists
            .get(&(String::new(), version.to_string()))
            .map(json_response)
    }

    /// `GET /apis/{group}`.
    pub fn group(&self, group: &str, _headers: &HeaderMap) -> Option<Response> {
        self.groups.get(group).map(json_response)
    }

    /// `GET /apis/{group}/{version}`.
    pub fn group_version(
        &self,
        group: &str,
        version: &str,
        _headers: &HeaderMap,
    ) -> Option<Response> {
        if group.is_empty() {
            return None;
        }
        self.resource_lists
            .get(&(group.to_string(), version.to_string()))
            .map(json_response)
    }

    fn negotiate(&self, headers: &HeaderMap, items: Value, legacy: &Value) -> Response {
        for m in accept_list(headers) {
            if m.essence == "application/json"
                && m.param("g") == Some("apidiscovery.k8s.io")
                && m.param("as") == Some("APIGroupDiscoveryList")
            {
                let version = match m.param("v") {
                    Some("v2") => "v2",
                    Some("v2beta1") => "v2beta1",
                    _ => continue,
                };
                let doc = json!({
                    "kind": "APIGroupDiscoveryList",
                    "apiVersion": format!("apidiscovery.k8s.io/{version}"),
                    "metadata": {},
                    "items": items,
                });
                return aggregated_response(headers, &doc, version);
            }
        }
        json_response(legacy)
    }
}

fn json_response(v: &Value) -> Response {
    let mut resp = (StatusCode::OK, crate::wire_json::to_vec(v)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn aggregated_response(headers: &HeaderMap, doc: &Value, version: &str) -> Response {
    let body = serde_json::to_vec(doc).unwrap_or_default();
    let etag = format!("\"{}\"", hex::encode(Sha512::digest(&body)));
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = resp.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(e) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, e);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        let mut v = vec!["v1beta1", "v1", "v2alpha1", "v2", "v1alpha1", "v1beta2"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            ["v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "v1alpha1"]
        );
    }
}
