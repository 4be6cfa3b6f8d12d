//! The one place that knows the wire format is bincode 2 (standard configuration: little-endian,
//! variable-length integers). Everything else encodes and decodes through these functions, so the
//! format can be swapped here alone. Decoding is bounded: a message larger than the limit, with
//! trailing bytes, or with a field the rules forbid (a non-finite float) is an error, never a panic.
//!
//! One message has a hand-written encoder: the snapshot, encoded once per tick and by far the
//! largest. [`encode_snapshot_into`] writes the very bytes bincode writes (tests compare the two
//! on every varint width) with less than half the instructions of serde's generic path, straight
//! into the buffer the tick loop publishes (`docs/PERFORMANCE.md` has the figures).

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use bytes::BytesMut;
use serde::{Serialize, de::DeserializeOwned};

use super::messages::{ClientMessage, PROTOCOL_VERSION, ServerMessage, Snapshot};

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

pub fn decode_server_message(bytes: &[u8]) -> Result<ServerMessage, DecodeError> {
    decode_bounded(bytes, SERVER_CONFIG, MAX_SERVER_MESSAGE_BYTES)
}

pub fn encode_client_message(message: &ClientMessage) -> Result<Vec<u8>, EncodeError> {
    encode_to_vec(message, CLIENT_CONFIG)
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
    if let ServerMessage::Snapshot(snapshot) = message {
        buffer.resize(snapshot_encoded_len_bound(snapshot), 0);
        let written = write_snapshot(snapshot, buffer);
        buffer.truncate(written);
        return Ok(());
    }
    bincode::serde::encode_into_std_write(message, buffer, SERVER_CONFIG)
        .map(|_| ())
        .map_err(|e| EncodeError(e.to_string()))
}

/// Variant index of `ServerMessage::Snapshot`: its place in the enum.
const SNAPSHOT_VARIANT: u32 = 1;

/// Widest encodings of a snapshot's parts: a varint `u32` takes at most 5 bytes, a `u64` 9.
const MAX_VARINT_U32_BYTES: usize = 5;
const MAX_VARINT_U64_BYTES: usize = 9;
const MAX_PLAYER_BYTES: usize = 3 * MAX_VARINT_U32_BYTES + 5 * 4 + 1;
const MAX_ORB_BYTES: usize = MAX_VARINT_U32_BYTES + 2 * 4;
const MAX_BOLT_BYTES: usize = 2 * MAX_VARINT_U32_BYTES + 2 * 4;
const MAX_TAG_BYTES: usize = 3 * MAX_VARINT_U32_BYTES;

/// The most bytes [`encode_snapshot_into`] can write for `snapshot`, so a caller can reserve
/// once and know the encoder will not grow its buffer.
pub fn snapshot_encoded_len_bound(snapshot: &Snapshot) -> usize {
    2 * MAX_VARINT_U32_BYTES
        + 4 * MAX_VARINT_U64_BYTES
        + snapshot.players.len() * MAX_PLAYER_BYTES
        + snapshot.orbs.len() * MAX_ORB_BYTES
        + snapshot.bolts.len() * MAX_BOLT_BYTES
        + snapshot.tags.len() * MAX_TAG_BYTES
}

/// Appends `ServerMessage::Snapshot(snapshot)` to `out`, byte for byte what
/// [`encode_server_message`] produces. Grows `out` by at most [`snapshot_encoded_len_bound`]
/// bytes (reserve that much and it will not reallocate).
pub fn encode_snapshot_into(snapshot: &Snapshot, out: &mut BytesMut) {
    let start = out.len();
    out.resize(start + snapshot_encoded_len_bound(snapshot), 0);
    let written = write_snapshot(snapshot, &mut out[start..]);
    out.truncate(start + written);
}

/// Writes the snapshot message at the start of `out`, which must hold
/// [`snapshot_encoded_len_bound`] bytes, and returns how many it wrote.
fn write_snapshot(snapshot: &Snapshot, out: &mut [u8]) -> usize {
    let mut out = Cursor { out, at: 0 };
    out.varint_u32(SNAPSHOT_VARIANT);
    out.varint_u32(snapshot.tick.0);
    out.varint_len(snapshot.players.len());
    for p in &snapshot.players {
        out.varint_u32(p.id.0);
        out.f32(p.x);
        out.f32(p.y);
        out.f32(p.vx);
        out.f32(p.vy);
        out.f32(p.aim);
        out.varint_u32(p.score);
        out.varint_u32(p.last_input_seq);
        out.u8(p.flags);
    }
    out.varint_len(snapshot.orbs.len());
    for o in &snapshot.orbs {
        out.varint_u32(o.id);
        out.f32(o.x);
        out.f32(o.y);
    }
    out.varint_len(snapshot.bolts.len());
    for b in &snapshot.bolts {
        out.varint_u32(b.id);
        out.varint_u32(b.owner.0);
        out.f32(b.x);
        out.f32(b.y);
    }
    out.varint_len(snapshot.tags.len());
    for t in &snapshot.tags {
        out.varint_u32(t.tick.0);
        out.varint_u32(t.shooter.0);
        out.varint_u32(t.victim.0);
    }
    out.at
}

