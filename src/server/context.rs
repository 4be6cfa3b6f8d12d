//! What every connection task shares: the budgets from the configuration and the handles to the
//! registry, the room's queue and the counters. A leaf: it imports only the layers below it and
//! is imported by the transport, HTTP and the server.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_queue::ArrayQueue;

use super::caps::ConnectionCaps;
use crate::config::Config;
use crate::http::auth::{Authenticator, OriginPolicy};
use crate::metrics::{NetStats, RoomStats};
use crate::room::RoomEvent;
use crate::session::{SessionHooks, Sessions};

/// Per-connection budgets, from the configuration.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub max_players: usize,
    pub join_timeout: Duration,
    pub write_timeout: Duration,
    /// Largest WebSocket message accepted; larger ones close the connection with 1009.
    pub max_message_bytes: usize,
    /// Reliable messages a player may have waiting; overflow disconnects it (too slow).
    pub outbound_queue: usize,
    pub send_buffer_bytes: usize,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// How long a client may take to send its HTTP request headers (and, with TLS, to finish
    /// the TLS handshake); then the socket is closed.
    pub handshake_timeout: Duration,
    /// TCP connections open at once, and from one address; more are answered 503 at accept.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Messages a player may send per second on average: an input per tick with room to
    /// spare for heartbeats, pings and chat (90 at 30 Hz).
    pub messages_per_second: f64,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> ConnectionLimits {
        ConnectionLimits {
            max_players: config.max_players as usize,
            join_timeout: config.join_timeout,
            write_timeout: config.write_timeout,
            max_message_bytes: (config.max_payload as usize)
                .min(crate::protocol::MAX_CLIENT_MESSAGE_BYTES),
            outbound_queue: 256,
            send_buffer_bytes: config.send_buffer as usize,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            handshake_timeout: config.handshake_timeout,
            max_connections: config.max_connections as usize,
            max_connections_per_ip: config.max_connections_per_ip as usize,
            messages_per_second: 1.5 * f64::from(config.tick_hz) + 45.0,
        }
    }
}

/// What every connection task shares.
pub struct ServerContext {
    pub sessions: Arc<Sessions>,
    pub hooks: Arc<dyn SessionHooks>,
    pub authenticator: Option<Arc<dyn Authenticator>>,
    pub origins: OriginPolicy,
    /// Where the WebSocket is served.
    pub path: String,
    pub serve_client: bool,
    pub events: Arc<ArrayQueue<RoomEvent>>,
    pub limits: ConnectionLimits,
    pub loop_stats: Arc<RoomStats>,
    pub net: Arc<NetStats>,
    /// Open connections against `--max-connections` and `--max-connections-per-ip`.
    pub caps: Arc<ConnectionCaps>,
}
