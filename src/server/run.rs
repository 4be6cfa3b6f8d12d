//! The server as a whole: binds nothing itself (the caller passes a listener, so tests can use
//! port 0), starts the tick-loop thread, accepts connections until told to stop, then stops the
//! loop and tells every player the server is going away.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::caps::{ConnectionCaps, ConnectionPermit, Refusal};
use super::context::{ConnectionLimits, ServerContext};
use crate::config::Config;
use crate::game::WorldConfig;
use crate::http::auth::{Authenticator, OriginPolicy, TokenAuth};
use crate::metrics::summary::{SummarySources, log_summaries};
use crate::metrics::{NetStats, RoomStats};
use crate::protocol::CloseReason;
use crate::room::{Room, RoomConfig};
use crate::runtime::TickLoop;
use crate::session::{NoHooks, SessionHooks, Sessions};

/// Events the loop may have waiting: a generous second of input from every player at 30 Hz.
const EVENT_QUEUE_PER_PLAYER: usize = 32;
/// How often the tick loop logs its tick-duration summary.
const TICK_REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// How often the network summary is logged.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(5);
/// Time given to connections to send their goodbyes when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// Largest HTTP request head (request line and headers); larger ones are answered 431. Ample
/// for a browser's upgrade request with cookies.
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields in one request; more are answered 431.
const MAX_REQUEST_HEADERS: usize = 64;
/// hyper's read buffer per connection (at least 8 KiB, hyper's minimum).
const MAX_HTTP_BUFFER_BYTES: usize = 2 * MAX_REQUEST_HEAD_BYTES;

/// Runs the server on `listener` until `shutdown` completes, with the authentication the
/// configuration asks for and no hooks.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) {
    match Server::from_config(config) {
        Ok(server) => server.run(listener, shutdown).await,
        Err(error) => tracing::error!(%error, "cannot start"),
    }
}

