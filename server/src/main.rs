//! The `kapi` binary.

use clap::Parser;
use kapi_server::cli::Args;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = kapi_server::Config {
        data_dir: args.data_dir.clone(),
        addr: std::net::SocketAddr::new(args.bind_address, args.port),
        etcd_servers: args.etcd_servers.clone(),
        etcd_prefix: args.etcd_prefix.clone(),
        compaction_interval: args.compaction_interval,
    };
    let running = match kapi_server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kapi: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "kapi is serving {} — use it with: export KUBECONFIG={}",
        running.url(),
        running.kubeconfig.display()
    );
    tracing::info!(url = %running.url(), "ready");
    let stop = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return ctrl_c.await.unwrap_or(()),
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    stop.await;
    match running.stop().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kapi: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
