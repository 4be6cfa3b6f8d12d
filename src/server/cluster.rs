//! A cluster node's side of the cluster: its configuration from the flags, joining at start
//! (an unreachable Redis stops the server with its URL named), and the two loops that keep the
//! directory true while the node runs: the heartbeat (lease, rooms, closed rooms; a full resync
//! of resume tokens when Redis is back after an outage) and the token flusher (the tokens this
//! node's players gained and lost, within a fraction of a second). On a clean stop the node
//! departs at once. Must never: stop a room or a session because Redis is gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::bus::BusReader;
use crate::cluster::{ClusterConfig, ClusterDirectory, ClusterError, NodeId, TokenChange};
use crate::config::Config;
use crate::session::RoomDirectory;

/// How often the tokens gained and lost are told to the directory.
const TOKEN_FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Token changes held between two flushes; beyond, they wait for the next full resync.
pub const TOKEN_QUEUE: usize = 65_536;
/// The longest one call to Redis may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// The cluster configuration the flags describe, for a node listening on `listening`; `None`
/// without `--redis-url`.
pub fn cluster_config(config: &Config, listening: SocketAddr, tls: bool) -> Option<ClusterConfig> {
    let redis_url = config.redis_url.clone()?;
    let scheme = if tls { "https" } else { "http" };
    Some(ClusterConfig {
        redis_url,
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{listening}")),
        node: config
            .node_id
            .clone()
            .unwrap_or_else(|| NodeId::from_random(rand::random())),
        lease: config.cluster_lease,
        heartbeat_every: ClusterConfig::heartbeat_for(config.cluster_lease),
        call_timeout: CALL_TIMEOUT.min(config.cluster_lease / 2),
        prefix: config.redis_prefix.clone(),
        seat_timeout: super::rooms::SEAT_TIMEOUT,
        max_private_rooms_per_address: config.max_private_rooms_per_ip,
        default_mode: crate::room::RoomIdentity::DEFAULT_MODE.to_owned(),
    })
}

/// Connects to the directory and its bus and registers this node with its rooms (none yet).
pub async fn join(
    config: ClusterConfig,
    rooms: &RoomDirectory,
) -> Result<(Arc<ClusterDirectory>, BusReader), ClusterError> {
    let bus = BusReader::connect(&config.redis_url, &config.prefix).await?;
    let cluster = Arc::new(ClusterDirectory::connect(config).await?);
    rooms.token_changes.enable(TOKEN_QUEUE);
    cluster.heartbeat(&rooms.cluster_report()).await?;
    tracing::info!(
        node = %cluster.node(),
        public_url = cluster.public_url(),
        redis = %cluster.config().redis_url,
        "joined the cluster"
    );
    Ok((cluster, bus))
}

/// Renews the lease and the rooms every heartbeat until the task is dropped.
pub async fn heartbeats(cluster: Arc<ClusterDirectory>, rooms: Arc<RoomDirectory>) {
    let mut every = tokio::time::interval(cluster.config().heartbeat_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unsent_closed = Vec::new();
    loop {
        every.tick().await;
        let mut report = rooms.cluster_report();
        report.closed.append(&mut unsent_closed);
        match cluster.heartbeat(&report).await {
            Ok(answer) => {
                rooms.keep_awaited(&answer.awaited, std::time::Instant::now());
                if cluster.mark_reachable() {
                    resync_tokens(&cluster, &rooms).await;
                }
            }
            // Told at the next heartbeat that gets through (the warning was logged once).
            Err(_) => unsent_closed = report.closed,
        }
    }
}

/// After an outage (Redis may have restarted empty): every token held here, told again.
async fn resync_tokens(cluster: &ClusterDirectory, rooms: &RoomDirectory) {
    // The queued changes are superseded by the whole set.
    rooms.token_changes.drain_into(&mut Vec::new());
    let all: Vec<TokenChange> = rooms
        .resume_tokens()
        .into_iter()
        .map(TokenChange::Added)
        .collect();
    for batch in all.chunks(1024) {
        if cluster.record_tokens(batch).await.is_err() {
            return;
        }
    }
}

/// Tells the directory the tokens gained and lost, every [`TOKEN_FLUSH_EVERY`], until the
/// task is dropped. Changes that fail to go are left to the resync after the outage.
pub async fn flush_tokens(cluster: Arc<ClusterDirectory>, rooms: Arc<RoomDirectory>) {
    let mut every = tokio::time::interval(TOKEN_FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut changes = Vec::new();
    loop {
        every.tick().await;
        rooms.token_changes.drain_into(&mut changes);
        for batch in changes.chunks(1024) {
            if cluster.record_tokens(batch).await.is_err() {
                break;
            }
        }
        changes.clear();
    }
}

/// A clean stop: the node and its rooms leave the directory now rather than at the lease's end.
pub async fn depart(cluster: &ClusterDirectory, rooms: &RoomDirectory) {
    let ids: Vec<_> = rooms
        .open_rooms()
        .iter()
        .map(|room| room.identity.id)
        .collect();
    match cluster.depart(&ids).await {
        Ok(()) => tracing::info!(node = %cluster.node(), "left the cluster"),
        Err(error) => tracing::warn!(%error, "could not leave the cluster; its lease will lapse"),
    }
}
