//! Encode and decode of every message type, in bytes per second, through the crate's codec
//! functions (the only ones the server and clients use).
//!
//! Snapshots are per-client delta frames (`room::replication`, `protocol::snapshot`), measured
//! on a real world: 1000 players who have been moving and firing for five seconds, then one
//! more tick. `snapshot/*` encodes one client's frame, full and as a delta against the previous
//! tick (the replicator having recorded both ticks), and applies each in a client's replica,
//! in frames per second.
//!
//! `swarm_replicas/apply_1000` applies what a thousand bots receive: the frames of a 1000-player
//! game in an arena grown to their number (the bundled game's default), each against the
//! previous tick, applied tick by tick to a thousand replicas in turn, as the swarm does. It
//! counts what one frame costs a client when a thousand replicas share the caches, in frames
//! per second.
//!
//! The `decode_malformed` group decodes hostile input the way the server and clients meet it.
//! Each case must cost no more per byte than decoding a valid message of its kind: a length
//! prefix claiming billions of elements, a truncated or garbled snapshot frame, garbage,
//! trailing bytes, bad UTF-8.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use skirmish::game::{World, WorldConfig};
use skirmish::protocol::*;
use skirmish::room::replication::Replicator;

const SNAPSHOT_PLAYERS: u32 = 1000;

/// The world after it has been played in for a while, and one tick later.
fn live_snapshots() -> (Snapshot, Snapshot) {
    let mut world = World::new(&WorldConfig::new(30, 9));
    for id in 1..=SNAPSHOT_PLAYERS {
        world.add_player(PlayerId(id));
    }
    let mut before = Snapshot::default();
    for seq in 1..=151u32 {
        for id in 1..=SNAPSHOT_PLAYERS {
            world.queue_input(PlayerId(id), steering(id, seq));
        }
        world.step();
        if seq == 150 {
            world.write_snapshot(&mut before);
        }
    }
    let mut after = Snapshot::default();
    world.write_snapshot(&mut after);
    (before, after)
}

/// A replicator that recorded both ticks of [`live_snapshots`], and the frames of player 1's
/// client for the second: full, and against the first.
fn live_frames() -> (Replicator, Vec<u8>, Vec<u8>) {
    let (before, after) = live_snapshots();
    let mut replicator = Replicator::new();
    replicator.record(&before, 0);
    let mut ignored = Vec::new();
    replicator.encode_for(PlayerId(1), None, &mut ignored);
    replicator.record(&after, 0);
    let (mut full, mut delta) = (Vec::new(), Vec::new());
    replicator.encode_for(PlayerId(1), None, &mut full);
    replicator.encode_for(PlayerId(1), Some(before.tick), &mut delta);
    (replicator, full, delta)
}

/// A client's replica holding the full frame of the tick before the frames of `live_frames`.
fn replica_holding_the_first_tick() -> Replica {
    let (before, _) = live_snapshots();
    let mut replicator = Replicator::new();
    replicator.record(&before, 0);
    let mut frame = Vec::new();
    replicator.encode_for(PlayerId(1), None, &mut frame);
    let mut replica = Replica::new();
    replica.apply(&frame[1..]).unwrap();
    replica
}

fn snapshots(c: &mut Criterion) {
    let (mut replicator, full, delta) = live_frames();
    let base = replica_holding_the_first_tick().latest_tick();
    let mut group = c.benchmark_group("snapshot");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(64 * 1024);
    println!(
        "snapshot: full frame {} bytes, delta frame {} bytes",
        full.len(),
        delta.len()
    );
    group.bench_function("encode_full_1000", |b| {
        b.iter(|| {
            out.clear();
            replicator.encode_for(PlayerId(1), None, &mut out);
        })
    });
    group.bench_function("encode_delta_1000", |b| {
        b.iter(|| {
            out.clear();
            replicator.encode_for(PlayerId(1), base, &mut out);
        })
    });
    let mut fresh = replica_holding_the_first_tick();
    group.bench_function("apply_full_1000", |b| {
        b.iter(|| fresh.apply(black_box(&full[1..])).map(|s| s.tick).unwrap())
    });
    let mut holding = replica_holding_the_first_tick();
    group.bench_function("apply_delta_1000", |b| {
        b.iter(|| {
            holding
                .apply(black_box(&delta[1..]))
                .map(|s| s.tick)
                .unwrap()
        })
    });
    group.finish();
}

/// Ticks of frames recorded for `swarm_replicas`, after the world has played for five seconds.
const SWARM_TICKS: usize = 300;