/// Writes fields one after another into a slice known to be large enough.
struct Cursor<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        self.out[self.at..self.at + N].copy_from_slice(&bytes);
        self.at += N;
    }

    #[inline(always)]
    fn u8(&mut self, value: u8) {
        self.put([value]);
    }

    #[inline(always)]
    fn f32(&mut self, value: f32) {
        self.put(value.to_le_bytes());
    }

    /// bincode's varint: below 251 the value itself, else a marker and the value little-endian
    /// in the narrowest of 2, 4 or 8 bytes that holds it.
    #[inline(always)]
    fn varint_u64(&mut self, value: u64) {
        if value <= 250 {
            self.u8(value as u8);
        } else if value <= u64::from(u16::MAX) {
            self.u8(0xfb);
            self.put((value as u16).to_le_bytes());
        } else if value <= u64::from(u32::MAX) {
            self.u8(0xfc);
            self.put((value as u32).to_le_bytes());
        } else {
            self.u8(0xfd);
            self.put(value.to_le_bytes());
        }
    }

    #[inline(always)]
    fn varint_u32(&mut self, value: u32) {
        self.varint_u64(u64::from(value));
    }

    /// A sequence length: a varint `u64`.
    #[inline(always)]
    fn varint_len(&mut self, len: usize) {
        self.varint_u64(len as u64);
    }
}

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
        // Snapshot claiming four billion players in a few bytes.
        let bytes = [0x01, 0x07, 0xfc, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_server_message(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }

    /// What serde's generic path writes, the reference for the hand-written encoder.
    fn bincode_bytes(message: &ServerMessage) -> Vec<u8> {
        bincode::serde::encode_to_vec(message, SERVER_CONFIG).unwrap()
    }

    #[test]
    fn the_snapshot_encoder_writes_what_bincode_writes() {
        // Every varint width of every integer field, and floats with unusual bit patterns.
        let integers = [
            0,
            1,
            250,
            251,
            255,
            256,
            65_535,
            65_536,
            70_000,
            u32::MAX - 1,
            u32::MAX,
        ];
        let floats = [
            0.0,
            -0.0,
            1.5,
            -3.25,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
            f32::from_bits(0x7fc0_0001),
        ];
        let pick = |seed: usize, salt: usize| integers[(seed * 7 + salt * 3) % integers.len()];
        let float = |seed: usize, salt: usize| floats[(seed * 5 + salt) % floats.len()];
        for count in [0usize, 1, 2, 250, 251, 300] {
            let snapshot = Snapshot {
                tick: Tick(pick(count, 1)),
                players: (0..count)
                    .map(|i| PlayerState {
                        id: PlayerId(pick(i, 2)),
                        x: float(i, 0),
                        y: float(i, 1),
                        vx: float(i, 2),
                        vy: float(i, 3),
                        aim: float(i, 4),
                        score: pick(i, 3),
                        last_input_seq: pick(i, 4),
                        flags: i as u8,
                    })
                    .collect(),
                orbs: (0..count / 2)
                    .map(|i| OrbState {
                        id: pick(i, 5),
                        x: float(i, 5),
                        y: float(i, 6),
                    })
                    .collect(),
                bolts: (0..count + 3)
                    .map(|i| BoltState {
                        id: pick(i, 6),
                        owner: PlayerId(pick(i, 7)),
                        x: float(i, 7),
                        y: float(i, 8),
                    })
                    .collect(),
                tags: (0..count / 3 + 1)
                    .map(|i| Tagged {
                        tick: Tick(pick(i, 8)),
                        shooter: PlayerId(pick(i, 9)),
                        victim: PlayerId(pick(i, 10)),
                    })
                    .collect(),
            };
            let message = ServerMessage::Snapshot(snapshot);
            let expected = bincode_bytes(&message);
            let ServerMessage::Snapshot(snapshot) = &message else {
                unreachable!()
            };
            let mut direct = BytesMut::from(&b"kept"[..]);
            encode_snapshot_into(snapshot, &mut direct);
            assert_eq!(&direct[..4], b"kept");
            assert_eq!(&direct[4..], &expected[..], "{count} players");
            assert!(direct.len() - 4 <= snapshot_encoded_len_bound(snapshot));
            assert_eq!(encode_server_message(&message).unwrap(), expected);
        }
    }

    #[test]
    fn every_prefix_of_a_valid_message_is_an_error_not_a_panic() {
        let snapshot = ServerMessage::Snapshot(Snapshot {
            tick: Tick(5),
            players: vec![PlayerState {
                id: PlayerId(1),
                x: 1.0,
                y: 2.0,
                vx: 3.0,
                vy: 4.0,
                aim: 0.5,
                score: 300,
                last_input_seq: 70_000,
                flags: 1,
            }],
            orbs: vec![OrbState {
                id: 1,
                x: 1.0,
                y: 1.0,
            }],
            bolts: vec![BoltState {
                id: 2,
                owner: PlayerId(1),
                x: 0.0,
                y: 0.0,
            }],
            tags: vec![Tagged {
                tick: Tick(5),
                shooter: PlayerId(1),
                victim: PlayerId(70_000),
            }],
        });
        let bytes = encode_server_message(&snapshot).unwrap();
        for end in 0..bytes.len() {
            assert!(
                decode_server_message(&bytes[..end]).is_err(),
                "prefix of {end} bytes decoded"
            );
        }
        assert_eq!(decode_server_message(&bytes), Ok(snapshot));
    }
}
