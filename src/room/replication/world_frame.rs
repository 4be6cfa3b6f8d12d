//! The world at one tick as clients see it: every entity quantized, sorted into its interest
//! cell and then by key, with each cell indexed and hashed. Pure; must never allocate once its
//! buffers have grown to the game's size.

use crate::protocol::Tick;
use crate::protocol::snapshot::Entity;

/// The world at one tick, as clients see it.
#[derive(Debug, Default)]
pub(super) struct WorldFrame {
    pub(super) tick: Tick,
    pub(super) held: bool,
    /// The arena's width and height, in whole units.
    pub(super) arena: (u32, u32),
    /// `(cell, entity)` sorted by cell, then key.
    pub(super) entities: Vec<(u32, Entity)>,
    /// `entities[cell_start[c]..cell_start[c + 1]]` are cell `c`'s. Only cells up to the last
    /// one holding something are indexed (the grid covers the largest arena; most games use its
    /// first rows): cells beyond are empty.
    pub(super) cell_start: Vec<u32>,
    /// Wrapping sum of the entity hashes of each indexed cell.
    pub(super) cell_hash: Vec<u32>,
}

impl WorldFrame {
    pub(super) fn cell(&self, cell: u32) -> &[(u32, Entity)] {
        let c = cell as usize;
        if c >= self.cell_hash.len() {
            return &[];
        }
        &self.entities[self.cell_start[c] as usize..self.cell_start[c + 1] as usize]
    }

    pub(super) fn cell_hash(&self, cell: u32) -> u32 {
        self.cell_hash.get(cell as usize).copied().unwrap_or(0)
    }
}

/// Puts `unsorted` into `frame` sorted by cell, then by key within a cell, and indexes the
/// cells with their hashes. A counting sort (count, place) by cell: a tick's entities are
/// thousands (mostly orbs, which rarely move) but a cell's are few, so only those few are
/// compared; a comparison sort of everything cost about a tenth of a 1000-player tick.
pub(super) fn sort_into_cells(
    unsorted: &[(u32, Entity)],
    frame: &mut WorldFrame,
    cursor: &mut Vec<u32>,
) {
    let cells = unsorted
        .iter()
        .map(|(cell, _)| *cell as usize + 1)
        .max()
        .unwrap_or(0);
    frame.cell_start.clear();
    frame.cell_start.resize(cells + 1, 0);
    frame.cell_hash.clear();
    frame.cell_hash.resize(cells, 0);
    for (cell, entity) in unsorted {
        frame.cell_start[*cell as usize + 1] += 1;
        let hash = &mut frame.cell_hash[*cell as usize];
        *hash = hash.wrapping_add(entity.hash());
    }
    for c in 0..cells {
        frame.cell_start[c + 1] += frame.cell_start[c];
    }
    cursor.clear();
    cursor.extend_from_slice(&frame.cell_start[..cells]);
    frame.entities.clear();
    frame
        .entities
        .resize(unsorted.len(), (0, Entity::default()));
    for &(cell, entity) in unsorted {
        let at = &mut cursor[cell as usize];
        frame.entities[*at as usize] = (cell, entity);
        *at += 1;
    }
    let mut start = 0;
    while start < frame.entities.len() {
        let end = frame.cell_start[frame.entities[start].0 as usize + 1] as usize;
        frame.entities[start..end].sort_unstable_by_key(|(_, entity)| entity.key());
        start = end;
    }
}
