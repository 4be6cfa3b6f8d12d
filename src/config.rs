//! The server's configuration: every flag, its environment variable, its default and unit, and
//! the checks that refuse a bad value at start with a clear message. Later features add flags
//! here in the same style (`--kebab-case`, `SKIRMISH_SCREAMING_CASE`, durations like `250ms`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::admin::AdminToken;
use crate::game::arena::{ArenaRule, MIN_ARENA_SIDE};
use crate::http::origin::AllowedOrigin;
use crate::protocol::snapshot::MAX_ARENA_SIDE;

/// Square units of arena per player when `--area-per-player` is not given.
pub const DEFAULT_AREA_PER_PLAYER: u32 = 150_000;
/// The arena's size when it grows with the players, before it has to.
pub const DEFAULT_MIN_ARENA: (f32, f32) = (3000.0, 2000.0);

/// Skirmish: a real-time multiplayer game server. Serves the bundled browser game over HTTP
/// and the game itself over WebSocket at /ws.
#[derive(Parser, Debug, Clone)]
#[command(name = "skirmish", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on. Use 0.0.0.0:8080 to accept players from other machines,
    /// or port 0 to pick a free port (the chosen one is printed).
    #[arg(long, env = "SKIRMISH_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Simulation and snapshot rate, in ticks per second (1-240).
    #[arg(long, env = "SKIRMISH_TICK_HZ", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=240))]
    pub tick_hz: u16,

    /// Threads that step the rooms (each room on one thread at a time, placed and moved by
    /// load). Default: one per core the process may use.
    #[arg(long, env = "SKIRMISH_TICK_THREADS",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub tick_threads: Option<u16>,

    /// Milliseconds a tick thread lets players' sockets gather after it was woken to read
    /// some, so that it reads them in batches and wakes less often (0: it reads each as soon
    /// as it is ready). Inputs wait for the next tick anyway; a ping's answer or a chat line
    /// may wait this long.
    #[arg(long, env = "SKIRMISH_READ_BATCH_MS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(0..=20))]
    pub read_batch_ms: u16,

    /// Most players in the game at once, in all rooms (away players waiting to resume
    /// included); further joins are refused with "server full".
    #[arg(long, env = "SKIRMISH_MAX_PLAYERS", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_players: u32,

    /// Most players in one room. A room locks when its players and reserved seats reach it;
    /// quick play then opens another. 64 by default: up to 40 players the arena keeps its
    /// smallest size and past it grows with them (`--area-per-player`), so the density a ship
    /// meets is the same in any room; at 64 the arena is still crossed in about nine seconds
    /// at top speed, so rivals are never far, a rank among 64 means something, and the feed of
    /// tags stays readable.
    #[arg(long, env = "SKIRMISH_MAX_ROOM_PLAYERS", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=65_535))]
    pub max_room_players: u32,

    /// Most rooms open at once; a join that would open another is refused ("too many rooms").
    #[arg(long, env = "SKIRMISH_MAX_ROOMS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rooms: u32,

    /// How long a room may stay empty (no player, none away, no reserved seat) before it is
    /// disposed of.
    #[arg(long, env = "SKIRMISH_ROOM_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub room_idle_timeout: Duration,

    /// Private rooms one IP address may have open at once.
    #[arg(long, env = "SKIRMISH_MAX_PRIVATE_ROOMS_PER_IP", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_private_rooms_per_ip: u32,

    /// This process's region label: quick play's region filter matches it (or none).
    #[arg(long, env = "SKIRMISH_REGION", default_value = "local", value_parser = parse_region)]
    pub region: String,

    /// Seed for every random choice of the world (spawn points, orbs), so a run can be
    /// replayed. Random when not given; the seed used is logged at start.
    #[arg(long, env = "SKIRMISH_SEED")]
    pub seed: Option<u64>,

    /// A fixed arena of this size in units, `WIDTHxHEIGHT` (from 200x200 to 32768x32768); with
    /// `--area-per-player`, the smallest the arena gets. Without it, the arena is 3000x2000 and
    /// grows with the players. Orbs scale with its area. Each player is sent only what is near
    /// it (1728 x 1128 units around it).
    #[arg(long, env = "SKIRMISH_ARENA", value_parser = parse_arena)]
    pub arena: Option<(f32, f32)>,

    /// Square units of arena per player in an arena that grows with the players (checked once
    /// a second; it shrinks back by at most 5% of its area a second as they leave). At the default 150000, the 3000x2000
    /// arena grows past 40 players, keeping about ten other ships in a player's view.
    #[arg(long, env = "SKIRMISH_AREA_PER_PLAYER",
          value_parser = clap::value_parser!(u32).range(10_000..=10_000_000))]
    pub area_per_player: Option<u32>,

    /// How long a new connection may take to send its Join message before it is closed.
    #[arg(long, env = "SKIRMISH_JOIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub join_timeout: Duration,

    /// How long one write to a client may block (its socket buffer full) before the client
    /// is dropped as too slow.
    #[arg(long, env = "SKIRMISH_WRITE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub write_timeout: Duration,

    /// Kernel send buffer per connection, in bytes (SO_SNDBUF). It should hold a few snapshots,
    /// or healthy clients get skipped snapshots; larger only delays noticing slow ones.
    #[arg(long, env = "SKIRMISH_SEND_BUFFER", default_value_t = 256 * 1024,
          value_parser = clap::value_parser!(u32).range(4096..=64 * 1024 * 1024))]
    pub send_buffer: u32,

    /// Where the WebSocket upgrade is served (Socket.IO: `path`). Other paths do not upgrade.
    #[arg(long, env = "SKIRMISH_PATH", default_value = "/ws", value_parser = parse_path)]
    pub path: String,

    /// How often the server pings each client (Socket.IO: `pingInterval`).
    #[arg(long, env = "SKIRMISH_PING_INTERVAL", default_value = "25s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// How long a client has to answer a ping before it is closed with reason "ping timeout"
    /// (Socket.IO: `pingTimeout`).
    #[arg(long, env = "SKIRMISH_PING_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub ping_timeout: Duration,

    /// Comma-separated origins that may open a WebSocket from a browser page besides the
    /// server's own (Socket.IO: `cors.origin`). Each is `scheme://host[:port]` (e.g.
    /// `https://game.example`), compared whole: scheme, host and port (default 80 for http,
    /// 443 for https); `localhost` adds http and https on localhost, 127.0.0.1 and [::1] on any
    /// port (a client dev server); `*` allows any origin. Default: only the server's own
    /// origin, that of the pages it serves (http, or https with TLS, with the request's Host).
    /// Others get 403. Requests without an Origin header (non-browser clients) are allowed.
    #[arg(long, env = "SKIRMISH_ALLOWED_ORIGINS", value_delimiter = ',',
          value_parser = parse_allowed_origin)]
    pub allowed_origins: Vec<AllowedOrigin>,

    /// Whether to serve the bundled browser game (Socket.IO: `serveClient`). With false, its
    /// files are 404 while the WebSocket keeps working for a client hosted elsewhere.
    #[arg(long, env = "SKIRMISH_SERVE_CLIENT", default_value_t = true, action = clap::ArgAction::Set)]
    pub serve_client: bool,

    /// Require this token to connect: in the upgrade URL's `token` query parameter or an
    /// `Authorization: Bearer` header (Socket.IO: an `io.use` auth middleware).
    #[arg(long, env = "SKIRMISH_AUTH_TOKEN", conflicts_with = "auth_tokens_file")]
    pub auth_token: Option<String>,

    /// Serve the operator's live page at `/admin` to whoever gives this token (at least 12
    /// printable characters; docs/ADMIN.md). Without it `/admin` is 404.
    #[arg(long, env = "SKIRMISH_ADMIN_TOKEN", value_parser = parse_admin_token)]
    pub admin_token: Option<AdminToken>,

    /// Like --auth-token, with the accepted tokens read from a file, one per line.
    #[arg(long, env = "SKIRMISH_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<std::path::PathBuf>,

    /// Largest WebSocket message a client may send, in bytes (Socket.IO: `maxHttpBufferSize`);
    /// larger ones close the connection with 1009.
    #[arg(long, env = "SKIRMISH_MAX_PAYLOAD", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(256..=16 * 1024))]
    pub max_payload: u32,

    /// How long a client may take to send its HTTP request headers, upgrade included
    /// (Socket.IO: `connectTimeout`, for the transport handshake).
    #[arg(long, env = "SKIRMISH_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// Most TCP connections open at once (players, page loads, scrapers alike). Further ones
    /// are answered 503 "server at its connection limit" and closed, before any upgrade.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Most TCP connections open at once from one IP address (IPv6: one /64). Further ones
    /// are answered 503 "too many connections from your address". Raise it for load tests
    /// that run many bots from one machine.
    #[arg(long, env = "SKIRMISH_MAX_CONNECTIONS_PER_IP", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_ip: u32,

    /// PEM file with the certificate chain to serve HTTPS and wss:// (with --tls-key).
    /// Without it the server speaks plain HTTP and ws://.
    #[arg(long, env = "SKIRMISH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// PEM file with the private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SKIRMISH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// How long a player whose connection dropped waits to be resumed with its token before it
    /// is removed (Socket.IO: `connectionStateRecovery.maxDisconnectionDuration`).
    #[arg(long, env = "SKIRMISH_RESUME_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub resume_grace: Duration,

    /// How long a stopping server (SIGTERM, SIGINT) waits for its connections to say goodbye
    /// (every WebSocket is closed with 1001 "server shutting down", idle HTTP connections are
    /// closed) before it exits anyway. It exits sooner when the last connection is done.
    #[arg(long, env = "SKIRMISH_SHUTDOWN_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// How long a long-polling GET waits with nothing to send before it answers empty.
    #[arg(long, env = "SKIRMISH_POLL_HOLD", default_value = "25s", value_parser = parse_duration)]
    pub poll_hold: Duration,

    /// Joins the cluster whose room directory is this Redis (`redis://HOST:PORT[/DB]`): rooms,
    /// quick play, private codes and resume tokens are then shared by every node on it. Without
    /// it the server is a cluster of one with its directory in memory.
    #[arg(long, env = "SKIRMISH_REDIS_URL")]
    pub redis_url: Option<String>,

    /// How players reach this node (`https://eu1.example.com`, `http://127.0.0.1:8081`): other
    /// nodes send players here with it. Default: `http://` and the address it listens on.
    #[arg(long, env = "SKIRMISH_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// This node's name in the cluster (lowercase letters, digits, '-'). Default: a random
    /// `node-` id, new at each start.
    #[arg(long, env = "SKIRMISH_NODE_ID", value_parser = parse_node_id)]
    pub node_id: Option<crate::cluster::NodeId>,

    /// A node that has not renewed its lease in the cluster for this long has left, and its
    /// rooms with it; it renews three times per lease, at most once a second.
    #[arg(long, env = "SKIRMISH_CLUSTER_LEASE", default_value = "5s", value_parser = parse_duration)]
    pub cluster_lease: Duration,

    /// The key prefix in Redis, so that several games can share one Redis.
    #[arg(long, env = "SKIRMISH_REDIS_PREFIX", default_value = "skirmish:")]
    pub redis_prefix: String,

    /// How log lines are written to stderr: `text` (coloured only on a terminal) or `json`
    /// (one object per line, for log shippers).
    #[arg(long, env = "SKIRMISH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, in tracing's EnvFilter syntax (e.g. `info`, `skirmish=debug`).
    #[arg(long, env = "SKIRMISH_LOG", default_value = "info")]
    pub log: String,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    /// The defaults, as if started with no flags (environment variables still apply).
    fn default() -> Config {
        Config::parse_from(["skirmish"])
    }
}

