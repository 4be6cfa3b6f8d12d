//! What a session task needs, and nothing more: the registry, the hooks, the link to its room,
//! its budgets and the counters it reports into. Built once by the server; shared by every
//! session whatever its transport. Must never: carry a transport's or HTTP's settings.

use std::sync::Arc;
use std::time::Duration;

use super::hooks::SessionHooks;
use super::registry::Sessions;
use super::room_link::RoomLink;
use crate::metrics::NetStats;

/// A session's budgets, from the configuration.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Players in the game at once; a join beyond it is refused ("server full").
    pub max_players: usize,
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
    pub sessions: Arc<Sessions>,
    pub hooks: Arc<dyn SessionHooks>,
    /// The room every session plays in (today there is one).
    pub room: RoomLink,
    pub limits: SessionLimits,
    pub net: Arc<NetStats>,
}
