//! A client's copy of the world, rebuilt from delta snapshots: a ring of the states it has
//! reconstructed (the baselines the server may encode against), the rule that applies one
//! frame to its baseline, and the checksum test that makes a mismatch impossible to miss.
//! Used by the bots, the test client and the codec's property tests; the browser has the
//! same algorithm in `web-client/replica.js`.
//!
//! A state keeps its entities packed as words with a directory of its cells (see [`Records`]):
//! a bot of the swarm applies every frame to a baseline a thousand other replicas have pushed
//! out of the near caches, so what a frame costs is mostly the bytes read and written and the
//! cache lines first touched. An orb takes 16 bytes that way, not the 36 of a `(cell, Entity)`.

use super::delta::{
    BASELINE_RING, CELL_GRID, CellRect, DeltaError, Entity, FrameHeader, Kind, Op, OwnState,
    Reader, apply_update, bolt_field, frame_flags, player_field, position_units, read_entry,
    read_header, read_own,
};
use super::messages::{BoltState, OrbState, PlayerId, PlayerState, Snapshot, Tagged, Tick};
use std::ops::Range;

/// Most tags one frame may list (a bound for hostile input; the server sends far fewer).
const MAX_TAGS: u32 = 4096;

/// Everything a client holds at one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaState {
    pub tick: Tick,
    /// The cells the client holds (everything outside is unknown to it).
    pub view: CellRect,
    /// The entities held, sorted by cell then [`Entity::key`]; see [`ReplicaState::entities`].
    records: Records,
    pub own: Option<OwnState>,
    /// The top players, best first.
    pub scoreboard: Vec<(PlayerId, u32)>,
    pub player_count: u32,
    pub server_tick_us: u32,
    /// The arena's width and height, in units.
    pub arena: (u32, u32),
    /// False for a spare buffer (see [`Replica`]).
    held: bool,
    /// The checksum of `entities`, kept up to date as frames are applied (so that applying a
    /// frame costs what changed, not what is held).
    sum: u32,
}

impl ReplicaState {
    /// The checksum of everything held, computed afresh (see [`FrameHeader::checksum`]).
    pub fn checksum(&self) -> u32 {
        self.entities()
            .fold(0u32, |sum, (_, entity)| sum.wrapping_add(entity.hash()))
    }

    /// `(cell, entity)`, sorted by cell then [`Entity::key`].
    pub fn entities(&self) -> impl Iterator<Item = (u32, Entity)> {
        self.records.iter().map(|record| record.unpack())
    }

    pub fn entity_count(&self) -> usize {
        self.records.iter().count()
    }

    pub fn entities_of(&self, kind: Kind) -> impl Iterator<Item = Entity> {
        self.records
            .iter()
            .filter(move |record| record.kind_bits() == kind as u8)
            .map(|record| record.unpack().1)
    }
}

/// Entities packed as `u32` words, one record each: the cell and kind (`cell << 8 | kind`),
/// the id, then the fields the kind uses (the others are always zero: the decoder never sets
/// them). Records are variable in length; a directory of the cells that hold any says where
/// each cell's records start, so a frame finds its changed cells (and copies the unchanged
/// ones whole) without walking every record held.
#[derive(Debug, Clone, Default, PartialEq)]
struct Records {
    words: Vec<u32>,
    /// The cells that hold records, in order, each with the index of its first word; a cell's
    /// records run up to the next cell's first word (or the end).
    cells: Vec<CellStart>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CellStart {
    cell: u32,
    word: u32,
}

/// The fields each kind uses, by kind bits: a player's 5, an orb's 2, a bolt's 6.
const FIELDS_USED: [usize; 3] = [5, 2, 6];

/// One record, borrowed from [`Records`].
#[derive(Debug, Clone, Copy)]
struct Record<'a> {
    words: &'a [u32],
}