/// One entry of `--allowed-origins`: `*`, `localhost` or an origin.
fn parse_admin_token(text: &str) -> Result<AdminToken, String> {
    AdminToken::new(text).map_err(|error| error.to_string())
}

fn parse_allowed_origin(text: &str) -> Result<AllowedOrigin, String> {
    text.parse().map_err(|error| {
        format!("{error}; write origins as scheme://host[:port] (e.g. https://game.example), or localhost, or *")
    })
}

/// A region label, by the rules of room modes (lowercase letters, digits and dashes).
fn parse_region(text: &str) -> Result<String, String> {
    crate::protocol::rooms::validate_mode(text)
        .map(str::to_owned)
        .map_err(|e| e.to_string())
}

/// A node's public URL: an origin (`http(s)://host[:port]`, no path; a trailing `/` dropped).
fn parse_public_url(text: &str) -> Result<String, String> {
    let text = text.strip_suffix('/').unwrap_or(text);
    crate::http::origin::Origin::parse(text)
        .map(|origin| origin.to_string())
        .map_err(|e| {
            format!("{e} (write it like https://eu1.example.com or http://127.0.0.1:8081)")
        })
}

fn parse_node_id(text: &str) -> Result<crate::cluster::NodeId, String> {
    crate::cluster::NodeId::parse(text).map_err(|e| e.to_string())
}

