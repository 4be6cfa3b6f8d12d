//! The byte format of delta snapshots (protocol version 6), shared by the server's encoder
//! (`game::replication`) and every client's decoder ([`super::replica`]): quantized entities,
//! the per-entity operations with their change masks, the frame header, LEB128 varints and the
//! state checksum. See "Snapshots" in `docs/PROTOCOL.md` for the normative description.
//!
//! Not bincode: the format is written by hand because its fields are deltas whose widths
//! depend on the values (zigzag LEB128), and because the server composes each client's frame
//! from pieces encoded once and shared.

use thiserror::Error;

use super::messages::{BoltState, OrbState, PlayerState, Tick};

/// Positions are sent in fixed point: this many steps per arena unit (1/4 unit, a quarter of a
/// pixel at the bundled game's zoom). At that step a ship at full speed (14 units a tick at
/// 30 Hz) moves at most 56 steps a tick, so each coordinate of its update fits one byte.
pub const POSITION_SCALE: f32 = 4.0;
/// Side of an interest cell, in arena units. A client receives the cells its view covers.
pub const CELL_SIZE: f32 = 256.0;
/// The interest-cell grid: fixed, whatever the arena's size (which may change during a game),
/// so that a cell's index never changes. It covers the largest arena, [`MAX_ARENA_SIDE`] square.
pub const CELL_GRID: CellGrid = CellGrid {
    cols: 128,
    rows: 128,
};
/// The largest side an arena may have, in units.
pub const MAX_ARENA_SIDE: f32 = 128.0 * CELL_SIZE;
/// Ticks of history the server keeps to encode deltas against (about 2 s at 30 Hz). A client
/// whose newest held snapshot is older gets a full one.
pub const BASELINE_RING: u32 = 64;
/// Half the extent of the area a client is sent, around its own player, in arena units: the
/// largest view the bundled client shows (1600 x 1000 units) plus a margin for entities
/// about to enter it (a ship's radius plus what it covers in the interpolation delay).
pub const INTEREST_HALF_WIDTH: f32 = 800.0 + INTEREST_MARGIN;
pub const INTEREST_HALF_HEIGHT: f32 = 500.0 + INTEREST_MARGIN;
const INTEREST_MARGIN: f32 = 64.0;
/// Players listed in a snapshot's scoreboard.
pub const SCOREBOARD_SIZE: usize = 10;

/// What kind of thing an [`Entity`] is. Its id space is separate per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    Player = 0,
    Orb = 1,
    Bolt = 2,
}

impl Kind {
    pub fn from_bits(bits: u8) -> Option<Kind> {
        match bits {
            0 => Some(Kind::Player),
            1 => Some(Kind::Orb),
            2 => Some(Kind::Bolt),
            _ => None,
        }
    }
}

/// Field indices of a player's [`Entity::fields`].
pub mod player_field {
    pub const X: usize = 0;
    pub const Y: usize = 1;
    /// Aim as a byte: 256 steps per turn, 0 = +x.
    pub const AIM: usize = 2;
    /// The score, as the bits of a `u32`.
    pub const SCORE: usize = 3;
    pub const FLAGS: usize = 4;
}

/// Field indices of a bolt's [`Entity::fields`]. A bolt flies straight at constant speed, so it
/// is sent once: where it was at tick `T0`, and its velocity; clients extrapolate it.
pub mod bolt_field {
    pub const X0: usize = 0;
    pub const Y0: usize = 1;
    /// Velocity in position steps (1/4 unit) per second.
    pub const VX: usize = 2;
    pub const VY: usize = 3;
    /// The shooter's player id, as the bits of a `u32`.
    pub const OWNER: usize = 4;
    /// The tick of `X0, Y0`, as the bits of a `u32`.
    pub const T0: usize = 5;
}

/// Bits of a player update's change mask.
pub mod player_changes {
    pub const POSITION: u8 = 1;
    pub const AIM: u8 = 2;
    pub const SCORE: u8 = 4;
    pub const FLAGS: u8 = 8;
}

