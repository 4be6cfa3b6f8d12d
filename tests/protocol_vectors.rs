//! The protocol's test vectors: bytes and the values they stand for, checked in under
//! `tests/vectors/` and read by both this test and the JavaScript codec's tests, so the two
//! codecs can never drift apart. Run with `SKIRMISH_WRITE_VECTORS=1` to regenerate the files
//! after a deliberate protocol change (and bump the protocol version).

use serde_json::{Value, json};
use skirmish::game::movement::{Body, step_body, tick_seconds};
use skirmish::game::params::default_params;
use skirmish::protocol::*;

const PROTOCOL_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/protocol_v9.json"
);
const MOVEMENT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/movement_v1.json"
);

fn client_messages() -> Vec<(&'static str, ClientMessage)> {
    let input = |seq, buttons, aim| {
        ClientMessage::Input(PlayerInput {
            seq,
            buttons,
            aim,
            ack_tick: Tick(seq.wrapping_sub(3)),
            view_tick: Tick(seq.wrapping_sub(6)),
        })
    };
    let join_room = |room| {
        ClientMessage::Join(Join {
            protocol_version: 9,
            request_id: 2,
            name: "Ann".into(),
            resume_token: None,
            baseline_tick: None,
            room,
        })
    };
    vec![
        (
            "join",
            ClientMessage::Join(Join {
                protocol_version: 2,
                request_id: 1,
                name: "Alice".into(),
                resume_token: None,
                baseline_tick: None,
                room: RoomRequest::default(),
            }),
        ),
        (
            "join with non-ascii name",
            ClientMessage::Join(Join {
                protocol_version: 2,
                request_id: 300,
                name: "Zoë ロボ".into(),
                resume_token: Some(ResumeToken([
                    0, 1, 2, 3, 250, 251, 252, 253, 254, 255, 16, 32, 64, 128, 7, 9,
                ])),
                baseline_tick: Some(Tick(70_000)),
                room: RoomRequest::default(),
            }),
        ),
        (
            "join from a future version",
            ClientMessage::Join(Join {
                protocol_version: 300,
                request_id: 0,
                name: "B".into(),
                resume_token: None,
                baseline_tick: None,
                room: RoomRequest::default(),
            }),
        ),
        (
            "join: quick play with a mode and a region",
            join_room(RoomRequest::QuickPlay {
                mode: "arena".into(),
                region: "eu-west".into(),
            }),
        ),
        ("join: a public room by id", join_room(RoomRequest::Id(300))),
        (
            "join: a private room by code",
            join_room(RoomRequest::Code("0Z0Z789ABC".into())),
        ),
        (
            "join: a new private room",
            join_room(RoomRequest::CreatePrivate {
                mode: "duel".into(),
            }),
        ),
        (
            "upgrade: a socket takes over a polling session",
            ClientMessage::Upgrade(Upgrade {
                sid: "n2.00ff".into(),
                ack: 300,
            }),
        ),
        (
            "join: a seat reserved by a cluster node",
            join_room(RoomRequest::Seat(SeatTicket([
                0, 1, 2, 3, 250, 251, 252, 253, 254, 255, 16, 32, 64, 128, 7, 9,
            ]))),
        ),
        (
            "input, one-byte seq",
            input(1, buttons::UP | buttons::FIRE, 1.5),
        ),
        ("input, u16 seq", input(300, 0, -0.25)),
        ("input, u32 seq", input(70_000, buttons::ALL, 3.140625)),
        (
            "input, largest seq",
            input(u32::MAX, buttons::DOWN | buttons::LEFT, 0.0),
        ),
        ("ping", ClientMessage::Ping(Ping { nonce: 250 })),
        (
            "ping, 251 needs a marker",
            ClientMessage::Ping(Ping { nonce: 251 }),
        ),
        (
            "heartbeat pong",
            ClientMessage::Pong(Ping { nonce: 70_000 }),
        ),
        (
            "chat",
            ClientMessage::Chat(Chat {
                request_id: 5,
                text: "<b>gg</b> ☺".into(),
            }),
        ),
        (
            "whisper",
            ClientMessage::Whisper(Whisper {
                request_id: 6,
                to: PlayerId(2),
                text: "psst".into(),
            }),
        ),
        ("leave", ClientMessage::Leave),
        ("resync", ClientMessage::Resync),
    ]
}

