//! The authoritative game world and its rules: players steering ships, orbs to collect, bolts
//! that tag. A pure function of (state, inputs, steps): no clock, no sockets, no global RNG (the
//! seeded RNG is part of the state), so a run can be replayed, tested and benched directly. The
//! tick loop is its only owner on the server.
//!
//! This file owns the world's state, the order of a step's phases, the arena's size and the
//! snapshot the world writes; each rule lives beside it in `world/`: `input.rs` (queued inputs
//! and input steps), `spawning.rs` (joins, respawns, away, leaves), `combat.rs` (bolts and
//! tags), `orbs.rs` (placing and collecting orbs). They extend [`World`] and must never read
//! the clock or do I/O either.
//!
//! Bolts are judged with lag compensation ([`lag_compensation`]): against where the targets
//! were at the tick the shooter was looking at, within a cap.

mod combat;
mod input;
pub mod lag_compensation;
mod orbs;
mod spawning;

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

pub use self::input::InputOutcome;
use self::lag_compensation::{MAX_REWIND_MS, PositionHistory, max_rewind_ticks};
pub use self::orbs::orb_count;
use super::arena::ArenaRule;
use super::grid::SpatialGrid;
use super::movement::{Body, keep_inside_arena, tick_seconds};
use super::params::default_params;
use crate::protocol::{
    BoltState, GameParams, OrbState, PlayerId, PlayerInput, PlayerState, Snapshot, Tagged, Tick,
    player_flags,
};

/// Inputs a player may have waiting. A client sends one per tick; more than this means it is
/// sending faster than real time (or bursting after a stall): the oldest is dropped and counted.
pub const MAX_PENDING_INPUTS: usize = 8;

/// Input steps a player can bank while no input arrives (jitter absorption). Each tick grants
/// one; so over time a player never moves faster than real time, whatever it sends.
pub const MAX_INPUT_STEPS_BANKED: u8 = 4;

/// Side of a spatial-grid cell, in arena units: a few ship diameters.
const GRID_CELL_SIZE: f32 = 128.0;

/// Hashes a [`PlayerId`] with one multiplication. Ids are handed out by the server in sequence,
/// never chosen by a client, so they need no flood-resistant hash; SipHash cost about 7% of a
/// 1000-player tick (one lookup per input). The multiplier is odd, so the low bits (the table's
/// bucket) of consecutive ids stay distinct, and it mixes them into the high bits hashbrown
/// uses as tags.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlayerIdHasher(u64);

impl Hasher for PlayerIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u32(u32::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by player id, with [`PlayerIdHasher`].
pub type PlayerMap<V> = HashMap<PlayerId, V, BuildHasherDefault<PlayerIdHasher>>;

/// What the world is built from. Two worlds from equal configs given equal inputs stay equal.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub tick_hz: u16,
    /// Seeds every random choice (spawn points, orb placement).
    pub seed: u64,
    /// How big the arena is; the world sets `params`' arena size from it. Orbs are in
    /// proportion to the arena's area.
    pub arena: ArenaRule,
    pub params: GameParams,
    /// How far back (milliseconds) a shooter's `view_tick` is honoured when judging its bolts;
    /// a longer view lag is clamped to this. 0 turns lag compensation off. Default 250.
    pub max_rewind_ms: u32,
}

impl WorldConfig {
    /// The bundled game's rules in a fixed arena of the default size.
    pub fn new(tick_hz: u16, seed: u64) -> WorldConfig {
        let params = default_params(tick_hz);
        WorldConfig {
            tick_hz,
            seed,
            arena: ArenaRule::Fixed {
                width: params.arena_width,
                height: params.arena_height,
            },
            params,
            max_rewind_ms: MAX_REWIND_MS,
        }
    }

    /// A fixed arena of this size.
    pub fn set_arena(&mut self, width: f32, height: f32) {
        self.arena = ArenaRule::Fixed { width, height };
    }
}

