//! One entry of a cell: what a frame does to one entity (update the fields in its change mask,
//! upsert it whole, or remove it), written against the entity the client holds and read back,
//! each id sent as the gap from the entry before it. Never trusts a mask, an id or a value read.

use super::entity::{Entity, Kind, bolt_field, player_field};
use super::error::DeltaError;
use super::varint::{Reader, put_signed, put_varint};
use crate::protocol::messages::Tick;

/// Bits of a player update's change mask.
pub mod player_changes {
    pub const POSITION: u8 = 1;
    pub const AIM: u8 = 2;
    pub const SCORE: u8 = 4;
    pub const FLAGS: u8 = 8;
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
