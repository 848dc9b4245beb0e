//! The part of a kubeconfig the client uses: the current context's cluster
//! `server`, its `namespace`, and a bearer `token` if its user has one — the
//! subset kapi writes and kubectl reads.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;

/// Where to connect, read from a kubeconfig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeConfig {
    /// The cluster's server URL (`http://127.0.0.1:6443`).
    pub server: String,
    /// The context's namespace (`default` when unset).
    pub namespace: String,
    /// The user's bearer token, if any.
    pub token: Option<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "current-context", default)]
    current_context: String,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    value: Option<T>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    #[serde(default)]
    user: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct Cluster {
    server: String,
}

#[derive(Deserialize, Default)]
struct User {
    token: Option<String>,
}

impl KubeConfig {
    /// Reads `$KUBECONFIG` (its first file) or `~/.kube/config`.
    pub fn from_env() -> Result<KubeConfig, Error> {
        let path = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(v) => std::env::split_paths(&v).next().unwrap_or_default(),
            None => {
                let home = std::env::var_os("HOME").ok_or_else(|| Error::Kubeconfig {
                    path: "~/.kube/config".into(),
                    reason: "neither KUBECONFIG nor HOME is set".into(),
                })?;
                PathBuf::from(home).join(".kube").join("config")
            }
        };
        KubeConfig::read(&path)
    }

    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<KubeConfig, Error> {
        let err = |reason: String| Error::Kubeconfig {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        KubeConfig::parse(&text).map_err(err)
    }

    /// Parses kubeconfig YAML.
    pub fn parse(text: &str) -> Result<KubeConfig, String> {
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.current_context.is_empty() {
            return Err("current-context is not set".into());
        }
        let context = find(&file.contexts, &file.current_context, "context")?;
        let cluster = find(&file.clusters, &context.cluster, "cluster")?;
        let token = if context.user.is_empty() {
            None
        } else {
            file.users
                .iter()
                .find(|u| u.name == context.user)
                .and_then(|u| u.value.as_ref())
                .and_then(|u| u.token.clone())
        };
        Ok(KubeConfig {
            server: cluster.server.trim_end_matches('/').to_string(),
            namespace: context
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
            token,
        })
    }
}

fn find<'a, T>(list: &'a [Named<T>], name: &str, what: &str) -> Result<&'a T, String> {
    list.iter()
        .find(|n| n.name == name)
        .and_then(|n| n.value.as_ref())
        .ok_or_else(|| format!("{what} {name:?} is not defined"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAPI: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n    server: http://127.0.0.1:6443\nusers:\n- name: kapi\n  user: {}\ncontexts:\n- name: kapi\n  context:\n    cluster: kapi\n    user: kapi\n    namespace: team\ncurrent-context: kapi\npreferences: {}\n";

    #[test]
    fn reads_what_kapi_writes() {
        let c = KubeConfig::parse(KAPI).unwrap();
        assert_eq!(c.server, "http://127.0.0.1:6443");
        assert_eq!(c.namespace, "team");
        assert_eq!(c.token, None);
    }

    #[test]
    fn follows_the_current_context_and_reads_a_token() {
        let text = "clusters:\n- name: a\n  cluster: {server: 'http://a:1/'}\n- name: b\n  cluster: {server: 'http://b:2'}\nusers:\n- name: u\n  user: {token: secret}\ncontexts:\n- name: one\n  context: {cluster: a}\n- name: two\n  context: {cluster: b, user: u}\ncurrent-context: two\n";
        let c = KubeConfig::parse(text).unwrap();
        assert_eq!(c.server, "http://b:2");
        assert_eq!(c.namespace, "default");
        assert_eq!(c.token.as_deref(), Some("secret"));
    }

    #[test]
    fn a_missing_context_is_an_error() {
        let e = KubeConfig::parse("current-context: nope\ncontexts: []\n").unwrap_err();
        assert_eq!(e, "context \"nope\" is not defined");
    }
}
