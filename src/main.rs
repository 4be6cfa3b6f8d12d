//! The `skirmish` binary: parses flags, sets up logging, binds the listener, prints where it
//! listens, and runs the server until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use skirmish::config::Config;
use skirmish::server::Server;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid --log filter")?)
        .with_writer(std::io::stderr)
        .init();
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let bind_addr = config.addr;
    // Reads the token file and the TLS certificate and key: a bad one stops us here.
    let server = Server::from_config(config).context("cannot start")?;
    let listener = tokio::net::TcpListener::bind(bind_addr)
        .await
        .with_context(|| format!("cannot listen on {bind_addr}"))?;
    let addr = listener.local_addr()?;
    // Scripts and tests wait for this exact line on stdout.
    println!("skirmish listening on {scheme}://{addr}");
    server.run(listener, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
