//! A typed client over HTTP (feature `client`), for any [`Resource`]: the
//! generated kinds and hand-written ones alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kapi_generated::client::Error> {
//! use kapi_generated::api::core::v1::ConfigMap;
//! use kapi_generated::client::{Api, Client, ListParams};
//!
//! let client = Client::try_default()?; // $KUBECONFIG or ~/.kube/config
//! let cms: Api<ConfigMap> = Api::default_namespaced(&client);
//! for cm in cms.list(&ListParams::default().labels("app=web")).await?.items {
//!     println!("{}", cm.metadata.name_str());
//! }
//! # Ok(()) }
//! ```

mod error;
mod kubeconfig;
mod params;
mod watch;

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::meta::v1::{ListMeta, Status};
use crate::{ApiResource, Resource};

pub use error::Error;
pub use kubeconfig::KubeConfig;
pub use params::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
pub use watch::{Bookmark, WatchEvent, WatchStream};

/// A connection to one API server: its URL, the default namespace and an
/// HTTP connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    namespace: String,
    token: Option<String>,
}

impl Client {
    /// A client for the server at `url` (`http://127.0.0.1:6443`), namespace `default`.
    pub fn new(url: &str) -> Result<Client, Error> {
        Client::from_config(&KubeConfig {
            server: url.trim_end_matches('/').to_string(),
            namespace: "default".into(),
            token: None,
        })
    }

