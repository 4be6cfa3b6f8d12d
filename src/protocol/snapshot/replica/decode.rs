//! Reads the body of one snapshot frame (after its header) and builds the state it describes
//! from its baseline: the own player, its rank, scoreboard and tags, then every listed cell
//! merged into the baseline's records, the checksum kept up to date as it goes. Writes only the
//! spare state it is handed: the baseline is never changed, whatever the frame holds.

use std::ops::Range;

use super::ReplicaState;
use super::records::Records;
use crate::protocol::messages::{PlayerId, Tagged, Tick};
use crate::protocol::snapshot::entity::Entity;
use crate::protocol::snapshot::entry::{Op, apply_update, read_entry};
use crate::protocol::snapshot::error::DeltaError;
use crate::protocol::snapshot::header::{
    FrameHeader, SCOREBOARD_SIZE, frame_flags, read_own, read_rank,
};
use crate::protocol::snapshot::interest::CELL_GRID;
use crate::protocol::snapshot::varint::Reader;

/// Most tags one frame may list (a bound for hostile input; the server sends far fewer).
const MAX_TAGS: u32 = 4096;

/// Reads the rest of a frame and writes the state it describes into `next`.
pub(super) fn build_state(
    reader: &mut Reader<'_>,
    header: &FrameHeader,
    base: &ReplicaState,
    next: &mut ReplicaState,
    tags: &mut Vec<Tagged>,
) -> Result<(), DeltaError> {
    let tick = header.tick;
    next.tick = tick;
    next.view = header.view;
    next.player_count = header.player_count;
    next.server_tick_us = header.server_tick_us;
    next.arena = match (header.arena, header.baseline_age) {
        (Some(arena), _) => arena,
        (None, 0) => return Err(DeltaError::Malformed("a full snapshot without the arena")),
        (None, _) => base.arena,
    };
    next.own = if header.flags & frame_flags::OWN != 0 {
        Some(read_own(reader)?)
    } else {
        None
    };
    next.rank = match (header.flags & frame_flags::RANK != 0, header.baseline_age) {
        (true, _) => read_rank(reader, header)?,
        (false, 0) => return Err(DeltaError::Malformed("a full snapshot without the rank")),
        (false, _) => base.rank,
    };
    next.scoreboard.clear();
    if header.flags & frame_flags::SCOREBOARD != 0 {
        let count = reader.varint_u32("scoreboard")?;
        for _ in 0..count.min(SCOREBOARD_SIZE as u32 + 1) {
            let id = PlayerId(reader.varint_u32("scoreboard id")?);
            next.scoreboard
                .push((id, reader.varint_u32("scoreboard score")?));
        }
        if count as usize > SCOREBOARD_SIZE {
            return Err(DeltaError::Malformed("scoreboard too long"));
        }
    } else {
        next.scoreboard.extend_from_slice(&base.scoreboard);
    }
    tags.clear();
    if header.flags & frame_flags::TAGS != 0 {
        let count = reader.varint_u32("tags")?;
        if count > MAX_TAGS {
            return Err(DeltaError::Malformed("too many tags"));
        }
        for _ in 0..count {
            let age = reader.varint_u32("tag age")?;
            let shooter = PlayerId(reader.varint_u32("tag shooter")?);
            let victim = PlayerId(reader.varint_u32("tag victim")?);
            tags.push(Tagged {
                tick: Tick(tick.0.wrapping_sub(age)),
                shooter,
                victim,
            });
        }
    }
    next.records.clear();
    next.sum = apply_cells(reader, header, base, &mut next.records)?;
    if !reader.is_empty() {
        return Err(DeltaError::Malformed("bytes after the last cell"));
    }
    Ok(())
}