/// One replicated thing, quantized: exactly what a client reconstructs. Orbs use the first two
/// fields (x, y); see [`player_field`] and [`bolt_field`] for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entity {
    pub kind_bits: u8,
    pub id: u32,
    pub fields: [i32; 6],
}

impl Entity {
    pub fn new(kind: Kind, id: u32, fields: [i32; 6]) -> Entity {
        Entity {
            kind_bits: kind as u8,
            id,
            fields,
        }
    }

    /// A player as clients see it: quantized position and aim, score, flags.
    pub fn player(p: &PlayerState) -> Entity {
        let fields = [
            quantize_position(p.x),
            quantize_position(p.y),
            quantize_angle(p.aim),
            p.score as i32,
            i32::from(p.flags),
            0,
        ];
        Entity::new(Kind::Player, p.id.0, fields)
    }

    pub fn orb(o: &OrbState) -> Entity {
        let fields = [quantize_position(o.x), quantize_position(o.y), 0, 0, 0, 0];
        Entity::new(Kind::Orb, o.id, fields)
    }

    /// A bolt as first seen at `tick`: where it is then and its velocity, never updated after.
    pub fn bolt_seen_at(b: &BoltState, tick: Tick) -> Entity {
        let fields = [
            quantize_position(b.x),
            quantize_position(b.y),
            quantize_position(b.vx),
            quantize_position(b.vy),
            b.owner.0 as i32,
            tick.0 as i32,
        ];
        Entity::new(Kind::Bolt, b.id, fields)
    }

    pub fn kind(&self) -> Kind {
        Kind::from_bits(self.kind_bits).unwrap_or(Kind::Player)
    }

    /// The sort key within a cell: by kind, then id.
    pub fn key(&self) -> u64 {
        u64::from(self.kind_bits) << 32 | u64::from(self.id)
    }

    /// FNV-1a over the kind, id and fields; the state checksum is the wrapping sum of these over
    /// every entity a client holds, so it does not depend on order.
    pub fn hash(&self) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        let mut mix = |word: u32| hash = (hash ^ word).wrapping_mul(0x0100_0193);
        mix(u32::from(self.kind_bits));
        mix(self.id);
        for &field in &self.fields {
            mix(field as u32);
        }
        hash
    }
}

/// A position in fixed point (see [`POSITION_SCALE`]).
pub fn quantize_position(units: f32) -> i32 {
    (units * POSITION_SCALE).round() as i32
}

pub fn position_units(steps: i32) -> f32 {
    steps as f32 / POSITION_SCALE
}

/// An angle in radians as a byte (256 steps per turn).
pub fn quantize_angle(radians: f32) -> i32 {
    let turns = radians / std::f32::consts::TAU;
    ((turns * 256.0).round() as i64).rem_euclid(256) as i32
}

/// A quantized angle back in radians, in `(-π, π]`.
pub fn angle_radians(steps: i32) -> f32 {
    let steps = steps.rem_euclid(256);
    let signed = if steps > 128 { steps - 256 } else { steps };
    signed as f32 * std::f32::consts::TAU / 256.0
}

/// A rectangle of interest cells, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellRect {
    pub col0: u32,
    pub row0: u32,
    pub col1: u32,
    pub row1: u32,
}

impl CellRect {
    pub fn contains(&self, col: u32, row: u32) -> bool {
        (self.col0..=self.col1).contains(&col) && (self.row0..=self.row1).contains(&row)
    }
}

/// A grid of interest cells from the arena's origin: row-major cell indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellGrid {
    pub cols: u32,
    pub rows: u32,
}

impl CellGrid {
    pub fn cell_count(&self) -> usize {
        self.cols as usize * self.rows as usize
    }

    /// The cell holding a point; points outside the grid belong to the nearest edge cell.
    pub fn cell_of(&self, x: f32, y: f32) -> u32 {
        let col = ((x / CELL_SIZE) as i64).clamp(0, i64::from(self.cols) - 1) as u32;
        let row = ((y / CELL_SIZE) as i64).clamp(0, i64::from(self.rows) - 1) as u32;
        row * self.cols + col
    }

