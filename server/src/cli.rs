//! Command-line flags, named after kube-apiserver's where one exists.

use std::net::IpAddr;
use std::path::PathBuf;

/// kapi: a Kubernetes-compatible API server generated from schema files.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "kapi", version, about)]
pub struct Args {
    /// Directory for the embedded store and the kubeconfig kapi writes.
    #[arg(long, default_value = "kapi-data")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, alias = "secure-port", default_value_t = 6443)]
    pub port: u16,

    /// etcd servers to store objects in (comma-separated URLs); without it the
    /// embedded store in --data-dir is used.
    #[arg(long, value_delimiter = ',')]
    pub etcd_servers: Vec<String>,

    /// The prefix of every key in etcd.
    #[arg(long, default_value = "/registry")]
    pub etcd_prefix: String,
}
