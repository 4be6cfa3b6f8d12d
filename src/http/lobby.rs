//! `GET /rooms`: the lobby's listing of public rooms as JSON, for the browser's lobby screen
//! and for tools: this process's rooms, or on a cluster node the whole cluster's, each with its
//! node and the node's public URL. Reads the directories' listings only. Must never: list a
//! private room, or say anything a client could use to find one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cluster::ClusterRoom;
use crate::lobby::RoomLine;
use crate::session::directory::ListedRoom;

/// The listing's body: `{"rooms": [...]}`.
#[derive(Debug, Serialize)]
pub struct RoomList {
    pub rooms: Vec<ListedRoomJson>,
}

/// One public room as the listing shows it.
#[derive(Debug, Serialize)]
pub struct ListedRoomJson {
    /// id, mode, region, players, max_players, locked, tick_hz.
    #[serde(flatten)]
    pub line: RoomLine,
    /// When the room opened, in milliseconds since the Unix epoch.
    pub created: u64,
    /// The upper bound of the bucket holding the room's 99th percentile tick, in
    /// microseconds (`null` before its first tick, or beyond the last bucket, or for a room
    /// on another node).
    pub tick_p99_us: Option<u64>,
    /// The cluster node running the room (`null` without a cluster).
    pub node: Option<String>,
    /// The node's public URL, where to connect to play in the room (`null` without a
    /// cluster: this server).
    pub url: Option<String>,
}

/// The listing as JSON.
pub fn room_list_json(rooms: Vec<ListedRoom>) -> String {
    let rooms = rooms
        .into_iter()
        .map(|room| ListedRoomJson {
            line: room.listing.line,
            created: unix_millis(room.created),
            tick_p99_us: room.tick_p99_us,
            node: None,
            url: None,
        })
        .collect();
    to_json(RoomList { rooms })
}

/// The cluster's listing as JSON; `here` gives this node's (`local`) rooms' tick readings.
pub fn cluster_room_list_json(rooms: Vec<ClusterRoom>, local: &str, here: &[ListedRoom]) -> String {
    let rooms = rooms
        .into_iter()
        .map(|room| {
            let tick_p99_us = (room.node == local)
                .then(|| {
                    here.iter()
                        .find(|mine| mine.listing.line.id == room.line.id)
                })
                .flatten()
                .and_then(|mine| mine.tick_p99_us);
            ListedRoomJson {
                line: room.line,
                created: unix_millis(room.created),
                tick_p99_us,
                node: Some(room.node),
                url: Some(room.url),
            }
        })
        .collect();
    to_json(RoomList { rooms })
}

fn to_json(rooms: RoomList) -> String {
    let mut body = serde_json::to_string(&rooms).unwrap_or_else(|_| "{}".into());
    body.push('\n');
    body
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::lobby::Listing;
    use crate::protocol::rooms::RoomId;

    #[test]
    fn a_listing_is_json_with_every_field() {
        let room = ListedRoom {
            listing: Listing {
                line: RoomLine {
                    id: RoomId(3),
                    mode: "arena".into(),
                    region: "local".into(),
                    players: 5,
                    max_players: 64,
                    locked: false,
                    tick_hz: 30,
                },
                opened: Instant::now(),
            },
            created: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            tick_p99_us: Some(750),
        };
        assert_eq!(
            room_list_json(vec![room]),
            "{\"rooms\":[{\"id\":3,\"mode\":\"arena\",\"region\":\"local\",\"players\":5,\
             \"max_players\":64,\"locked\":false,\"tick_hz\":30,\"created\":1700000000123,\
             \"tick_p99_us\":750,\"node\":null,\"url\":null}]}\n"
        );
        assert_eq!(room_list_json(Vec::new()), "{\"rooms\":[]}\n");
    }
}
