//! Delta snapshots rebuild exactly what the server meant to send: for random worlds over random
//! runs of ticks, and random delivery (frames lost, frames arriving late and out of order,
//! baselines picked among what the client acknowledged), the state a client's replica holds
//! after each frame equals the server's world at that tick, quantized and cut to the client's
//! area of interest, with the arena's size (which changes now and then), and with the rank the
//! server gave the client at that tick (sent only when it changed since the baseline), which
//! agrees with the scoreboard it holds. Built from a seed that proptest varies (and shrinks on
//! failure).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use skirmish::protocol::snapshot::{BASELINE_RING, CELL_GRID, DeltaError, Entity};
use skirmish::protocol::{
    BoltState, OrbState, PlayerId, PlayerState, Replica, ReplicaState, Snapshot, Tagged, Tick,
};
use skirmish::room::replication::Replicator;

const WIDTH: f32 = 3000.0;
const HEIGHT: f32 = 2000.0;
const ME: PlayerId = PlayerId(1);

/// A world that changes a little every tick: players walk (some fast enough to cross cells),
/// join and leave, score and get flagged; orbs get collected; bolts fly and vanish.
struct Script {
    rng: Xoshiro256PlusPlus,
    players: BTreeMap<u32, PlayerState>,
    orbs: Vec<OrbState>,
    bolts: BTreeMap<u32, BoltState>,
    next_bolt: u32,
    tick: u32,
    arena: (f32, f32),
}

impl Script {
    fn new(seed: u64) -> Script {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut players = BTreeMap::new();
        for id in 1..=12 {
            players.insert(id, random_player(&mut rng, id));
        }
        let orbs = (0..40)
            .map(|id| OrbState {
                id,
                x: rng.random_range(0.0..WIDTH),
                y: rng.random_range(0.0..HEIGHT),
            })
            .collect();
        Script {
            rng,
            players,
            orbs,
            bolts: BTreeMap::new(),
            next_bolt: u32::MAX - 3, // ids wrap during the run
            tick: 1000,
            arena: (WIDTH, HEIGHT),
        }
    }

    fn step(&mut self) -> Snapshot {
        self.tick += 1;
        let rng = &mut self.rng;
        for p in self.players.values_mut() {
            let speed = if rng.random_bool(0.2) { 300.0 } else { 14.0 };
            p.x = (p.x + rng.random_range(-speed..speed)).clamp(0.0, WIDTH);
            p.y = (p.y + rng.random_range(-speed..speed)).clamp(0.0, HEIGHT);
            if rng.random_bool(0.3) {
                p.aim = rng.random_range(-4.0..4.0);
            }
            if rng.random_bool(0.1) {
                p.score += rng.random_range(1..2000);
            }
            if rng.random_bool(0.05) {
                p.flags = rng.random_range(0..4);
            }
            p.vx = rng.random_range(-420.0..420.0);
            p.last_input_seq += 1;
        }
        if rng.random_bool(0.15) {
            let id = rng.random_range(2..20);
            if self.players.remove(&id).is_none() {
                self.players.insert(id, random_player(rng, id));
            }
        }
        for orb in &mut self.orbs {
            if rng.random_bool(0.03) {
                orb.x = rng.random_range(0.0..WIDTH);
                orb.y = rng.random_range(0.0..HEIGHT);
            }
        }
        self.bolts.retain(|_, _| rng.random_bool(0.9));
        for bolt in self.bolts.values_mut() {
            bolt.x += bolt.vx / 30.0;
            bolt.y += bolt.vy / 30.0;
        }
        if rng.random_bool(0.5) {
            let id = self.next_bolt;
            self.next_bolt = self.next_bolt.wrapping_add(1);
            let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            self.bolts.insert(
                id,
                BoltState {
                    id,
                    owner: PlayerId(rng.random_range(1..13)),
                    x: rng.random_range(0.0..WIDTH),
                    y: rng.random_range(0.0..HEIGHT),
                    vx: angle.cos() * 900.0,
                    vy: angle.sin() * 900.0,
                },
            );
        }
        let tags = if rng.random_bool(0.2) {
            vec![Tagged {
                tick: Tick(self.tick),
                shooter: PlayerId(rng.random_range(1..13)),
                victim: PlayerId(rng.random_range(1..13)),
            }]
        } else {
            Vec::new()
        };
        if rng.random_bool(0.05) {
            self.arena = (
                rng.random_range(200..=32768) as f32,
                rng.random_range(200..=32768) as f32,
            );
        }
        // The client's own player never leaves.
        self.players
            .entry(ME.0)
            .or_insert_with(|| random_player(rng, ME.0));
        Snapshot {
            tick: Tick(self.tick),
            arena_width: self.arena.0,
            arena_height: self.arena.1,
            players: self.players.values().copied().collect(),
            orbs: self.orbs.clone(),
            bolts: self.bolts.values().copied().collect(),
            tags,
        }
    }
}

