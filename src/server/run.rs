//! The server as a whole: binds nothing itself (the caller passes a listener, so tests can use
//! port 0), wires each layer's context from the configuration, starts the pool of tick threads
//! and the directory of rooms (opened on demand, disposed of when idle), accepts connections
//! until told to stop; then every connection is told the server is going
//! away (WebSockets: 1001), the tick threads stop once the last connection task has ended or the
//! shutdown timeout has passed, whichever is first, and the process exits. Must never: hold a
//! game or session rule.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::cluster::{cluster_config, depart, flush_tokens, heartbeats};
use super::limits::{listener_limits, polling_limits, session_limits, websocket_limits};
use super::listener::{Listener, accept_loop};
use super::memory::{TRIM_CHECK_INTERVAL, TrimPolicy};
use super::rooms::{PoolHost, RoomWrapper, matchmaker_config};
use crate::admin::{AdminContext, AdminSources, run_sampler};
use crate::cluster::bus::BusReader;
use crate::cluster::{ClusterDirectory, ClusterError};
use crate::config::Config;
use crate::http::auth::{Authenticator, OriginPolicy, TokenAuth};
use crate::http::context::HttpContext;
use crate::metrics::NetStats;
use crate::metrics::summary::{SummarySources, log_summaries};
use crate::runtime::RoomPool;
use crate::session::operator::{Operator, read_bus};
use crate::session::{NoHooks, RoomDirectory, SessionContext, SessionHooks};
use crate::transport::caps::ConnectionCaps;
use crate::transport::polling::PollingContext;
use crate::transport::shutdown::Shutdown;
use crate::transport::websocket::WebSocketContext;

/// How often the network summary is logged.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(5);
/// How often idle rooms are looked for (a room is disposed of at most this late).
const IDLE_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the server on `listener` until `shutdown` completes, with the authentication the
/// configuration asks for and no hooks.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) {
    let mut server = match Server::from_config(config) {
        Ok(server) => server,
        Err(error) => return tracing::error!(%error, "cannot start"),
    };
    let listening = listener.local_addr();
    if let Ok(listening) = listening
        && let Err(error) = server.join_cluster(listening).await
    {
        return tracing::error!(%error, "cannot join the cluster");
    }
    server.run(listener, shutdown).await
}

/// A configured server, for library users who add hooks or their own authentication before
/// running it.
pub struct Server {
    config: Config,
    seed: u64,
    net: Arc<NetStats>,
    pool: Arc<RoomPool>,
    rooms: Arc<RoomDirectory>,
    room_wrapper: Arc<OnceLock<RoomWrapper>>,
    hooks: Arc<dyn SessionHooks>,
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Set when `--tls-cert` and `--tls-key` are given: every connection speaks TLS.
    tls: Option<TlsAcceptor>,
    /// Set by [`Server::join_cluster`] when `--redis-url` is given.
    cluster: Arc<OnceLock<Arc<ClusterDirectory>>>,
    /// The cluster's bus, read once the server runs.
    bus: Option<BusReader>,
}

impl Server {
    /// A server as the configuration describes it (reading `--auth-tokens-file` and the TLS
    /// certificate and key if given).
    pub fn from_config(config: Config) -> std::io::Result<Server> {
        // The process's start for `/metrics`, if nothing noted it earlier (the binary does).
        crate::metrics::note_process_start();
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
        let seed = config.seed.unwrap_or_else(rand::random);
        let net = Arc::new(NetStats::default());
        let pool = Arc::new(RoomPool::start(
            tick_threads(&config),
            Duration::from_millis(config.read_batch_ms.into()),
        ));
        let room_wrapper = Arc::default();
        let host = PoolHost::new(Arc::clone(&pool), Arc::clone(&room_wrapper), &config, seed);
        let rooms = RoomDirectory::new(
            matchmaker_config(&config),
            Box::new(host),
            Arc::clone(&net),
            Arc::default(),
        );
        Ok(Server {
            config,
            seed,
            net,
            pool,
            rooms,
            room_wrapper,
            hooks: Arc::new(NoHooks),
            authenticator,
            tls,
            cluster: Arc::default(),
            bus: None,
        })
    }

    /// The operator's handle: announcements and kicks, on this node or across the cluster.
    pub fn operator(&self) -> Operator {
        Operator {
            rooms: Arc::clone(&self.rooms),
            cluster: Arc::clone(&self.cluster),
        }
    }

