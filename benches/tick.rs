//! One full tick of the real [`Room`]: drain every player's input from the event queue, step
//! the world, record it for replication (quantize, sort into interest cells). With no
//! connection registered, no per-player frame is encoded: that is `tick_delivered`.
//! Players move and fire the whole time (see [`input_for`]), so bolts fly, tags happen and orbs
//! are collected; the world also holds its 250 orbs. Only `step(1)` is timed: refilling
//! the event queue stands for the connection tasks, which do that work on other threads.
//!
//! Throughput is in entities per tick (players + orbs + bolts in flight once warmed up).
//!
//! `tick_delivered` is the same tick with every player registered in `Sessions` as connections
//! are (a bounded reliable queue and a snapshot slot), so that every player's delta snapshot
//! is encoded (area of interest, against the baseline its writer last sent) and the reliable
//! messages are delivered. Between ticks, untimed, the queues are emptied and each slot's
//! frame is taken and marked sent, as the writer tasks would; the mean frame size is printed.
//!
//! `full` plays in the fixed 3000 x 2000 arena (at 1000 players a view holds hundreds of
//! ships); `grown` in the arena the server grows by default (150 000 units² per player, and
//! orbs in proportion), as the bundled game plays.
//!
//! `rooms/small_delivered/1000x2` is many small matches in one process: 1000 rooms of two
//! players, each delivered as above, stepped in turn; its time per element is one room's tick.
//!
//! `cargo bench --bench tick`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use skirmish::game::WorldConfig;
use skirmish::game::arena::ArenaRule;
use skirmish::metrics::RoomStats;
use skirmish::protocol::{PlayerId, PlayerInput, ResumeToken, Snapshot, buttons};
use skirmish::room::{Room, RoomConfig, RoomEvent};
use skirmish::session::detached::register_detached;
use skirmish::session::reliable_queue::ReliableReceiver;
use skirmish::session::{Sessions, SnapshotSlot};

const TICK_HZ: u16 = 30;
const PLAYER_COUNTS: [u32; 4] = [10, 100, 1000, 5000];
const DELIVERED_PLAYER_COUNTS: [u32; 2] = [100, 1000];
/// The server's default per-player queue (`outbound_queue`).
const OUTBOUND_QUEUE: usize = 256;
/// Ticks simulated before measuring, so bolts are in flight and spawn protection has worn off.
const WARM_UP_TICKS: u32 = 150;

/// A plausible input for player `id` at input number `seq`: a heading held for about a second,
/// then another; half the players hold fire in any given second; the aim turns slowly.
fn input_for(id: u32, seq: u32) -> PlayerInput {
    const HEADINGS: [u8; 9] = [
        0,
        buttons::UP,
        buttons::UP | buttons::RIGHT,
        buttons::RIGHT,
        buttons::RIGHT | buttons::DOWN,
        buttons::DOWN,
        buttons::DOWN | buttons::LEFT,
        buttons::LEFT,
        buttons::LEFT | buttons::UP,
    ];
    let second = seq / u32::from(TICK_HZ);
    let h = mix(id, second);
    let fire = if h & 0x100 != 0 { buttons::FIRE } else { 0 };
    PlayerInput {
        seq,
        buttons: HEADINGS[(h % 9) as usize] | fire,
        aim: (h >> 16) as f32 / 65536.0 * std::f32::consts::TAU + seq as f32 * 0.05,
        ..Default::default()
    }
}

fn mix(a: u32, b: u32) -> u32 {
    let mut x = (u64::from(a) << 32 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 32) as u32
}

/// A loop with `players` joined, warmed up, and the state it needs to keep feeding inputs.
struct Game {
    tick_loop: Room<Arc<Sessions>>,
    events: Arc<ArrayQueue<RoomEvent>>,
    sessions: Arc<Sessions>,
    /// Each registered player's queue of reliable messages (none unless `delivered`).
    queues: Vec<ReliableReceiver>,
    /// Each registered player's snapshot slot (none unless `delivered`).
    slots: Vec<Arc<SnapshotSlot>>,
    /// Snapshot frames taken from the slots, and their bytes.
    frames: u64,
    frame_bytes: u64,
    players: u32,
    seq: u32,
}

impl Game {
    /// With `delivered`, every player is registered with a queue, as a connection would be.
    fn new(players: u32, delivered: bool, arena: ArenaRule) -> Game {
        let events = Arc::new(ArrayQueue::new(players as usize * 2 + 64));
        let sessions = Arc::new(Sessions::default());
        let mut world = WorldConfig::new(TICK_HZ, 42);
        world.arena = arena;
        let tick_loop = Room::new(
            RoomConfig::new(world),
            Arc::clone(&events),
            Arc::clone(&sessions),
            Arc::new(RoomStats::default()),
        );
        let mut game = Game {
            tick_loop,
            events,
            sessions,
            queues: Vec::new(),
            slots: Vec::new(),
            frames: 0,
            frame_bytes: 0,
            players,
            seq: 0,
        };
        if delivered {
            let ids = (1..=players).map(PlayerId);
            for session in register_detached(&game.sessions, ids, OUTBOUND_QUEUE, false) {
                game.queues.push(session.outbound);
                game.slots.push(session.handle.snapshots);
            }
        }
        for id in 1..=players {
            game.events
                .push(RoomEvent::Join {
                    id: PlayerId(id),
                    name: format!("p{id}"),
                    request_id: id,
                    resume_token: ResumeToken::default(),
                    connection: u64::from(id),
                    resume_failed: None,
                })
                .unwrap();
            // Join in batches so no queue fills with announcements.
            if id % 100 == 0 {
                game.tick_loop.step(1);
                game.drain_queues();
            }
        }
        game.tick_loop.step(1);
        game.drain_queues();
        // A growing arena is resized once a second: let it take its size first.
        let settle = if matches!(arena, ArenaRule::Fixed { .. }) {
            0
        } else {
            u32::from(TICK_HZ) * 2
        };
        for _ in 0..WARM_UP_TICKS + settle {
            game.feed_inputs();
            game.tick_loop.step(1);
            game.drain_queues();
        }
        game
    }