    /// A client for a kubeconfig's current context.
    pub fn from_config(config: &KubeConfig) -> Result<Client, Error> {
        if !config.server.starts_with("http://") {
            return Err(Error::Kubeconfig {
                path: config.server.clone(),
                reason: "only http:// servers are supported (this client has no TLS)".into(),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Client {
            http,
            base: config.server.clone(),
            namespace: config.namespace.clone(),
            token: config.token.clone(),
        })
    }

    /// A client for the kubeconfig file at `path`.
    pub fn from_kubeconfig(path: &std::path::Path) -> Result<Client, Error> {
        Client::from_config(&KubeConfig::read(path)?)
    }

    /// A client for `$KUBECONFIG` (its first file) or `~/.kube/config`.
    pub fn try_default() -> Result<Client, Error> {
        Client::from_config(&KubeConfig::from_env()?)
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The namespace of the kubeconfig's context (`default` when unset).
    pub fn default_namespace(&self) -> &str {
        &self.namespace
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends a request and decodes a success, or turns the answer into an [`Error`].
    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, Error> {
        let resp = req.send().await?;
        let code = resp.status();
        let body = resp.bytes().await?;
        if !code.is_success() {
            return Err(Error::from_response(code.as_u16(), &body));
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

/// One page of a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(deserialize = "K: DeserializeOwned"))]
pub struct ObjectList<K> {
    /// resourceVersion (to start a watch from) and the continue token.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default = "Vec::new")]
    pub items: Vec<K>,
}

impl<K> ObjectList<K> {
    /// The token for the next page, if there is one.
    pub fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|c| !c.is_empty())
    }

    /// The version the list was read at.
    pub fn resource_version(&self) -> &str {
        self.metadata
            .resource_version
            .as_deref()
            .unwrap_or_default()
    }
}

/// What a delete answered: the object (still there while finalizers or a
/// grace period hold it, or as it was), or a `Status`.
#[derive(Clone, Debug)]
pub enum Deleted<K> {
    /// The object.
    Object(K),
    /// A success `Status`.
    Status(Box<Status>),
}

/// The objects of one kind, in one namespace or across all of them.
pub struct Api<K> {
    client: Client,
    resource: ApiResource,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            resource: self.resource.clone(),
            namespace: self.namespace.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K: Resource<DynamicType = ()>> Api<K> {
    /// Objects in `namespace` (a namespaced kind).
    pub fn namespaced(client: &Client, namespace: &str) -> Self {
        Api::namespaced_with(client, namespace, &())
    }

    /// Objects in the kubeconfig's namespace.
    pub fn default_namespaced(client: &Client) -> Self {
        Api::namespaced_with(client, &client.namespace.clone(), &())
    }

    /// A cluster-scoped kind, or a namespaced kind across all namespaces
    /// (list and watch only).
    pub fn all(client: &Client) -> Self {
        Api::all_with(client, &())
    }
}

impl<K: Resource> Api<K> {
    /// Objects in `namespace`, for a kind described at run time.
    pub fn namespaced_with(client: &Client, namespace: &str, dt: &K::DynamicType) -> Self {
        Api {
            client: client.clone(),
            resource: K::api_resource(dt).clone(),
            namespace: Some(namespace.to_string()),
            _kind: PhantomData,
        }
    }

    /// All objects, for a kind described at run time.
    pub fn all_with(client: &Client, dt: &K::DynamicType) -> Self {
        Api {
            client: client.clone(),
            resource: K::api_resource(dt).clone(),
            namespace: None,
            _kind: PhantomData,
        }
    }

    /// How the kind is served.
    pub fn resource(&self) -> &ApiResource {
        &self.resource
    }

    /// The collection's URL: `/api/v1/namespaces/{ns}/configmaps`.
    pub fn collection_url(&self) -> String {
        let r = &self.resource;
        let mut url = self.client.base.clone();
        if r.group.is_empty() {
            url.push_str("/api/");
        } else {
            url.push_str("/apis/");
            url.push_str(&r.group);
            url.push('/');
        }
        url.push_str(&r.version);
        if let (Some(ns), true) = (&self.namespace, r.namespaced()) {
            url.push_str("/namespaces/");
            url.push_str(&escape(ns));
        }
        url.push('/');
        url.push_str(&r.plural);
        url
    }

    fn object_url(&self, name: &str) -> String {
        format!("{}/{}", self.collection_url(), escape(name))
    }

    /// Reads one object.
    pub async fn get(&self, name: &str) -> Result<K, Error> {
        let req = self
            .client
            .request(reqwest::Method::GET, &self.object_url(name));
        self.client.send(req).await
    }

    /// Reads one object, `None` if it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>, Error> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.code() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads one page of the collection.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>, Error> {
        let req = self
            .client
            .request(reqwest::Method::GET, &self.collection_url())
            .query(&params.query());
        self.client.send(req).await
    }

    /// Reads every page (following `continue` tokens) into one list, whose
    /// resourceVersion is the first page's (every page is read at it).
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<K>, Error> {
        let mut page = self.list(params).await?;
        let mut all = ObjectList {
            metadata: ListMeta {
                resource_version: page.metadata.resource_version.clone(),
                ..ListMeta::default()
            },
            items: Vec::new(),
        };
        loop {
            all.items.append(&mut page.items);
            let Some(token) = page.continue_token().map(str::to_string) else {
                return Ok(all);
            };
            let next = ListParams {
                continue_token: Some(token),
                resource_version: None,
                resource_version_match: None,
                ..params.clone()
            };
            page = self.list(&next).await?;
        }
    }

    /// Creates an object; its namespace is this `Api`'s.
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K, Error> {
        let req = self
            .client
            .request(reqwest::Method::POST, &self.collection_url())
            .query(&params.query())
            .json(&self.with_type_meta(object));
        self.client.send(req).await
    }

    /// Replaces an object (PUT); a resourceVersion in it makes the write
    /// conditional (409 Conflict if the object changed since).
    pub async fn replace(&self, name: &str, params: &PostParams, object: &K) -> Result<K, Error> {
        let req = self
            .client
            .request(reqwest::Method::PUT, &self.object_url(name))
            .query(&params.query())
            .json(&self.with_type_meta(object));
        self.client.send(req).await
    }

    /// Patches an object: merge, JSON, strategic merge or apply.
    pub async fn patch(&self, name: &str, params: &PatchParams, patch: &Patch) -> Result<K, Error> {
        let body = serde_json::to_vec(patch.body())?;
        let req = self
            .client
            .request(reqwest::Method::PATCH, &self.object_url(name))
            .query(&params.query())
            .header(reqwest::header::CONTENT_TYPE, patch.content_type())
            .body(body);
        self.client.send(req).await
    }

    /// Deletes an object.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>, Error> {
        let req = self
            .client
            .request(reqwest::Method::DELETE, &self.object_url(name))
            .json(&params.body());
        let value: serde_json::Value = self.client.send(req).await?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("Status") {
            Ok(Deleted::Status(Box::new(serde_json::from_value(value)?)))
        } else {
            Ok(Deleted::Object(serde_json::from_value(value)?))
        }
    }

    /// One watch request from `resource_version` ("" or "0": the current
    /// objects first, as ADDED events): the stream ends when the server ends
    /// it, and an ERROR event is an [`Error::Api`] as its last item.
    pub fn watch(&self, params: &WatchParams, resource_version: &str) -> WatchStream<K> {
        WatchStream::new(self.clone(), params.clone(), resource_version, false)
    }

    /// A watch that keeps going: when a request ends (timeout, server
    /// restart, network) it starts another from the last resourceVersion it
    /// saw (objects and bookmarks), so no event is missed or repeated; when
    /// that version is too old (410 Gone) it lists again and yields
    /// [`WatchEvent::Relisted`] with the current objects before following on.
    /// Failures to connect are yielded as errors and retried with a backoff
    /// (up to 2 s); the stream ends only when dropped.
    pub fn watcher(&self, params: &WatchParams, resource_version: &str) -> WatchStream<K> {
        WatchStream::new(self.clone(), params.clone(), resource_version, true)
    }

    fn with_type_meta(&self, object: &K) -> K {
        let mut o = object.clone();
        if o.type_meta().0.is_none() || o.type_meta().1.is_none() {
            o.set_type_meta(self.resource.api_version(), self.resource.kind.clone());
        }
        o
    }
}

/// Percent-encodes a path segment.
fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::coordination::v1::Lease;
    use crate::api::core::v1::{ConfigMap, Namespace};

    #[test]
    fn urls_follow_group_scope_and_namespace() {
        let c = Client::new("http://127.0.0.1:1/").unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(&c, "team");
        assert_eq!(
            cms.object_url("a b"),
            "http://127.0.0.1:1/api/v1/namespaces/team/configmaps/a%20b"
        );
        let all: Api<ConfigMap> = Api::all(&c);
        assert_eq!(all.collection_url(), "http://127.0.0.1:1/api/v1/configmaps");
        let ns: Api<Namespace> = Api::namespaced(&c, "ignored");
        assert_eq!(ns.collection_url(), "http://127.0.0.1:1/api/v1/namespaces");
        let leases: Api<Lease> = Api::default_namespaced(&c);
        assert_eq!(
            leases.collection_url(),
            "http://127.0.0.1:1/apis/coordination.k8s.io/v1/namespaces/default/leases"
        );
    }

    #[test]
    fn https_is_refused_without_tls() {
        let e = Client::new("https://127.0.0.1:1").unwrap_err();
        assert!(e.to_string().contains("only http://"), "{e}");
    }
}
