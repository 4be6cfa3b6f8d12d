//! Per-client delta snapshots with an area of interest, composed from work shared by all
//! clients. Each tick the [`Replicator`] records the world once, quantized and sorted into
//! interest cells, in a ring of recent ticks (the baselines), and ranks the players
//! (`standings.rs`). A client's frame is a small per-client part (its own player in full
//! precision, its rank, scoreboard, tags) followed by the cells around its player; each cell's
//! changes between a baseline tick and now are encoded once per tick and copied into every
//! frame that needs them, so a thousand clients that hold the previous tick cost a thousand
//! header encodings and memory copies, not a thousand diffs.
//!
//! Pure: no clock, no sockets. The tick loop feeds it the world and asks for each client's
//! frame with that client's baseline (the newest snapshot its connection has fully sent).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use bytes::BufMut;

use crate::game::world::{PlayerIdHasher, PlayerMap};
use crate::protocol::snapshot::{
    BASELINE_RING, CELL_GRID, CellRect, Entity, FrameHeader, OwnState, frame_flags, put_varint,
    write_header, write_own, write_rank,
};
use crate::protocol::{PlayerId, PlayerState, Snapshot, Tagged, Tick};

mod cell_changes;
mod standings;
mod views;
mod world_frame;

use cell_changes::encode_cell_changes;
pub use standings::Place;
use standings::Standings;
use views::ClientViews;
use world_frame::{WorldFrame, sort_into_cells};

/// Room reserved per entity for a tick's encoded cell changes (an upserted bolt, the widest
/// entry, is about 16 bytes; each entity may appear from nothing and from older baselines too).
const BLOB_BYTES_PER_ENTITY: usize = 64;
const SCRATCH_BYTES: usize = 64 * 1024;

/// Tags kept for clients with older baselines, per player in the game (a busy 1000-player
/// game tags about 45 times a tick, so this holds about 2 s of them).
const MAX_TAGS_KEPT_PER_PLAYER: usize = 4;

/// A tag kept for the clients whose baselines predate it.
#[derive(Debug, Clone, Copy)]
struct RecentTag {
    tag: Tagged,
    /// Where the two players were (column, row) when it happened; `None` if unknown.
    shooter_at: Option<(u32, u32)>,
    victim_at: Option<(u32, u32)>,
}

/// Where one cell's encoded changes live in this tick's blob buffer.
#[derive(Debug, Clone, Copy)]
struct BlobRange {
    start: u32,
    len: u32,
}

/// The shared half of snapshot encoding; see the module documentation.
#[derive(Debug)]
pub struct Replicator {
    frames: Vec<WorldFrame>,
    latest: Option<Tick>,
    clients: PlayerMap<ClientViews>,
    /// Each live bolt as first sent (bolts are immutable once fired), and the tick last seen.
    bolts: HashMap<u32, (Entity, Tick)>,
    /// Index in `own` of each player in the latest frame.
    player_index: PlayerMap<usize>,
    own: Vec<(PlayerId, OwnState)>,
    /// Everyone's rank and the scoreboard, and since when each has stood.
    standings: Standings,
    tags: VecDeque<RecentTag>,
    player_count: u32,
    server_tick_us: u32,
    /// This tick's encoded cell changes, by (cell, baseline tick or none).
    /// This tick's encoded cell changes: from nothing (a cell entering a view, a full
    /// snapshot) and from the previous tick (every client keeping up), by cell; from older
    /// baselines, by (cell, baseline).
    full_blobs: Vec<Option<BlobRange>>,
    previous_tick_blobs: Vec<Option<BlobRange>>,
    /// The cells with an entry in `full_blobs` or `previous_tick_blobs`, to clear next tick.
    cells_encoded: Vec<u32>,
    older_blobs: HashMap<(u32, Tick), BlobRange, BuildHasherDefault<PlayerIdHasher>>,
    blobs: Vec<u8>,
    scratch: Vec<u8>,
    /// A client's tags, written before its header says whether there are any.
    tag_scratch: Vec<u8>,
    chosen_cells: Vec<(u32, BlobRange)>,
    /// This tick's entities before [`sort_into_cells`], and its per-cell write positions.
    unsorted: Vec<(u32, Entity)>,
    cell_cursor: Vec<u32>,
}