    /// Joins the cluster `--redis-url` names (nothing without it), as the node players reach
    /// at `--public-url` or else at `listening`. Fails, naming the URL, if Redis does not answer.
    pub async fn join_cluster(&mut self, listening: SocketAddr) -> Result<(), ClusterError> {
        let Some(config) = cluster_config(&self.config, listening, self.tls.is_some()) else {
            return Ok(());
        };
        let (cluster, bus) = super::cluster::join(config, &self.rooms).await?;
        let _ = self.cluster.set(cluster);
        self.bus = Some(bus);
        Ok(())
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

    /// Wraps every room the server opens before it runs (instrumentation; tests make one
    /// fail). Only the first wrapper given is kept.
    pub fn with_room_wrapper(self, wrapper: RoomWrapper) -> Server {
        let _ = self.room_wrapper.set(wrapper);
        self
    }

    /// The process's rooms, e.g. to kick a player while the server runs.
    pub fn rooms(&self) -> Arc<RoomDirectory> {
        Arc::clone(&self.rooms)
    }

    /// Runs until `shutdown` completes.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let operator = self.operator();
        let config = self.config;
        tracing::info!(
            seed = self.seed,
            tick_hz = config.tick_hz,
            tick_threads = self.pool.threads(),
            max_players = config.max_players,
            max_room_players = config.max_room_players,
            path = %config.path,
            auth = self.authenticator.is_some(),
            admin = config.admin_token.is_some(),
            tls = self.tls.is_some(),
            node = self.cluster.get().map(|cluster| cluster.node().to_string()),
            "starting"
        );
        let cluster = self.cluster.get().cloned();
        let bus = self.bus;
        let (net, rooms, pool) = (self.net, self.rooms, self.pool);
        let session = Arc::new(SessionContext {
            rooms: Arc::clone(&rooms),
            cluster: cluster.clone(),
            hooks: self.hooks,
            limits: session_limits(&config),
            net: Arc::clone(&net),
        });
        let websocket = Arc::new(WebSocketContext {
            session,
            limits: websocket_limits(&config),
            net: Arc::clone(&net),
            delivery: Arc::clone(&rooms.delivery),
            shutdown: Shutdown::default(),
            readiness: pool.readiness(),
            polling: Default::default(),
        });
        let tasks = websocket.shutdown.clone();
        let polling = Arc::new(PollingContext {
            session: Arc::clone(&websocket.session),
            limits: polling_limits(&config),
            net: Arc::clone(&net),
            delivery: Arc::clone(&rooms.delivery),
            shutdown: tasks.clone(),
            sessions: Default::default(),
            node: cluster.as_ref().map(|cluster| cluster.node().to_string()),
            stats: Default::default(),
        });
        let _ = websocket.polling.set(Arc::clone(&polling));
        let limits = listener_limits(&config);
        let caps = ConnectionCaps::new(limits.max_connections, limits.max_connections_per_ip);
        let admin = config.admin_token.clone().map(|token| {
            let sources = AdminSources {
                net: Arc::clone(&net),
                delivery: Arc::clone(&rooms.delivery),
                rooms: Arc::clone(&rooms),
                caps: Arc::clone(&caps),
                cluster: Arc::clone(&operator.cluster),
            };
            let admin = Arc::new(AdminContext::new(token, operator, sources, tasks.clone()));
            tasks.spawn(run_sampler(Arc::clone(&admin)));
            admin
        });
        let setup = Listener {
            http: Arc::new(HttpContext {
                websocket,
                polling,
                authenticator: self.authenticator,
                origins: OriginPolicy::new(&config.allowed_origins, self.tls.is_some()),
                path: config.path.clone(),
                serve_client: config.serve_client,
                rooms: Arc::clone(&rooms),
                cluster: cluster.clone(),
                pool: Arc::clone(pool.stats()),
                tick_threads: pool.threads(),
                caps,
                admin,
            }),
            limits,
            tls: self.tls,
        };
        let (players, totals) = (Arc::clone(&rooms), Arc::clone(&rooms));
        let sources = SummarySources {
            net,
            delivery: Arc::clone(&rooms.delivery),
            rooms: Box::new(move || totals.total_stats()),
            players: Box::new(move || players.player_count()),
        };
        let stopping = tasks.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = log_summaries(sources, SUMMARY_INTERVAL) => {}
                () = stopping.stopping() => {}
            }
        });
        let stopping = tasks.clone();
        let sweeping = Arc::clone(&rooms);
        tasks.spawn(async move {
            tokio::select! {
                () = dispose_idle_rooms(&sweeping) => {}
                () = trim_after_leaves(&sweeping) => {}
                () = stopping.stopping() => {}
            }
        });
        if let (Some(cluster), Some(bus)) = (&cluster, bus) {
            for task in [
                Box::pin(heartbeats(Arc::clone(cluster), Arc::clone(&rooms)))
                    as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
                Box::pin(flush_tokens(Arc::clone(cluster), Arc::clone(&rooms))),
                Box::pin(read_bus(bus, Arc::clone(cluster), Arc::clone(&rooms))),
            ] {
                let stopping = tasks.clone();
                tasks.spawn(async move {
                    tokio::select! {
                        () = task => {}
                        () = stopping.stopping() => {}
                    }
                });
            }
        }

        tokio::select! {
            _ = accept_loop(&listener, &setup) => {}
            _ = shutdown => tracing::info!("shutting down"),
        }
        drop(listener);
        say_goodbye(&tasks, config.shutdown_timeout).await;
        if let Some(cluster) = &cluster {
            depart(cluster, &rooms).await;
        }
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

/// Disposes of rooms that have been empty for the idle timeout, every
/// [`IDLE_SWEEP_INTERVAL`], until the server stops.
async fn dispose_idle_rooms(rooms: &RoomDirectory) {
    let mut sweep = tokio::time::interval(IDLE_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        sweep.tick().await;
        rooms.dispose_idle(Instant::now());
    }
}

/// Gives freed memory back to the system once enough players have left, every
/// [`TRIM_CHECK_INTERVAL`], until the server stops.
async fn trim_after_leaves(rooms: &RoomDirectory) {
    let mut check = tokio::time::interval(TRIM_CHECK_INTERVAL);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut policy = TrimPolicy::default();
    loop {
        check.tick().await;
        let players = rooms.player_count();
        if policy.should_trim(players) {
            let trimmed = tokio::task::spawn_blocking(super::memory::trim).await;
            tracing::debug!(players, ?trimmed, "freed memory given back");
        }
    }
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