fn server_messages() -> Vec<(&'static str, ServerMessage)> {
    let params = default_params(30);
    vec![
        (
            "welcome",
            ServerMessage::Welcome(Welcome {
                protocol_version: 2,
                request_id: 1,
                player_id: PlayerId(2),
                resumed: true,
                resume_token: ResumeToken([0xab; 16]),
                tick_hz: 30,
                params,
                players: vec![
                    PlayerInfo {
                        id: PlayerId(1),
                        name: "Alice".into(),
                    },
                    PlayerInfo {
                        id: PlayerId(2),
                        name: "Bob".into(),
                    },
                ],
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
            "welcome to a private room",
            ServerMessage::Welcome(Welcome {
                protocol_version: 9,
                request_id: 3,
                player_id: PlayerId(300),
                resumed: false,
                resume_token: ResumeToken([7; 16]),
                tick_hz: 60,
                params,
                players: vec![PlayerInfo {
                    id: PlayerId(300),
                    name: "Zoë".into(),
                }],
                room: RoomInfo {
                    id: 70_000,
                    mode: "duel".into(),
                    max_players: 2,
                    code: Some("0Z0Z789ABC".into()),
                },
                resume_failed: Some("no player to resume".into()),
            }),
        ),
        (
            "redirect with a seat ticket",
            ServerMessage::Redirect(Redirect {
                url: "http://127.0.0.1:8082".into(),
                ticket: Some(SeatTicket([0xcd; 16])),
            }),
        ),
        (
            "announcement",
            ServerMessage::Announcement(Announcement {
                text: "Server restarts in 5 min ⏳".into(),
            }),
        ),
        (
            "redirect to resume",
            ServerMessage::Redirect(Redirect {
                url: "https://eu1.example.com".into(),
                ticket: None,
            }),
        ),
        (
            "player joined",
            ServerMessage::PlayerJoined(PlayerInfo {
                id: PlayerId(3),
                name: "Zoë".into(),
            }),
        ),
        (
            "roster of one tick",
            ServerMessage::Roster(Roster {
                joined: vec![
                    PlayerInfo {
                        id: PlayerId(300),
                        name: "Ann".into(),
                    },
                    PlayerInfo {
                        id: PlayerId(301),
                        name: "Zoë".into(),
                    },
                ],
                left: vec![PlayerLeft { id: PlayerId(7) }],
            }),
        ),
        (
            "player left",
            ServerMessage::PlayerLeft(PlayerLeft { id: PlayerId(1000) }),
        ),
        (
            "tagged",
            ServerMessage::Tagged(Tagged {
                tick: Tick(900),
                shooter: PlayerId(1),
                victim: PlayerId(2),
            }),
        ),
        ("pong", ServerMessage::Pong(Ping { nonce: 123_456 })),
        (
            "error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::ServerFull,
                message: "server full: 2000 players at most".into(),
            }),
        ),
        (
            "version error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::VersionMismatch,
                message: "protocol version mismatch".into(),
            }),
        ),
        (
            "heartbeat ping",
            ServerMessage::Ping(Heartbeat {
                nonce: 3,
                rtt_us: 1_250,
            }),
        ),
        (
            "chat line",
            ServerMessage::Chat(ChatLine {
                from: PlayerId(1),
                text: "<i>hi</i>".into(),
                whisper: false,
            }),
        ),
        (
            "whispered line",
            ServerMessage::Chat(ChatLine {
                from: PlayerId(300),
                text: "psst".into(),
                whisper: true,
            }),
        ),
        (
            "notice: away",
            ServerMessage::Notice(Notice {
                subject: PlayerId(1),
                kind: NoticeKind::Away,
            }),
        ),
        (
            "notice: back",
            ServerMessage::Notice(Notice {
                subject: PlayerId(1),
                kind: NoticeKind::Back,
            }),
        ),
        (
            "ack ok",
            ServerMessage::Ack(Ack {
                request_id: 5,
                error: None,
            }),
        ),
        (
            "ack refused",
            ServerMessage::Ack(Ack {
                request_id: 6,
                error: Some("rate limited: slow down".into()),
            }),
        ),
        (
            "no such room error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::NoSuchRoom,
                message: "no such room".into(),
            }),
        ),
        (
            "too many rooms error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::TooManyRooms,
                message: "too many rooms: private rooms are not available on this server yet"
                    .into(),
            }),
        ),
        (
            "ping timeout error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::PingTimeout,
                message: "ping timeout".into(),
            }),
        ),
        (
            "cluster unavailable error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::ClusterUnavailable,
                message: "cluster directory unavailable".into(),
            }),
        ),
    ]
}

