//! A zero-allocation reader for the one message that arrives every tick: it walks a snapshot's
//! bytes, hands each player's state to a visitor, and validates the rest (orbs, bolts, no
//! trailing bytes) without building vectors. Bots use it so that one core can follow thousands
//! of connections; it accepts exactly the bytes that [`super::decode_server_message`] accepts
//! as a `Snapshot` (tests below hold it to that).

use super::codec::DecodeError;
use super::messages::{PlayerId, PlayerState, Tick};

/// Variant index of `ServerMessage::Snapshot`.
const SNAPSHOT_VARIANT: u32 = 1;

/// Smallest encodings, used to refuse impossible element counts before iterating.
const MIN_PLAYER_BYTES: usize = 1 + 5 * 4 + 1 + 1 + 1;
const MIN_ORB_BYTES: usize = 1 + 2 * 4;
const MIN_BOLT_BYTES: usize = 1 + 1 + 2 * 4;
const MIN_TAG_BYTES: usize = 3;

/// What a scan found, besides what the visitor saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotScan {
    pub tick: Tick,
    pub players: u32,
    pub orbs: u32,
    pub bolts: u32,
    pub tags: u32,
}

/// Scans `bytes` as a server message. Returns `Ok(None)` if it is a valid-looking message of
/// another kind (decode those with the full codec), `Ok(Some(..))` for a well-formed snapshot.
pub fn scan_snapshot(
    bytes: &[u8],
    visit_player: impl FnMut(&PlayerState),
) -> Result<Option<SnapshotScan>, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let scan = scan_fields(&mut reader, visit_player).map_err(malformed)?;
    if scan.is_some() && reader.at != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - reader.at,
        });
    }
    Ok(scan)
}