/// One ship and the bookkeeping of its controls.
#[derive(Debug, Clone)]
pub struct Player {
    pub id: PlayerId,
    pub body: Body,
    pub aim: f32,
    pub score: u32,
    /// Acknowledged to the client in every snapshot (see `PlayerState::last_input_seq`).
    pub last_input_seq: u32,
    /// Inputs received but not yet simulated, oldest first. Capacity fixed at join.
    pending: VecDeque<PlayerInput>,
    /// Input steps the player may still take (see [`MAX_INPUT_STEPS_BANKED`]).
    banked_steps: u8,
    /// Ticks until the player may fire again.
    fire_cooldown: u16,
    /// Ticks of spawn protection left.
    protection: u16,
    /// Its connection is lost; it may come back. It neither moves nor can be tagged meanwhile.
    pub away: bool,
    /// Where the ship was over the last ticks, for judging others' bolts against the past.
    history: PositionHistory,
    /// Ticks this player's view lagged behind when its last input was applied (already capped):
    /// how far back its bolts' targets are rewound.
    view_lag: u16,
}

impl Player {
    pub fn is_protected(&self) -> bool {
        self.protection > 0 || self.away
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.protection > 0 {
            flags |= player_flags::PROTECTED;
        }
        if self.away {
            flags |= player_flags::AWAY;
        }
        flags
    }
}

#[derive(Debug, Clone, Copy)]
struct Orb {
    x: f32,
    y: f32,
}

#[derive(Debug, Clone, Copy)]
struct Bolt {
    id: u32,
    owner: PlayerId,
    x: f32,
    y: f32,
    vx: f32,
    vy: f32,
    ticks_left: u16,
}

pub struct World {
    params: GameParams,
    arena_rule: ArenaRule,
    tick_hz: u16,
    dt: f32,
    /// The lag compensation cap in ticks (see [`WorldConfig::max_rewind_ms`]).
    max_rewind: u16,
    tick: Tick,
    rng: Xoshiro256PlusPlus,
    players: Vec<Player>,
    index_of: PlayerMap<usize>,
    orbs: Vec<Orb>,
    bolts: Vec<Bolt>,
    next_bolt_id: u32,
    /// Players bucketed by position as of the last rebuild, plus those placed since.
    grid: SpatialGrid,
    /// Set when a player left since the grid was rebuilt: its indices may now name other
    /// players, so it is rebuilt before a join looks for a spawn point.
    grid_stale: bool,
    /// Tags that happened during the last [`World::step`].
    tags: Vec<Tagged>,
    /// Orbs bucketed by position (same cells as `grid`), rebuilt only after an orb moved: a
    /// pickup then checks only the orbs near some player, not every orb.
    orb_grid: SpatialGrid,
    /// An orb moved (or the orbs changed) since `orb_grid` was rebuilt.
    orbs_moved: bool,
    /// Scratch bit set of the orbs a pickup checks, one bit per orb (kept to avoid
    /// allocating).
    orb_candidates: Vec<u64>,
}

impl World {
    pub fn new(config: &WorldConfig) -> World {
        let mut params = config.params;
        (params.arena_width, params.arena_height) = config.arena.initial();
        let orbs = orb_count(params.arena_width, params.arena_height);
        let mut world = World {
            params,
            arena_rule: config.arena,
            tick_hz: config.tick_hz,
            dt: tick_seconds(config.tick_hz),
            max_rewind: max_rewind_ticks(config.tick_hz, config.max_rewind_ms),
            tick: Tick(0),
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            players: Vec::new(),
            index_of: PlayerMap::default(),
            orbs: Vec::with_capacity(orbs),
            bolts: Vec::new(),
            next_bolt_id: 0,
            grid: SpatialGrid::new(params.arena_width, params.arena_height, GRID_CELL_SIZE),
            grid_stale: false,
            tags: Vec::new(),
            orb_grid: SpatialGrid::new(params.arena_width, params.arena_height, GRID_CELL_SIZE),
            orbs_moved: true,
            orb_candidates: Vec::new(),
        };
        world.place_orbs(orbs);
        world
    }

    pub fn params(&self) -> &GameParams {
        &self.params
    }

    /// The tick the next [`World::step`] will produce is `tick().next()`.
    pub fn tick(&self) -> Tick {
        self.tick
    }

