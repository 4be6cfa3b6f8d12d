//! What a WebSocket connection task needs: the session context it hands its session, its own
//! budgets, and the counters it reports into. Must never: carry HTTP's or the server's settings.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::metrics::{DeliveryStats, NetStats};
use crate::runtime::Readiness;
use crate::session::SessionContext;
use crate::transport::polling::PollingContext;
use crate::transport::shutdown::Shutdown;

/// A WebSocket connection's budgets, from the configuration.
#[derive(Debug, Clone)]
pub struct WebSocketLimits {
    /// Largest message accepted; larger ones close the connection with 1009.
    pub max_message_bytes: usize,
    /// How long one frame may take to be taken by the client's socket; then it is closed as too
    /// slow (1008). Also bounds how long a stalled client's socket may go unread.
    pub write_timeout: Duration,
    /// How often the writer pings a welcomed client, and how long the client has to answer.
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
}

/// What every WebSocket connection task shares.
pub struct WebSocketContext {
    pub session: Arc<SessionContext>,
    pub limits: WebSocketLimits,
    pub net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    /// Every task is spawned on it; when it says stop, each connection closes with 1001.
    pub shutdown: Shutdown,
    /// The tick threads that read plain-TCP sockets (`super::watched`).
    pub readiness: Readiness,
    /// The long-polling sessions a socket may take over (`ClientMessage::Upgrade`); set once
    /// the polling transport exists.
    pub polling: OnceLock<Arc<PollingContext>>,
}
