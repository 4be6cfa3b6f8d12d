//! The start of every snapshot frame: the [`FrameHeader`] (tick, baseline, flags, view,
//! checksum, counts, arena size), the client's own player in full precision that may follow it
//! ([`OwnState`]) and its rank in the room, and the bounds on baselines and the scoreboard.
//! Writes and reads them; never accepts a header whose sizes are out of bounds, nor a rank
//! outside the room's head count.

use super::error::DeltaError;
use super::interest::{CellRect, MAX_ARENA_SIDE};
use super::varint::{Reader, put_varint};
use crate::protocol::messages::Tick;

/// Ticks of history the server keeps to encode deltas against (about 2 s at 30 Hz). A client
/// whose newest held snapshot is older gets a full one.
pub const BASELINE_RING: u32 = 64;
/// Players listed in a snapshot's scoreboard.
pub const SCOREBOARD_SIZE: usize = 10;

/// Bits of [`FrameHeader::flags`].
pub mod frame_flags {
    /// The client's own player follows, in full precision.
    pub const OWN: u8 = 1;
    /// A new scoreboard follows (else the baseline's stands).
    pub const SCOREBOARD: u8 = 2;
    /// Tags follow.
    pub const TAGS: u8 = 4;
    /// The arena's size follows (always in a full snapshot; in a delta when it changed since
    /// the baseline).
    pub const ARENA: u8 = 8;
    /// The client's own rank in the room follows, after its own player (always in a full
    /// snapshot; in a delta when it changed since the baseline). Since protocol version 8.
    pub const RANK: u8 = 16;
}

/// The start of every snapshot frame, after the message's variant byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHeader {
    pub tick: Tick,
    /// How many ticks before `tick` the baseline is; 0 for a full snapshot.
    pub baseline_age: u32,
    pub flags: u8,
    pub view: CellRect,
    /// Wrapping sum of [`super::Entity::hash`] over everything the client holds after applying.
    pub checksum: u32,
    /// Players in the room (its head count, wherever they are).
    pub player_count: u32,
    /// How long the server's last tick took, in microseconds.
    pub server_tick_us: u32,
    /// The arena's width and height in whole units, when the flag [`frame_flags::ARENA`] is set.
    pub arena: Option<(u32, u32)>,
}

/// The client's own player, unquantized, so that its prediction replays exactly.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OwnState {
    pub x: f32,
    pub y: f32,
    pub vx: f32,
    pub vy: f32,
    pub aim: f32,
    pub last_input_seq: u32,
    pub score: u32,
    pub flags: u8,
}

/// Writes a frame's header; its [`frame_flags::ARENA`] bit says whether `header.arena` is set,
/// whatever `header.flags` says.
pub fn write_header(out: &mut impl bytes::BufMut, header: &FrameHeader) {
    put_varint(out, u64::from(header.tick.0));
    put_varint(out, u64::from(header.baseline_age));
    let arena_flag = if header.arena.is_some() {
        frame_flags::ARENA
    } else {
        0
    };
    out.put_u8(header.flags & !frame_flags::ARENA | arena_flag);
    for edge in [
        header.view.col0,
        header.view.row0,
        header.view.col1,
        header.view.row1,
    ] {
        put_varint(out, u64::from(edge));
    }
    out.put_u32_le(header.checksum);
    put_varint(out, u64::from(header.player_count));
    put_varint(out, u64::from(header.server_tick_us));
    if let Some((width, height)) = header.arena {
        put_varint(out, u64::from(width));
        put_varint(out, u64::from(height));
    }
}

pub fn write_own(out: &mut impl bytes::BufMut, own: &OwnState) {
    for value in [own.x, own.y, own.vx, own.vy, own.aim] {
        out.put_f32_le(value);
    }
    put_varint(out, u64::from(own.last_input_seq));
    put_varint(out, u64::from(own.score));
    out.put_u8(own.flags);
}

pub fn read_header(reader: &mut Reader<'_>) -> Result<FrameHeader, DeltaError> {
    let mut header = FrameHeader {
        tick: Tick(reader.varint_u32("tick")?),
        baseline_age: reader.varint_u32("baseline age")?,
        flags: reader.u8("flags")?,
        view: CellRect {
            col0: reader.varint_u32("view")?,
            row0: reader.varint_u32("view")?,
            col1: reader.varint_u32("view")?,
            row1: reader.varint_u32("view")?,
        },
        checksum: reader.u32_le("checksum")?,
        player_count: reader.varint_u32("player count")?,
        server_tick_us: reader.varint_u32("server tick duration")?,
        arena: None,
    };
    if header.flags & frame_flags::ARENA != 0 {
        let side = |reader: &mut Reader<'_>| match reader.varint_u32("arena size")? {
            side if side == 0 || side as f32 > MAX_ARENA_SIDE => {
                Err(DeltaError::Malformed("arena size out of bounds"))
            }
            side => Ok(side),
        };
        header.arena = Some((side(reader)?, side(reader)?));
    }
    Ok(header)
}

/// Writes the client's rank: its place by score among the room's players, 1 for the best.
pub fn write_rank(out: &mut impl bytes::BufMut, rank: u32) {
    put_varint(out, u64::from(rank));
}

/// Reads the client's rank, which must be a place among the `player_count` of its header.
pub fn read_rank(reader: &mut Reader<'_>, header: &FrameHeader) -> Result<u32, DeltaError> {
    match reader.varint_u32("rank")? {
        rank if rank == 0 || rank > header.player_count => {
            Err(DeltaError::Malformed("rank outside the room's head count"))
        }
        rank => Ok(rank),
    }
}

pub fn read_own(reader: &mut Reader<'_>) -> Result<OwnState, DeltaError> {
    Ok(OwnState {
        x: reader.f32_le("own x")?,
        y: reader.f32_le("own y")?,
        vx: reader.f32_le("own vx")?,
        vy: reader.f32_le("own vy")?,
        aim: reader.f32_le("own aim")?,
        last_input_seq: reader.varint_u32("own last input")?,
        score: reader.varint_u32("own score")?,
        flags: reader.u8("own flags")?,
    })
}