impl Default for Replicator {
    fn default() -> Replicator {
        Replicator::new()
    }
}

impl Replicator {
    pub fn new() -> Replicator {
        Replicator {
            frames: (0..BASELINE_RING).map(|_| WorldFrame::default()).collect(),
            latest: None,
            clients: PlayerMap::default(),
            bolts: HashMap::new(),
            player_index: PlayerMap::default(),
            own: Vec::new(),
            standings: Standings::default(),
            tags: VecDeque::new(),
            player_count: 0,
            server_tick_us: 0,
            full_blobs: vec![None; CELL_GRID.cell_count()],
            previous_tick_blobs: vec![None; CELL_GRID.cell_count()],
            cells_encoded: Vec::new(),
            older_blobs: HashMap::default(),
            blobs: Vec::new(),
            scratch: Vec::new(),
            tag_scratch: Vec::new(),
            chosen_cells: Vec::new(),
            unsorted: Vec::new(),
            cell_cursor: Vec::with_capacity(CELL_GRID.cell_count()),
        }
    }

    /// Sizes the per-player tables for `players`, so that steady ticks do not allocate.
    pub fn reserve(&mut self, players: usize, orbs: usize) {
        self.player_index
            .reserve(players.saturating_sub(self.player_index.len()));
        self.clients
            .reserve(players.saturating_sub(self.clients.len()));
        let bolts = bolts_for(players);
        self.bolts.reserve(bolts.saturating_sub(self.bolts.len()));
        reserve_total(&mut self.own, players);
        self.standings.reserve(players);
        reserve_total(&mut self.tags, players * MAX_TAGS_KEPT_PER_PLAYER);
        // A tick's cell changes: every entity from the previous tick and from nothing, with
        // room for older baselines; one cell's changes at a time in `scratch`.
        reserve_total(
            &mut self.blobs,
            (players + orbs + bolts) * BLOB_BYTES_PER_ENTITY,
        );
        reserve_total(&mut self.scratch, SCRATCH_BYTES);
        reserve_total(&mut self.unsorted, players + orbs + bolts);
        for frame in &mut self.frames {
            reserve_total(&mut frame.entities, players + orbs + bolts);
            // Address space only: the pages of cells beyond the arena are never touched.
            reserve_total(&mut frame.cell_start, CELL_GRID.cell_count() + 1);
            reserve_total(&mut frame.cell_hash, CELL_GRID.cell_count());
        }
    }

    /// Gives back what the per-player tables hold beyond `players`' needs (a crowd left): the
    /// room then costs what its players need, and the freed pages can go back to the system.
    /// Never below what the tables hold now; the next [`Replicator::reserve`] grows them again.
    pub fn shrink(&mut self, players: usize, orbs: usize) {
        self.player_index.shrink_to(players);
        self.clients.shrink_to(players);
        let bolts = bolts_for(players);
        self.bolts.shrink_to(bolts);
        self.own.shrink_to(players);
        self.standings.shrink(players);
        self.tags.shrink_to(players * MAX_TAGS_KEPT_PER_PLAYER);
        self.blobs
            .shrink_to((players + orbs + bolts) * BLOB_BYTES_PER_ENTITY);
        self.unsorted.shrink_to(players + orbs + bolts);
        self.older_blobs.shrink_to(0);
        for frame in &mut self.frames {
            frame.entities.shrink_to(players + orbs + bolts);
        }
    }

    /// A player left for good: its history goes.
    pub fn forget(&mut self, id: PlayerId) {
        self.clients.remove(&id);
    }

