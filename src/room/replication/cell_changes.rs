//! One cell's changes between two ticks, as the entries a frame carries (update with a change
//! mask, upsert, remove), merged from the two ticks' sorted entities. Pure; writes only into
//! the buffer it is given.

use crate::protocol::Tick;
use crate::protocol::snapshot::{Entity, Kind, Op, player_change_mask, write_entry};

/// Writes the entries that turn `old` into `new` (both sorted by key) and returns how many.
pub(super) fn encode_cell_changes(
    old: &[(u32, Entity)],
    new: &[(u32, Entity)],
    tick: Tick,
    out: &mut Vec<u8>,
) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    let mut previous: Option<Entity> = None;
    let mut emit = |op: Op, old: Option<&Entity>, entity: &Entity, out: &mut Vec<u8>| {
        write_entry(out, op, previous.as_ref(), old, entity, tick);
        previous = Some(*entity);
        count += 1;
    };
    while i < old.len() || j < new.len() {
        let old_key = old.get(i).map(|(_, e)| e.key());
        let new_key = new.get(j).map(|(_, e)| e.key());
        match (old_key, new_key) {
            (Some(a), Some(b)) if a == b => {
                let (before, after) = (&old[i].1, &new[j].1);
                if before != after {
                    if after.kind() == Kind::Player && player_change_mask(before, after) != 0 {
                        emit(Op::Update, Some(before), after, out);
                    } else {
                        emit(Op::Upsert, None, after, out);
                    }
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                emit(Op::Remove, None, &old[i].1, out);
                i += 1;
            }
            _ => {
                emit(Op::Upsert, None, &new[j].1, out);
                j += 1;
            }
        }
    }
    count
}