/// Copies the baseline's entities that are still in view, merging in each changed cell, and
/// returns the checksum of the result: the baseline's, less what left or changed, plus what
/// came or changed.
fn apply_cells(
    reader: &mut Reader<'_>,
    header: &FrameHeader,
    base: &ReplicaState,
    out: &mut Records,
) -> Result<u32, DeltaError> {
    let view = header.view;
    let kept = |cell: u32| CELL_GRID.contains(&view, cell);
    let old = &base.records;
    let held_cells = old.cells.len();
    let mut sum = if base.held { base.sum } else { 0 };
    // Cells the frame does not list are carried over: all of them when the view did not move
    // (one copy of the run), else those still in view.
    let same_view = base.held && base.view == view;
    let carry = |cells: Range<usize>, out: &mut Records, sum: &mut u32| {
        if same_view {
            return out.extend_cells(old, cells);
        }
        for index in cells {
            if kept(old.cells[index].cell) {
                out.extend_cells(old, index..index + 1);
            } else {
                for record in old.records_in(old.cell_words(index)) {
                    *sum = sum.wrapping_sub(record.unpack().1.hash());
                }
            }
        }
    };
    out.words.reserve(old.words.len());
    out.cells.reserve(held_cells);
    let mut next_held = 0;
    let cells = reader.varint_u32("cell count")?;
    let mut previous_cell: Option<u32> = None;
    for _ in 0..cells {
        let gap = reader.varint_u32("cell")?;
        let cell = match previous_cell {
            None => Some(gap),
            Some(previous) => previous.checked_add(gap).and_then(|c| c.checked_add(1)),
        }
        .filter(|&cell| (cell as usize) < CELL_GRID.cell_count() && kept(cell))
        .ok_or(DeltaError::Malformed("cell outside the view"))?;
        previous_cell = Some(cell);
        // A walk of the directory, not a binary search: the cells before are copied anyway.
        let first = next_held
            + old.cells[next_held..]
                .iter()
                .take_while(|start| start.cell < cell)
                .count();
        carry(next_held..first, out, &mut sum);
        next_held = first;
        let mut held = 0..0;
        if old.cells.get(first).is_some_and(|start| start.cell == cell) {
            next_held += 1;
            // A cell the baseline's view did not hold starts empty.
            if base.held_cell(cell) {
                held = old.cell_words(first);
            }
        }
        let start = out.begin_cell();
        merge_cell(reader, header.tick, cell, (old, held), out, &mut sum)?;
        out.end_cell(cell, start);
    }
    carry(next_held..held_cells, out, &mut sum);
    #[cfg(debug_assertions)]
    debug_assert!(out.directory_is_consistent());
    Ok(sum)
}

impl ReplicaState {
    fn held_cell(&self, cell: u32) -> bool {
        self.held && CELL_GRID.contains(&self.view, cell)
    }
}

/// Applies one cell's entries (sorted by key) to its old entities (sorted by key: a word range
/// of the baseline's records), keeping `sum` the checksum of what is held.
fn merge_cell(
    reader: &mut Reader<'_>,
    tick: Tick,
    cell: u32,
    (old, range): (&Records, Range<usize>),
    out: &mut Records,
    sum: &mut u32,
) -> Result<(), DeltaError> {
    let entries = reader.varint_u32("entry count")?;
    if entries == 0 {
        return Err(DeltaError::Malformed("a cell with no entries"));
    }
    let mut at = range.start;
    let mut previous: Option<Entity> = None;
    for _ in 0..entries {
        let entry = read_entry(reader, previous.as_ref(), tick)?;
        let key = entry.entity.key();
        if previous.is_some_and(|p| p.key() >= key) {
            return Err(DeltaError::Malformed("entries out of order"));
        }
        previous = Some(entry.entity);
        let before = old.skip_while(at, range.end, |record| record.key() < key);
        out.extend_from(old, at..before);
        at = before;
        let existing = (at < range.end)
            .then(|| old.record_at(at))
            .filter(|record| record.key() == key);
        let existing = existing.map(|record| {
            at += record.words.len();
            let (_, gone) = record.unpack();
            *sum = sum.wrapping_sub(gone.hash());
            gone
        });
        let mut add = |entity: Entity| {
            *sum = sum.wrapping_add(entity.hash());
            out.push(cell, &entity);
        };
        match (entry.op, existing) {
            (Op::Remove, Some(_)) => {}
            (Op::Upsert, _) => add(entry.entity),
            (Op::Update, Some(mut entity)) => {
                apply_update(&mut entity, &entry)?;
                add(entity);
            }
            (Op::Remove | Op::Update, None) => {
                return Err(DeltaError::Malformed(
                    "change to an entity the baseline lacks",
                ));
            }
        }
    }
    out.extend_from(old, at..range.end);
    Ok(())
}
