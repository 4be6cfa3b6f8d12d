//! What one scrape of `/metrics` reports, gathered by whoever serves it: the shared counters
//! (read when the exposition is encoded, a moment later) and the readings only their owners can
//! take (players, rooms by kind, the pool, the cluster, the polling transport, the process).
//! Owned, so that a per-scrape collector can hold it. Must never: hold a lock or a borrow of a
//! layer's state, or read a clock.

use std::sync::Arc;

use super::counters::{DeliveryStats, NetStats, RoomStats};

/// Everything the exposition reads.
#[derive(Debug, Default)]
pub struct Readings {
    /// Players registered (connected) now.
    pub players: u64,
    /// TCP connections open now, counted against `--max-connections`.
    pub open_connections: u64,
    /// Connections answered 503 at accept, by the label of the cap that refused them.
    pub refused: Vec<(&'static str, u64)>,
    pub net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    /// Every room's counters added up (and the players away in them).
    pub room: RoomStats,
    /// Open rooms and their connected players, by kind (a bounded set of labels: modes are
    /// the server's, not the clients').
    pub room_kinds: Vec<RoomKind>,
    pub lobby: LobbyCounts,
    pub pool: PoolCounts,
    /// A cluster node's calls to the cluster's directory (`None` without a cluster).
    pub cluster: Option<ClusterCounts>,
    /// Long-polling sessions open now and opened, and requests refused by reason.
    pub polling: PollingCounts,
    pub process: ProcessReadings,
}

/// The polling transport's readings.
#[derive(Debug, Clone, Default)]
pub struct PollingCounts {
    pub open: u64,
    pub opened: u64,
    pub refused: Vec<(&'static str, u64)>,
}

/// A cluster node's readings of its directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterCounts {
    /// Whether the last call to Redis succeeded (1) or not (0).
    pub reachable: bool,
    /// Live nodes as of the last heartbeat.
    pub nodes: u64,
    pub calls: u64,
    pub failures: u64,
    pub heartbeats: u64,
    /// Joiners seated here by the directory, sent to another node, and tickets claimed here.
    pub seated_here: u64,
    pub redirected: u64,
    pub claimed: u64,
    /// Placements the directory refused (room full, no such room, no node with room...).
    pub refused: u64,
    /// Resume-token changes that found the queue to the directory full.
    pub token_changes_dropped: u64,
    /// Bus messages applied, ignored as malformed, and over their sender's rate limit.
    pub bus_applied: u64,
    pub bus_malformed: u64,
    pub bus_limited: u64,
}

/// The tick threads' readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolCounts {
    pub threads: u64,
    /// Rooms that overran their tick budget in more than a quarter of their ticks over the
    /// last window (a gauge).
    pub rooms_overrunning: u64,
    pub rooms_moved: u64,
}

/// Open rooms of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomKind {
    pub mode: String,
    pub private: bool,
    pub rooms: u64,
    pub players: u64,
}

/// Counters of rooms' lives.
#[derive(Debug, Clone, Copy, Default)]
pub struct LobbyCounts {
    pub opened: u64,
    pub disposed: u64,
    pub failed: u64,
    pub private_refused: u64,
}

/// The process's own readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessReadings {
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// Resident memory (`None` where there is no procfs).
    pub resident_bytes: Option<u64>,
}
