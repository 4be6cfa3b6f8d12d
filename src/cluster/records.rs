//! What a node tells the cluster's directory and what the directory answers, as values, with
//! the parsing of the scripts' replies (flat lists of strings, see [`super::scripts`]). Pure.
//! Must never: panic on a reply, whatever Redis holds.

use std::time::{Duration, SystemTime};

use super::error::{ClusterError, Refusal};
use crate::lobby::{RoomLine, RoomSettings, Seated};
use crate::protocol::rooms::{RoomCode, RoomId, validate_room_code};
use crate::protocol::{ResumeToken, SeatTicket};

/// One room a node runs, as its heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomReport {
    pub id: RoomId,
    pub settings: RoomSettings,
    pub code: Option<RoomCode>,
    pub created: SystemTime,
    /// Joiners the node let in since the room opened (seats claimed), and those of them gone
    /// for good: the room's count is the difference, written only by its owner.
    pub joins: u64,
    pub leaves: u64,
}

/// A node's heartbeat: its load and limits, and its rooms.
#[derive(Debug, Clone, Default)]
pub struct NodeReport {
    /// Players in all its rooms (away ones too) and seats reserved in its own lobby.
    pub players: u32,
    pub max_players: u32,
    pub max_rooms: u32,
    pub max_room_players: u32,
    pub tick_hz: u32,
    pub region: String,
    pub modes: Vec<String>,
    /// The highest room id it has used: the directory numbers its new rooms above it.
    pub highest_room: u32,
    pub rooms: Vec<RoomReport>,
    /// Rooms closed since the last heartbeat (disposed of, failed).
    pub closed: Vec<RoomId>,
}

/// A live node, as the heartbeat's answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNode {
    pub id: String,
    pub url: String,
    pub players: u32,
    pub rooms: u32,
    pub region: String,
}

/// A public room of the cluster, for the lobby's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRoom {
    pub node: String,
    pub line: RoomLine,
    pub created: SystemTime,
    /// The node's public URL: where to connect to play in it.
    pub url: String,
}

/// Where the directory seated a joiner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// On this node: the seat is counted; enter the room (opening it if need be).
    Here(Seated),
    /// On another node: the client goes to `url` with `ticket`.
    There { url: String, ticket: SeatTicket },
}

/// Where a resume token's player is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHome {
    /// No node holds it (never known, or its player left for good).
    Unknown,
    /// Its player is on this live node.
    Node { id: String, url: String },
    /// Its node has left the cluster (killed, partitioned): its player is lost.
    Gone,
}

/// A resume token a node's players gained or lost, to be told to the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChange {
    Added(ResumeToken),
    Removed(ResumeToken),
}

/// A token or ticket as Redis keys name it: 32 lowercase hexadecimal digits.
pub fn hex16(bytes: &[u8; 16]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(32), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn bad(reply: &[String]) -> ClusterError {
    ClusterError::BadReply(reply.join(" "))
}

fn number<T: std::str::FromStr>(reply: &[String], field: &str) -> Result<T, ClusterError> {
    field.parse().map_err(|_| bad(reply))
}

fn since_epoch_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// Parses a placement's answer (`ok`, where, node, id, mode, region, private, code, max,
/// tick hz, url) given the ticket the caller drew for it.
pub fn parse_placement(reply: &[String], ticket: SeatTicket) -> Result<Placed, ClusterError> {
    match reply {
        [word, reason] if word == "err" => Err(ClusterError::Refused(
            Refusal::from_word(reason).ok_or_else(|| bad(reply))?,
        )),
        [
            ok,
            place,
            _node,
            id,
            mode,
            region,
            private,
            code,
            max,
            tick_hz,
            url,
        ] if ok == "ok" => match place.as_str() {
            "here" => {
                let code = if code.is_empty() {
                    None
                } else {
                    Some(validate_room_code(code).map_err(|_| bad(reply))?)
                };
                Ok(Placed::Here(Seated {
                    room: RoomId(number(reply, id)?),
                    settings: RoomSettings {
                        mode: mode.clone(),
                        region: region.clone(),
                        max_players: number(reply, max)?,
                        tick_hz: number(reply, tick_hz)?,
                        private: private == "1",
                    },
                    code,
                }))
            }
            "there" if !url.is_empty() => Ok(Placed::There {
                url: url.clone(),
                ticket,
            }),
            _ => Err(bad(reply)),
        },
        _ => Err(bad(reply)),
    }
}

/// What a heartbeat answers: the live nodes, and this node's rooms awaiting joiners with
/// seats reserved from other nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    pub nodes: Vec<LiveNode>,
    pub awaited: Vec<RoomId>,
}

/// Parses the heartbeat's answer: 5 fields per live node, `|`, room ids.
pub fn parse_heartbeat(reply: &[String]) -> Result<HeartbeatAnswer, ClusterError> {
    let split = reply
        .iter()
        .position(|word| word == "|")
        .ok_or_else(|| bad(reply))?;
    let awaited = reply[split + 1..]
        .iter()
        .map(|id| number(reply, id).map(RoomId))
        .collect::<Result<_, _>>()?;
    Ok(HeartbeatAnswer {
        nodes: parse_live_nodes(&reply[..split])?,
        awaited,
    })
}

