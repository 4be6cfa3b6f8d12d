//! What the server's operator can do while it runs: announce a line to every player, kick a
//! player (with "kicked", 4005, and the operator's reason), and close a room (its players
//! kicked the same way). On a cluster node each goes over the cluster's bus so that every node
//! acts (an announcement reaches every player of every node, a kick or a room's closing the
//! node that holds it); without a cluster they act here. Also what a node does with each
//! message it reads from the bus, under a rate limit per sending node. Must never: send a text
//! that a player's chat line could not be, or act on a bus message that did not pass its
//! checks.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::time::Instant;

use super::directory::RoomDirectory;
use super::limits::TokenBucket;
use crate::cluster::bus::{BusMessage, BusReader, Envelope};
use crate::cluster::{ClusterDirectory, ClusterError};
use crate::protocol::rooms::RoomId;
use crate::protocol::{
    Announcement, ChatError, CloseReason, PlayerId, ServerMessage, encode_server_message,
    validate_chat,
};

/// Bus messages one node may send in a burst, and per second after it.
const BUS_BURST: f64 = 20.0;
const BUS_PER_SECOND: f64 = 5.0;
/// Senders whose budgets are remembered (more are forgotten together: a flood of fake ids
/// cannot grow memory).
const BUS_SENDERS: usize = 256;

/// Why an operator's action was not done.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("text refused: {0}")]
    BadText(#[from] ChatError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Where an action took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done on this node.
    Done,
    /// Nothing on this node matched (no such player or room here).
    NotHere,
    /// Sent to another node of the cluster over the bus.
    Forwarded,
}

/// The operator's handle on a server (from `Server::operator`, usable before and after it runs).
#[derive(Clone)]
pub struct Operator {
    pub rooms: Arc<RoomDirectory>,
    pub cluster: Arc<OnceLock<Arc<ClusterDirectory>>>,
}

impl Operator {
    /// Sends `text` to every player (of every node, on a cluster).
    pub async fn announce(&self, text: &str) -> Result<(), OperatorError> {
        let text = validate_chat(text)?.to_owned();
        match self.cluster.get() {
            Some(cluster) => cluster.publish(BusMessage::Announce { text }).await?,
            None => announce_here(&self.rooms, &text),
        }
        Ok(())
    }

    /// Closes player `player` of node `node` (this node when `None` or without a cluster) with
    /// "kicked". Returns whether this node had the player connected (a kick for another node is
    /// sent and answers `false`).
    pub async fn kick(&self, node: Option<&str>, player: PlayerId) -> Result<bool, OperatorError> {
        let outcome = self.kick_with_reason(node, player, "").await?;
        Ok(outcome == Outcome::Done)
    }

    /// Closes player `player` of node `node` (this node when `None`) with "kicked", telling
    /// the player `reason` (checked like a chat line; may be empty).
    pub async fn kick_with_reason(
        &self,
        node: Option<&str>,
        player: PlayerId,
        reason: &str,
    ) -> Result<Outcome, OperatorError> {
        let reason = checked_reason(reason)?;
        if let Some(cluster) = self.elsewhere(node) {
            let node = node.unwrap_or_default().to_owned();
            let (player, reason) = (player.0, reason.to_owned());
            cluster
                .publish(BusMessage::Kick {
                    node,
                    player,
                    reason,
                })
                .await?;
            return Ok(Outcome::Forwarded);
        }
        let kicked = self.rooms.kick_with(player, CloseReason::Kicked, reason);
        Ok(if kicked {
            Outcome::Done
        } else {
            Outcome::NotHere
        })
    }

