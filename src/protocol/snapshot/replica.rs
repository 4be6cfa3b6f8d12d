//! A client's copy of the world, rebuilt from delta snapshots: a ring of the states it has
//! reconstructed (the baselines the server may encode against), the rule that applies one
//! frame to its baseline, and the checksum test that makes a mismatch impossible to miss.
//! Used by the bots, the test client and the codec's property tests; the browser has the
//! same algorithm in `web-client/replica.js`.
//!
//! A state keeps its entities packed as words with a directory of its cells (`records.rs`): a
//! bot of the swarm applies every frame to a baseline a thousand other replicas have pushed out
//! of the near caches, so what a frame costs is mostly the bytes read and written and the cache
//! lines first touched. An orb takes 16 bytes that way, not the 36 of a `(cell, Entity)`.
//!
//! This file owns the ring of states and the conversion of the newest into a [`Snapshot`];
//! `records.rs` the packed storage, `decode.rs` the reading of one frame into a state. It must
//! never change a held state on a frame it refuses.

mod decode;
mod records;

use self::decode::build_state;
use self::records::Records;
use super::entity::{Entity, Kind, angle_radians, bolt_field, player_field, position_units};
use super::error::DeltaError;
use super::header::{BASELINE_RING, FrameHeader, OwnState, read_header};
use super::interest::{CELL_GRID, CellRect};
use super::varint::Reader;
use crate::protocol::messages::{
    BoltState, OrbState, PlayerId, PlayerState, Snapshot, Tagged, Tick,
};

/// Everything a client holds at one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaState {
    pub tick: Tick,
    /// The cells the client holds (everything outside is unknown to it).
    pub view: CellRect,
    /// The entities held, sorted by cell then [`Entity::key`]; see [`ReplicaState::entities`].
    records: Records,
    pub own: Option<OwnState>,
    /// The client's place in the room by score (1 for the best; the scoreboard's order), out of
    /// `player_count`.
    pub rank: u32,
    /// The top players, best first.
    pub scoreboard: Vec<(PlayerId, u32)>,
    /// Players in the room.
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
                aim: angle_radians(f[player_field::AIM]),
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
