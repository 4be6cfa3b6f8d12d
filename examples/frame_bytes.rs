//! Where a snapshot frame's bytes go, in the bundled game as the server grows it: 1000 wander
//! pilots (the swarm's behaviour) play for 20 s; each tick, 20 players' frames (each against the
//! previous tick, as a client keeping up gets) are taken apart by category, and applied to
//! those players' replicas (timed: what a bot of the swarm spends per frame).
//!
//! `cargo run --release --example frame_bytes [players]`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use skirmish::bots::behaviour::{Behaviour, Pilot, View};
use skirmish::game::{World, WorldConfig};
use skirmish::protocol::snapshot::{
    Entity, Kind, Op, Reader, SCOREBOARD_SIZE, frame_flags, read_entry, read_header, read_own,
    read_rank,
};
use skirmish::protocol::{PlayerId, PlayerInput, Replica, Snapshot, Tick};
use skirmish::room::replication::Replicator;

fn main() {
    let players: u32 = std::env::args().nth(1).map_or(1000, |n| n.parse().unwrap());
    let mut config = WorldConfig::new(30, 5);
    config.arena = skirmish::config::default_arena_rule();
    let mut world = World::new(&config);
    let mut pilots = Vec::new();
    for id in 1..=players {
        world.add_player(PlayerId(id));
        pilots.push(Pilot::new(Behaviour::Wander, u64::from(id)));
    }
    let mut replicator = Replicator::new();
    let mut snapshot = Snapshot::default();
    let mut bytes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut frames = 0u64;
    const OBSERVED: u32 = 20;
    let mut replicas: Vec<Replica> = (0..OBSERVED).map(|_| Replica::new()).collect();
    let mut applying = Duration::ZERO;
    let mut held = 0usize;
    let mut previous: Option<Tick> = None;
    for seq in 1..=600u32 {
        for (i, pilot) in pilots.iter_mut().enumerate() {
            let id = PlayerId(i as u32 + 1);
            let me = world.player(id).map(|p| (p.body.x, p.body.y));
            let controls = pilot.next_controls(&View {
                me,
                ..View::default()
            });
            let input = PlayerInput {
                seq,
                buttons: controls.buttons,
                aim: controls.aim,
                ..Default::default()
            };
            world.queue_input(id, input);
        }
        world.step();
        world.write_snapshot(&mut snapshot);
        replicator.record(&snapshot, 1000);
        for id in 1..=players {
            let mut frame = Vec::new();
            replicator.encode_for(PlayerId(id), previous, &mut frame);
            if id > OBSERVED {
                continue;
            }
            let replica = &mut replicas[id as usize - 1];
            let started = Instant::now();
            let state = replica.apply(&frame[1..]).unwrap();
            if seq > 300 {
                applying += started.elapsed();
                held += state.entity_count();
                frames += 1;
                account(&frame, &mut bytes);
            }
        }
        previous = Some(snapshot.tick);
    }
    let total: u64 = bytes.values().sum();
    println!(
        "{players} players, arena {}x{}: mean frame {:.1} B (+2 B WebSocket header)",
        world.params().arena_width,
        world.params().arena_height,
        total as f64 / frames as f64
    );
    println!(
        "  applying a frame: {:.2} µs for {:.0} entities held",
        applying.as_secs_f64() * 1e6 / frames as f64,
        held as f64 / frames as f64
    );
    for (what, n) in &bytes {
        println!("  {what:<28} {:>7.1} B/frame", *n as f64 / frames as f64);
    }
}

fn account(frame: &[u8], bytes: &mut BTreeMap<&'static str, u64>) {
    let mut add = |what, n: usize| *bytes.entry(what).or_default() += n as u64;
    let body = &frame[1..];
    let mut r = Reader::new(body);
    let at = |r: &Reader<'_>| body.len() - r.remaining();
    let header = read_header(&mut r).unwrap();
    add("header (variant + fields)", at(&r) + 1);
    let start = at(&r);
    if header.flags & frame_flags::OWN != 0 {
        read_own(&mut r).unwrap();
    }
    add("own state", at(&r) - start);
    let start = at(&r);
    if header.flags & frame_flags::RANK != 0 {
        read_rank(&mut r, &header).unwrap();
    }
    add("rank", at(&r) - start);
    let start = at(&r);
    if header.flags & frame_flags::SCOREBOARD != 0 {
        let n = r.varint_u32("n").unwrap();
        assert!(n as usize <= SCOREBOARD_SIZE);
        for _ in 0..n * 2 {
            r.varint_u32("s").unwrap();
        }
    }
    add("scoreboard", at(&r) - start);
    let start = at(&r);
    if header.flags & frame_flags::TAGS != 0 {
        let n = r.varint_u32("n").unwrap();
        for _ in 0..n * 3 {
            r.varint_u32("t").unwrap();
        }
    }
    add("tags", at(&r) - start);
    let start = at(&r);
    let cells = r.varint_u32("cells").unwrap();
    let mut overhead = at(&r) - start;
    for _ in 0..cells {
        let s = at(&r);
        r.varint_u32("gap").unwrap();
        let entries = r.varint_u32("entries").unwrap();
        overhead += at(&r) - s;
        let mut previous: Option<Entity> = None;
        for _ in 0..entries {
            let s = at(&r);
            let entry = read_entry(&mut r, previous.as_ref(), header.tick).unwrap();
            previous = Some(entry.entity);
            let what = match (entry.op, entry.kind) {
                (Op::Update, _) => "player updates",
                (Op::Upsert, Kind::Player) => "player upserts",
                (Op::Upsert, Kind::Orb) => "orb upserts",
                (Op::Upsert, Kind::Bolt) => "bolt upserts",
                (Op::Remove, Kind::Player) => "player removes",
                (Op::Remove, Kind::Orb) => "orb removes",
                (Op::Remove, Kind::Bolt) => "bolt removes",
            };
            add(what, at(&r) - s);
        }
    }
    add("cell list overhead", overhead);
}
