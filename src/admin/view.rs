//! What the operator's page shows of the server now: its rooms, its players (who read slowest
//! first), and the cluster's nodes, read from the room directory and the cluster's last
//! heartbeat. Bounded: at most [`MAX_ROWS`] rooms and players. Must never: take a lock a tick
//! waits on for longer than a copy, or change anything it reads.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use crate::cluster::ClusterDirectory;
use crate::session::RoomDirectory;

/// Rooms and players listed at most (the counts in the sample are exact).
pub const MAX_ROWS: usize = 500;
/// Players named as the slowest readers.
pub const SLOWEST: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomRow {
    pub id: u32,
    pub mode: String,
    pub private: bool,
    pub code: Option<String>,
    pub players: u64,
    pub max_players: u16,
    /// The last tick's work, in microseconds.
    pub tick_us: u64,
    /// Since the room opened (the histogram bucket's bound).
    pub tick_p99_us: Option<u64>,
    pub snapshot_bytes: u64,
    pub age_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerRow {
    pub id: u32,
    pub name: String,
    pub room: u32,
    pub transport: &'static str,
    pub rtt_ms: Option<f64>,
    /// Snapshots it missed for reading too slowly, since it connected.
    pub skipped: u64,
    pub connected_s: u64,
    pub peer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub url: String,
    pub players: u32,
    pub rooms: u32,
    pub region: String,
    pub me: bool,
}

/// Everything the `state` message carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateView {
    pub rooms: Vec<RoomRow>,
    pub players: Vec<PlayerRow>,
    /// Ids of the players who read slowest in the last interval.
    pub slowest: Vec<u32>,
    pub nodes: Vec<NodeRow>,
}

/// Reads the server's rooms and players now.
pub fn rooms_and_players(rooms: &RoomDirectory, now: Instant) -> (Vec<RoomRow>, Vec<PlayerRow>) {
    let open = rooms.open_rooms();
    let mut room_rows = Vec::with_capacity(open.len().min(MAX_ROWS));
    let mut player_rows = Vec::new();
    let wall = SystemTime::now();
    for room in &open {
        let stats = &room.stats;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        if room_rows.len() < MAX_ROWS {
            room_rows.push(RoomRow {
                id: room.identity.id.0,
                mode: room.identity.mode.clone(),
                private: room.settings.private,
                code: room
                    .identity
                    .code
                    .as_ref()
                    .map(|code| code.as_str().to_owned()),
                players: room.sessions.player_count() as u64,
                max_players: room.identity.max_players,
                tick_us: load(&stats.last_tick_micros),
                tick_p99_us: stats.tick_duration.quantile_upper_bound_micros(0.99),
                snapshot_bytes: load(&stats.last_snapshot_bytes),
                age_s: wall
                    .duration_since(room.created)
                    .map_or(0, |age| age.as_secs()),
            });
        }
        for (id, handle) in room.sessions.connected() {
            if player_rows.len() >= MAX_ROWS {
                break;
            }
            let carried_by = handle.profile.carried_by();
            let joined = handle.profile.name_and_join();
            let rtt_us = handle.heartbeat.rtt_us.load(Ordering::Relaxed);
            player_rows.push(PlayerRow {
                id: id.0,
                name: joined.map(|(name, _)| name.to_owned()).unwrap_or_default(),
                room: room.identity.id.0,
                transport: carried_by.map_or("unknown", |(transport, _)| transport),
                rtt_ms: (rtt_us > 0).then(|| f64::from(rtt_us / 100) / 10.0),
                skipped: handle.snapshots.lagged(),
                connected_s: joined
                    .map_or(0, |(_, at)| now.saturating_duration_since(at).as_secs()),
                peer: carried_by.map(|(_, peer)| peer.to_string()),
            });
        }
    }
    (room_rows, player_rows)
}

/// The cluster's live nodes, or this node alone.
pub fn nodes(cluster: Option<&ClusterDirectory>, rooms: &RoomDirectory) -> Vec<NodeRow> {
    match cluster {
        Some(cluster) => cluster
            .live_nodes()
            .into_iter()
            .map(|node| NodeRow {
                me: node.id == cluster.node().as_str(),
                id: node.id,
                url: node.url,
                players: node.players,
                rooms: node.rooms,
                region: node.region,
            })
            .collect(),
        None => vec![NodeRow {
            id: "local".to_owned(),
            url: String::new(),
            players: u32::try_from(rooms.player_count()).unwrap_or(u32::MAX),
            rooms: u32::try_from(rooms.room_count()).unwrap_or(u32::MAX),
            region: String::new(),
            me: true,
        }],
    }
}

/// The players who read slowest: most snapshots missed since the last interval (`before`
/// holds each player's count then), then the longest round trip. Players who missed none
/// and have no round trip yet are not named.
pub fn slowest(players: &[PlayerRow], before: &HashMap<u32, u64>) -> Vec<u32> {
    let mut ranked: Vec<(u64, u64, u32)> = players
        .iter()
        .map(|player| {
            let missed = player
                .skipped
                .saturating_sub(before.get(&player.id).copied().unwrap_or(0));
            let rtt = player.rtt_ms.map_or(0, |ms| (ms * 1000.0) as u64);
            (missed, rtt, player.id)
        })
        .filter(|&(missed, rtt, _)| missed > 0 || rtt > 0)
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    ranked
        .into_iter()
        .take(SLOWEST)
        .map(|(_, _, id)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(id: u32, skipped: u64, rtt_ms: Option<f64>) -> PlayerRow {
        PlayerRow {
            id,
            name: format!("p{id}"),
            room: 1,
            transport: "websocket",
            rtt_ms,
            skipped,
            connected_s: 1,
            peer: None,
        }
    }

    #[test]
    fn the_slowest_missed_most_lately_then_wait_longest() {
        let players = [
            player(1, 100, Some(5.0)),
            player(2, 3, Some(80.0)),
            player(3, 0, Some(200.0)),
            player(4, 0, None),
            player(5, 3, Some(20.0)),
        ];
        // Player 1 missed its 100 long ago: none lately.
        let before = HashMap::from([(1, 100), (2, 0), (5, 0)]);
        assert_eq!(slowest(&players, &before), vec![2, 5, 3, 1]);
    }

    #[test]
    fn at_most_ten_are_named() {
        let players: Vec<PlayerRow> = (0..30).map(|id| player(id, 1, Some(1.0))).collect();
        assert_eq!(slowest(&players, &HashMap::new()).len(), SLOWEST);
    }
}
