//! What a session task needs, and nothing more: the rooms (where it plays), the hooks, its
//! budgets and the counters it reports into. Built once by the server; shared by every
//! session whatever its transport. Must never: carry a transport's or HTTP's settings.

use std::sync::Arc;
use std::time::Duration;

use super::directory::RoomDirectory;
use super::hooks::SessionHooks;
use crate::cluster::ClusterDirectory;
use crate::metrics::NetStats;

/// A session's budgets, from the configuration.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// How long a client may take to send its `Join`; then it is closed.
    pub join_timeout: Duration,
    /// Reliable messages a player may have waiting; overflow disconnects it (too slow).
    pub outbound_queue: usize,
    /// Messages a player may send per second on average: an input per tick with room to
    /// spare for heartbeats, pings and chat (90 at 30 Hz).
    pub messages_per_second: f64,
}

/// What every session shares.
pub struct SessionContext {
    /// The process's rooms: where each session plays.
    pub rooms: Arc<RoomDirectory>,
    /// The cluster's directory, on a node started with `--redis-url`.
    pub cluster: Option<Arc<ClusterDirectory>>,
    pub hooks: Arc<dyn SessionHooks>,
    pub limits: SessionLimits,
    pub net: Arc<NetStats>,
}