/// Bytes that must not decode, each with why.
fn malformed_client_messages() -> Vec<(&'static str, &'static str)> {
    vec![
        ("empty", ""),
        ("unknown variant", "09"),
        ("upgrade without its session id", "08"),
        ("variant index with u64 marker", "fd0000000000000000"),
        ("reserved varint marker", "ff"),
        ("truncated join: name missing", "000201"),
        (
            "truncated join: name shorter than its length",
            "00020105416c69",
        ),
        ("join name is not utf-8", "00020102c32800"),
        ("join name length beyond the message", "000201fbffff41"),
        ("join name length as u64", "000201fdffffffffffffffff41"),
        ("join resume option tag is not 0 or 1", "000201014102"),
        ("join resume token cut short", "00020101410100112233"),
        ("join without its room request", "00070101410000"),
        ("join room request of an unknown kind", "0009010141000005"),
        ("join seat ticket cut short", "00090101410000040102030405"),
        (
            "join room id with a u64 marker",
            "0007010141000001fd0100000000000000",
        ),
        ("join room code not utf-8", "000701014100000201ff"),
        ("join quick play without its region", "000701014100000000"),
        (
            "input seq with u64 marker",
            "01fd010000000000000000000000000000",
        ),
        ("truncated input: aim cut short", "01011000"),
        ("ping with trailing byte", "02050000"),
        ("ping nonce with u128 marker", "02fe"),
        ("chat text not utf-8", "040101ff"),
        ("leave with a trailing byte", "0600"),
    ]
}

fn malformed_server_messages() -> Vec<(&'static str, &'static str)> {
    vec![
        ("empty", ""),
        ("unknown variant", "0e"),
        ("unknown error code", "060d00"),
        ("redirect ticket cut short", "0c0168010102"),
        ("error message not utf-8", "060002fffe"),
        ("pong with trailing bytes", "05050505"),
        ("player left, id as u16 marker but one byte", "03fb01"),
        ("chat whisper flag is not a bool", "0801014102"),
        ("unknown notice kind", "090102"),
        ("ack option tag is not 0 or 1", "0a0502"),
    ]
}

/// The frame every one of [`malformed_snapshot_frames`] departs from, which applies: a full
/// frame of an empty view (see there).
const EMPTY_SNAPSHOT_FRAME: &str = "0a001800000000000000000100d00fdc0b0100";