    /// Records the world at `snapshot.tick` (its `tags` are this tick's). Call once per
    /// published tick, before [`Replicator::encode_for`].
    pub fn record(&mut self, snapshot: &Snapshot, server_tick_us: u32) {
        let tick = snapshot.tick;
        self.player_count = snapshot.players.len() as u32;
        self.server_tick_us = server_tick_us;
        self.record_players(snapshot);
        self.record_tags(snapshot);
        self.standings.update(&snapshot.players, tick);
        let slot = (tick.0 % BASELINE_RING) as usize;
        let mut frame = std::mem::take(&mut self.frames[slot]);
        frame.tick = tick;
        frame.held = true;
        self.fill_frame(&mut frame, snapshot);
        self.frames[slot] = frame;
        self.latest = Some(tick);
        for cell in self.cells_encoded.drain(..) {
            self.full_blobs[cell as usize] = None;
            self.previous_tick_blobs[cell as usize] = None;
        }
        self.older_blobs.clear();
        self.blobs.clear();
    }

    fn record_players(&mut self, snapshot: &Snapshot) {
        self.player_index.clear();
        self.own.clear();
        for (index, p) in snapshot.players.iter().enumerate() {
            self.player_index.insert(p.id, index);
            self.own.push((p.id, own_state(p)));
        }
    }

    fn record_tags(&mut self, snapshot: &Snapshot) {
        let tick = snapshot.tick;
        while self
            .tags
            .front()
            .is_some_and(|t| tick.since(t.tag.tick) >= BASELINE_RING as i32)
        {
            self.tags.pop_front();
        }
        for &tag in &snapshot.tags {
            let at = |id: PlayerId| {
                self.player_index.get(&id).map(|&i| {
                    let cell = CELL_GRID.cell_of(self.own[i].1.x, self.own[i].1.y);
                    (cell % CELL_GRID.cols, cell / CELL_GRID.cols)
                })
            };
            let recent = RecentTag {
                tag,
                shooter_at: at(tag.shooter),
                victim_at: at(tag.victim),
            };
            if self.tags.len() == self.tags.capacity() {
                // Bounded: a client whose baseline is that old misses the oldest tags (the
                // scores they changed are in its state anyway).
                self.tags.pop_front();
            }
            self.tags.push_back(recent);
        }
    }

    fn fill_frame(&mut self, frame: &mut WorldFrame, snapshot: &Snapshot) {
        let grid = CELL_GRID;
        let tick = snapshot.tick;
        frame.arena = (
            snapshot.arena_width.round() as u32,
            snapshot.arena_height.round() as u32,
        );
        let unsorted = &mut self.unsorted;
        unsorted.clear();
        unsorted
            .extend((snapshot.players.iter()).map(|p| (grid.cell_of(p.x, p.y), Entity::player(p))));
        unsorted.extend((snapshot.orbs.iter()).map(|o| (grid.cell_of(o.x, o.y), Entity::orb(o))));
        for b in &snapshot.bolts {
            let (entity, seen) =
                (self.bolts.entry(b.id)).or_insert_with(|| (Entity::bolt_seen_at(b, tick), tick));
            *seen = tick;
            unsorted.push((grid.cell_of(b.x, b.y), *entity));
        }
        self.bolts.retain(|_, (_, seen)| *seen == tick);
        sort_into_cells(&self.unsorted, frame, &mut self.cell_cursor);
    }

