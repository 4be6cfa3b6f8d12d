//! A steady game allocates nothing per tick. This binary installs a global allocator that counts
//! the allocations made on the thread that asked for counting, drives the real `Room` on a
//! manual clock (`step(1)`, no thread, no sleeping) with 1000 players who each send one
//! input per tick, moving and firing, and asserts that a few hundred ticks after warm-up
//! allocate nothing: not the drain, the step, the tags, nor the snapshot's encoding and
//! publishing.
//!
//! Joins allocate (a ship, a welcome listing everyone), and so may the first ticks after them
//! while buffers find their size; those happen before counting starts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use skirmish::game::WorldConfig;
use skirmish::metrics::RoomStats;
use skirmish::protocol::{PlayerId, PlayerInput, ResumeToken, Tick, buttons};
use skirmish::room::{Outbox, Room, RoomConfig, RoomEvent};
use skirmish::session::Sessions;
use skirmish::session::detached::register_detached;

/// Counts allocations (and reallocations) made by threads whose `COUNTING` flag is set, so the
/// test harness's own threads do not disturb the count.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: during thread teardown the slots may be gone; those allocations are not ours.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made on this thread while running `f`.
fn allocations_during(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|n| n.get())
}

const PLAYERS: u32 = 1000;
const WARM_UP_TICKS: u32 = 300;
const COUNTED_TICKS: u32 = 300;