/// Every player's frame for each of [`SWARM_TICKS`] ticks of a game in a grown arena: the first
/// full, the others against the tick before.
fn swarm_frames() -> Vec<Vec<Vec<u8>>> {
    let mut config = WorldConfig::new(30, 9);
    config.arena = skirmish::config::default_arena_rule();
    let mut world = World::new(&config);
    for id in 1..=SNAPSHOT_PLAYERS {
        world.add_player(PlayerId(id));
    }
    let mut replicator = Replicator::new();
    let mut snapshot = Snapshot::default();
    let mut ticks = Vec::with_capacity(SWARM_TICKS);
    let mut previous = None;
    for seq in 1..=(150 + SWARM_TICKS) as u32 {
        for id in 1..=SNAPSHOT_PLAYERS {
            world.queue_input(PlayerId(id), steering(id, seq));
        }
        world.step();
        if seq <= 150 {
            continue;
        }
        world.write_snapshot(&mut snapshot);
        replicator.record(&snapshot, 0);
        let frames = (1..=SNAPSHOT_PLAYERS)
            .map(|id| {
                let mut frame = Vec::new();
                replicator.encode_for(PlayerId(id), previous, &mut frame);
                frame
            })
            .collect();
        ticks.push(frames);
        previous = Some(snapshot.tick);
    }
    ticks
}

/// A player's input: a direction that changes every second, firing every third second.
fn steering(id: u32, seq: u32) -> PlayerInput {
    let turn = (id.wrapping_mul(2_654_435_761) >> 8).wrapping_add(seq / 30);
    PlayerInput {
        seq,
        buttons: (turn % 16) as u8
            | if turn.is_multiple_of(3) {
                buttons::FIRE
            } else {
                0
            },
        aim: (turn % 628) as f32 / 100.0,
        ..Default::default()
    }
}

fn swarm_replicas(c: &mut Criterion) {
    let ticks = swarm_frames();
    let mut group = c.benchmark_group("swarm_replicas");
    configure(&mut group);
    group.throughput(Throughput::Elements(u64::from(SNAPSHOT_PLAYERS)));
    let fresh = || -> Vec<Replica> {
        let mut replicas: Vec<Replica> = ticks[0]
            .iter()
            .map(|_| Replica::for_monotonic_baselines())
            .collect();
        for (replica, frame) in replicas.iter_mut().zip(&ticks[0]) {
            replica.apply(&frame[1..]).unwrap();
        }
        replicas
    };
    let mut replicas = fresh();
    let mut next = 1;
    group.bench_function("apply_1000", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                if next == ticks.len() {
                    replicas = fresh();
                    next = 1;
                }
                let started = std::time::Instant::now();
                for (replica, frame) in replicas.iter_mut().zip(&ticks[next]) {
                    black_box(replica.apply(black_box(&frame[1..])).unwrap().tick);
                }
                spent += started.elapsed();
                next += 1;
            }
            spent
        })
    });
    group.finish();
}

fn client_messages() -> Vec<(&'static str, ClientMessage)> {
    vec![
        (
            "join",
            ClientMessage::Join(Join {
                protocol_version: PROTOCOL_VERSION,
                request_id: 1,
                name: "Player-0123456".into(),
                resume_token: Some(ResumeToken([7; 16])),
                baseline_tick: Some(Tick(4000)),
                room: RoomRequest::default(),
            }),
        ),
        (
            "input",
            ClientMessage::Input(PlayerInput {
                seq: 70_000,
                buttons: buttons::UP | buttons::FIRE,
                aim: 1.25,
                ..Default::default()
            }),
        ),
        ("ping", ClientMessage::Ping(Ping { nonce: 123_456 })),
        (
            "chat",
            ClientMessage::Chat(Chat {
                request_id: 9,
                text: "good game, well played".into(),
            }),
        ),
    ]
}