    /// What the writer tasks do between ticks: take every queued message and snapshot, and
    /// mark the snapshot sent (the player's next baseline).
    fn drain_queues(&mut self) {
        for queue in &mut self.queues {
            while let Some(message) = queue.try_recv() {
                black_box(message);
            }
        }
        for slot in &self.slots {
            if let Some(frame) = slot.take() {
                slot.sent(frame.tick);
                self.frames += 1;
                self.frame_bytes += frame.bytes.len() as u64;
            }
        }
    }

    /// Times `iterations` ticks, each after a fresh round of inputs.
    fn time_ticks(&mut self, iterations: u64) -> Duration {
        let mut spent = Duration::ZERO;
        for _ in 0..iterations {
            self.feed_inputs();
            let started = Instant::now();
            self.tick_loop.step(1);
            spent += started.elapsed();
            black_box(self.tick_loop.world().tick());
            self.drain_queues();
        }
        spent
    }

    /// One input per player, as the connection tasks would have queued since the last tick.
    fn feed_inputs(&mut self) {
        self.seq += 1;
        for id in 1..=self.players {
            let input = input_for(id, self.seq);
            let pushed = self.events.push(RoomEvent::Input {
                id: PlayerId(id),
                input,
            });
            assert!(pushed.is_ok(), "event queue too small for the bench");
        }
    }

    /// Players, orbs and bolts in the world now.
    fn entities(&self) -> u64 {
        let mut snapshot = Snapshot::default();
        self.tick_loop.world().write_snapshot(&mut snapshot);
        (snapshot.players.len() + snapshot.orbs.len() + snapshot.bolts.len()) as u64
    }
}

/// The bundled game's default arena when fixed, and as the server grows it by default.
const FIXED: ArenaRule = ArenaRule::Fixed {
    width: 3000.0,
    height: 2000.0,
};
const GROWN: ArenaRule = ArenaRule::PerPlayer {
    min_width: 3000.0,
    min_height: 2000.0,
    area_per_player: skirmish::config::DEFAULT_AREA_PER_PLAYER as f32,
};

fn full_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for players in PLAYER_COUNTS {
        let mut game = Game::new(players, false, FIXED);
        // Criterion's linear sampling needs samples * (samples + 1) / 2 iterations at least.
        group.sample_size(if players >= 5000 { 20 } else { 50 });
        group.throughput(Throughput::Elements(game.entities()));
        group.bench_function(BenchmarkId::new("full", players), |b| {
            b.iter_custom(|iterations| game.time_ticks(iterations));
        });
    }
    group.finish();
}

fn delivered_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("tick_delivered");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for players in DELIVERED_PLAYER_COUNTS {
        for (name, arena) in [("full", FIXED), ("grown", GROWN)] {
            let mut game = Game::new(players, true, arena);
            group.throughput(Throughput::Elements(game.entities()));
            group.bench_function(BenchmarkId::new(name, players), |b| {
                b.iter_custom(|iterations| game.time_ticks(iterations));
            });
            let kicked = game.sessions.delivery.kicked_slow.load(Ordering::Relaxed);
            assert_eq!(kicked, 0, "players kicked: the bench drains too slowly");
            let params = *game.tick_loop.world().params();
            println!(
                "tick_delivered/{name}/{players}: arena {}x{}, {} entities, mean snapshot frame {} bytes over {} frames",
                params.arena_width,
                params.arena_height,
                game.entities(),
                game.frame_bytes / game.frames.max(1),
                game.frames
            );
        }
    }
    group.finish();
}

/// Rooms in the many-small-matches bench, and players in each.
const SMALL_ROOMS: u32 = 1000;
const SMALL_ROOM_PLAYERS: u32 = 2;

/// Many small matches in one process: a tick of each of 1000 rooms of 2 players, each room its
/// own world, replication and registry with every frame delivered, stepped one after the other
/// as a tick thread steps its rooms. Throughput is in rooms, so criterion's time per element is
/// the fixed cost of one room's tick.
fn many_small_rooms(c: &mut Criterion) {
    let mut group = c.benchmark_group("rooms");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(10);
    let mut rooms: Vec<Game> = (0..SMALL_ROOMS)
        .map(|_| Game::new(SMALL_ROOM_PLAYERS, true, GROWN))
        .collect();
    group.throughput(Throughput::Elements(u64::from(SMALL_ROOMS)));
    let name = format!("{SMALL_ROOMS}x{SMALL_ROOM_PLAYERS}");
    group.bench_function(BenchmarkId::new("small_delivered", name), |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                for room in &mut rooms {
                    spent += room.time_ticks(1);
                }
            }
            spent
        });
    });
    let kicked: u64 = rooms
        .iter()
        .map(|room| room.sessions.delivery.kicked_slow.load(Ordering::Relaxed))
        .sum();
    assert_eq!(kicked, 0, "players kicked: the bench drains too slowly");
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = full_tick, delivered_tick, many_small_rooms
}
criterion_main!(benches);