/// A configured server, for library users who add hooks or their own authentication before
/// running it.
pub struct Server {
    config: Config,
    sessions: Arc<Sessions>,
    hooks: Arc<dyn SessionHooks>,
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Set when `--tls-cert` and `--tls-key` are given: every connection speaks TLS.
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// A server as the configuration describes it (reading `--auth-tokens-file` and the TLS
    /// certificate and key if given).
    pub fn from_config(config: Config) -> std::io::Result<Server> {
        let authenticator: Option<Arc<dyn Authenticator>> =
            match (&config.auth_token, &config.auth_tokens_file) {
                (Some(token), _) => Some(Arc::new(TokenAuth::new([token.clone()]))),
                (None, Some(path)) => {
                    let auth = TokenAuth::from_file(path)?;
                    if auth.is_empty() {
                        return Err(std::io::Error::other(format!(
                            "{} holds no token",
                            path.display()
                        )));
                    }
                    Some(Arc::new(auth))
                }
                (None, None) => None,
            };
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(super::tls::load_acceptor(cert, key).map_err(std::io::Error::other)?)
            }
            _ => None,
        };
        Ok(Server {
            sessions: Arc::new(Sessions::new(config.max_players as usize)),
            config,
            hooks: Arc::new(NoHooks),
            authenticator,
            tls,
        })
    }

    /// Calls `hooks` on every connection's lifecycle events.
    pub fn with_hooks(mut self, hooks: Arc<dyn SessionHooks>) -> Server {
        self.hooks = hooks;
        self
    }

    /// Replaces the configured authentication with `authenticator`.
    pub fn with_authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Server {
        self.authenticator = Some(authenticator);
        self
    }

    /// The session registry, e.g. to kick a player while the server runs.
    pub fn sessions(&self) -> Arc<Sessions> {
        Arc::clone(&self.sessions)
    }

    /// Runs until `shutdown` completes.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let config = self.config;
        let seed = config.seed.unwrap_or_else(rand::random);
        tracing::info!(
            seed,
            tick_hz = config.tick_hz,
            max_players = config.max_players,
            path = %config.path,
            auth = self.authenticator.is_some(),
            tls = self.tls.is_some(),
            "starting"
        );
        let limits = ConnectionLimits::from_config(&config);
        let ctx = Arc::new(ServerContext {
            sessions: self.sessions,
            hooks: self.hooks,
            authenticator: self.authenticator,
            origins: OriginPolicy::new(&config.allowed_origins, self.tls.is_some()),
            path: config.path.clone(),
            serve_client: config.serve_client,
            events: Arc::new(ArrayQueue::new(
                limits.max_players.max(64) * EVENT_QUEUE_PER_PLAYER,
            )),
            caps: ConnectionCaps::new(limits.max_connections, limits.max_connections_per_ip),
            limits,
            loop_stats: Arc::new(RoomStats::default()),
            net: Arc::new(NetStats::default()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let tick_thread = start_tick_loop(&config, seed, &ctx, Arc::clone(&stop));
        let players = Arc::clone(&ctx.sessions);
        let sources = SummarySources {
            net: Arc::clone(&ctx.net),
            delivery: Arc::clone(&ctx.sessions.delivery),
            room: Arc::clone(&ctx.loop_stats),
            players: Box::new(move || players.player_count()),
        };
        let summaries = tokio::spawn(log_summaries(sources, SUMMARY_INTERVAL));

        tokio::select! {
            _ = accept_loop(&listener, &ctx, self.tls) => {}
            _ = shutdown => tracing::info!("shutting down"),
        }
        drop(listener);
        summaries.abort();
        stop.store(true, Ordering::Relaxed);
        for handle in ctx.sessions.handles() {
            handle.kick.kick(CloseReason::ServerShutdown);
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        let _ = tokio::task::spawn_blocking(move || tick_thread.join()).await;
    }
}

fn start_tick_loop(
    config: &Config,
    seed: u64,
    ctx: &Arc<ServerContext>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let mut world = WorldConfig::new(config.tick_hz, seed);
    world.arena = config.arena_rule();
    let mut room_config = RoomConfig::new(world);
    room_config.resume_grace = config.resume_grace;
    let room = Room::new(
        room_config,
        Arc::clone(&ctx.events),
        Arc::clone(&ctx.sessions),
        Arc::clone(&ctx.loop_stats),
    );
    let tick_loop = TickLoop::new(room, TICK_REPORT_INTERVAL);
    std::thread::Builder::new()
        .name("tick-loop".to_owned())
        .spawn(move || tick_loop.run(&stop))
        .expect("the OS refused to start the tick-loop thread")
}

async fn accept_loop(listener: &TcpListener, ctx: &Arc<ServerContext>, tls: Option<TlsAcceptor>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                prepare_socket(&stream, ctx.limits.send_buffer_bytes);
                match ctx.caps.admit(peer.ip()) {
                    Ok(permit) => {
                        let permit = Arc::new(permit.on_socket(stream.as_raw_fd()));
                        let ctx = Arc::clone(ctx);
                        match &tls {
                            Some(tls) => {
                                tokio::spawn(serve_https(tls.clone(), stream, peer, ctx, permit))
                            }
                            None => tokio::spawn(serve_http(stream, peer, ctx, permit)),
                        };
                    }
                    Err(refusal) => {
                        tracing::debug!(%peer, %refusal, "connection refused");
                        let timeout = ctx.limits.handshake_timeout;
                        tokio::spawn(refuse_http(stream, peer, timeout, refusal));
                    }
                }
            }
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn prepare_socket(stream: &TcpStream, send_buffer_bytes: usize) {
    let _ = stream.set_nodelay(true);
    if let Err(error) = socket2::SockRef::from(stream).set_send_buffer_size(send_buffer_bytes) {
        tracing::debug!(%error, "SO_SNDBUF not set");
    }
}

/// hyper's HTTP/1 settings for every connection: bounded request heads, a deadline for them.
fn http_builder(handshake_timeout: Duration) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .max_headers(MAX_REQUEST_HEADERS)
        .max_buf_size(MAX_HTTP_BUFFER_BYTES);
    builder
}

/// Finishes the TLS handshake within the handshake timeout, then serves HTTP over it.
async fn serve_https(
    tls: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ServerContext>,
    permit: Arc<ConnectionPermit>,
) {
    match tokio::time::timeout(ctx.limits.handshake_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(stream, peer, ctx, permit).await,
        Ok(Err(error)) => {
            ctx.net
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, %error, "TLS handshake failed");
        }
        Err(_) => {
            ctx.net
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

async fn serve_http(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    ctx: Arc<ServerContext>,
    permit: Arc<ConnectionPermit>,
) {
    let builder = http_builder(ctx.limits.handshake_timeout);
    let service = service_fn(move |request| {
        crate::http::router::route(request, Arc::clone(&ctx), peer, Arc::clone(&permit))
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(error) = connection.await {
        tracing::debug!(%peer, %error, "http connection ended with an error");
    }
}

/// Answers one request on a connection over the caps with 503 and the reason, then closes.
/// Reading the request first lets the client see the answer instead of a reset.
async fn refuse_http(stream: TcpStream, peer: SocketAddr, timeout: Duration, refusal: Refusal) {
    let mut builder = http_builder(timeout);
    builder.keep_alive(false);
    let service = service_fn(move |_request| async move {
        Ok::<_, std::convert::Infallible>(crate::http::router::unavailable(refusal.text()))
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if tokio::time::timeout(timeout, connection).await.is_err() {
        tracing::debug!(%peer, "refused connection timed out");
    }
}