    pub fn contains(&self, rect: &CellRect, cell: u32) -> bool {
        rect.contains(cell % self.cols, cell / self.cols)
    }

    /// The cells within the interest area around a point.
    pub fn interest_around(&self, x: f32, y: f32) -> CellRect {
        let col = |x: f32| ((x / CELL_SIZE) as i64).clamp(0, i64::from(self.cols) - 1) as u32;
        let row = |y: f32| ((y / CELL_SIZE) as i64).clamp(0, i64::from(self.rows) - 1) as u32;
        CellRect {
            col0: col(x - INTEREST_HALF_WIDTH),
            row0: row(y - INTEREST_HALF_HEIGHT),
            col1: col(x + INTEREST_HALF_WIDTH),
            row1: row(y + INTEREST_HALF_HEIGHT),
        }
    }

    /// Whether a rectangle fits in this grid.
    pub fn holds(&self, rect: &CellRect) -> bool {
        rect.col0 <= rect.col1
            && rect.row0 <= rect.row1
            && rect.col1 < self.cols
            && rect.row1 < self.rows
    }
}

/// What an entry of a cell does to the entity it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Changes the fields in the mask (players only).
    Update = 0,
    /// Full state: creates the entity, or replaces it.
    Upsert = 1,
    Remove = 2,
}

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
}

/// The start of every snapshot frame, after the message's variant byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHeader {
    pub tick: Tick,
    /// How many ticks before `tick` the baseline is; 0 for a full snapshot.
    pub baseline_age: u32,
    pub flags: u8,
    pub view: CellRect,
    /// Wrapping sum of [`Entity::hash`] over everything the client holds after applying.
    pub checksum: u32,
    /// Players in the whole game.
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

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeltaError {
    #[error("truncated snapshot: {0} needs more bytes")]
    Truncated(&'static str),
    #[error("malformed snapshot: {0}")]
    Malformed(&'static str),
    #[error("snapshot {tick} is a delta against tick {baseline}, which this client does not hold")]
    UnknownBaseline { tick: u32, baseline: u32 },
    /// A frame older than a state the client already holds in its place in the ring (it
    /// arrived more than the ring's length late): dropped, so no newer baseline is lost.
    #[error("snapshot {tick} arrived after {newer}, which holds its place")]
    Stale { tick: u32, newer: u32 },
    #[error(
        "snapshot {tick}: state checksum {actual:#010x} differs from the server's {expected:#010x}"
    )]
    ChecksumMismatch {
        tick: u32,
        expected: u32,
        actual: u32,
    },
}

// --- writing -------------------------------------------------------------------------------