/// A URL path for the WebSocket: starts with `/`, no query, no spaces.
fn parse_path(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.contains(['?', '#', ' ']) {
        return Err("must be a path like /ws".to_owned());
    }
    Ok(text.to_owned())
}

impl Config {
    /// How the arena is sized, from `--arena` and `--area-per-player`.
    pub fn arena_rule(&self) -> ArenaRule {
        match (self.arena, self.area_per_player) {
            (Some((width, height)), None) => ArenaRule::Fixed { width, height },
            (minimum, area_per_player) => {
                let (min_width, min_height) = minimum.unwrap_or(DEFAULT_MIN_ARENA);
                ArenaRule::PerPlayer {
                    min_width,
                    min_height,
                    area_per_player: area_per_player.unwrap_or(DEFAULT_AREA_PER_PLAYER) as f32,
                }
            }
        }
    }
}

/// The bundled game's arena rule when no flag changes it: it grows from [`DEFAULT_MIN_ARENA`]
/// at [`DEFAULT_AREA_PER_PLAYER`] (what benches and examples measure).
pub fn default_arena_rule() -> ArenaRule {
    let (min_width, min_height) = DEFAULT_MIN_ARENA;
    ArenaRule::PerPlayer {
        min_width,
        min_height,
        area_per_player: DEFAULT_AREA_PER_PLAYER as f32,
    }
}