    pub fn players(&self) -> &[Player] {
        &self.players
    }

    pub fn player(&self, id: PlayerId) -> Option<&Player> {
        self.index_of.get(&id).map(|&i| &self.players[i])
    }

    /// Tags that happened during the last step.
    pub fn tags(&self) -> &[Tagged] {
        &self.tags
    }

    /// Grows every per-tick buffer to what `players` players can fill, so that steps in steady
    /// state never allocate: each player has at most `ceil(lifetime / cooldown)` bolts in flight
    /// (one more for slack), and at most one tag per player per step (a tagged player respawns
    /// protected).
    fn reserve_for_players(&mut self, players: usize) {
        let bolts = players * self.bolts_per_player();
        reserve_total(&mut self.bolts, bolts);
        reserve_total(&mut self.tags, players);
        self.grid.reserve(players);
    }

    /// The most bolts one player can have in flight: one per cooldown over a bolt's lifetime,
    /// and one more for slack.
    fn bolts_per_player(&self) -> usize {
        usize::from(
            self.params
                .bolt_lifetime_ticks
                .div_ceil(self.params.fire_cooldown_ticks.max(1)),
        ) + 1
    }

    /// Gives back what the per-player tables hold beyond `players`' needs (a crowd left); the
    /// next join grows them again. Never below what they hold now.
    pub fn shrink_for_players(&mut self, players: usize) {
        self.players.shrink_to(players);
        self.index_of.shrink_to(players);
        let bolts = players * self.bolts_per_player();
        self.bolts.shrink_to(bolts);
        self.tags.shrink_to(players);
        self.grid.shrink(players);
    }

    /// Advances the world by one tick.
    pub fn step(&mut self) {
        self.step_resolving_pickups_with(World::resolve_orb_pickups);
    }

    /// The step, with the rule that resolves orb pickups passed in (tests compare it with
    /// checking every orb).
    fn step_resolving_pickups_with(&mut self, resolve_orb_pickups: fn(&mut World)) {
        self.tick = self.tick.next();
        self.tags.clear();
        if self.tick.0.is_multiple_of(u32::from(self.tick_hz.max(1))) {
            self.fit_arena();
        }
        self.step_players();
        self.record_positions();
        self.step_bolts();
        self.rebuild_grid();
        self.resolve_bolt_hits();
        resolve_orb_pickups(self);
    }

    /// Fills `snapshot` with the current state, reusing its buffers (which grow to the world's
    /// capacities, so a steady game refills them without allocating).
    pub fn write_snapshot(&self, snapshot: &mut Snapshot) {
        snapshot.tick = self.tick;
        snapshot.arena_width = self.params.arena_width;
        snapshot.arena_height = self.params.arena_height;
        snapshot.players.clear();
        snapshot.players.reserve(self.players.capacity());
        snapshot.bolts.clear();
        snapshot.bolts.reserve(self.bolts.capacity());
        snapshot
            .players
            .extend(self.players.iter().map(|p| PlayerState {
                id: p.id,
                x: p.body.x,
                y: p.body.y,
                vx: p.body.vx,
                vy: p.body.vy,
                aim: p.aim,
                score: p.score,
                last_input_seq: p.last_input_seq,
                flags: p.flags(),
            }));
        snapshot.orbs.clear();
        snapshot
            .orbs
            .extend(self.orbs.iter().enumerate().map(|(i, o)| OrbState {
                id: i as u32,
                x: o.x,
                y: o.y,
            }));
        snapshot.bolts.extend(self.bolts.iter().map(|b| BoltState {
            id: b.id,
            owner: b.owner,
            x: b.x,
            y: b.y,
            vx: b.vx,
            vy: b.vy,
        }));
    }

    /// Resizes the arena if its rule asks for it for the players now in the game.
    fn fit_arena(&mut self) {
        let current = (self.params.arena_width, self.params.arena_height);
        if let Some((width, height)) = self.arena_rule.resize(self.players.len(), current) {
            self.resize_arena(width, height);
        }
    }

