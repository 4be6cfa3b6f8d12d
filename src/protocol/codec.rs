//! The one place that knows the wire format is bincode 2 (standard configuration: little-endian,
//! variable-length integers). Everything else encodes and decodes through these functions, so the
//! format can be swapped here alone. Decoding is bounded: a message larger than the limit, with
//! trailing bytes, or with a field the rules forbid (a non-finite float) is an error, never a panic.
//!
//! One message is not bincode: the snapshot (variant 1), a delta against what each client
//! holds, written by `game::replication` and applied by [`Replica`] in the format of
//! [`super::delta`]. [`decode_server_message`] refuses it; a client with a replica uses
//! [`decode_server_message_with`].

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use serde::{Serialize, de::DeserializeOwned};

use super::messages::{ClientMessage, PROTOCOL_VERSION, PlayerId, ServerMessage};
use super::snapshot::DeltaError;
use super::snapshot::Replica;

/// Largest client message the server decodes. A `Join` with a 16-character name is about
/// 70 bytes; anything near this bound is hostile.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;

/// Largest server message a client decodes: a snapshot of thousands of entities fits easily.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

type ClientConfig = Configuration<LittleEndian, Varint, Limit<MAX_CLIENT_MESSAGE_BYTES>>;
type ServerConfig = Configuration<LittleEndian, Varint, Limit<MAX_SERVER_MESSAGE_BYTES>>;

const CLIENT_CONFIG: ClientConfig = config::standard().with_limit::<MAX_CLIENT_MESSAGE_BYTES>();
const SERVER_CONFIG: ServerConfig = config::standard().with_limit::<MAX_SERVER_MESSAGE_BYTES>();

/// Why bytes could not become a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("message of {len} bytes exceeds the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{extra} unexpected bytes after the message")]
    TrailingBytes { extra: usize },
    #[error("field `{0}` is not a finite number")]
    NonFinite(&'static str),
    /// A `Join` from another protocol version, whose layout this build cannot read.
    #[error("protocol version {0} is not supported")]
    VersionMismatch(u16),
    /// A snapshot frame, which only a [`Replica`] holding its baseline can read.
    #[error("a snapshot frame needs the client's replica to be decoded")]
    SnapshotNeedsReplica,
    #[error(transparent)]
    Delta(#[from] DeltaError),
}

/// Why a message could not become bytes (only a bug can cause this: our types always encode).
#[derive(Debug, thiserror::Error)]
#[error("could not encode message: {0}")]
pub struct EncodeError(String);

pub fn decode_client_message(bytes: &[u8]) -> Result<ClientMessage, DecodeError> {
    let message: ClientMessage = decode_bounded(bytes, CLIENT_CONFIG, MAX_CLIENT_MESSAGE_BYTES)
        .map_err(|error| match error {
            DecodeError::TooLarge { .. } => error,
            _ => join_version(bytes).map_or(error, DecodeError::VersionMismatch),
        })?;
    check_client_floats(&message)?;
    Ok(message)
}

/// If `bytes` start like a `Join` (variant 0, then a varint u16) from another protocol version,
/// that version: every version keeps this prefix so that the mismatch can be explained.
fn join_version(bytes: &[u8]) -> Option<u16> {
    let version = match bytes {
        [0, v @ 0..=250, ..] => u16::from(*v),
        [0, 251, low, high, ..] => u16::from_le_bytes([*low, *high]),
        _ => return None,
    };
    (version != PROTOCOL_VERSION).then_some(version)
}

/// Decodes any server message but a snapshot (see [`decode_server_message_with`]).
pub fn decode_server_message(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    if bytes.first() == Some(&SNAPSHOT_VARIANT) {
        return Err(DecodeError::SnapshotNeedsReplica);
    }
    decode_bounded(bytes, SERVER_CONFIG, MAX_SERVER_MESSAGE_BYTES)
}

/// Decodes a server message; a snapshot frame is applied to `replica` and returned as the
/// whole state it now holds, with `me` (the player this client plays) in full precision.
pub fn decode_server_message_with(
    bytes: &[u8],
    replica: &mut Replica,
    me: PlayerId,
    tick_hz: u16,
) -> Result<ServerMessage, DecodeError> {
    match bytes.split_first() {
        Some((&SNAPSHOT_VARIANT, frame)) => {
            if bytes.len() > MAX_SERVER_MESSAGE_BYTES {
                return Err(DecodeError::TooLarge {
                    len: bytes.len(),
                    limit: MAX_SERVER_MESSAGE_BYTES,
                });
            }
            replica.apply(frame)?;
            let snapshot = replica.snapshot(me, tick_hz).unwrap_or_default();
            Ok(ServerMessage::Snapshot(snapshot))
        }
        _ => decode_server_message(bytes),
    }
}

pub fn encode_client_message(message: &ClientMessage) -> Result<Vec<u8>, EncodeError> {
    encode_to_vec(message, CLIENT_CONFIG)
}

/// Encodes into `buffer` (cleared first), so a caller on a hot path (the swarm's bots) can
/// reuse its allocation.
pub fn encode_client_message_into(
    message: &ClientMessage,
    buffer: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    buffer.clear();
    bincode::serde::encode_into_std_write(message, buffer, CLIENT_CONFIG)
        .map(|_| ())
        .map_err(|e| EncodeError(e.to_string()))
}

pub fn encode_server_message(message: &ServerMessage) -> Result<Vec<u8>, EncodeError> {
    let mut buffer = Vec::new();
    encode_server_message_into(message, &mut buffer)?;
    Ok(buffer)
}

/// Encodes into `buffer` (cleared first), so a caller on a hot path can reuse its allocation.
pub fn encode_server_message_into(
    message: &ServerMessage,
    buffer: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    buffer.clear();
    if let ServerMessage::Snapshot(_) = message {
        return Err(EncodeError(
            "snapshots are delta-encoded per client by game::replication".to_owned(),
        ));
    }
    bincode::serde::encode_into_std_write(message, buffer, SERVER_CONFIG)
        .map(|_| ())
        .map_err(|e| EncodeError(e.to_string()))
}

/// Variant index of `ServerMessage::Snapshot`: its place in the enum, and the first byte of
/// every snapshot frame.
pub const SNAPSHOT_VARIANT: u8 = 1;

fn encode_to_vec<T: Serialize, C: bincode::config::Config>(
    message: &T,
    config: C,
) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(message, config).map_err(|e| EncodeError(e.to_string()))
}