/// Reads a snapshot's fields (or just the variant of another message).
fn scan_fields(
    reader: &mut Reader<'_>,
    mut visit_player: impl FnMut(&PlayerState),
) -> Result<Option<SnapshotScan>, Bad> {
    if reader.varint_u32()? != SNAPSHOT_VARIANT {
        return Ok(None);
    }
    let tick = Tick(reader.varint_u32()?);
    let players = reader.count(MIN_PLAYER_BYTES)?;
    for _ in 0..players {
        let state = PlayerState {
            id: PlayerId(reader.varint_u32()?),
            x: reader.f32()?,
            y: reader.f32()?,
            vx: reader.f32()?,
            vy: reader.f32()?,
            aim: reader.f32()?,
            score: reader.varint_u32()?,
            last_input_seq: reader.varint_u32()?,
            flags: reader.u8()?,
        };
        visit_player(&state);
    }
    let orbs = reader.count(MIN_ORB_BYTES)?;
    for _ in 0..orbs {
        reader.varint_u32()?;
        reader.f32()?;
        reader.f32()?;
    }
    let bolts = reader.count(MIN_BOLT_BYTES)?;
    for _ in 0..bolts {
        reader.varint_u32()?;
        reader.varint_u32()?;
        reader.f32()?;
        reader.f32()?;
    }
    let tags = reader.count(MIN_TAG_BYTES)?;
    for _ in 0..tags {
        reader.varint_u32()?;
        reader.varint_u32()?;
        reader.varint_u32()?;
    }
    Ok(Some(SnapshotScan {
        tick,
        players,
        orbs,
        bolts,
        tags,
    }))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Why a scan failed, cheap to return on every field (a `DecodeError` is made once, at the end).
type Bad = &'static str;

impl Reader<'_> {
    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Bad> {
        let bytes = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or("unexpected end of message")?;
        self.at += N;
        // The slice is exactly N bytes long, so this conversion cannot fail.
        bytes.try_into().map_err(|_| "unexpected end of message")
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8, Bad> {
        let byte = *self.bytes.get(self.at).ok_or("unexpected end of message")?;
        self.at += 1;
        Ok(byte)
    }

    #[inline(always)]
    fn f32(&mut self) -> Result<f32, Bad> {
        Ok(f32::from_le_bytes(self.take()?))
    }

    /// bincode's varint for a u32: one byte below 251, else a marker and 2 or 4 bytes.
    #[inline(always)]
    fn varint_u32(&mut self) -> Result<u32, Bad> {
        match self.u8()? {
            byte @ 0..=250 => Ok(u32::from(byte)),
            251 => Ok(u32::from(u16::from_le_bytes(self.take()?))),
            252 => Ok(u32::from_le_bytes(self.take()?)),
            _ => Err("invalid integer marker for a u32"),
        }
    }

    /// bincode's varint for a u64 length, refused if the remaining bytes cannot hold that many
    /// elements of at least `min_element_bytes` each.
    fn count(&mut self, min_element_bytes: usize) -> Result<u32, Bad> {
        let count: u64 = match self.u8()? {
            byte @ 0..=250 => u64::from(byte),
            251 => u64::from(u16::from_le_bytes(self.take()?)),
            252 => u64::from(u32::from_le_bytes(self.take()?)),
            253 => u64::from_le_bytes(self.take()?),
            _ => return Err("invalid integer marker for a length"),
        };
        let remaining = (self.bytes.len() - self.at) as u64;
        if count.saturating_mul(min_element_bytes as u64) > remaining {
            return Err("length exceeds the message");
        }
        Ok(count as u32)
    }
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        BoltState, OrbState, Ping, ServerMessage, Snapshot, Tagged, decode_server_message,
        encode_server_message,
    };

    fn sample(players: u32) -> Snapshot {
        Snapshot {
            tick: Tick(70_000),
            players: (0..players)
                .map(|i| PlayerState {
                    id: PlayerId(i * 97),
                    x: i as f32,
                    y: 2.5,
                    vx: -1.0,
                    vy: 0.0,
                    aim: 3.0,
                    score: i * 1000,
                    last_input_seq: i * 70_001,
                    flags: (i % 2) as u8,
                })
                .collect(),
            orbs: (0..300)
                .map(|i| OrbState {
                    id: i,
                    x: 1.0,
                    y: 2.0,
                })
                .collect(),
            bolts: vec![BoltState {
                id: 65_536,
                owner: PlayerId(3),
                x: 0.0,
                y: 1.0,
            }],
            tags: vec![Tagged {
                tick: Tick(70_000),
                shooter: PlayerId(3),
                victim: PlayerId(300),
            }],
        }
    }

    #[test]
    fn scan_sees_what_the_codec_decodes() {
        for players in [0, 1, 300] {
            let snapshot = sample(players);
            let bytes = encode_server_message(&ServerMessage::Snapshot(snapshot.clone())).unwrap();
            let mut seen = Vec::new();
            let scan = scan_snapshot(&bytes, |p| seen.push(*p)).unwrap().unwrap();
            assert_eq!(seen, snapshot.players);
            assert_eq!(
                scan,
                SnapshotScan {
                    tick: snapshot.tick,
                    players,
                    orbs: 300,
                    bolts: 1,
                    tags: 1,
                }
            );
        }
    }

    #[test]
    fn other_messages_are_left_to_the_codec() {
        let pong = encode_server_message(&ServerMessage::Pong(Ping { nonce: 1 })).unwrap();
        assert_eq!(scan_snapshot(&pong, |_| {}), Ok(None));
    }

    #[test]
    fn scan_refuses_exactly_what_the_codec_refuses() {
        let mut small = sample(3);
        small.orbs.truncate(3);
        let bytes = encode_server_message(&ServerMessage::Snapshot(small)).unwrap();
        let mut mutated = bytes.clone();
        for end in 0..bytes.len() {
            assert!(
                scan_snapshot(&bytes[..end], |_| {}).is_err(),
                "prefix {end}"
            );
        }
        for i in 0..bytes.len() {
            for value in [0u8, 1, 250, 251, 252, 253, 254, 255] {
                mutated[i] = value;
                let codec = decode_server_message(&mutated);
                let is_snapshot = matches!(codec, Ok(ServerMessage::Snapshot(_)));
                let scan = scan_snapshot(&mutated, |_| {});
                match scan {
                    Ok(Some(_)) => assert!(
                        is_snapshot,
                        "scan accepted what the codec refused at {i}={value}"
                    ),
                    Ok(None) => assert!(!is_snapshot),
                    Err(_) => assert!(
                        codec.is_err(),
                        "scan refused a valid message at {i}={value}"
                    ),
                }
            }
            mutated[i] = bytes[i];
        }
    }
}
