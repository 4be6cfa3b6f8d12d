//! The `skirmish` binary: parses flags, sets up logging, binds the listener, prints where it
//! listens, and runs the server until SIGINT or SIGTERM.

use anyhow::Context;
use clap::Parser;
use skirmish::config::{Config, LogFormat};
use skirmish::server::Server;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    skirmish::metrics::note_process_start();
    let config = Config::parse();
    init_logging(&config)?;
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let bind_addr = config.addr;
    // Reads the token file and the TLS certificate and key: a bad one stops us here.
    let mut server = Server::from_config(config).context("cannot start")?;
    let listener = tokio::net::TcpListener::bind(bind_addr)
        .await
        .with_context(|| format!("cannot listen on {bind_addr}"))?;
    let addr = listener.local_addr()?;
    // With --redis-url: an unreachable Redis stops us here, its URL named.
    server
        .join_cluster(addr)
        .await
        .context("cannot join the cluster")?;
    let shutdown = shutdown_signal().context("cannot handle SIGINT and SIGTERM")?;
    // Scripts and tests wait for this exact line on stdout.
    println!("skirmish listening on {scheme}://{addr}");
    server.run(listener, shutdown).await;
    Ok(())
}

/// Logs to stderr as `--log-format` says: text (coloured only when stderr is a terminal, so a
/// log file holds no escape codes) or one JSON object per line for log shippers.
fn init_logging(config: &Config) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_new(&config.log).context("invalid --log filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed here, at once, so a signal sent
/// as soon as the ready line is printed is not lost to the default action (exiting abruptly).
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