fn server_messages() -> Vec<(&'static str, ServerMessage)> {
    let welcome_players = (1..=100)
        .map(|id| PlayerInfo {
            id: PlayerId(id),
            name: format!("Player-{id}"),
        })
        .collect();
    vec![
        (
            "welcome",
            ServerMessage::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                request_id: 1,
                player_id: PlayerId(77),
                resumed: false,
                resume_token: ResumeToken([7; 16]),
                tick_hz: 30,
                params: skirmish::game::params::default_params(30),
                players: welcome_players,
                room: RoomInfo {
                    id: 1,
                    mode: "arena".into(),
                    max_players: 2000,
                    code: None,
                },
                resume_failed: None,
            }),
        ),
        (
            "player_joined",
            ServerMessage::PlayerJoined(PlayerInfo {
                id: PlayerId(1234),
                name: "Player-1234".into(),
            }),
        ),
        (
            "player_left",
            ServerMessage::PlayerLeft(PlayerLeft { id: PlayerId(1234) }),
        ),
        (
            "tagged",
            ServerMessage::Tagged(Tagged {
                tick: Tick(90_000),
                shooter: PlayerId(12),
                victim: PlayerId(1234),
            }),
        ),
        ("pong", ServerMessage::Pong(Ping { nonce: 123_456 })),
        (
            "error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::InvalidName,
                message: "names are 1 to 16 letters, digits, spaces, - _ .".into(),
            }),
        ),
    ]
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50);
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    configure(&mut group);
    for (name, message) in client_messages() {
        let len = encode_client_message(&message).unwrap().len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("client/{name}"), |b| {
            b.iter(|| encode_client_message(black_box(&message)).unwrap())
        });
    }
    for (name, message) in server_messages() {
        let mut buffer = Vec::new();
        encode_server_message_into(&message, &mut buffer).unwrap();
        group.throughput(Throughput::Bytes(buffer.len() as u64));
        // The server's way: into a buffer it reuses.
        group.bench_function(format!("server/{name}"), |b| {
            b.iter(|| {
                encode_server_message_into(black_box(&message), &mut buffer).unwrap();
                black_box(buffer.len())
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    configure(&mut group);
    for (name, message) in client_messages() {
        let bytes = encode_client_message(&message).unwrap();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("client/{name}"), |b| {
            b.iter(|| decode_client_message(black_box(&bytes)).unwrap())
        });
    }
    for (name, message) in server_messages() {
        let bytes = encode_server_message(&message).unwrap();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("server/{name}"), |b| {
            b.iter(|| decode_server_message(black_box(&bytes)).unwrap())
        });
    }
    group.finish();
}

fn decode_malformed(c: &mut Criterion) {
    let (_, snapshot, _) = live_frames();
    let join = encode_client_message(&ClientMessage::Join(Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 1,
        name: "Player-0123456".into(),
        resume_token: None,
        baseline_tick: None,
        room: RoomRequest::default(),
    }))
    .unwrap();
    let garbage: Vec<u8> = (0..snapshot.len() as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut bad_utf8 = join.clone();
    // The name's last byte (the one before the absent resume token's tag).
    let last = bad_utf8.len() - 2;
    bad_utf8[last] = 0xff;
    let mut trailing_snapshot = snapshot.clone();
    trailing_snapshot.push(0);
    let mut garbled_snapshot = snapshot.clone();
    let middle = garbled_snapshot.len() / 2;
    garbled_snapshot[middle] ^= 0x55;

    let client_cases: Vec<(&str, Vec<u8>)> = vec![
        // Join, version 1, a name claiming u64::MAX bytes.
        (
            "client/huge_length_prefix",
            vec![
                0x00, 0x01, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ),
        ("client/truncated_join", join[..join.len() - 3].to_vec()),
        ("client/bad_utf8_join", bad_utf8),
        ("client/unknown_variant", vec![0x08, 0x01, 0x02]),
        ("client/oversized", vec![0u8; MAX_CLIENT_MESSAGE_BYTES + 1]),
    ];
    let server_cases: Vec<(&str, Vec<u8>)> = vec![
        // A welcome claiming four billion players in a few bytes.
        (
            "server/huge_length_prefix",
            vec![0x00, 0x05, 0x01, 0x01, 0x00, 0xfc, 0xff, 0xff, 0xff, 0xff],
        ),
        ("server/garbage", garbage),
    ];
    // Snapshot frames, as a client's replica meets them.
    let frame_cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "snapshot/truncated",
            snapshot[1..snapshot.len() / 2].to_vec(),
        ),
        ("snapshot/trailing_byte", trailing_snapshot[1..].to_vec()),
        ("snapshot/garbled", garbled_snapshot[1..].to_vec()),
    ];

    let mut group = c.benchmark_group("decode_malformed");
    configure(&mut group);
    for (name, bytes) in client_cases {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| decode_client_message(black_box(&bytes)).unwrap_err())
        });
    }
    for (name, bytes) in server_cases {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| decode_server_message(black_box(&bytes)).unwrap_err())
        });
    }
    let mut replica = Replica::new();
    for (name, bytes) in frame_cases {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| replica.apply(black_box(&bytes)).map(|_| ()).unwrap_err())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = encode, decode, snapshots, swarm_replicas, decode_malformed
}
criterion_main!(benches);