    /// Closes room `room` of node `node` (this node when `None`): its players are kicked and
    /// told "room closed" and `reason`.
    pub async fn close_room(
        &self,
        node: Option<&str>,
        room: RoomId,
        reason: &str,
    ) -> Result<Outcome, OperatorError> {
        let reason = checked_reason(reason)?;
        if let Some(cluster) = self.elsewhere(node) {
            let node = node.unwrap_or_default().to_owned();
            let (room, reason) = (room.0, reason.to_owned());
            cluster
                .publish(BusMessage::CloseRoom { node, room, reason })
                .await?;
            return Ok(Outcome::Forwarded);
        }
        let closed = self.rooms.close_room(room, &room_closed_detail(reason));
        Ok(if closed {
            Outcome::Done
        } else {
            Outcome::NotHere
        })
    }

    /// The cluster, when `node` names another node than this one.
    fn elsewhere(&self, node: Option<&str>) -> Option<&Arc<ClusterDirectory>> {
        let cluster = self.cluster.get()?;
        node.filter(|node| *node != cluster.node().as_str())
            .map(|_| cluster)
    }
}

/// An operator's reason, checked like a chat line; empty is allowed (no reason given).
fn checked_reason(reason: &str) -> Result<&str, ChatError> {
    if reason.is_empty() {
        Ok(reason)
    } else {
        validate_chat(reason)
    }
}

/// What a closed room's players are told.
fn room_closed_detail(reason: &str) -> String {
    if reason.is_empty() {
        "room closed".to_owned()
    } else {
        format!("room closed: {reason}")
    }
}

/// Sends an announcement to every player of this node.
fn announce_here(rooms: &RoomDirectory, text: &str) {
    let message = ServerMessage::Announcement(Announcement {
        text: text.to_owned(),
    });
    if let Ok(bytes) = encode_server_message(&message) {
        rooms.broadcast_to_all(&bytes::Bytes::from(bytes));
        tracing::info!(%text, "announcement sent");
    }
}

/// Reads the cluster's bus until the task is dropped, doing what each valid message asks.
pub async fn read_bus(
    mut reader: BusReader,
    cluster: Arc<ClusterDirectory>,
    rooms: Arc<RoomDirectory>,
) {
    let mut budgets: HashMap<String, TokenBucket> = HashMap::new();
    loop {
        let messages = match reader.next().await {
            Ok(messages) => messages,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
        };
        for raw in messages {
            apply(&raw, &cluster, &rooms, &mut budgets);
        }
    }
}

/// Checks one bus message and does what it asks, counting the outcome.
fn apply(
    raw: &[u8],
    cluster: &ClusterDirectory,
    rooms: &RoomDirectory,
    budgets: &mut HashMap<String, TokenBucket>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = &cluster.stats;
    let envelope = match Envelope::parse(raw) {
        Ok(envelope) => envelope,
        Err(error) => {
            stats.bus_malformed.fetch_add(1, Relaxed);
            return tracing::debug!(%error, "bus message ignored");
        }
    };
    if budgets.len() >= BUS_SENDERS && !budgets.contains_key(&envelope.from) {
        budgets.clear();
    }
    let budget = budgets
        .entry(envelope.from.clone())
        .or_insert_with(|| TokenBucket::new(BUS_BURST, BUS_PER_SECOND));
    if !budget.take(Instant::now()) {
        stats.bus_limited.fetch_add(1, Relaxed);
        return;
    }
    stats.bus_applied.fetch_add(1, Relaxed);
    match envelope.message {
        BusMessage::Announce { text } => announce_here(rooms, &text),
        BusMessage::Kick {
            node,
            player,
            reason,
        } if node == cluster.node().as_str() => {
            let kicked = rooms.kick_with(PlayerId(player), CloseReason::Kicked, &reason);
            tracing::info!(player, from = %envelope.from, kicked, %reason, "kick from the bus");
        }
        BusMessage::CloseRoom { node, room, reason } if node == cluster.node().as_str() => {
            let closed = rooms.close_room(RoomId(room), &room_closed_detail(&reason));
            tracing::info!(room, from = %envelope.from, closed, %reason, "room closed from the bus");
        }
        BusMessage::Kick { .. } | BusMessage::CloseRoom { .. } => {}
    }
}
