//! The server as a whole: binds nothing itself (the caller passes a listener, so tests can use
//! port 0), wires each layer's context from the configuration, starts the pool of tick threads,
//! accepts connections until told to stop; then every connection is told the server is going
//! away (WebSockets: 1001), the tick threads stop once the last connection task has ended or the
//! shutdown timeout has passed, whichever is first, and the process exits. Must never: hold a
//! game or session rule.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::limits::{listener_limits, session_limits, websocket_limits};
use super::listener::{Listener, accept_loop};
use crate::config::Config;
use crate::game::WorldConfig;
use crate::http::auth::{Authenticator, OriginPolicy, TokenAuth};
use crate::http::context::HttpContext;
use crate::metrics::summary::{SummarySources, log_summaries};
use crate::metrics::{NetStats, RoomStats};
use crate::protocol::CloseReason;
use crate::protocol::rooms::RoomId;
use crate::room::{Room, RoomConfig, RoomIdentity};
use crate::runtime::{PooledRoom, RoomPool};
use crate::session::{NoHooks, RoomLink, SessionContext, SessionHooks, Sessions};
use crate::transport::caps::ConnectionCaps;
use crate::transport::shutdown::Shutdown;
use crate::transport::websocket::WebSocketContext;

/// Events the loop may have waiting: a generous second of input from every player at 30 Hz.
const EVENT_QUEUE_PER_PLAYER: usize = 32;
/// How often the network summary is logged.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(5);

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
        let net = Arc::new(NetStats::default());
        let room_stats = Arc::new(RoomStats::default());
        let events = Arc::new(ArrayQueue::new(
            (config.max_players as usize).max(64) * EVENT_QUEUE_PER_PLAYER,
        ));
        let sessions = self.sessions;
        let session = Arc::new(SessionContext {
            sessions: Arc::clone(&sessions),
            hooks: self.hooks,
            room: RoomLink::new(Arc::clone(&events), Arc::clone(&net)),
            limits: session_limits(&config),
            net: Arc::clone(&net),
        });
        let websocket = Arc::new(WebSocketContext {
            session,
            limits: websocket_limits(&config),
            net: Arc::clone(&net),
            delivery: Arc::clone(&sessions.delivery),
            shutdown: Shutdown::default(),
        });
        let tasks = websocket.shutdown.clone();
        let limits = listener_limits(&config);
        let setup = Listener {
            http: Arc::new(HttpContext {
                websocket,
                authenticator: self.authenticator,
                origins: OriginPolicy::new(&config.allowed_origins, self.tls.is_some()),
                path: config.path.clone(),
                serve_client: config.serve_client,
                room_stats: Arc::clone(&room_stats),
                caps: ConnectionCaps::new(limits.max_connections, limits.max_connections_per_ip),
            }),
            limits,
            tls: self.tls,
        };
        let room = Room::new(
            room_config(&config, seed),
            events,
            Arc::clone(&sessions),
            Arc::clone(&room_stats),
        );
        let pool = RoomPool::start(tick_threads(&config));
        pool.add(PooledRoom {
            id: RoomId(1),
            room: Box::new(room),
            on_panic: close_players_of(Arc::clone(&sessions)),
        });
        let players = Arc::clone(&sessions);
        let sources = SummarySources {
            net,
            delivery: Arc::clone(&sessions.delivery),
            room: room_stats,
            players: Box::new(move || players.player_count()),
        };
        let stopping = tasks.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = log_summaries(sources, SUMMARY_INTERVAL) => {}
                () = stopping.stopping() => {}
            }
        });

        tokio::select! {
            _ = accept_loop(&listener, &setup) => {}
            _ = shutdown => tracing::info!("shutting down"),
        }
        drop(listener);
        say_goodbye(&tasks, config.shutdown_timeout).await;
        // The rooms ran while players left, so their leaves were taken; now they may stop.
        let _ = tokio::task::spawn_blocking(move || pool.stop()).await;
    }
}

/// `--tick-threads`, or one per core the process may use.
fn tick_threads(config: &Config) -> usize {
    config.tick_threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |cores| cores.get()),
        usize::from,
    )
}

/// What a room's failure does to its players: each is closed with 1011 "room failed" (their
/// sessions then leave the registry as any closed session does).
fn close_players_of(sessions: Arc<Sessions>) -> Box<dyn FnOnce() + Send> {
    Box::new(move || {
        for handle in sessions.handles() {
            handle.kick.kick(CloseReason::RoomFailed);
        }
    })
}

/// Tells every connection task to stop (each WebSocket closes with 1001, idle HTTP connections
/// close) and waits until the last one has ended or `timeout` has passed.
async fn say_goodbye(tasks: &Shutdown, timeout: Duration) {
    let started = Instant::now();
    tasks.begin();
    match tokio::time::timeout(timeout, tasks.finished()).await {
        Ok(()) => tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "every connection closed"
        ),
        Err(_) => tracing::warn!(
            running = tasks.running(),
            "shutdown timeout passed with connections still open; exiting anyway"
        ),
    }
}

/// The one room's settings, from the configuration.
fn room_config(config: &Config, seed: u64) -> RoomConfig {
    let mut world = WorldConfig::new(config.tick_hz, seed);
    world.arena = config.arena_rule();
    let mut room_config = RoomConfig::new(world);
    room_config.resume_grace = config.resume_grace;
    room_config.identity = RoomIdentity::single(config.max_players);
    room_config
}