/// Parses an arena size: `3000x2000`.
pub fn parse_arena(text: &str) -> Result<(f32, f32), String> {
    let (width, height) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?}: write the size as WIDTHxHEIGHT, e.g. 3000x2000"))?;
    let side = |side: &str| -> Result<f32, String> {
        let value: u32 = side
            .trim()
            .parse()
            .map_err(|_| format!("{side:?} is not a whole number of units"))?;
        let bounds = MIN_ARENA_SIDE as u32..=MAX_ARENA_SIDE as u32;
        if !bounds.contains(&value) {
            return Err(format!(
                "{value} is outside {}..={}",
                bounds.start(),
                bounds.end()
            ));
        }
        Ok(value as f32)
    };
    Ok((side(width)?, side(height)?))
}

/// Parses `250ms`, `25s`, `2m` and the like; a bare number is refused to avoid unit guesses.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (write durations like 250ms, 25s or 2m)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::origin::Origin;

    #[test]
    fn durations_need_units_and_must_be_positive() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("25s"), Ok(Duration::from_secs(25)));
        assert!(parse_duration("25").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn invalid_values_are_refused_with_a_message() {
        let error = Config::try_parse_from(["skirmish", "--tick-hz", "0"]).unwrap_err();
        assert!(error.to_string().contains("tick-hz"), "{error}");
        let error = Config::try_parse_from(["skirmish", "--addr", "nowhere"]).unwrap_err();
        assert!(error.to_string().contains("addr"), "{error}");
        let error = Config::try_parse_from(["skirmish", "--join-timeout", "forever"]).unwrap_err();
        assert!(error.to_string().contains("durations like"), "{error}");
    }

    #[test]
    fn session_flags_parse_like_socket_io_options() {
        let config = Config::try_parse_from([
            "skirmish",
            "--path",
            "/game",
            "--ping-interval",
            "300ms",
            "--allowed-origins",
            "https://a.example,https://b.example",
            "--serve-client",
            "false",
        ])
        .unwrap();
        assert_eq!(config.path, "/game");
        assert_eq!(config.ping_interval, Duration::from_millis(300));
        assert_eq!(config.ping_timeout, Duration::from_secs(20));
        let origin = |text| AllowedOrigin::Exact(Origin::parse(text).unwrap());
        assert_eq!(
            config.allowed_origins,
            [origin("https://a.example"), origin("https://b.example")]
        );
        assert!(!config.serve_client);
        assert!(Config::try_parse_from(["skirmish", "--path", "ws"]).is_err());
        assert!(
            Config::try_parse_from(["skirmish", "--auth-token", "a", "--auth-tokens-file", "f"])
                .is_err()
        );
    }

    #[test]
    fn allowed_origins_are_parsed_at_start() {
        let config = Config::try_parse_from([
            "skirmish",
            "--allowed-origins",
            "localhost, *,HTTPS://Friend.example:443/",
        ])
        .unwrap();
        assert_eq!(
            config.allowed_origins,
            [
                AllowedOrigin::Localhost,
                AllowedOrigin::Any,
                AllowedOrigin::Exact(Origin::parse("https://friend.example").unwrap())
            ]
        );
        assert!(
            Config::try_parse_from(["skirmish"])
                .unwrap()
                .allowed_origins
                .is_empty()
        );
        for bad in [
            "friend.example",
            "https://friend.example/game",
            "http://127.0.0.1:8080.evil.example",
            "null",
            "https://a.example,",
        ] {
            let error = Config::try_parse_from(["skirmish", "--allowed-origins", bad])
                .expect_err(bad)
                .to_string();
            assert!(
                error.contains("--allowed-origins") && error.contains("scheme://host[:port]"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn hardening_flags_have_sane_defaults_and_tls_needs_both_files() {
        let config = Config::try_parse_from(["skirmish"]).unwrap();
        assert_eq!(
            (config.max_connections, config.max_connections_per_ip),
            (10_000, 64)
        );
        assert!(config.tls_cert.is_none());
        assert_eq!(
            config.arena_rule(),
            ArenaRule::PerPlayer {
                min_width: 3000.0,
                min_height: 2000.0,
                area_per_player: 150_000.0
            }
        );
        let config = Config::try_parse_from([
            "skirmish",
            "--max-connections",
            "5",
            "--max-connections-per-ip",
            "2",
        ])
        .unwrap();
        assert_eq!(
            (config.max_connections, config.max_connections_per_ip),
            (5, 2)
        );
        assert!(Config::try_parse_from(["skirmish", "--max-connections", "0"]).is_err());
        assert!(Config::try_parse_from(["skirmish", "--tls-cert", "c.pem"]).is_err());
        assert!(Config::try_parse_from(["skirmish", "--tls-key", "k.pem"]).is_err());
        assert!(
            Config::try_parse_from(["skirmish", "--tls-cert", "c.pem", "--tls-key", "k.pem"])
                .is_ok()
        );
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::try_parse_from([
            "skirmish",
            "--addr",
            "0.0.0.0:9000",
            "--tick-hz",
            "60",
            "--arena",
            "1200x800",
            "--seed",
            "7",
        ])
        .unwrap();
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.tick_hz, 60);
        assert_eq!(config.seed, Some(7));
        assert_eq!(
            config.arena_rule(),
            ArenaRule::Fixed {
                width: 1200.0,
                height: 800.0
            }
        );
        assert!(parse_arena("100x100").is_err());
        assert!(parse_arena("40000x2000").is_err());
        let config = Config::try_parse_from([
            "skirmish",
            "--arena",
            "900x600",
            "--area-per-player",
            "20000",
        ])
        .unwrap();
        assert_eq!(
            config.arena_rule(),
            ArenaRule::PerPlayer {
                min_width: 900.0,
                min_height: 600.0,
                area_per_player: 20_000.0
            }
        );
        assert!(parse_arena("3000").is_err());
    }
}