    /// Changes the arena's size: ships outside the new walls are put against them, orbs
    /// outside moved in (and added or removed in proportion to the area), bolts outside gone.
    pub fn resize_arena(&mut self, width: f32, height: f32) {
        self.params.arena_width = width;
        self.params.arena_height = height;
        for player in &mut self.players {
            keep_inside_arena(&mut player.body, &self.params);
        }
        self.bolts
            .retain(|b| (0.0..=width).contains(&b.x) && (0.0..=height).contains(&b.y));
        let margin = self.params.orb_radius * 2.0;
        self.place_orbs(orb_count(width, height));
        for o in 0..self.orbs.len() {
            let Orb { x, y } = self.orbs[o];
            if x > width - margin || y > height - margin {
                let (x, y) = self.random_point(margin);
                self.orbs[o] = Orb { x, y };
            }
        }
        self.grid = SpatialGrid::new(width, height, GRID_CELL_SIZE);
        self.grid.reserve(self.players.capacity());
        self.rebuild_grid();
        self.orb_grid = SpatialGrid::new(width, height, GRID_CELL_SIZE);
        self.orbs_moved = true;
    }

    fn rebuild_grid(&mut self) {
        self.grid
            .rebuild(self.players.iter().map(|p| (p.body.x, p.body.y)));
        self.grid_stale = false;
    }

    /// The first player (by index) within `reach` of the point that `eligible` accepts. Uses the
    /// grid as rebuilt at the start of this step's collision phase.
    fn find_player_touching(
        &self,
        x: f32,
        y: f32,
        reach: f32,
        eligible: impl Fn(&Player) -> bool,
    ) -> Option<usize> {
        let mut found: Option<usize> = None;
        self.grid.for_each_near(x, y, reach, |i| {
            let p = &self.players[i];
            let (dx, dy) = (p.body.x - x, p.body.y - y);
            if dx * dx + dy * dy <= reach * reach && eligible(p) && found.is_none_or(|f| i < f) {
                found = Some(i);
            }
        });
        found
    }

    fn random_point(&mut self, margin: f32) -> (f32, f32) {
        let x = self
            .rng
            .random_range(margin..self.params.arena_width - margin);
        let y = self
            .rng
            .random_range(margin..self.params.arena_height - margin);
        (x, y)
    }
}