    /// Appends the snapshot frame of the latest recorded tick for player `id` to `out` (the
    /// variant byte included), encoded against `baseline` when that is usable. Returns false,
    /// writing nothing, if the player is not in the world.
    pub fn encode_for(
        &mut self,
        id: PlayerId,
        baseline: Option<Tick>,
        out: &mut impl BufMut,
    ) -> bool {
        let Some(tick) = self.latest else {
            return false;
        };
        let (Some(&index), Some(place)) = (self.player_index.get(&id), self.standings.place_of(id))
        else {
            return false;
        };
        let own = self.own[index].1;
        let view = CELL_GRID.interest_around(own.x, own.y);
        let views = self.clients.entry(id).or_insert_with(ClientViews::new);
        let base = baseline.and_then(|b| {
            let age = tick.since(b);
            let frame = &self.frames[(b.0 % BASELINE_RING) as usize];
            let usable = (1..BASELINE_RING as i32).contains(&age) && frame.held && frame.tick == b;
            usable.then(|| views.at(b)).flatten().map(|rect| (b, rect))
        });
        views.record(tick, view);
        self.choose_cells(tick, view, base);
        let mut flags = frame_flags::OWN;
        let send_rank = base.is_none_or(|(b, _)| place.since.since(b) > 0);
        if send_rank {
            flags |= frame_flags::RANK;
        }
        let send_scoreboard = base.is_none_or(|(b, _)| self.standings.top_changed_after(b));
        if send_scoreboard {
            flags |= frame_flags::SCOREBOARD;
        }
        let mut tags = std::mem::take(&mut self.tag_scratch);
        tags.clear();
        if self.write_tags(&mut tags, id, tick, view, base.map(|(b, _)| b)) > 0 {
            flags |= frame_flags::TAGS;
        }
        let header = FrameHeader {
            tick,
            baseline_age: base.map_or(0, |(b, _)| tick.since(b) as u32),
            flags,
            view,
            checksum: self.checksum(tick, view),
            player_count: self.player_count,
            server_tick_us: self.server_tick_us,
            arena: self.arena_news(tick, base.map(|(b, _)| b)),
        };
        out.put_u8(crate::protocol::codec::SNAPSHOT_VARIANT);
        write_header(out, &header);
        write_own(out, &own);
        if send_rank {
            write_rank(out, place.rank);
        }
        if send_scoreboard {
            let top = self.standings.top();
            put_varint(out, top.len() as u64);
            for &(id, score) in top {
                put_varint(out, u64::from(id.0));
                put_varint(out, u64::from(score));
            }
        }
        out.put_slice(&tags);
        self.tag_scratch = tags;
        put_varint(out, self.chosen_cells.len() as u64);
        let mut previous: Option<u32> = None;
        for &(cell, range) in &self.chosen_cells {
            put_varint(out, u64::from(previous.map_or(cell, |p| cell - p - 1)));
            previous = Some(cell);
            let bytes = &self.blobs[range.start as usize..(range.start + range.len) as usize];
            out.put_slice(bytes);
        }
        true
    }

    /// Player `id`'s place in the standings of the latest recorded tick.
    pub fn place_of(&self, id: PlayerId) -> Option<Place> {
        self.standings.place_of(id)
    }

    /// The arena's size at `tick`, if a client holding `baseline` does not know it.
    fn arena_news(&self, tick: Tick, baseline: Option<Tick>) -> Option<(u32, u32)> {
        let arena_at = |t: Tick| self.frames[(t.0 % BASELINE_RING) as usize].arena;
        let now = arena_at(tick);
        baseline.is_none_or(|b| arena_at(b) != now).then_some(now)
    }

    /// The changed cells of `view` (in index order) and their encoded changes.
    fn choose_cells(&mut self, tick: Tick, view: CellRect, base: Option<(Tick, CellRect)>) {
        let mut chosen = std::mem::take(&mut self.chosen_cells);
        chosen.clear();
        for row in view.row0..=view.row1 {
            for col in view.col0..=view.col1 {
                let cell = row * CELL_GRID.cols + col;
                let baseline = base
                    .filter(|(_, rect)| rect.contains(col, row))
                    .map(|(b, _)| b);
                let range = self.blob(tick, cell, baseline);
                if range.len > 0 {
                    chosen.push((cell, range));
                }
            }
        }
        self.chosen_cells = chosen;
    }

