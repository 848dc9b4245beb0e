//! Command-line flags, named after kube-apiserver's where one exists.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

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

    /// How often the store's history is compacted (Go duration, e.g. 5m0s; 0 disables).
    /// Each compaction drops the history older than the previous one's revision.
    #[arg(long, alias = "etcd-compaction-interval", default_value = "5m", value_parser = parse_duration)]
    pub compaction_interval: Duration,
}

/// Parses a Go-style duration: `0`, `300ms`, `30s`, `5m`, `1h30m`, `5m0s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (expected e.g. 5m0s, 30s, 0)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(n * secs);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m0s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