/// Frames the snapshot decoders must refuse, for the arena and baselines of
/// [`snapshot_sequence`] (applied to a fresh replica: no baseline held).
fn malformed_snapshot_frames() -> Vec<(&'static str, &'static str)> {
    // Each is well formed but for what its name says: tick 10, a full frame (age 0) of flags
    // 0x18 (the arena's size and the rank follow), view (0, 0, 0, 0), checksum, one player in
    // the room, server tick 0, the arena 2000 x 1500 (d00f dc0b), rank 1, then the cells.
    vec![
        ("empty", ""),
        ("truncated after the tick", "0a"),
        (
            "delta against a baseline never received",
            "0a01010000000000000000000000000000",
        ),
        (
            "view beyond the cell grid",
            "0a00180000800100000000000100d00fdc0b0100",
        ),
        (
            "checksum of an empty world is not zero",
            "0a001800000000010000000100d00fdc0b0100",
        ),
        (
            "a full frame without the arena's size",
            "0a0010000000000000000001000100",
        ),
        (
            "a full frame without the rank",
            "0a000800000000000000000100d00fdc0b00",
        ),
        ("a rank of zero", "0a001800000000000000000100d00fdc0b0000"),
        (
            "a rank above the room's head count",
            "0a001800000000000000000100d00fdc0b0200",
        ),
        (
            "an arena side of zero",
            "0a00180000000000000000010000dc0b0100",
        ),
        (
            "an arena wider than the cell grid",
            "0a001800000000000000000100818002dc0b0100",
        ),
        (
            "a cell outside the view",
            "0a001800000000000000000100d00fdc0b0101090101050202",
        ),
        (
            "an update of an entity the baseline lacks",
            "0a001800000000000000000100d00fdc0b0101000110050202",
        ),
        ("a varint that never ends", "0affffffffffffffffffffff"),
    ]
}

/// The world the snapshot sequence is cut from, one state per tick from tick 10.
fn scripted_world(step: u32) -> Snapshot {
    let player = |id: u32, x: f32, y: f32, score: u32, seq: u32, flags: u8| PlayerState {
        id: PlayerId(id),
        x,
        y,
        vx: 12.5 * step as f32,
        vy: -0.125,
        aim: 0.5 + 0.1 * step as f32,
        score,
        last_input_seq: seq,
        flags,
    };
    let orb = |id: u32, x: f32, y: f32| OrbState { id, x, y };
    // The arena grows at the fifth tick: the delta against the fourth says so.
    let mut world = Snapshot {
        tick: Tick(10 + step),
        arena_width: if step >= 4 { 2400.0 } else { 2000.0 },
        arena_height: 1500.0,
        ..Snapshot::default()
    };
    let me_x = [300.5, 310.0, 320.0, 600.0, 640.0, 700.0][step as usize];
    let tagged = step >= 2;
    world.players = vec![
        player(
            1,
            me_x,
            400.25,
            if tagged { 13 } else { 3 },
            40 + step,
            u8::from(step == 0),
        ),
        if tagged {
            player(
                2,
                1500.0 + step as f32,
                300.0,
                5,
                7,
                player_flags::PROTECTED,
            )
        } else {
            player(2, 900.0 + 5.0 * step as f32, 420.0, 10, 7, 0)
        },
        player(3, 1900.0, 1400.0, 70_000, 1, player_flags::AWAY),
    ];
    world.orbs = vec![
        if step == 0 {
            orb(0, 100.0, 100.0)
        } else {
            orb(0, 700.0, 200.0)
        },
        orb(5, 1000.0, 1000.0),
        orb(9, 1950.0, 50.0),
    ];
    if step == 1 {
        world.bolts = vec![BoltState {
            id: 100,
            owner: PlayerId(2),
            x: 880.0,
            y: 420.0,
            vx: -900.0,
            vy: 0.0,
        }];
    }
    if step == 2 {
        world.tags = vec![Tagged {
            tick: Tick(12),
            shooter: PlayerId(1),
            victim: PlayerId(2),
        }];
    }
    world
}

/// Frames for player 1 of [`scripted_world`], each against the previous one except the last
/// (against the one two before), with the state a client holds after applying each.
fn snapshot_sequence() -> Value {
    let me = PlayerId(1);
    let mut replicator = skirmish::room::replication::Replicator::new();
    let mut replica = Replica::new();
    let mut frames = Vec::new();
    let baselines = [None, Some(10), Some(11), Some(12), Some(13), Some(13)];
    for (step, baseline) in baselines.into_iter().enumerate() {
        replicator.record(&scripted_world(step as u32), 250 + step as u32);
        let mut bytes = Vec::new();
        assert!(replicator.encode_for(me, baseline.map(Tick), &mut bytes));
        let state = replica.apply(&bytes[1..]).unwrap();
        frames.push(json!({
            "baseline": baseline,
            "hex": hex::encode(&bytes),
            "state": state_json(state),
            "tags": replica.tags().iter().map(|t| json!([t.tick.0, t.shooter.0, t.victim.0])).collect::<Vec<_>>(),
        }));
    }
    json!({
        "tick_hz": 30,
        "me": me.0,
        "frames": frames,
    })
}