/// Makes `buffer`'s capacity at least `total`.
fn reserve_total<T>(buffer: &mut Vec<T>, total: usize) {
    buffer.reserve(total.saturating_sub(buffer.len()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::params::{ORB_VALUE, TAG_BONUS};
    use crate::protocol::buttons;

    fn world() -> World {
        World::new(&WorldConfig::new(30, 7))
    }

    fn input(seq: u32, pressed: u8, aim: f32) -> PlayerInput {
        PlayerInput {
            seq,
            buttons: pressed,
            aim,
            ..Default::default()
        }
    }

    fn place(world: &mut World, id: PlayerId, x: f32, y: f32) {
        let index = world.index_of[&id];
        let tick = world.tick;
        let player = &mut world.players[index];
        player.body = Body {
            x,
            y,
            vx: 0.0,
            vy: 0.0,
        };
        player.history.restart(tick, x, y);
    }

    /// A duel on a manual clock: the target sits in the shooter's line of fire, then flies
    /// down (away from the line) from tick 10 on; the shooter fires right at `fire_at` with its
    /// view `view_lag` ticks behind (`None`: a view tick of 0, i.e. before any snapshot).
    /// Returns the tick of the tag (counted from the start of the duel), if any.
    fn duel(max_rewind_ms: u32, fire_at: u32, view_lag: Option<u32>) -> Option<Tick> {
        let mut config = WorldConfig::new(30, 7);
        config.max_rewind_ms = max_rewind_ms;
        let mut w = World::new(&config);
        let (shooter, target) = (PlayerId(1), PlayerId(2));
        w.add_player(shooter);
        w.add_player(target);
        w.orbs.clear();
        place(&mut w, shooter, 1000.0, 1000.0);
        place(&mut w, target, 1300.0, 1000.0);
        // The game has been running for a while (so a view tick of 0 is long past).
        const START: u32 = 100;
        for _ in 0..START {
            w.step();
        }
        let index = w.index_of[&target];
        w.players[index].protection = 0;
        for seq in 1..=60 {
            let applied_at = w.tick().0 + 1;
            let view_tick = view_lag.map_or(Tick(0), |lag| Tick(applied_at.wrapping_sub(lag)));
            let fire = if applied_at == START + fire_at {
                buttons::FIRE
            } else {
                0
            };
            let shot = PlayerInput {
                view_tick,
                ..input(seq, fire, 0.0)
            };
            w.queue_input(shooter, shot);
            let dodge = if applied_at >= START + 10 {
                buttons::DOWN
            } else {
                0
            };
            w.queue_input(target, input(seq, dodge, 0.0));
            w.step();
            if let Some(tag) = w.tags().first() {
                assert_eq!((tag.shooter, tag.victim), (shooter, target));
                return Some(Tick(tag.tick.0 - START));
            }
        }
        None
    }

    #[test]
    fn a_shooter_without_lag_hits_what_is_there_now() {
        // Fired early, while the target still sits in the line: a hit.
        assert!(duel(250, 2, Some(0)).is_some());
        // Fired late, when the target has moved away: a miss, as without lag compensation.
        assert_eq!(duel(250, 9, Some(0)), None);
        assert_eq!(duel(0, 9, Some(0)), None);
    }

    #[test]
    fn a_target_that_moved_away_since_the_shooters_view_is_hit_where_it_was_seen() {
        // The shooter saw the target 6 ticks (200 ms) ago, still in the line of fire.
        let tag = duel(250, 9, Some(6)).expect("lag-compensated hit");
        // The same shot without lag compensation misses.
        assert_eq!(duel(0, 9, Some(6)), None);
        // The hit happens when the bolt reaches where the target was (about 10 ticks of flight).
        assert!(tag.since(Tick(9)) >= 8, "tagged at {tag:?}");
    }

    #[test]
    fn a_rewind_beyond_the_cap_is_clamped_to_it() {
        // Seen 20 ticks (667 ms) ago: the target was in the line of fire then, but the rewind
        // stops at 250 ms (7 ticks), by which time it had left.
        assert_eq!(duel(250, 16, Some(20)), None);
        assert_eq!(duel(250, 16, Some(7)), None);
        // With a longer cap the same view lag would have hit: the clamp is what made it miss.
        assert!(duel(1000, 16, Some(20)).is_some());
    }

    #[test]
    fn a_nonsense_view_tick_is_ignored() {
        // Long before the game (0, as sent before the first snapshot): judged as if no lag.
        assert_eq!(duel(1000, 9, None), duel(1000, 9, Some(0)));
        assert_eq!(duel(1000, 9, None), None);
        // Ahead of the tick the input is applied at: the future, judged as if no lag.
        assert_eq!(duel(1000, 9, Some(u32::MAX - 2)), None);
    }

    #[test]
    fn equal_seeds_and_inputs_replay_identically() {
        let run = || {
            let mut w = world();
            for id in 1..=20 {
                w.add_player(PlayerId(id));
            }
            for seq in 1..=90 {
                for id in 1..=20 {
                    let pressed = ((seq + id) % 32) as u8;
                    w.queue_input(PlayerId(id), input(seq, pressed, seq as f32 * 0.1));
                }
                w.step();
            }
            let mut snapshot = Snapshot::default();
            w.write_snapshot(&mut snapshot);
            snapshot
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn each_input_is_one_step_and_acknowledged() {
        let mut w = world();
        let id = PlayerId(1);
        w.add_player(id);
        place(&mut w, id, 1000.0, 1000.0);
        w.queue_input(id, input(1, buttons::RIGHT, 0.0));
        w.step();
        let p = w.player(id).unwrap();
        assert_eq!(p.last_input_seq, 1);
        assert!(p.body.x > 1000.0);
        let x = p.body.x;
        // No input: the ship waits for its next one rather than guessing.
        w.step();
        assert_eq!(w.player(id).unwrap().body.x, x);
    }

    #[test]
    fn inputs_never_buy_more_than_real_time() {
        let mut w = world();
        let id = PlayerId(1);
        w.add_player(id);
        for seq in 1..=8 {
            assert_eq!(
                w.queue_input(id, input(seq, buttons::DOWN, 0.0)),
                InputOutcome::Queued
            );
        }
        assert_eq!(
            w.queue_input(id, input(9, 0, 0.0)),
            InputOutcome::QueuedDroppingOldest
        );
        assert_eq!(w.queue_input(id, input(9, 0, 0.0)), InputOutcome::Stale);
        assert_eq!(
            w.queue_input(PlayerId(99), input(1, 0, 0.0)),
            InputOutcome::UnknownPlayer
        );
        // One banked step at join plus one per tick: two steps on the first tick, then one.
        w.step();
        assert_eq!(w.player(id).unwrap().last_input_seq, 3);
        w.step();
        assert_eq!(w.player(id).unwrap().last_input_seq, 4);
    }

    #[test]
    fn collecting_an_orb_scores_and_moves_it() {
        let mut w = world();
        let id = PlayerId(1);
        w.add_player(id);
        let orb = w.orbs[0];
        place(&mut w, id, orb.x, orb.y);
        w.step();
        assert!(w.player(id).unwrap().score >= ORB_VALUE);
        assert!(w.orbs[0].x != orb.x || w.orbs[0].y != orb.y);
    }

    #[test]
    fn a_bolt_tags_an_unprotected_player_and_steals_half_its_score() {
        let mut w = world();
        let (shooter, victim) = (PlayerId(1), PlayerId(2));
        w.add_player(shooter);
        w.add_player(victim);
        w.orbs.clear();
        place(&mut w, shooter, 1000.0, 1000.0);
        place(&mut w, victim, 1100.0, 1000.0);
        let victim_index = w.index_of[&victim];
        w.players[victim_index].score = 10;
        w.players[victim_index].protection = 0;
        w.queue_input(shooter, input(1, buttons::FIRE, 0.0));
        for _ in 0..10 {
            w.step();
            if !w.tags().is_empty() {
                break;
            }
        }
        assert_eq!(
            w.tags(),
            &[Tagged {
                tick: w.tick(),
                shooter,
                victim
            }]
        );
        assert_eq!(w.player(shooter).unwrap().score, TAG_BONUS + 5);
        let victim = w.player(victim).unwrap();
        assert_eq!(victim.score, 5);
        assert!(victim.is_protected());
        assert!(w.bolts.is_empty());
    }

    #[test]
    fn protected_players_and_the_shooter_are_not_tagged() {
        let mut w = world();
        let (shooter, victim) = (PlayerId(1), PlayerId(2));
        w.add_player(shooter);
        w.add_player(victim);
        place(&mut w, shooter, 1000.0, 1000.0);
        place(&mut w, victim, 1060.0, 1000.0);
        // The victim just spawned, so it is protected for a while.
        w.queue_input(shooter, input(1, buttons::FIRE, 0.0));
        for _ in 0..5 {
            w.step();
        }
        assert!(w.tags().is_empty());
        assert_eq!(w.player(victim).unwrap().body.x, 1060.0);
    }

    #[test]
    fn away_players_are_flagged_untaggable_and_forget_their_inputs() {
        let mut w = world();
        let id = PlayerId(1);
        w.add_player(id);
        w.queue_input(id, input(1, buttons::RIGHT, 0.0));
        assert!(w.set_away(id, true));
        let index = w.index_of[&id];
        w.players[index].protection = 0;
        assert!(w.player(id).unwrap().is_protected());
        let x = w.player(id).unwrap().body.x;
        w.step();
        assert_eq!(w.player(id).unwrap().body.x, x);
        let mut snapshot = Snapshot::default();
        w.write_snapshot(&mut snapshot);
        assert_eq!(snapshot.players[0].flags, player_flags::AWAY);
        assert!(w.set_away(id, false));
        assert!(!w.set_away(PlayerId(9), true));
    }

    #[test]
    fn removing_a_player_keeps_the_others_reachable() {
        let mut w = world();
        for id in 1..=3 {
            w.add_player(PlayerId(id));
        }
        assert!(w.remove_player(PlayerId(1)));
        assert!(!w.remove_player(PlayerId(1)));
        assert!(w.player(PlayerId(3)).is_some() && w.player(PlayerId(2)).is_some());
        assert_eq!(
            w.queue_input(PlayerId(3), input(1, 0, 0.0)),
            InputOutcome::Queued
        );
        assert!(!w.add_player(PlayerId(2)));
    }

    #[test]
    fn spawns_are_inside_the_arena_and_apart() {
        let mut w = world();
        for id in 1..=50 {
            w.add_player(PlayerId(id));
        }
        let params = *w.params();
        for p in w.players() {
            assert!(
                p.body.x >= params.player_radius
                    && p.body.x <= params.arena_width - params.player_radius
            );
            assert!(
                p.body.y >= params.player_radius
                    && p.body.y <= params.arena_height - params.player_radius
            );
        }
    }

    /// Everything is inside the arena: ships within a radius of the walls, orbs and bolts.
    fn assert_all_inside(w: &World) {
        let p = w.params();
        let (width, height) = (p.arena_width, p.arena_height);
        for ship in w.players() {
            assert!((p.player_radius..=width - p.player_radius).contains(&ship.body.x));
            assert!((p.player_radius..=height - p.player_radius).contains(&ship.body.y));
        }
        for orb in &w.orbs {
            assert!(
                orb.x <= width && orb.y <= height,
                "{orb:?} in {width}x{height}"
            );
        }
        for bolt in &w.bolts {
            assert!(
                bolt.x <= width && bolt.y <= height,
                "{bolt:?} in {width}x{height}"
            );
        }
    }

    #[test]
    fn a_shrinking_arena_pushes_ships_in_and_keeps_orbs_in_proportion() {
        let mut w = world();
        for id in 1..=60 {
            w.add_player(PlayerId(id));
        }
        place(&mut w, PlayerId(1), 2900.0, 1900.0);
        for id in 1..=60 {
            w.queue_input(PlayerId(id), input(1, buttons::FIRE, 0.3));
        }
        w.step();
        assert!(!w.bolts.is_empty());
        assert_eq!(w.orbs.len(), 250);
        w.resize_arena(1500.0, 1000.0);
        assert_eq!(w.orbs.len(), orb_count(1500.0, 1000.0));
        assert_eq!(w.orbs.len(), 63);
        assert_all_inside(&w);
        let pushed = w.player(PlayerId(1)).unwrap().body;
        assert_eq!((pushed.x, pushed.y), (1500.0 - 18.0, 1000.0 - 18.0));
        // Steps keep the new walls; the snapshot tells clients.
        for _ in 0..5 {
            w.step();
            assert_all_inside(&w);
        }
        let mut snapshot = Snapshot::default();
        w.write_snapshot(&mut snapshot);
        assert_eq!(
            (snapshot.arena_width, snapshot.arena_height),
            (1500.0, 1000.0)
        );
        w.resize_arena(4000.0, 3000.0);
        assert_eq!(w.orbs.len(), 500);
        assert_all_inside(&w);
    }

    #[test]
    fn an_arena_sized_per_player_grows_as_they_join_and_shrinks_as_they_leave() {
        let mut config = WorldConfig::new(30, 3);
        config.arena = ArenaRule::PerPlayer {
            min_width: 3000.0,
            min_height: 2000.0,
            area_per_player: 150_000.0,
        };
        let mut w = World::new(&config);
        let area = |w: &World| w.params().arena_width * w.params().arena_height;
        for id in 1..=400 {
            w.add_player(PlayerId(id));
        }
        // Checked once a second.
        for _ in 0..29 {
            w.step();
        }
        assert_eq!(area(&w), 6_000_000.0);
        w.step();
        let grown = area(&w);
        assert!(grown >= 400.0 * 150_000.0, "{grown}");
        assert_eq!(
            w.orbs.len(),
            orb_count(w.params().arena_width, w.params().arena_height)
        );
        for id in 1..=400 {
            w.remove_player(PlayerId(id));
        }
        for _ in 0..30 * 80 {
            w.step();
            assert_all_inside(&w);
        }
        assert_eq!(area(&w), 6_000_000.0);
    }
}