    /// The encoded changes of `cell` from `baseline` (none: from empty) to `tick`, encoded on
    /// first use this tick.
    fn blob(&mut self, tick: Tick, cell: u32, baseline: Option<Tick>) -> BlobRange {
        let cached = match baseline {
            None => self.full_blobs[cell as usize],
            Some(b) if tick.since(b) == 1 => self.previous_tick_blobs[cell as usize],
            Some(b) => self.older_blobs.get(&(cell, b)).copied(),
        };
        if let Some(range) = cached {
            return range;
        }
        let new = self.frames[(tick.0 % BASELINE_RING) as usize].cell(cell);
        let old = match baseline {
            Some(b) => self.frames[(b.0 % BASELINE_RING) as usize].cell(cell),
            None => &[][..],
        };
        self.scratch.clear();
        let entries = encode_cell_changes(old, new, tick, &mut self.scratch);
        let start = self.blobs.len() as u32;
        if entries > 0 {
            put_varint(&mut self.blobs, entries as u64);
            self.blobs.extend_from_slice(&self.scratch);
        }
        let range = BlobRange {
            start,
            len: self.blobs.len() as u32 - start,
        };
        match baseline {
            None => {
                self.full_blobs[cell as usize] = Some(range);
                self.cells_encoded.push(cell);
            }
            Some(b) if tick.since(b) == 1 => {
                self.previous_tick_blobs[cell as usize] = Some(range);
                self.cells_encoded.push(cell);
            }
            Some(b) => {
                self.older_blobs.insert((cell, b), range);
            }
        }
        range
    }

    fn checksum(&self, tick: Tick, view: CellRect) -> u32 {
        let frame = &self.frames[(tick.0 % BASELINE_RING) as usize];
        let mut sum = 0u32;
        for row in view.row0..=view.row1 {
            for col in view.col0..=view.col1 {
                sum = sum.wrapping_add(frame.cell_hash(row * CELL_GRID.cols + col));
            }
        }
        sum
    }

    /// Whether a client sees a tag: it took part, or either player was in its view.
    fn tag_is_relevant(tag: &RecentTag, me: PlayerId, view: CellRect) -> bool {
        let seen = |at: Option<(u32, u32)>| at.is_some_and(|(col, row)| view.contains(col, row));
        tag.tag.shooter == me || tag.tag.victim == me || seen(tag.shooter_at) || seen(tag.victim_at)
    }

    /// Writes the tags a client sees and has not been sent (count first) into `out`, and
    /// returns how many; writes nothing when there are none. Only the tail of the ring is read
    /// (newest first), so a client that holds the previous tick costs this tick's tags.
    fn write_tags(
        &self,
        out: &mut Vec<u8>,
        me: PlayerId,
        tick: Tick,
        view: CellRect,
        since: Option<Tick>,
    ) -> usize {
        let fresh = self.tags.iter().rev().take_while(|t| match since {
            Some(b) => t.tag.tick.since(b) > 0,
            None => t.tag.tick == tick,
        });
        let mut count = 0;
        let start = out.len();
        for recent in fresh.filter(|t| Self::tag_is_relevant(t, me, view)) {
            put_varint(out, tick.since(recent.tag.tick).max(0) as u64);
            put_varint(out, u64::from(recent.tag.shooter.0));
            put_varint(out, u64::from(recent.tag.victim.0));
            count += 1;
        }
        if count > 0 {
            let mut prefix = [0u8; 10];
            let mut cursor = &mut prefix[..];
            put_varint(&mut cursor, count as u64);
            let used = 10 - cursor.len();
            out.splice(start..start, prefix[..used].iter().copied());
        }
        count
    }
}

fn own_state(p: &PlayerState) -> OwnState {
    OwnState {
        x: p.x,
        y: p.y,
        vx: p.vx,
        vy: p.vy,
        aim: p.aim,
        last_input_seq: p.last_input_seq,
        score: p.score,
        flags: p.flags,
    }
}

/// The bolts the tables are sized for with `players` in the game.
fn bolts_for(players: usize) -> usize {
    players * 4
}

fn reserve_total<T, C: Reserve<T>>(buffer: &mut C, total: usize) {
    buffer.reserve_total(total);
}

trait Reserve<T> {
    fn reserve_total(&mut self, total: usize);
}

impl<T> Reserve<T> for Vec<T> {
    fn reserve_total(&mut self, total: usize) {
        self.reserve(total.saturating_sub(self.len()));
    }
}

impl<T> Reserve<T> for VecDeque<T> {
    fn reserve_total(&mut self, total: usize) {
        self.reserve(total.saturating_sub(self.len()));
    }
}