fn state_json(state: &ReplicaState) -> Value {
    let own = state.own.map(|own| {
        json!({
            "x": own.x, "y": own.y, "vx": own.vx, "vy": own.vy, "aim": own.aim,
            "last_input_seq": own.last_input_seq, "score": own.score, "flags": own.flags,
        })
    });
    json!({
        "tick": state.tick.0,
        "view": [state.view.col0, state.view.row0, state.view.col1, state.view.row1],
        "arena": [state.arena.0, state.arena.1],
        "checksum": state.checksum(),
        "player_count": state.player_count,
        "rank": state.rank,
        "server_tick_us": state.server_tick_us,
        "own": own,
        "scoreboard": state.scoreboard.iter().map(|(id, score)| json!([id.0, score])).collect::<Vec<_>>(),
        "entities": state.entities().map(|(cell, e)| json!([cell, e.kind_bits, e.id, e.fields])).collect::<Vec<_>>(),
    })
}

fn vector(name: &str, bytes: Vec<u8>, value: Value) -> Value {
    json!({ "name": name, "hex": hex::encode(bytes), "value": value })
}

fn protocol_vectors() -> Value {
    let client: Vec<Value> = client_messages()
        .into_iter()
        .map(|(name, m)| {
            vector(
                name,
                encode_client_message(&m).unwrap(),
                serde_json::to_value(&m).unwrap(),
            )
        })
        .collect();
    let server: Vec<Value> = server_messages()
        .into_iter()
        .map(|(name, m)| {
            vector(
                name,
                encode_server_message(&m).unwrap(),
                serde_json::to_value(&m).unwrap(),
            )
        })
        .collect();
    let malformed = |list: Vec<(&str, &str)>| -> Vec<Value> {
        list.into_iter()
            .map(|(name, hex)| json!({ "name": name, "hex": hex }))
            .collect()
    };
    json!({
        "protocol_version": PROTOCOL_VERSION,
        "client_messages": client,
        "server_messages": server,
        "snapshot_sequence": snapshot_sequence(),
        "empty_snapshot_frame": EMPTY_SNAPSHOT_FRAME,
        "malformed_snapshot_frames": malformed(malformed_snapshot_frames()),
        "malformed_client_messages": malformed(malformed_client_messages()),
        "malformed_server_messages": malformed(malformed_server_messages()),
    })
}

fn movement_vectors() -> Value {
    let tick_hz = 30;
    let params = default_params(tick_hz);
    let dt = tick_seconds(tick_hz);
    let (u, d, l, r, f) = (
        buttons::UP,
        buttons::DOWN,
        buttons::LEFT,
        buttons::RIGHT,
        buttons::FIRE,
    );
    let cases: Vec<(&str, Body, Vec<u8>)> = vec![
        (
            "accelerate right then coast",
            Body {
                x: 500.0,
                y: 500.0,
                vx: 0.0,
                vy: 0.0,
            },
            [vec![r; 40], vec![0; 20]].concat(),
        ),
        (
            "diagonal up-left into the corner",
            Body {
                x: 100.0,
                y: 90.0,
                vx: -50.0,
                vy: 0.0,
            },
            vec![u | l; 45],
        ),
        (
            "reverse direction at full speed",
            Body {
                x: 1500.0,
                y: 1000.0,
                vx: 420.0,
                vy: 0.0,
            },
            [vec![l | f; 30], vec![d | r; 30]].concat(),
        ),
        (
            "opposite buttons cancel",
            Body {
                x: 1000.0,
                y: 1000.0,
                vx: 100.0,
                vy: -100.0,
            },
            vec![u | d | l | r; 20],
        ),
        (
            "zig-zag to the far wall",
            Body {
                x: 2950.0,
                y: 1950.0,
                vx: 0.0,
                vy: 0.0,
            },
            (0..60)
                .map(|i| if i % 7 < 4 { d | r } else { u | r })
                .collect(),
        ),
    ];
    let cases: Vec<Value> = cases
        .into_iter()
        .map(|(name, start, inputs)| {
            let mut body = start;
            let expected: Vec<[f32; 4]> = inputs
                .iter()
                .map(|&pressed| {
                    step_body(&mut body, pressed, &params, dt);
                    [body.x, body.y, body.vx, body.vy]
                })
                .collect();
            json!({
                "name": name,
                "start": { "x": start.x, "y": start.y, "vx": start.vx, "vy": start.vy },
                "inputs": inputs,
                "expected": expected,
            })
        })
        .collect();
    json!({ "tick_hz": tick_hz, "params": params, "cases": cases })
}