/// Appends LEB128: 7 bits per byte, low bits first.
pub fn put_varint(out: &mut impl bytes::BufMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8(value as u8 | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// Appends a signed value zigzag-mapped (0, -1, 1, -2, ... → 0, 1, 2, 3, ...) as a varint.
pub fn put_signed(out: &mut impl bytes::BufMut, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
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

/// Writes one entry of a cell. Entries ascend by [`Entity::key`]; each id is sent as the gap
/// from `previous`, the entry before it in the cell, when that is of the same kind (else from 0).
pub fn write_entry(
    out: &mut impl bytes::BufMut,
    op: Op,
    previous: Option<&Entity>,
    old: Option<&Entity>,
    new: &Entity,
    tick: Tick,
) {
    let mask = match (op, old) {
        (Op::Update, Some(old)) => player_change_mask(old, new),
        _ => 0,
    };
    out.put_u8(op as u8 | new.kind_bits << 2 | mask << 4);
    put_varint(
        out,
        u64::from(new.id.wrapping_sub(id_base(previous, new.kind_bits))),
    );
    match op {
        Op::Remove => {}
        Op::Upsert => write_full_fields(out, new, tick),
        Op::Update => {
            if let Some(old) = old {
                write_player_changes(out, mask, old, new);
            }
        }
    }
}

fn id_base(previous: Option<&Entity>, kind_bits: u8) -> u32 {
    previous
        .filter(|p| p.kind_bits == kind_bits)
        .map_or(0, |p| p.id)
}

/// Which of a player's fields differ (0: nothing to send).
pub fn player_change_mask(old: &Entity, new: &Entity) -> u8 {
    use player_field::*;
    let f = |i: usize| old.fields[i] != new.fields[i];
    let mut mask = 0;
    if f(X) || f(Y) {
        mask |= player_changes::POSITION;
    }
    if f(AIM) {
        mask |= player_changes::AIM;
    }
    if f(SCORE) {
        mask |= player_changes::SCORE;
    }
    if f(FLAGS) {
        mask |= player_changes::FLAGS;
    }
    mask
}

fn write_player_changes(out: &mut impl bytes::BufMut, mask: u8, old: &Entity, new: &Entity) {
    use player_field::*;
    if mask & player_changes::POSITION != 0 {
        put_signed(out, i64::from(new.fields[X]) - i64::from(old.fields[X]));
        put_signed(out, i64::from(new.fields[Y]) - i64::from(old.fields[Y]));
    }
    if mask & player_changes::AIM != 0 {
        out.put_u8(new.fields[AIM] as u8);
    }
    if mask & player_changes::SCORE != 0 {
        put_varint(out, u64::from(new.fields[SCORE] as u32));
    }
    if mask & player_changes::FLAGS != 0 {
        out.put_u8(new.fields[FLAGS] as u8);
    }
}

fn write_full_fields(out: &mut impl bytes::BufMut, entity: &Entity, tick: Tick) {
    let f = &entity.fields;
    match entity.kind() {
        Kind::Player => {
            put_signed(out, i64::from(f[player_field::X]));
            put_signed(out, i64::from(f[player_field::Y]));
            out.put_u8(f[player_field::AIM] as u8);
            put_varint(out, u64::from(f[player_field::SCORE] as u32));
            out.put_u8(f[player_field::FLAGS] as u8);
        }
        Kind::Orb => {
            put_signed(out, i64::from(f[0]));
            put_signed(out, i64::from(f[1]));
        }
        Kind::Bolt => {
            for i in [
                bolt_field::X0,
                bolt_field::Y0,
                bolt_field::VX,
                bolt_field::VY,
            ] {
                put_signed(out, i64::from(f[i]));
            }
            put_varint(out, u64::from(f[bolt_field::OWNER] as u32));
            let age = tick.since(Tick(f[bolt_field::T0] as u32)).max(0);
            put_varint(out, age as u64);
        }
    }
}

// --- reading -------------------------------------------------------------------------------

/// A cursor over a frame's bytes. Every read is bounds-checked and names what it was reading.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DeltaError> {
        let byte = *self.bytes.get(self.at).ok_or(DeltaError::Truncated(what))?;
        self.at += 1;
        Ok(byte)
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DeltaError> {
        let end = self.at + 4;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or(DeltaError::Truncated(what))?;
        self.at = end;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub fn f32_le(&mut self, what: &'static str) -> Result<f32, DeltaError> {
        Ok(f32::from_bits(self.u32_le(what)?))
    }

    /// A LEB128 varint of at most 64 bits.
    #[inline]
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        // Most varints of a frame are one byte (counts, id gaps, position deltas): read those
        // without the loop, which stays out of line.
        if let Some(&byte) = self.bytes.get(self.at)
            && byte & 0x80 == 0
        {
            self.at += 1;
            return Ok(u64::from(byte));
        }
        self.varint_long(what)
    }

    #[inline(never)]
    fn varint_long(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DeltaError::Malformed("varint longer than 10 bytes"))
    }

    #[inline]
    pub fn varint_u32(&mut self, what: &'static str) -> Result<u32, DeltaError> {
        u32::try_from(self.varint(what)?).map_err(|_| DeltaError::Malformed("value above u32"))
    }

    #[inline]
    pub fn signed(&mut self, what: &'static str) -> Result<i64, DeltaError> {
        let raw = self.varint(what)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    /// A signed value that must fit an `i32` (positions, velocities).
    #[inline]
    pub fn signed_i32(&mut self, what: &'static str) -> Result<i32, DeltaError> {
        i32::try_from(self.signed(what)?).map_err(|_| DeltaError::Malformed("value beyond i32"))
    }
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

/// One decoded cell entry: what to do to which entity. For an update, `changes` holds the
/// mask and the new values are applied by [`apply_update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub op: Op,
    pub kind: Kind,
    pub id: u32,
    pub mask: u8,
    /// For an upsert, the full entity; for an update, the raw deltas/values in field order.
    pub entity: Entity,
}

/// Reads one entry; `previous` as in [`write_entry`].
#[inline]
pub fn read_entry(
    reader: &mut Reader<'_>,
    previous: Option<&Entity>,
    tick: Tick,
) -> Result<Entry, DeltaError> {
    let tag = reader.u8("entry")?;
    let op = match tag & 3 {
        0 => Op::Update,
        1 => Op::Upsert,
        2 => Op::Remove,
        _ => return Err(DeltaError::Malformed("unknown entry operation")),
    };
    let kind = Kind::from_bits(tag >> 2 & 3).ok_or(DeltaError::Malformed("unknown entity kind"))?;
    let mask = tag >> 4;
    let id = id_base(previous, kind as u8).wrapping_add(reader.varint_u32("entity id")?);
    let mut entity = Entity::new(kind, id, [0; 6]);
    match op {
        Op::Remove => {
            if mask != 0 {
                return Err(DeltaError::Malformed("a removal with a change mask"));
            }
        }
        Op::Upsert => {
            if mask != 0 {
                return Err(DeltaError::Malformed("a full entity with a change mask"));
            }
            read_full_fields(reader, &mut entity, tick)?;
        }
        Op::Update => {
            if kind != Kind::Player || mask == 0 {
                return Err(DeltaError::Malformed("an update that changes nothing"));
            }
            read_player_changes(reader, mask, &mut entity)?;
        }
    }
    Ok(Entry {
        op,
        kind,
        id,
        mask,
        entity,
    })
}

#[inline]
fn read_full_fields(
    reader: &mut Reader<'_>,
    entity: &mut Entity,
    tick: Tick,
) -> Result<(), DeltaError> {
    let kind = entity.kind();
    let f = &mut entity.fields;
    match kind {
        Kind::Player => {
            f[player_field::X] = reader.signed_i32("player x")?;
            f[player_field::Y] = reader.signed_i32("player y")?;
            f[player_field::AIM] = i32::from(reader.u8("player aim")?);
            f[player_field::SCORE] = reader.varint_u32("player score")? as i32;
            f[player_field::FLAGS] = i32::from(reader.u8("player flags")?);
        }
        Kind::Orb => {
            f[0] = reader.signed_i32("orb x")?;
            f[1] = reader.signed_i32("orb y")?;
        }
        Kind::Bolt => {
            for (i, what) in [
                (bolt_field::X0, "bolt x"),
                (bolt_field::Y0, "bolt y"),
                (bolt_field::VX, "bolt vx"),
                (bolt_field::VY, "bolt vy"),
            ] {
                f[i] = reader.signed_i32(what)?;
            }
            f[bolt_field::OWNER] = reader.varint_u32("bolt owner")? as i32;
            let age = reader.varint_u32("bolt age")?;
            f[bolt_field::T0] = tick.0.wrapping_sub(age) as i32;
        }
    }
    Ok(())
}

#[inline]
fn read_player_changes(
    reader: &mut Reader<'_>,
    mask: u8,
    entity: &mut Entity,
) -> Result<(), DeltaError> {
    use player_field::*;
    let f = &mut entity.fields;
    if mask & player_changes::POSITION != 0 {
        f[X] = reader.signed_i32("player dx")?;
        f[Y] = reader.signed_i32("player dy")?;
    }
    if mask & player_changes::AIM != 0 {
        f[AIM] = i32::from(reader.u8("player aim")?);
    }
    if mask & player_changes::SCORE != 0 {
        f[SCORE] = reader.varint_u32("player score")? as i32;
    }
    if mask & player_changes::FLAGS != 0 {
        f[FLAGS] = i32::from(reader.u8("player flags")?);
    }
    Ok(())
}

/// Applies an update entry (from [`read_entry`]) to the entity it names.
#[inline]
pub fn apply_update(target: &mut Entity, entry: &Entry) -> Result<(), DeltaError> {
    use player_field::*;
    let changes = &entry.entity.fields;
    let f = &mut target.fields;
    if entry.mask & player_changes::POSITION != 0 {
        f[X] = f[X]
            .checked_add(changes[X])
            .ok_or(DeltaError::Malformed("position overflow"))?;
        f[Y] = f[Y]
            .checked_add(changes[Y])
            .ok_or(DeltaError::Malformed("position overflow"))?;
    }
    if entry.mask & player_changes::AIM != 0 {
        f[AIM] = changes[AIM];
    }
    if entry.mask & player_changes::SCORE != 0 {
        f[SCORE] = changes[SCORE];
    }
    if entry.mask & player_changes::FLAGS != 0 {
        f[FLAGS] = changes[FLAGS];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Reader::new(&out).varint("v").unwrap(), value);
        }
        for value in [0i64, -1, 1, -64, 64, i32::MIN as i64, i32::MAX as i64] {
            let mut out = Vec::new();
            put_signed(&mut out, value);
            assert_eq!(Reader::new(&out).signed("v").unwrap(), value);
        }
        let mut out = Vec::new();
        put_signed(&mut out, -64);
        assert_eq!(out, [127]);
    }

    #[test]
    fn angles_quantize_to_a_byte_and_back_within_half_a_step() {
        for i in -700..700 {
            let radians = i as f32 / 100.0;
            let back = angle_radians(quantize_angle(radians));
            let diff = (back - radians).rem_euclid(std::f32::consts::TAU);
            let diff = diff.min(std::f32::consts::TAU - diff);
            assert!(
                diff <= std::f32::consts::PI / 256.0 + 1e-4,
                "{radians} -> {back}"
            );
        }
    }

    #[test]
    fn a_varint_that_never_ends_is_refused() {
        assert!(matches!(
            Reader::new(&[0xff; 12]).varint("v"),
            Err(DeltaError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0x80]).varint("v"),
            Err(DeltaError::Truncated("v"))
        ));
    }

    #[test]
    fn entries_round_trip() {
        let tick = Tick(1000);
        let old = Entity::new(Kind::Player, 7, [160, 320, 3, 10, 0, 0]);
        let new = Entity::new(Kind::Player, 7, [170, 300, 3, 15, 1, 0]);
        let mut out = Vec::new();
        let previous = Entity::new(Kind::Player, 2, [0; 6]);
        write_entry(
            &mut out,
            Op::Update,
            Some(&previous),
            Some(&old),
            &new,
            tick,
        );
        assert_eq!(out[1], 5, "the id is sent as the gap from the previous one");
        let entry = read_entry(&mut Reader::new(&out), Some(&previous), tick).unwrap();
        let mut applied = old;
        apply_update(&mut applied, &entry).unwrap();
        assert_eq!(applied, new);

        let bolt = Entity::new(Kind::Bolt, 9, [5, 6, -14_400, 0, 3, 990]);
        let mut out = Vec::new();
        write_entry(&mut out, Op::Upsert, Some(&previous), None, &bolt, tick);
        assert_eq!(out[1], 9, "a new kind's ids start from 0");
        let entry = read_entry(&mut Reader::new(&out), Some(&previous), tick).unwrap();
        assert_eq!(entry.entity, bolt);
    }
}
