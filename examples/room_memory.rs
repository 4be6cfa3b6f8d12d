//! The room's own share of a player's memory, without any connection: a room (world,
//! replication, registry) in the fixed 3000x2000 arena that `scripts/memory.py` uses, with one
//! player, then with N more idle ones registered as detached sessions (a snapshot slot and a
//! reliable queue each, drained between ticks as writers would), stepped for five seconds, and
//! after those left (with freed memory given back, as the server does). Prints the resident set
//! at each stage and the growth per player: what `memory.py`'s figure per connection includes
//! before any socket, task or buffer.
//!
//! `cargo run --release --example room_memory [players]` (Linux: reads /proc/self/status).

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use skirmish::game::WorldConfig;
use skirmish::game::arena::ArenaRule;
use skirmish::metrics::RoomStats;
use skirmish::protocol::{PlayerId, ResumeToken};
use skirmish::room::{Room, RoomConfig, RoomEvent};
use skirmish::session::Sessions;
use skirmish::session::detached::{DetachedSession, register_detached};

const TICK_HZ: u16 = 30;
const TICKS: u32 = 5 * TICK_HZ as u32;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn join(events: &ArrayQueue<RoomEvent>, id: u32) {
    events
        .push(RoomEvent::Join {
            id: PlayerId(id),
            name: format!("p{id}"),
            request_id: id,
            resume_token: ResumeToken::default(),
            connection: u64::from(id),
            resume_failed: None,
        })
        .expect("room for the join");
}

/// What writers do between ticks: take every message and snapshot, and mark it sent.
fn drain(sessions: &mut [DetachedSession]) {
    for session in sessions {
        while session.outbound.try_recv().is_some() {}
        let slot = &session.handle.snapshots;
        if let Some(frame) = slot.take() {
            slot.sent(frame.tick);
        }
    }
}

fn main() {
    let players: u32 = std::env::args().nth(1).map_or(2000, |n| n.parse().unwrap());
    let before = rss_kib();
    let events = Arc::new(ArrayQueue::new(players as usize + 64));
    let registry = Arc::new(Sessions::default());
    let mut world = WorldConfig::new(TICK_HZ, 1);
    world.arena = ArenaRule::Fixed {
        width: 3000.0,
        height: 2000.0,
    };
    let mut room = Room::new(
        RoomConfig::new(world),
        Arc::clone(&events),
        Arc::clone(&registry),
        Arc::new(RoomStats::default()),
    );
    let mut sessions = register_detached(&registry, [PlayerId(1)], 256, false);
    join(&events, 1);
    for _ in 0..TICKS {
        room.step(1);
        drain(&mut sessions);
    }
    let one = rss_kib();
    sessions.extend(register_detached(
        &registry,
        (2..=players + 1).map(PlayerId),
        256,
        false,
    ));
    for id in 2..=players + 1 {
        join(&events, id);
        // Joins in batches, as they arrive over a ramp.
        if id % 100 == 0 {
            room.step(1);
            drain(&mut sessions);
        }
    }
    for _ in 0..TICKS {
        room.step(1);
        drain(&mut sessions);
    }
    let all = rss_kib();
    for id in 2..=players + 1 {
        events
            .push(RoomEvent::Leave {
                id: PlayerId(id),
                connection: u64::from(id),
            })
            .expect("room for the leave");
        if id % 100 == 0 {
            room.step(1);
            drain(&mut sessions);
        }
    }
    sessions.truncate(1);
    for _ in 0..TICKS {
        room.step(1);
        drain(&mut sessions);
    }
    skirmish::server::memory::trim();
    let left = rss_kib();
    let per_player = (all - one) as f64 / f64::from(players);
    println!(
        "| room only, {players} idle players, arena 3000x2000 | before {:.1} MiB | one player {:.1} MiB | +{players} {:.1} MiB | {per_player:.1} KiB per player | after they left {:.1} MiB |",
        before as f64 / 1024.0,
        one as f64 / 1024.0,
        all as f64 / 1024.0,
        left as f64 / 1024.0,
    );
}
