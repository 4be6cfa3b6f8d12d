//! The configuration's budgets, cut into the pieces each layer is handed: the session's, the
//! WebSocket connection's, the polling session's, and the listener's own. Must never: hand a layer a budget it does not
//! enforce.

use std::time::Duration;

use crate::config::Config;
use crate::session::SessionLimits;
use crate::transport::polling::{Backlog, PollingLimits};
use crate::transport::websocket::WebSocketLimits;

/// Reliable messages a player may have waiting; overflow disconnects it (too slow).
const OUTBOUND_QUEUE: usize = 256;

/// What the accept loop enforces before a byte is read.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    /// How long a client may take to send its HTTP request headers (and, with TLS, to finish
    /// the TLS handshake); then the socket is closed.
    pub handshake_timeout: Duration,
    /// `SO_SNDBUF` of every accepted socket.
    pub send_buffer_bytes: usize,
    /// TCP connections open at once, and from one address; more are answered 503 at accept.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

pub fn listener_limits(config: &Config) -> ListenerLimits {
    ListenerLimits {
        handshake_timeout: config.handshake_timeout,
        send_buffer_bytes: config.send_buffer as usize,
        max_connections: config.max_connections as usize,
        max_connections_per_ip: config.max_connections_per_ip as usize,
    }
}

pub fn session_limits(config: &Config) -> SessionLimits {
    SessionLimits {
        join_timeout: config.join_timeout,
        outbound_queue: OUTBOUND_QUEUE,
        messages_per_second: 1.5 * f64::from(config.tick_hz) + 45.0,
    }
}

/// Largest POST body of a polling session: a second of inputs with room for chat.
const POLL_MAX_BODY: usize = 16 * 1024;
/// Bytes of reliable messages a polling client may leave unfetched before it is too slow.
const POLL_BACKLOG_BYTES: usize = 1 << 20;
/// Client messages a polling session holds before its session reads them.
const POLL_INBOUND_QUEUE: usize = 64;
/// How long an ended polling session's close waits for the client's last GET.
const POLL_LINGER: Duration = Duration::from_secs(10);

pub fn polling_limits(config: &Config) -> PollingLimits {
    PollingLimits {
        hold: config.poll_hold,
        max_body: POLL_MAX_BODY,
        max_message_bytes: websocket_limits(config).max_message_bytes,
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        backlog: Backlog {
            messages: OUTBOUND_QUEUE,
            bytes: POLL_BACKLOG_BYTES,
        },
        inbound_queue: POLL_INBOUND_QUEUE,
        linger: POLL_LINGER,
    }
}

pub fn websocket_limits(config: &Config) -> WebSocketLimits {
    WebSocketLimits {
        max_message_bytes: (config.max_payload as usize)
            .min(crate::protocol::MAX_CLIENT_MESSAGE_BYTES),
        write_timeout: config.write_timeout,
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
    }
}
