//! The kubeconfig kapi writes once it serves, for kubectl and client libraries.

use std::path::Path;

/// A kubeconfig for a plain-HTTP server at `url`.
pub fn render(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kapi\n  cluster:\n    server: {url}\nusers:\n- name: kapi\n  user: {{}}\ncontexts:\n- name: kapi\n  context:\n    cluster: kapi\n    user: kapi\n    namespace: default\ncurrent-context: kapi\npreferences: {{}}\n"
    )
}

/// Writes it atomically (a temporary file, then a rename), so a reader never sees half of it.
pub fn write(dir: &Path, url: &str) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("kubeconfig");
    let tmp = dir.join(".kubeconfig.tmp");
    std::fs::write(&tmp, render(url))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