fn random_player(rng: &mut impl Rng, id: u32) -> PlayerState {
    PlayerState {
        id: PlayerId(id),
        x: rng.random_range(0.0..WIDTH),
        y: rng.random_range(0.0..HEIGHT),
        vx: 0.0,
        vy: 0.0,
        aim: 0.0,
        score: 0,
        last_input_seq: 0,
        flags: 0,
    }
}

/// What the client must hold at `world.tick`: the world quantized, bolts as first sent, cut to
/// the cells around its own player.
fn expected_state(
    world: &Snapshot,
    bolts_first_seen: &mut HashMap<u32, Entity>,
) -> Vec<(u32, Entity)> {
    let grid = CELL_GRID;
    let me = world.players.iter().find(|p| p.id == ME).unwrap();
    let view = grid.interest_around(me.x, me.y);
    let mut entities = Vec::new();
    for p in &world.players {
        entities.push((grid.cell_of(p.x, p.y), Entity::player(p)));
    }
    for o in &world.orbs {
        entities.push((grid.cell_of(o.x, o.y), Entity::orb(o)));
    }
    let live: Vec<u32> = world.bolts.iter().map(|b| b.id).collect();
    bolts_first_seen.retain(|id, _| live.contains(id));
    for b in &world.bolts {
        let entity =
            *(bolts_first_seen.entry(b.id)).or_insert_with(|| Entity::bolt_seen_at(b, world.tick));
        entities.push((grid.cell_of(b.x, b.y), entity));
    }
    entities.retain(|(cell, _)| grid.contains(&view, *cell));
    entities.sort_by_key(|(cell, e)| (*cell, e.key()));
    entities
}

/// The client's rank as the server's standings had it when `world` was recorded.
fn servers_rank(replicator: &Replicator) -> u32 {
    replicator
        .place_of(ME)
        .expect("the client's player is ranked")
        .rank
}

/// The rank a state holds agrees with its scoreboard and its head count.
fn rank_agrees(state: &ReplicaState) -> Result<(), TestCaseError> {
    let listed = state.scoreboard.iter().position(|(id, _)| *id == ME);
    match listed {
        Some(index) => prop_assert_eq!(state.rank, index as u32 + 1, "tick {}", state.tick.0),
        None => prop_assert!(state.rank as usize > state.scoreboard.len()),
    }
    prop_assert!(state.rank >= 1 && state.rank <= state.player_count);
    Ok(())
}