fn check_file(path: &str, generated: Value) {
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("SKIRMISH_WRITE_VECTORS").is_some() {
        std::fs::write(path, text).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run with SKIRMISH_WRITE_VECTORS=1 to create it"));
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored, generated,
        "{path} no longer matches the code: the wire format or movement changed. If deliberate, bump \
         PROTOCOL_VERSION and regenerate with SKIRMISH_WRITE_VECTORS=1"
    );
}

#[test]
fn protocol_vectors_match_the_codec() {
    check_file(PROTOCOL_FILE, protocol_vectors());
}

#[test]
fn movement_vectors_match_the_simulation() {
    check_file(MOVEMENT_FILE, movement_vectors());
}

#[test]
fn stored_vectors_decode_to_their_values() {
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(PROTOCOL_FILE).unwrap()).unwrap();
    for v in stored["client_messages"].as_array().unwrap() {
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let decoded = decode_client_message(&bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&decoded).unwrap(),
            v["value"],
            "{}",
            v["name"]
        );
        assert_eq!(
            encode_client_message(&decoded).unwrap(),
            bytes,
            "{}",
            v["name"]
        );
    }
    for v in stored["server_messages"].as_array().unwrap() {
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let decoded = decode_server_message(&bytes).unwrap();
        assert_eq!(
            serde_json::to_value(&decoded).unwrap(),
            v["value"],
            "{}",
            v["name"]
        );
        assert_eq!(
            encode_server_message(&decoded).unwrap(),
            bytes,
            "{}",
            v["name"]
        );
    }
}

#[test]
fn stored_snapshot_frames_rebuild_their_states() {
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(PROTOCOL_FILE).unwrap()).unwrap();
    let sequence = &stored["snapshot_sequence"];
    let mut replica = Replica::new();
    for frame in sequence["frames"].as_array().unwrap() {
        let bytes = hex::decode(frame["hex"].as_str().unwrap()).unwrap();
        for end in 1..bytes.len() {
            let mut copy = Replica::new();
            assert!(
                copy.apply(&bytes[1..end]).is_err(),
                "a prefix of {end} bytes applied"
            );
        }
        let state = replica.apply(&bytes[1..]).unwrap();
        assert_eq!(state_json(state), frame["state"]);
    }
    let empty = hex::decode(EMPTY_SNAPSHOT_FRAME).unwrap();
    let state = Replica::new().apply(&empty).unwrap().clone();
    assert_eq!(
        (state.rank, state.player_count, state.arena),
        (1, 1, (2000, 1500))
    );
    for (name, hex) in malformed_snapshot_frames() {
        let bytes = hex::decode(hex).unwrap();
        let result = Replica::new().apply(&bytes).map(|_| ());
        assert!(result.is_err(), "{name} was applied");
    }
}

#[test]
fn malformed_vectors_are_refused() {
    for (name, hex) in malformed_client_messages() {
        let bytes = hex::decode(hex).unwrap();
        assert!(
            decode_client_message(&bytes).is_err(),
            "client vector {name:?} decoded"
        );
    }
    for (name, hex) in malformed_server_messages() {
        let bytes = hex::decode(hex).unwrap();
        assert!(
            decode_server_message(&bytes).is_err(),
            "server vector {name:?} decoded"
        );
    }
}
