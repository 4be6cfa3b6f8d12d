//! Messages between a cluster's nodes: an operator's announcement to every player, or an
//! operator's kick of a player (or closing of a room) on a given node. They travel on a Redis stream (`P bus`, capped
//! at [`BUS_LENGTH`] entries), not pub/sub, so that a node that lost its connection for a moment
//! reads what it missed instead of losing it. This file owns the message format and its checks
//! (pure); [`super::directory::ClusterDirectory`] publishes and [`BusReader`] reads.
//!
//! Must never: trust a message (each is size-capped, parsed, and checked like a player's chat
//! line; the reader's caller rate-limits each sender), or block the directory's connection
//! (the reader has its own).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamRangeReply, StreamReadReply};
use serde::{Deserialize, Serialize};

use super::config::NodeId;
use super::error::ClusterError;
use crate::protocol::validate_chat;

/// Entries the stream keeps (older ones are trimmed): minutes of operator actions.
pub const BUS_LENGTH: usize = 1000;
/// The largest message a node accepts, in bytes of JSON.
pub const MAX_BUS_MESSAGE: usize = 1024;
/// How long one read waits for a message before it looks again.
const READ_BLOCK: Duration = Duration::from_secs(1);
/// Messages one read takes at most.
const READ_COUNT: usize = 64;

/// What one node asks of the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusMessage {
    /// A line from the operator to every player of every node.
    Announce { text: String },
    /// Close player `player` of node `node` with "kicked" (4005), telling it `reason`.
    Kick {
        node: String,
        player: u32,
        /// The operator's reason (checked like a chat line; empty for none).
        #[serde(default)]
        reason: String,
    },
    /// Close room `room` of node `node`: its players are kicked, told `reason`.
    CloseRoom {
        node: String,
        room: u32,
        #[serde(default)]
        reason: String,
    },
}

/// A message with its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: String,
    #[serde(flatten)]
    pub message: BusMessage,
}

/// Why a node ignored a message on the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("larger than {MAX_BUS_MESSAGE} bytes")]
    TooLarge,
    #[error("not a bus message: {0}")]
    Malformed(String),
    #[error("sender is not a node id: {0}")]
    BadSender(String),
    #[error("announcement refused: {0}")]
    BadText(String),
}

impl Envelope {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses and checks a message read from the bus.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, BusError> {
        if bytes.len() > MAX_BUS_MESSAGE {
            return Err(BusError::TooLarge);
        }
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| BusError::Malformed(e.to_string()))?;
        NodeId::parse(&envelope.from).map_err(|e| BusError::BadSender(e.to_string()))?;
        match &envelope.message {
            BusMessage::Announce { text } => {
                validate_chat(text).map_err(|e| BusError::BadText(e.to_string()))?;
            }
            BusMessage::Kick { node, reason, .. } | BusMessage::CloseRoom { node, reason, .. } => {
                NodeId::parse(node).map_err(|e| BusError::BadSender(e.to_string()))?;
                if !reason.is_empty() {
                    validate_chat(reason).map_err(|e| BusError::BadText(e.to_string()))?;
                }
            }
        }
        Ok(envelope)
    }
}

/// A node's reader of the bus, on a connection of its own (a blocking read would hold up the
/// directory's other calls).
pub struct BusReader {
    conn: ConnectionManager,
    key: String,
    url: String,
    /// The id of the last entry read (`$` before the first: only what comes after joining).
    last: String,
    /// The last read failed: check the stream did not start over (an emptied Redis).
    after_failure: bool,
}

impl BusReader {
    pub async fn connect(url: &str, prefix: &str) -> Result<BusReader, ClusterError> {
        let unavailable = |detail: String| ClusterError::Unavailable {
            url: url.to_owned(),
            detail,
        };
        let client = redis::Client::open(url).map_err(|e| unavailable(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| unavailable("no answer in time".into()))?
        .map_err(|e| unavailable(e.to_string()))?;
        Ok(BusReader {
            conn,
            key: format!("{prefix}bus"),
            url: url.to_owned(),
            last: "$".to_owned(),
            after_failure: false,
        })
    }

    /// The next messages (raw, to be checked with [`Envelope::parse`]), waiting up to a second;
    /// none on a quiet bus.
    pub async fn next(&mut self) -> Result<Vec<Vec<u8>>, ClusterError> {
        if self.after_failure {
            self.check_restart().await?;
        }
        let reply: Result<Option<StreamReadReply>, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&self.last)
            .query_async(&mut self.conn)
            .await;
        let reply = reply.map_err(|e| self.failed(e.to_string()))?;
        let mut out = Vec::new();
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            self.last = entry.id.clone();
            if let Some(redis::Value::BulkString(bytes)) = entry.map.get("m") {
                out.push(bytes.clone());
            } else {
                out.push(Vec::new());
            }
        }
        Ok(out)
    }

    /// After a failed read: if the stream's newest entry is older than the last one read (Redis
    /// came back empty), read it from its start.
    async fn check_restart(&mut self) -> Result<(), ClusterError> {
        let newest: Result<StreamRangeReply, _> = redis::cmd("XREVRANGE")
            .arg(&self.key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn)
            .await;
        let newest = newest.map_err(|e| self.failed(e.to_string()))?;
        let behind = newest
            .ids
            .first()
            .is_none_or(|entry| stream_id(&entry.id) < stream_id(&self.last));
        if behind && self.last != "$" {
            self.last = "0-0".to_owned();
        }
        self.after_failure = false;
        Ok(())
    }

    fn failed(&mut self, detail: String) -> ClusterError {
        self.after_failure = true;
        ClusterError::Unavailable {
            url: self.url.clone(),
            detail,
        }
    }
}

/// A stream entry id (`ms-seq`) as a pair, for ordering.
fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_bad_ones_say_why() {
        let announce = Envelope {
            from: "n1".into(),
            message: BusMessage::Announce {
                text: "restart in 5 minutes".into(),
            },
        };
        let json = announce.to_json();
        assert_eq!(
            json,
            r#"{"from":"n1","kind":"announce","text":"restart in 5 minutes"}"#
        );
        assert_eq!(Envelope::parse(json.as_bytes()), Ok(announce));
        let kick = r#"{"from":"n1","kind":"kick","node":"n2","player":7}"#;
        assert!(matches!(
            Envelope::parse(kick.as_bytes()).unwrap().message,
            BusMessage::Kick { player: 7, .. }
        ));
        assert_eq!(Envelope::parse(&vec![b' '; 2000]), Err(BusError::TooLarge));
        for bad in [
            "",
            "{}",
            r#"{"from":"n1","kind":"shutdown"}"#,
            r#"{"from":"N 1","kind":"announce","text":"hi"}"#,
            r#"{"from":"n1","kind":"announce","text":""}"#,
            r#"{"from":"n1","kind":"kick","node":"a:b","player":1}"#,
        ] {
            assert!(Envelope::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_ids_order_by_time_then_sequence() {
        assert!(stream_id("5-1") < stream_id("5-2"));
        assert!(stream_id("5-9") < stream_id("6-0"));
        assert_eq!(stream_id("$"), (0, 0));
    }
}
