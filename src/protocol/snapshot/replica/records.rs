//! How a [`super::ReplicaState`] stores its entities: packed `u32` words, one variable-length
//! record per entity, with a directory of the cells that hold any. Storage only: it never reads
//! a frame nor decides what a frame changes.

use std::ops::Range;

use crate::protocol::snapshot::entity::Entity;

/// Entities packed as `u32` words, one record each: the cell and kind (`cell << 8 | kind`),
/// the id, then the fields the kind uses (the others are always zero: the decoder never sets
/// them). Records are variable in length; a directory of the cells that hold any says where
/// each cell's records start, so a frame finds its changed cells (and copies the unchanged
/// ones whole) without walking every record held.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Records {
    pub(super) words: Vec<u32>,
    /// The cells that hold records, in order, each with the index of its first word; a cell's
    /// records run up to the next cell's first word (or the end).
    pub(super) cells: Vec<CellStart>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CellStart {
    pub(super) cell: u32,
    pub(super) word: u32,
}

/// The fields each kind uses, by kind bits: a player's 5, an orb's 2, a bolt's 6.
const FIELDS_USED: [usize; 3] = [5, 2, 6];

/// One record, borrowed from [`Records`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    pub(super) words: &'a [u32],
}

impl Record<'_> {
    fn cell(self) -> u32 {
        self.words[0] >> 8
    }

    pub(super) fn kind_bits(self) -> u8 {
        self.words[0] as u8
    }

    /// The entity's [`Entity::key`], read without unpacking it.
    pub(super) fn key(self) -> u64 {
        u64::from(self.kind_bits()) << 32 | u64::from(self.words[1])
    }

    pub(super) fn unpack(self) -> (u32, Entity) {
        let mut fields = [0; 6];
        for (field, &word) in fields.iter_mut().zip(&self.words[2..]) {
            *field = word as i32;
        }
        let entity = Entity {
            kind_bits: self.kind_bits(),
            id: self.words[1],
            fields,
        };
        (self.cell(), entity)
    }
}

/// The length in words of the record whose first word is `head`.
fn record_len(head: u32) -> usize {
    2 + FIELDS_USED[(head & 0xff) as usize]
}

impl Records {
    pub(super) fn clear(&mut self) {
        self.words.clear();
        self.cells.clear();
    }

    /// Appends one record to the cell being written (see [`Records::end_cell`]).
    pub(super) fn push(&mut self, cell: u32, entity: &Entity) {
        let used = FIELDS_USED[usize::from(entity.kind_bits)];
        debug_assert!(entity.fields[used..].iter().all(|&field| field == 0));
        self.words.push(cell << 8 | u32::from(entity.kind_bits));
        self.words.push(entity.id);
        self.words
            .extend(entity.fields[..used].iter().map(|&field| field as u32));
    }

    /// Appends records of one cell (a word range of `other`'s) to the cell being written. Most
    /// ranges of a merge are empty: those skip the call to `memmove`.
    pub(super) fn extend_from(&mut self, other: &Records, words: Range<usize>) {
        if !words.is_empty() {
            self.words.extend_from_slice(&other.words[words]);
        }
    }

    /// Where the cell about to be written starts: pass it to [`Records::end_cell`].
    pub(super) fn begin_cell(&self) -> usize {
        self.words.len()
    }

    /// Ends the cell written since `start`, listing it in the directory if it holds anything.
    pub(super) fn end_cell(&mut self, cell: u32, start: usize) {
        if self.words.len() > start {
            self.cells.push(CellStart {
                cell,
                word: start as u32,
            });
        }
    }

    /// The words of the `index`th cell of the directory.
    pub(super) fn cell_words(&self, index: usize) -> Range<usize> {
        let end = self
            .cells
            .get(index + 1)
            .map_or(self.words.len(), |next| next.word as usize);
        self.cells[index].word as usize..end
    }

    /// Copies whole cells (a range of `other`'s directory), records and directory entries.
    pub(super) fn extend_cells(&mut self, other: &Records, cells: Range<usize>) {
        if cells.is_empty() {
            return;
        }
        let from = other.cell_words(cells.start).start;
        let to = other.cell_words(cells.end - 1).end;
        let shift = (self.words.len() as u32).wrapping_sub(from as u32);
        self.words.extend_from_slice(&other.words[from..to]);
        self.cells
            .extend(other.cells[cells].iter().map(|start| CellStart {
                cell: start.cell,
                word: start.word.wrapping_add(shift),
            }));
    }

    pub(super) fn record_at(&self, at: usize) -> Record<'_> {
        Record {
            words: &self.words[at..at + record_len(self.words[at])],
        }
    }

    /// The word index of the first record from `at` on (up to `end`) that fails `pred`.
    pub(super) fn skip_while(
        &self,
        mut at: usize,
        end: usize,
        pred: impl Fn(Record<'_>) -> bool,
    ) -> usize {
        while at < end {
            let record = self.record_at(at);
            if !pred(record) {
                break;
            }
            at += record.words.len();
        }
        at
    }

    /// The records of a word range, in order.
    pub(super) fn records_in(&self, words: Range<usize>) -> impl Iterator<Item = Record<'_>> {
        let mut at = words.start;
        std::iter::from_fn(move || {
            (at < words.end).then(|| {
                let record = self.record_at(at);
                at += record.words.len();
                record
            })
        })
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        self.records_in(0..self.words.len())
    }

    /// Whether the directory lists exactly the cells of the records, each where it starts.
    #[cfg(debug_assertions)]
    pub(super) fn directory_is_consistent(&self) -> bool {
        let mut expected = Vec::new();
        let mut at = 0;
        for record in self.iter() {
            if expected
                .last()
                .is_none_or(|last: &CellStart| last.cell != record.cell())
            {
                expected.push(CellStart {
                    cell: record.cell(),
                    word: at as u32,
                });
            }
            at += record.words.len();
        }
        expected == self.cells
    }
}