/// Runs `ticks` ticks; each tick's frame is encoded against a baseline the client holds
/// (chosen as `pick` says), then delivered now, later, or never.
fn run(seed: u64, ticks: usize, loss: f64, late: f64) -> Result<(), TestCaseError> {
    let mut script = Script::new(seed);
    let mut replicator = Replicator::new();
    let mut replica = Replica::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let mut first_seen = HashMap::new();
    let mut expected: HashMap<u32, Vec<(u32, Entity)>> = HashMap::new();
    let mut arenas: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut ranks: HashMap<u32, u32> = HashMap::new();
    // Ticks the client has applied (its acknowledgements), and frames still in flight.
    let mut acked: Vec<Tick> = Vec::new();
    let mut in_flight: Vec<(Tick, Vec<u8>)> = Vec::new();
    for _ in 0..ticks {
        let world = script.step();
        replicator.record(&world, 100);
        expected.insert(world.tick.0, expected_state(&world, &mut first_seen));
        let arena = (world.arena_width as u32, world.arena_height as u32);
        arenas.insert(world.tick.0, arena);
        ranks.insert(world.tick.0, servers_rank(&replicator));
        // A baseline among the acknowledged ticks still in the ring: usually the newest, not
        // always (acknowledgements arrive late too).
        let usable: Vec<Tick> = acked
            .iter()
            .copied()
            .filter(|b| (1..BASELINE_RING as i32).contains(&world.tick.since(*b)))
            .collect();
        let baseline = if usable.is_empty() || rng.random_bool(0.1) {
            None
        } else if rng.random_bool(0.7) {
            usable.iter().copied().max_by_key(|b| b.0)
        } else {
            Some(usable[rng.random_range(0..usable.len())])
        };
        let mut frame = Vec::new();
        prop_assert!(replicator.encode_for(ME, baseline, &mut frame));
        if !rng.random_bool(loss) {
            in_flight.push((world.tick, frame));
        }
        // Deliver what is in flight, except what is late this time (out of order).
        let mut still = Vec::new();
        for (tick, frame) in in_flight.drain(..) {
            if rng.random_bool(late) {
                still.push((tick, frame));
                continue;
            }
            match replica.apply(&frame[1..]) {
                Ok(state) => {
                    prop_assert_eq!(state.tick, tick);
                    let held: Vec<(u32, Entity)> = state.entities().collect();
                    prop_assert_eq!(&held, &expected[&tick.0], "tick {}", tick.0);
                    prop_assert_eq!(state.arena, arenas[&tick.0], "tick {}", tick.0);
                    prop_assert_eq!(state.rank, ranks[&tick.0], "tick {}", tick.0);
                    rank_agrees(state)?;
                    acked.push(tick);
                }
                // More than the ring's length late: dropped, the newer state kept.
                Err(DeltaError::Stale { .. }) => {}
                // Its baseline was acknowledged but has since left the client's ring: the frame
                // came more than the ring's length after it (a real client asks to Resync).
                // Anything else means the server used a baseline the client never held.
                Err(DeltaError::UnknownBaseline { baseline, .. }) => {
                    let evicted = replica
                        .latest_tick()
                        .is_some_and(|latest| latest.since(Tick(baseline)) >= BASELINE_RING as i32);
                    prop_assert!(
                        evicted && acked.contains(&Tick(baseline)),
                        "tick {}: encoded against {baseline}, never held",
                        tick.0
                    );
                }
                Err(error) => prop_assert!(false, "tick {}: {error}", tick.0),
            }
        }
        in_flight = still;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_rebuild_the_servers_world_whatever_is_lost_or_late(
        seed in any::<u64>(),
        ticks in 5usize..90,
        loss in 0.0f64..0.5,
        late in 0.0f64..0.3,
    ) {
        run(seed, ticks, loss, late)?;
    }

    #[test]
    fn replicas_trusting_monotonic_baselines_apply_every_frame_holding_few_states(
        seed in any::<u64>(),
        ticks in 5usize..120,
        skip in 0.0f64..0.5,
    ) {
        run_in_order(seed, ticks, skip)?;
    }
}

/// The WebSocket server's way: frames arrive in order (some skipped, as for a slow reader), each
/// delta against the newest frame fully sent when it was encoded (writes complete in order, a
/// few ticks late), now and then a full frame (after a `Resync`). A replica that frees every
/// state older than the newest baseline applies them all, holding only what is still needed.
fn run_in_order(seed: u64, ticks: usize, skip: f64) -> Result<(), TestCaseError> {
    let mut script = Script::new(seed);
    let mut replicator = Replicator::new();
    let mut replica = Replica::for_monotonic_baselines();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x0bde);
    let mut first_seen = HashMap::new();
    let mut expected: HashMap<u32, Vec<(u32, Entity)>> = HashMap::new();
    let mut ranks: HashMap<u32, u32> = HashMap::new();
    // Frames being written: (tick, the tick their write completes, bytes), in order.
    let mut writing: Vec<(Tick, u32, Vec<u8>)> = Vec::new();
    let mut fully_sent: Option<Tick> = None;
    let mut last_completion = 0;
    for _ in 0..ticks {
        let world = script.step();
        replicator.record(&world, 100);
        expected.insert(world.tick.0, expected_state(&world, &mut first_seen));
        ranks.insert(world.tick.0, servers_rank(&replicator));
        // Writes that completed by now: the client applies those frames, which become baselines.
        let done = writing.partition_point(|(_, done, _)| *done <= world.tick.0);
        for (tick, _, frame) in writing.drain(..done) {
            let state = replica
                .apply(&frame[1..])
                .map_err(|error| TestCaseError::fail(format!("tick {}: {error}", tick.0)))?;
            let held: Vec<(u32, Entity)> = state.entities().collect();
            prop_assert_eq!(&held, &expected[&tick.0], "tick {}", tick.0);
            prop_assert_eq!(state.rank, ranks[&tick.0], "tick {}", tick.0);
            rank_agrees(state)?;
            fully_sent = Some(tick);
            // Held: the newest baseline received and what came after it, no more.
            let header = replica.last_header().unwrap();
            if header.baseline_age > 0 {
                let needed = header.baseline_age as usize + 1;
                prop_assert!(
                    replica.held_count() <= needed,
                    "{} states held, {needed} needed",
                    replica.held_count()
                );
            }
        }
        if rng.random_bool(skip) {
            continue;
        }
        let baseline = fully_sent
            .filter(|b| (1..BASELINE_RING as i32).contains(&world.tick.since(*b)))
            .filter(|_| !rng.random_bool(0.05));
        let mut frame = Vec::new();
        prop_assert!(replicator.encode_for(ME, baseline, &mut frame));
        last_completion = (world.tick.0 + rng.random_range(0..4)).max(last_completion);
        writing.push((world.tick, last_completion, frame));
    }
    Ok(())
}

