//! What the operator's page runs on: its token and gate, the operator's handle its actions go
//! through, where its numbers are read ([`AdminSources`]), the history of samples, and the
//! sampler that takes one every interval and hands it, encoded once, to every admin socket.
//! Must never: slow a tick (it reads relaxed counters and copies the rooms' lists once a
//! second), or let a slow admin socket hold memory (a lagging socket skips samples).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;

use super::access::{AdminToken, Gate};
use super::messages::{Hello, SampleMessage, StateMessage};
use super::sampler::{History, Reading, Sample};
use super::view::{StateView, nodes, rooms_and_players, slowest};
use crate::cluster::ClusterDirectory;
use crate::metrics::{DeliveryStats, NetStats};
use crate::protocol::{CloseReason, PROTOCOL_VERSION};
use crate::session::{Operator, RoomDirectory};
use crate::transport::caps::{ConnectionCaps, Refusal};
use crate::transport::shutdown::Shutdown;

/// How often a sample is taken.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// Samples a socket may fall behind by before it skips some.
const FANOUT_QUEUE: usize = 8;

/// Where the page's numbers come from.
pub struct AdminSources {
    pub net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    pub rooms: Arc<RoomDirectory>,
    pub caps: Arc<ConnectionCaps>,
    /// Set once a cluster node has joined its cluster.
    pub cluster: Arc<OnceLock<Arc<ClusterDirectory>>>,
}

/// One interval's messages, encoded once for every socket.
#[derive(Debug)]
pub struct Update {
    pub sample: String,
    pub state: String,
}

/// The operator's page's shared state.
pub struct AdminContext {
    pub token: AdminToken,
    pub gate: Arc<Gate>,
    pub operator: Operator,
    pub sources: AdminSources,
    pub shutdown: Shutdown,
    history: Mutex<History>,
    updates: broadcast::Sender<Arc<Update>>,
    /// Actions done, for the log's and the tests' sake.
    pub actions: AtomicU64,
}

impl AdminContext {
    pub fn new(
        token: AdminToken,
        operator: Operator,
        sources: AdminSources,
        shutdown: Shutdown,
    ) -> AdminContext {
        AdminContext {
            token,
            gate: Arc::default(),
            operator,
            sources,
            shutdown,
            history: Mutex::default(),
            updates: broadcast::channel(FANOUT_QUEUE).0,
            actions: AtomicU64::new(0),
        }
    }

    /// A socket's subscription to the updates from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.updates.subscribe()
    }

    /// The `hello` message: who this node is and the history so far.
    pub fn hello(&self) -> String {
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let cluster = self.sources.cluster.get();
        let hello = Hello {
            kind: "hello",
            node: cluster.map_or("local", |cluster| cluster.node().as_str()),
            cluster: cluster.is_some(),
            version: env!("CARGO_PKG_VERSION"),
            protocol: PROTOCOL_VERSION,
            interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
            history: history.samples().collect(),
        };
        serde_json::to_string(&hello).unwrap_or_default()
    }

    /// The `state` message now (for `GET /admin/api/state`).
    pub fn state_now(&self) -> String {
        let state = self.state(&HashMap::new());
        serde_json::to_string(&StateMessage {
            kind: "state",
            state: &state,
        })
        .unwrap_or_default()
    }

    fn state(&self, lag_before: &HashMap<u32, u64>) -> StateView {
        let rooms = &self.sources.rooms;
        let (room_rows, players) = rooms_and_players(rooms, Instant::now());
        let cluster = self.sources.cluster.get().map(Arc::as_ref);
        StateView {
            slowest: slowest(&players, lag_before),
            nodes: nodes(cluster, rooms),
            rooms: room_rows,
            players,
        }
    }

    /// The server's counters now.
    fn read(&self) -> Reading {
        let sources = &self.sources;
        let (net, delivery) = (&sources.net, &sources.delivery);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let totals = sources.rooms.total_stats();
        let at_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        Reading {
            at_ms,
            players: sources.rooms.player_count() as u64,
            away: load(&totals.players_away),
            rooms: sources.rooms.room_count() as u64,
            connections: sources.caps.open() as u64,
            tick_buckets: totals.tick_duration.bucket_counts(),
            tick_bounds: totals.tick_duration.bounds_micros(),
            bytes_in: load(&net.bytes_in),
            bytes_out: load(&net.bytes_out),
            accepted: load(&net.connections_accepted),
            closed: CloseReason::ALL
                .map(|r| load(&net.closed[r.index()]))
                .to_vec(),
            rejected: CloseReason::ALL
                .map(|r| load(&net.rejected[r.index()]))
                .to_vec(),
            refused: Refusal::ALL
                .map(|r| (r.label(), load(&sources.caps.refused[r.index()])))
                .to_vec(),
            rate_limited: load(&net.messages_rate_limited) + load(&net.chat_rate_limited),
            snapshots_skipped: load(&delivery.snapshots_skipped),
        }
    }
}

/// Takes a sample every interval until the server stops: kept in the history, and sent with
/// the rooms and players to every admin socket (read only while one is open).
pub async fn run_sampler(ctx: Arc<AdminContext>) {
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval.tick().await;
    let mut before = ctx.read();
    let mut lag_before: HashMap<u32, u64> = HashMap::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = ctx.shutdown.stopping() => return,
        }
        let now = ctx.read();
        let sample = Sample::between(&before, &now);
        before = now;
        let message = SampleMessage {
            kind: "sample",
            sample: &sample,
        };
        let sample_json = serde_json::to_string(&message).unwrap_or_default();
        ctx.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
        if ctx.updates.receiver_count() == 0 {
            continue;
        }
        let state = ctx.state(&lag_before);
        lag_before = state.players.iter().map(|p| (p.id, p.skipped)).collect();
        let state = serde_json::to_string(&StateMessage {
            kind: "state",
            state: &state,
        })
        .unwrap_or_default();
        let _ = ctx.updates.send(Arc::new(Update {
            sample: sample_json,
            state,
        }));
    }
}
