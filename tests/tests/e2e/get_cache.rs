//! GET with `resourceVersion`: unset is a consistent read, `0` any state
//! (served by the watch cache), `N` a state not older than N; a missing
//! object is 404 either way; a revision the store has not reached is 504.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Server, assert_status, on_etcd};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn gets_by_resource_version(server: &Server) {
    let cm = server.create_configmap("default", "g", &[("v", "1")]);
    let rv1 = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let (status, got) = server.get(&format!("{CMS}/g?resourceVersion=0"));
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["data"]["v"], "1");
    assert_eq!(got["metadata"]["resourceVersion"], rv1.as_str());

    let mut next = got.clone();
    next["data"]["v"] = json!("2");
    let (status, updated) = server.put(&format!("{CMS}/g"), &next);
    assert_eq!(status, StatusCode::OK, "{updated}");
    let rv2 = updated["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Not older than rv2, and the consistent read: the update is there.
    for q in [format!("?resourceVersion={rv2}"), String::new()] {
        let (status, got) = server.get(&format!("{CMS}/g{q}"));
        assert_eq!(status, StatusCode::OK, "{q}: {got}");
        assert_eq!(got["data"]["v"], "2", "{q}");
        assert_eq!(got["metadata"]["resourceVersion"], rv2.as_str(), "{q}");
    }
    let (status, body) = server.get(&format!("{CMS}/none?resourceVersion=0"));
    assert_status(status, &body, 404, "NotFound");
    let (status, body) = server.get(&format!("{CMS}/g?resourceVersion=999999999"));
    assert_status(status, &body, 504, "Timeout");
}

#[test]
fn get_with_resource_version() {
    let server = Server::start_in_process();
    gets_by_resource_version(&server);
}

#[test]
fn get_with_resource_version_on_etcd() {
    on_etcd(|| {
        let server = Server::start();
        gets_by_resource_version(&server);
    });
}
