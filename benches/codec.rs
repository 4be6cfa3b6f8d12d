//! Encode and decode of every message type, in bytes per second, through the crate's codec
//! functions (the only ones the server and clients use). The snapshot is a real one: a world of
//! 1000 players who have been moving and firing for five seconds, so its integers have the
//! varint widths of a live game.
//!
//! The `decode_malformed` group decodes hostile input the way the server meets it. Each case
//! must cost no more per byte than decoding a valid message of its kind: a length prefix
//! claiming billions of elements, a truncated snapshot, garbage, trailing bytes, bad UTF-8.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use skirmish::game::{World, WorldConfig};
use skirmish::protocol::*;

const SNAPSHOT_PLAYERS: u32 = 1000;

/// A snapshot of a world that has been played in for a while.
fn live_snapshot() -> Snapshot {
    let mut world = World::new(&WorldConfig::new(30, 9));
    for id in 1..=SNAPSHOT_PLAYERS {
        world.add_player(PlayerId(id));
    }
    for seq in 1..=150u32 {
        for id in 1..=SNAPSHOT_PLAYERS {
            let turn = (id.wrapping_mul(2_654_435_761) >> 8).wrapping_add(seq / 30);
            let input = PlayerInput {
                seq,
                buttons: (turn % 16) as u8 | if turn % 3 == 0 { buttons::FIRE } else { 0 },
                aim: (turn % 628) as f32 / 100.0,
                ..Default::default()
            };
            world.queue_input(PlayerId(id), input);
        }
        world.step();
    }
    let mut snapshot = Snapshot::default();
    world.write_snapshot(&mut snapshot);
    snapshot
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
        ("snapshot", ServerMessage::Snapshot(live_snapshot())),
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
    let snapshot = encode_server_message(&ServerMessage::Snapshot(live_snapshot())).unwrap();
    let join = encode_client_message(&ClientMessage::Join(Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 1,
        name: "Player-0123456".into(),
        resume_token: None,
        baseline_tick: None,
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
        ("client/unknown_variant", vec![0x07, 0x01, 0x02]),
        ("client/oversized", vec![0u8; MAX_CLIENT_MESSAGE_BYTES + 1]),
    ];
    let server_cases: Vec<(&str, Vec<u8>)> = vec![
        // Snapshot claiming four billion players in a few bytes.
        (
            "server/huge_length_prefix",
            vec![0x01, 0x07, 0xfc, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            "server/truncated_snapshot",
            snapshot[..snapshot.len() / 2].to_vec(),
        ),
        ("server/trailing_byte_snapshot", trailing_snapshot),
        ("server/garbage", garbage),
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
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = encode, decode, decode_malformed
}
criterion_main!(benches);