impl Record<'_> {
    fn cell(self) -> u32 {
        self.words[0] >> 8
    }

    fn kind_bits(self) -> u8 {
        self.words[0] as u8
    }

    /// The entity's [`Entity::key`], read without unpacking it.
    fn key(self) -> u64 {
        u64::from(self.kind_bits()) << 32 | u64::from(self.words[1])
    }

    fn unpack(self) -> (u32, Entity) {
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
    fn clear(&mut self) {
        self.words.clear();
        self.cells.clear();
    }

    /// Appends one record to the cell being written (see [`Records::end_cell`]).
    fn push(&mut self, cell: u32, entity: &Entity) {
        let used = FIELDS_USED[usize::from(entity.kind_bits)];
        debug_assert!(entity.fields[used..].iter().all(|&field| field == 0));
        self.words.push(cell << 8 | u32::from(entity.kind_bits));
        self.words.push(entity.id);
        self.words
            .extend(entity.fields[..used].iter().map(|&field| field as u32));
    }

    /// Appends records of one cell (a word range of `other`'s) to the cell being written. Most
    /// ranges of a merge are empty: those skip the call to `memmove`.
    fn extend_from(&mut self, other: &Records, words: Range<usize>) {
        if !words.is_empty() {
            self.words.extend_from_slice(&other.words[words]);
        }
    }

    /// Where the cell about to be written starts: pass it to [`Records::end_cell`].
    fn begin_cell(&self) -> usize {
        self.words.len()
    }

    /// Ends the cell written since `start`, listing it in the directory if it holds anything.
    fn end_cell(&mut self, cell: u32, start: usize) {
        if self.words.len() > start {
            self.cells.push(CellStart {
                cell,
                word: start as u32,
            });
        }
    }

    /// The words of the `index`th cell of the directory.
    fn cell_words(&self, index: usize) -> Range<usize> {
        let end = self
            .cells
            .get(index + 1)
            .map_or(self.words.len(), |next| next.word as usize);
        self.cells[index].word as usize..end
    }

    /// Copies whole cells (a range of `other`'s directory), records and directory entries.
    fn extend_cells(&mut self, other: &Records, cells: Range<usize>) {
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

    fn record_at(&self, at: usize) -> Record<'_> {
        Record {
            words: &self.words[at..at + record_len(self.words[at])],
        }
    }

    /// The word index of the first record from `at` on (up to `end`) that fails `pred`.
    fn skip_while(&self, mut at: usize, end: usize, pred: impl Fn(Record<'_>) -> bool) -> usize {
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
    fn records_in(&self, words: Range<usize>) -> impl Iterator<Item = Record<'_>> {
        let mut at = words.start;
        std::iter::from_fn(move || {
            (at < words.end).then(|| {
                let record = self.record_at(at);
                at += record.words.len();
                record
            })
        })
    }

    fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        self.records_in(0..self.words.len())
    }

    /// Whether the directory lists exactly the cells of the records, each where it starts.
    #[cfg(debug_assertions)]
    fn directory_is_consistent(&self) -> bool {
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

/// The client side of delta snapshots.
///
/// The states are looked up by `tick % BASELINE_RING` but stored apart, in a pool of buffers
/// that are reused. [`Replica::new`] keeps the last 64 states received, whatever order frames
/// come in. [`Replica::for_monotonic_baselines`] relies on the WebSocket server's promise that
/// a delta's baseline is never older than the one before it on the same connection
/// (docs/PROTOCOL.md, "Baselines never go backwards") and frees every state older than the
/// newest baseline at once: it usually holds two or three states and builds the next one in a
/// buffer written a few frames ago, still in the caches. That is what lets one core keep
/// thousands of bots' replicas (the swarm), where a frame's cost is mostly memory traffic.
#[derive(Debug)]
pub struct Replica {
    /// The states held, and spare buffers to build the next ones in (`held` false).
    states: Vec<ReplicaState>,
    /// The indices of the spare buffers in `states`, the most recently freed last (kept inline:
    /// it is read by every frame, and a separate allocation would be one more cache miss).
    free: FreeList,
    /// By `tick % BASELINE_RING`: the index in `states` of that tick's state, or [`NO_STATE`].
    slots: [u8; BASELINE_RING as usize],
    latest: Option<Tick>,
    /// Tags listed by the newest frame applied.
    tags: Vec<Tagged>,
    /// The header of the newest frame applied.
    last_header: Option<FrameHeader>,
    /// Whether states older than the newest baseline are freed.
    monotonic_baselines: bool,
}

/// The states whose entities [`Replica::prefetch`] fetches: those a replica following monotonic
/// baselines holds (the baseline, what came after it) and a spare.
const PREFETCHED_STATES: usize = 4;

/// A stack of indices into a [`Replica`]'s states: there are at most `BASELINE_RING + 1`.
#[derive(Debug, Clone)]
struct FreeList {
    len: u8,
    indices: [u8; BASELINE_RING as usize + 1],
}

impl Default for FreeList {
    fn default() -> FreeList {
        FreeList {
            len: 0,
            indices: [0; BASELINE_RING as usize + 1],
        }
    }
}

impl FreeList {
    fn push(&mut self, index: u8) {
        self.indices[usize::from(self.len)] = index;
        self.len += 1;
    }

    fn last(&self) -> Option<usize> {
        let len = usize::from(self.len);
        (len > 0).then(|| usize::from(self.indices[len - 1]))
    }

    fn pop(&mut self) -> Option<u8> {
        self.len = self.len.checked_sub(1)?;
        Some(self.indices[usize::from(self.len)])
    }
}

/// A ring slot that holds no state.
const NO_STATE: u8 = u8::MAX;

impl Default for Replica {
    fn default() -> Replica {
        Replica::new()
    }
}

impl Replica {
    pub fn new() -> Replica {
        Replica {
            states: Vec::new(),
            free: FreeList::default(),
            slots: [NO_STATE; BASELINE_RING as usize],
            latest: None,
            tags: Vec::new(),
            last_header: None,
            monotonic_baselines: false,
        }
    }

    /// A replica for a server whose deltas' baselines never go backwards (the bundled server's
    /// WebSocket connections): it frees the states older than the newest baseline received. A
    /// delta against an older one is refused as an unknown baseline (then send `Resync`).
    pub fn for_monotonic_baselines() -> Replica {
        Replica {
            monotonic_baselines: true,
            ..Replica::new()
        }
    }

    fn slot(tick: Tick) -> usize {
        (tick.0 % BASELINE_RING) as usize
    }

    /// Forgets every state: the next frame must be a full one.
    pub fn clear(&mut self) {
        for state in &mut self.states {
            state.held = false;
        }
        self.free = FreeList::default();
        for index in 0..self.states.len() {
            self.free.push(index as u8);
        }
        self.slots = [NO_STATE; BASELINE_RING as usize];
        self.latest = None;
    }

    /// The tick of the newest state held.
    pub fn latest_tick(&self) -> Option<Tick> {
        self.latest
    }

    pub fn latest(&self) -> Option<&ReplicaState> {
        self.latest.and_then(|tick| self.state_at(tick))
    }

    /// The header of the newest frame applied (its tick, baseline, view...).
    pub fn last_header(&self) -> Option<FrameHeader> {
        self.last_header
    }

    /// Tags listed by the newest frame applied.
    pub fn tags(&self) -> &[Tagged] {
        &self.tags
    }

    pub fn state_at(&self, tick: Tick) -> Option<&ReplicaState> {
        self.index_of(tick).map(|index| &self.states[index])
    }

    /// Starts fetching what applying the next frame reads, for a caller about to apply frames
    /// to many replicas in turn (the swarm's event loop): at `level` 0 the states themselves,
    /// at 1 (once those have arrived) the first lines of their entities and cell directories.
    pub fn prefetch(&self, level: usize) {
        if level == 0 {
            return crate::prefetch::slice(&self.states, 8);
        }
        // The baseline is most often the newest state, and the next is built in the spare freed
        // last: all of those, the others' first lines.
        let latest = self.latest.and_then(|tick| self.index_of(tick));
        let spare = self.free.last();
        for (index, state) in self.states.iter().enumerate().take(PREFETCHED_STATES) {
            let whole = Some(index) == latest || Some(index) == spare;
            let lines = if whole { 48 } else { 2 };
            crate::prefetch::slice(&state.records.words, lines);
            crate::prefetch::slice(&state.records.cells, lines / 2);
        }
    }

    /// How many states are held (at most [`BASELINE_RING`]).
    pub fn held_count(&self) -> usize {
        self.states.iter().filter(|state| state.held).count()
    }

    fn index_of(&self, tick: Tick) -> Option<usize> {
        let index = usize::from(self.slots[Replica::slot(tick)]);
        let state = self.states.get(index)?;
        (state.held && state.tick == tick).then_some(index)
    }

    /// A buffer to build the next state in: the one freed last (still in the caches), else a
    /// new one. There are at most `BASELINE_RING + 1`: a held state per ring slot and the next.
    fn spare(&mut self) -> usize {
        self.free.pop().map_or_else(
            || {
                self.states.push(ReplicaState::default());
                self.states.len() - 1
            },
            usize::from,
        )
    }

    /// Frees the state at `index`.
    fn release(&mut self, index: usize) {
        let state = &mut self.states[index];
        state.held = false;
        self.free.push(index as u8);
        let slot = &mut self.slots[Replica::slot(state.tick)];
        if usize::from(*slot) == index {
            *slot = NO_STATE;
        }
    }

    /// Frees the states older than `baseline`: the server will not encode against them.
    fn release_before(&mut self, baseline: Tick) {
        for index in 0..self.states.len() {
            let state = &self.states[index];
            if state.held && state.tick.since(baseline) < 0 {
                self.release(index);
            }
        }
    }

    /// Applies one snapshot frame (the message's bytes after its variant byte) and returns the
    /// state it describes. On any error nothing held changes; after an unknown baseline or a
    /// checksum mismatch, ask the server for a full snapshot (`ClientMessage::Resync`).
    pub fn apply(&mut self, frame: &[u8]) -> Result<&ReplicaState, DeltaError> {
        let mut reader = Reader::new(frame);
        let header = read_header(&mut reader)?;
        let tick = header.tick;
        if header.baseline_age >= BASELINE_RING {
            return Err(DeltaError::Malformed("baseline older than the ring"));
        }
        if !CELL_GRID.holds(&header.view) {
            return Err(DeltaError::Malformed("view outside the arena"));
        }
        let baseline_tick = Tick(tick.0.wrapping_sub(header.baseline_age));
        let baseline = if header.baseline_age == 0 {
            None
        } else {
            match self.index_of(baseline_tick) {
                Some(index) => Some(index),
                None => {
                    return Err(DeltaError::UnknownBaseline {
                        tick: tick.0,
                        baseline: baseline_tick.0,
                    });
                }
            }
        };
        // The state held in this tick's ring slot, which this one replaces.
        let occupant = Some(usize::from(self.slots[Replica::slot(tick)]))
            .filter(|&index| self.states.get(index).is_some_and(|state| state.held));
        if let Some(newer) = occupant.map(|index| self.states[index].tick)
            && tick.since(newer) < 0
        {
            return Err(DeltaError::Stale {
                tick: tick.0,
                newer: newer.0,
            });
        }
        // Build into a spare buffer, taken out so the baseline can be read meanwhile.
        let target = self.spare();
        let mut next = std::mem::take(&mut self.states[target]);
        let empty = ReplicaState::default();
        let base = baseline.map_or(&empty, |index| &self.states[index]);
        let mut built = build_state(&mut reader, &header, base, &mut next, &mut self.tags);
        if built.is_ok() && next.sum != header.checksum {
            built = Err(DeltaError::ChecksumMismatch {
                tick: tick.0,
                expected: header.checksum,
                actual: next.sum,
            });
        }
        self.states[target] = next;
        if let Err(error) = built {
            self.free.push(target as u8);
            return Err(error);
        }
        // The state this one replaces in the ring, and those older than its baseline, go.
        if let Some(occupant) = occupant {
            self.release(occupant);
        }
        if self.monotonic_baselines && baseline.is_some() {
            self.release_before(baseline_tick);
        }
        self.states[target].held = true;
        self.slots[Replica::slot(tick)] = target as u8;
        self.last_header = Some(header);
        if self.latest.is_none_or(|latest| tick.since(latest) > 0) {
            self.latest = Some(tick);
        }
        Ok(&self.states[target])
    }

    /// The newest state as a [`Snapshot`] (positions in arena units, bolts extrapolated to the
    /// state's tick), with `me`'s player in full precision.
    pub fn snapshot(&self, me: PlayerId, tick_hz: u16) -> Option<Snapshot> {
        let state = self.latest()?;
        let mut snapshot = Snapshot {
            tick: state.tick,
            arena_width: state.arena.0 as f32,
            arena_height: state.arena.1 as f32,
            tags: self.tags.clone(),
            ..Snapshot::default()
        };
        for entity in state.entities_of(Kind::Player) {
            let f = &entity.fields;
            let mut player = PlayerState {
                id: PlayerId(entity.id),
                x: position_units(f[player_field::X]),
                y: position_units(f[player_field::Y]),
                vx: 0.0,
                vy: 0.0,
                aim: super::delta::angle_radians(f[player_field::AIM]),
                score: f[player_field::SCORE] as u32,
                last_input_seq: 0,
                flags: f[player_field::FLAGS] as u8,
            };
            if let (true, Some(own)) = (player.id == me, state.own) {
                player = own_player(me, &own);
            }
            snapshot.players.push(player);
        }
        snapshot
            .orbs
            .extend(state.entities_of(Kind::Orb).map(|orb| OrbState {
                id: orb.id,
                x: position_units(orb.fields[0]),
                y: position_units(orb.fields[1]),
            }));
        snapshot.bolts.extend(
            state
                .entities_of(Kind::Bolt)
                .map(|bolt| bolt_at(&bolt, state.tick, tick_hz)),
        );
        Some(snapshot)
    }
}

fn own_player(me: PlayerId, own: &OwnState) -> PlayerState {
    PlayerState {
        id: me,
        x: own.x,
        y: own.y,
        vx: own.vx,
        vy: own.vy,
        aim: own.aim,
        score: own.score,
        last_input_seq: own.last_input_seq,
        flags: own.flags,
    }
}

/// Where a bolt is at `tick`, extrapolated from where it was sent.
pub fn bolt_at(bolt: &Entity, tick: Tick, tick_hz: u16) -> BoltState {
    let f = &bolt.fields;
    let age = tick.since(Tick(f[bolt_field::T0] as u32)) as f32 / f32::from(tick_hz.max(1));
    BoltState {
        id: bolt.id,
        owner: PlayerId(f[bolt_field::OWNER] as u32),
        x: position_units(f[bolt_field::X0]) + position_units(f[bolt_field::VX]) * age,
        y: position_units(f[bolt_field::Y0]) + position_units(f[bolt_field::VY]) * age,
        vx: position_units(f[bolt_field::VX]),
        vy: position_units(f[bolt_field::VY]),
    }
}

/// Reads the rest of a frame and writes the state it describes into `next`.
fn build_state(
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
    next.scoreboard.clear();
    if header.flags & frame_flags::SCOREBOARD != 0 {
        let count = reader.varint_u32("scoreboard")?;
        for _ in 0..count.min(super::delta::SCOREBOARD_SIZE as u32 + 1) {
            let id = PlayerId(reader.varint_u32("scoreboard id")?);
            next.scoreboard
                .push((id, reader.varint_u32("scoreboard score")?));
        }
        if count as usize > super::delta::SCOREBOARD_SIZE {
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