/// Parses live nodes: 5 fields each.
pub fn parse_live_nodes(reply: &[String]) -> Result<Vec<LiveNode>, ClusterError> {
    if !reply.len().is_multiple_of(5) {
        return Err(bad(reply));
    }
    reply
        .chunks_exact(5)
        .map(|n| {
            Ok(LiveNode {
                id: n[0].clone(),
                url: n[1].clone(),
                players: number(reply, &n[2])?,
                rooms: number(reply, &n[3])?,
                region: n[4].clone(),
            })
        })
        .collect()
}

/// Parses the listing: 10 fields per room, sorted by node and id.
pub fn parse_listing(reply: &[String]) -> Result<Vec<ClusterRoom>, ClusterError> {
    if !reply.len().is_multiple_of(10) {
        return Err(bad(reply));
    }
    let mut rooms = reply
        .chunks_exact(10)
        .map(|r| {
            Ok(ClusterRoom {
                node: r[0].clone(),
                line: RoomLine {
                    id: RoomId(number(reply, &r[1])?),
                    mode: r[2].clone(),
                    region: r[3].clone(),
                    players: number(reply, &r[4])?,
                    max_players: number(reply, &r[5])?,
                    locked: r[6] == "1",
                    tick_hz: number(reply, &r[7])?,
                },
                created: since_epoch_ms(number(reply, &r[8])?),
                url: r[9].clone(),
            })
        })
        .collect::<Result<Vec<_>, ClusterError>>()?;
    rooms.sort_by(|a, b| (&a.node, a.line.id).cmp(&(&b.node, b.line.id)));
    Ok(rooms)
}

/// Parses where a token's player is.
pub fn parse_token_home(reply: &[String]) -> Result<TokenHome, ClusterError> {
    match reply {
        [] => Ok(TokenHome::Unknown),
        [_, url] if url.is_empty() => Ok(TokenHome::Gone),
        [id, url] => Ok(TokenHome::Node {
            id: id.clone(),
            url: url.clone(),
        }),
        _ => Err(bad(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split('|').map(str::to_owned).collect()
    }

    #[test]
    fn a_placement_here_carries_the_rooms_settings() {
        let reply = words("ok|here|n1|7|arena|eu|1|0Z0Z789ABC|16|30|http://a");
        let Placed::Here(seated) = parse_placement(&reply, SeatTicket::default()).unwrap() else {
            panic!("not here");
        };
        assert_eq!(seated.room, RoomId(7));
        assert_eq!(seated.settings.max_players, 16);
        assert!(seated.settings.private);
        assert_eq!(seated.code.unwrap().as_str(), "0Z0Z789ABC");
    }

    #[test]
    fn a_placement_there_says_where_and_refusals_are_typed() {
        let ticket = SeatTicket([9; 16]);
        let reply = words("ok|there|n2|3|arena|eu|0||16|30|http://b:8082");
        assert_eq!(
            parse_placement(&reply, ticket).unwrap(),
            Placed::There {
                url: "http://b:8082".into(),
                ticket
            }
        );
        assert!(matches!(
            parse_placement(&words("err|room_full"), ticket),
            Err(ClusterError::Refused(Refusal::RoomFull))
        ));
        for garbage in ["err|what", "ok|here|n1|x|arena|eu|0||16|30|u", "ok", ""] {
            assert!(matches!(
                parse_placement(&words(garbage), ticket),
                Err(ClusterError::BadReply(_))
            ));
        }
    }

    #[test]
    fn listings_and_nodes_parse_in_strides_and_sort() {
        let reply =
            words("n2|1|arena|eu|3|16|0|30|1000|http://b|n1|4|arena|eu|16|16|1|30|2000|http://a");
        let rooms = parse_listing(&reply).unwrap();
        assert_eq!(
            rooms
                .iter()
                .map(|r| (r.node.as_str(), r.line.id.0))
                .collect::<Vec<_>>(),
            [("n1", 4), ("n2", 1)]
        );
        assert!(rooms[0].line.locked && !rooms[1].line.locked);
        assert!(parse_listing(&words("n1|2")).is_err());
        let nodes = parse_live_nodes(&words("n1|http://a|5|1|eu")).unwrap();
        assert_eq!(nodes[0].players, 5);
        assert_eq!(parse_live_nodes(&[]).unwrap(), []);
        let mut reply = words("n1|http://a|5|1|eu");
        reply.extend(["|".to_owned(), "3".to_owned(), "4".to_owned()]);
        let answer = parse_heartbeat(&reply).unwrap();
        assert_eq!(
            (answer.nodes.len(), answer.awaited),
            (1, vec![RoomId(3), RoomId(4)])
        );
        assert!(
            parse_heartbeat(&words("n1|http://a|5|1|eu")).is_err(),
            "no separator"
        );
        reply.push("x".to_owned());
        assert!(parse_heartbeat(&reply).is_err(), "not a room id");
    }

    #[test]
    fn token_homes() {
        assert_eq!(parse_token_home(&[]).unwrap(), TokenHome::Unknown);
        assert_eq!(parse_token_home(&words("n1|")).unwrap(), TokenHome::Gone);
        assert_eq!(
            parse_token_home(&words("n1|http://a")).unwrap(),
            TokenHome::Node {
                id: "n1".into(),
                url: "http://a".into()
            }
        );
        assert_eq!(hex16(&[0xab; 16]), "ab".repeat(16));
    }
}