/// What a connection would send: a heading held for a second, fire held by half the players in
/// any given second, an aim that turns.
fn input_for(id: u32, seq: u32) -> PlayerInput {
    let h = (u64::from(id) << 32 | u64::from(seq / 30)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    let fire = if h & 1 == 0 { buttons::FIRE } else { 0 };
    PlayerInput {
        seq,
        buttons: (h >> 1) as u8 & (buttons::UP | buttons::DOWN | buttons::LEFT | buttons::RIGHT)
            | fire,
        aim: (h & 0xffff) as f32 / 65536.0 * std::f32::consts::TAU + seq as f32 * 0.05,
        // Drawing others three ticks back: hits are judged by lag compensation's rewind.
        view_tick: Tick(seq.wrapping_sub(3)),
        ..Default::default()
    }
}

/// Holds what the network layer would still hold: each player's newest snapshot frame (as its
/// slot does until its writer sends it), marked sent at once (so every player's next frame is a
/// delta against it), and the last few reliable messages (as players' queues do until their
/// writers send them), in storage sized up front.
struct HoldingOutbox {
    held: Arc<Mutex<Held>>,
}

struct Held {
    /// By player id: the newest frame and the baseline it makes.
    frames: Vec<Bytes>,
    baselines: Vec<Option<Tick>>,
    snapshots: u64,
    frame_bytes: u64,
    recent: Vec<Bytes>,
    next: usize,
    reliable: u64,
}

const HELD_MESSAGES: usize = 256;

impl Held {
    fn new() -> Held {
        Held {
            frames: vec![Bytes::new(); PLAYERS as usize + 1],
            baselines: vec![None; PLAYERS as usize + 1],
            snapshots: 0,
            frame_bytes: 0,
            recent: vec![Bytes::new(); HELD_MESSAGES],
            next: 0,
            reliable: 0,
        }
    }

    fn hold(&mut self, bytes: Bytes) {
        self.recent[self.next] = bytes;
        self.next = (self.next + 1) % HELD_MESSAGES;
        self.reliable += 1;
    }
}

impl Outbox for HoldingOutbox {
    fn publish_snapshots(
        &self,
        tick: Tick,
        encode: &mut dyn FnMut(PlayerId, Option<Tick>) -> Option<Bytes>,
    ) {
        let mut held = self.held.lock().unwrap();
        for id in 1..=PLAYERS as usize {
            let Some(bytes) = encode(PlayerId(id as u32), held.baselines[id]) else {
                continue;
            };
            held.frame_bytes += bytes.len() as u64;
            held.frames[id] = bytes;
            held.baselines[id] = Some(tick);
            held.snapshots += 1;
        }
    }

    fn send_to(&self, _id: PlayerId, bytes: Bytes) {
        self.held.lock().unwrap().hold(bytes);
    }

    fn send_to_all_except(&self, _except: Option<PlayerId>, bytes: Bytes) {
        self.held.lock().unwrap().hold(bytes);
    }
}

/// Joins `PLAYERS` players and warms the loop up; returns a closure that runs one tick with
/// one input from every player and returns the tags of that tick.
fn steady_game<O: Outbox>(outbox: O) -> (Room<O>, impl FnMut(&mut Room<O>) -> u64) {
    let events = Arc::new(ArrayQueue::new(PLAYERS as usize * 2));
    let mut tick_loop = Room::new(
        RoomConfig::new(WorldConfig::new(30, 11)),
        Arc::clone(&events),
        outbox,
        Arc::new(RoomStats::default()),
    );
    for id in 1..=PLAYERS {
        let name = format!("p{id}");
        events
            .push(RoomEvent::Join {
                id: PlayerId(id),
                name,
                request_id: id,
                resume_token: ResumeToken::default(),
                connection: u64::from(id),
                resume_failed: None,
            })
            .unwrap();
    }
    tick_loop.step(1);
    let mut seq = 0;
    let tick = move |tick_loop: &mut Room<O>| {
        seq += 1;
        for id in 1..=PLAYERS {
            let event = RoomEvent::Input {
                id: PlayerId(id),
                input: input_for(id, seq),
            };
            assert!(events.push(event).is_ok(), "event queue full");
        }
        tick_loop.step(1);
        tick_loop.world().tags().len() as u64
    };
    (tick_loop, tick)
}

#[test]
fn a_steady_tick_allocates_nothing() {
    let held = Arc::new(Mutex::new(Held::new()));
    let (mut tick_loop, mut tick) = steady_game(HoldingOutbox {
        held: Arc::clone(&held),
    });
    for _ in 0..WARM_UP_TICKS {
        tick(&mut tick_loop);
    }
    let (snapshots, bytes_before) = {
        let held = held.lock().unwrap();
        (held.snapshots, held.frame_bytes)
    };

    let mut tags = 0;
    let allocations = allocations_during(|| {
        for _ in 0..COUNTED_TICKS {
            tags += tick(&mut tick_loop);
        }
    });

    let held = held.lock().unwrap();
    // The game was busy: a delta snapshot for every player every tick, ships tagging each other.
    let frames = held.snapshots - snapshots;
    assert_eq!(frames, u64::from(COUNTED_TICKS * PLAYERS));
    assert!(tags > u64::from(COUNTED_TICKS), "only {tags} tags");
    let mean_frame = (held.frame_bytes - bytes_before) / frames;
    assert!(
        mean_frame > 100,
        "frames of {mean_frame} bytes carry nothing"
    );
    assert_eq!(tick_loop.world().players().len(), PLAYERS as usize);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {COUNTED_TICKS} ticks ({tags} tags)"
    );
}

#[test]
fn publishing_into_the_real_sessions_slots_allocates_nothing() {
    let sessions = Arc::new(Sessions::default());
    // Nobody reads the reliable queues: the join announcements overflow them (which only flags
    // the players, whose connections are not here to act on it).
    let detached = register_detached(&sessions, (1..=PLAYERS).map(PlayerId), HELD_MESSAGES, false);
    let slots: Vec<_> = detached
        .iter()
        .map(|session| Arc::clone(&session.handle.snapshots))
        .collect();
    let (mut tick_loop, mut tick) = steady_game(Arc::clone(&sessions));
    let writers = |expect_tick: Option<Tick>| {
        // What each connection's writer does with its frame.
        for slot in &slots {
            let frame = slot.take().expect("a frame for every player");
            assert!(!frame.bytes.is_empty());
            if let Some(tick) = expect_tick {
                assert_eq!(frame.tick, tick);
            }
            slot.sent(frame.tick);
        }
    };
    for _ in 0..WARM_UP_TICKS {
        tick(&mut tick_loop);
        writers(None);
    }

    let allocations = allocations_during(|| {
        for _ in 0..COUNTED_TICKS {
            tick(&mut tick_loop);
            writers(Some(tick_loop.world().tick()));
        }
    });

    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {COUNTED_TICKS} ticks"
    );
}