#[test]
fn a_perfect_link_after_a_full_frame_sends_only_deltas() {
    let mut script = Script::new(7);
    let mut replicator = Replicator::new();
    let mut replica = Replica::new();
    let (mut full, mut deltas) = (0, 0);
    for _ in 0..40 {
        let world = script.step();
        replicator.record(&world, 100);
        let mut frame = Vec::new();
        replicator.encode_for(ME, replica.latest_tick(), &mut frame);
        replica.apply(&frame[1..]).unwrap();
        match replica.last_header().unwrap().baseline_age {
            0 => full += 1,
            _ => deltas += 1,
        }
    }
    assert_eq!((full, deltas), (1, 39));
}

#[test]
fn a_cleared_replica_refuses_deltas_until_a_full_frame_and_reuses_its_buffers() {
    let mut script = Script::new(11);
    let mut replicator = Replicator::new();
    let mut replica = Replica::for_monotonic_baselines();
    let frame_against = |replicator: &mut Replicator, baseline: Option<Tick>| {
        let mut frame = Vec::new();
        assert!(replicator.encode_for(ME, baseline, &mut frame));
        frame
    };
    for _ in 0..10 {
        replicator.record(&script.step(), 100);
        let frame = frame_against(&mut replicator, replica.latest_tick());
        replica.apply(&frame[1..]).unwrap();
    }
    assert_eq!(replica.held_count(), 2, "the baseline and the newest");
    let held = replica.latest_tick();
    replica.clear();
    assert_eq!((replica.held_count(), replica.latest_tick()), (0, None));
    replicator.record(&script.step(), 100);
    let delta = frame_against(&mut replicator, held);
    assert!(matches!(
        replica.apply(&delta[1..]),
        Err(DeltaError::UnknownBaseline { .. })
    ));
    let full = frame_against(&mut replicator, None);
    replica.apply(&full[1..]).unwrap();
    for _ in 0..10 {
        replicator.record(&script.step(), 100);
        let frame = frame_against(&mut replicator, replica.latest_tick());
        replica.apply(&frame[1..]).unwrap();
    }
    assert_eq!(replica.held_count(), 2);
}