fn decode_bounded<T: DeserializeOwned, C: bincode::config::Config>(
    bytes: &[u8],
    config: C,
    limit: usize,
) -> Result<T, DecodeError> {
    // Cheap check first: bincode's limit bounds what it reads, this bounds what we accept.
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (message, used) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - used,
        });
    }
    Ok(message)
}

/// NaN and infinities would poison the simulation; the server refuses them at the edge.
fn check_client_floats(message: &ClientMessage) -> Result<(), DecodeError> {
    match message {
        ClientMessage::Input(input) if !input.aim.is_finite() => Err(DecodeError::NonFinite("aim")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::*;

    #[test]
    fn client_messages_round_trip() {
        let messages = [
            ClientMessage::Join(Join {
                protocol_version: PROTOCOL_VERSION,
                request_id: 9,
                name: "Zoë".into(),
                resume_token: Some(ResumeToken([7; 16])),
                baseline_tick: Some(Tick(4000)),
                room: RoomRequest::Code("0123456789".into()),
            }),
            ClientMessage::Chat(Chat {
                request_id: 1,
                text: "<b>hi</b>".into(),
            }),
            ClientMessage::Leave,
            ClientMessage::Input(PlayerInput {
                seq: 123_456,
                buttons: buttons::ALL,
                aim: -3.0,
                ..Default::default()
            }),
            ClientMessage::Ping(Ping { nonce: 7 }),
        ];
        for message in messages {
            let bytes = encode_client_message(&message).unwrap();
            assert_eq!(decode_client_message(&bytes), Ok(message));
        }
    }

    #[test]
    fn a_join_from_another_version_is_recognised_even_if_its_layout_differs() {
        // Version 1's Join: variant 0, version 1, then only a name.
        let v1_join = [0x00, 0x01, 0x05, b'A', b'l', b'i', b'c', b'e'];
        assert_eq!(
            decode_client_message(&v1_join),
            Err(DecodeError::VersionMismatch(1))
        );
        // A far-future version with a u16 marker.
        let future = [0x00, 0xfb, 0x2c, 0x01, 0xff];
        assert_eq!(
            decode_client_message(&future),
            Err(DecodeError::VersionMismatch(300))
        );
        // Our own version with a broken body is just malformed.
        let broken = [0x00, PROTOCOL_VERSION as u8, 0x01];
        assert!(matches!(
            decode_client_message(&broken),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn non_finite_aim_is_refused() {
        for aim in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let message = ClientMessage::Input(PlayerInput {
                seq: 1,
                buttons: 0,
                aim,
                ..Default::default()
            });
            let bytes = encode_client_message(&message).unwrap();
            assert_eq!(
                decode_client_message(&bytes),
                Err(DecodeError::NonFinite("aim"))
            );
        }
    }

    #[test]
    fn oversized_and_trailing_input_is_refused_cheaply() {
        let big = vec![0u8; MAX_CLIENT_MESSAGE_BYTES + 1];
        assert!(matches!(
            decode_client_message(&big),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut ping = encode_client_message(&ClientMessage::Ping(Ping { nonce: 1 })).unwrap();
        ping.push(0);
        assert_eq!(
            decode_client_message(&ping),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
    }

    #[test]
    fn a_huge_length_prefix_does_not_allocate_or_panic() {
        // Join, this version, request 1, name length u64::MAX.
        let bytes = [
            0x00,
            PROTOCOL_VERSION as u8,
            0x01,
            0xfd,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
        ];
        assert!(matches!(
            decode_client_message(&bytes),
            Err(DecodeError::Malformed(_))
        ));
        // A welcome claiming four billion players in a few bytes.
        let bytes = [0x00, 0x05, 0x01, 0x01, 0x00, 0xfc, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_server_message(&bytes).is_err());
    }

    #[test]
    fn snapshots_are_never_bincode() {
        let message = ServerMessage::Snapshot(Snapshot::default());
        assert!(encode_server_message(&message).is_err());
        assert_eq!(
            decode_server_message(&[SNAPSHOT_VARIANT, 0, 0]),
            Err(DecodeError::SnapshotNeedsReplica)
        );
    }

    #[test]
    fn every_prefix_of_a_valid_message_is_an_error_not_a_panic() {
        let message = ServerMessage::Chat(ChatLine {
            from: PlayerId(70_000),
            text: "hello".to_owned(),
            whisper: true,
        });
        let bytes = encode_server_message(&message).unwrap();
        for end in 0..bytes.len() {
            assert!(
                decode_server_message(&bytes[..end]).is_err(),
                "prefix of {end} bytes decoded"
            );
        }
        assert_eq!(decode_server_message(&bytes), Ok(message));
    }
}
