//! Properties of the codec, checked on generated inputs (proptest): no decode entry point
//! panics on any bytes, whatever decodes re-encodes to something that decodes the same, every
//! client message round-trips, and no snapshot frame makes a replica panic (fresh, or holding a
//! state the server encoded).
//!
//! The generators stay small and local on purpose: message types change with the protocol,
//! and a generator here is a few lines to adjust. `PlayerInput`s are built with
//! `..PlayerInput::default()` so that fields added to it later need no change here.

use proptest::prelude::*;
use skirmish::protocol::*;

/// Arbitrary bytes, biased towards the lengths real messages have.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16),
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec(any::<u8>(), 0..2048),
    ]
}

/// Text of up to `max` characters from anywhere in Unicode.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..=max).prop_map(|chars| chars.into_iter().collect())
}

fn join() -> impl Strategy<Value = ClientMessage> {
    (
        any::<u16>(),
        any::<u32>(),
        text(24),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of(any::<u32>()),
        room_request(),
    )
        .prop_map(
            |(protocol_version, request_id, name, token, baseline, room)| {
                ClientMessage::Join(Join {
                    protocol_version,
                    request_id,
                    name,
                    resume_token: token.map(ResumeToken),
                    baseline_tick: baseline.map(Tick),
                    room,
                })
            },
        )
}

/// Any room request, well-formed or not (the codec carries the client's words unchecked).
fn room_request() -> impl Strategy<Value = RoomRequest> {
    prop_oneof![
        (text(16), text(16)).prop_map(|(mode, region)| RoomRequest::QuickPlay { mode, region }),
        any::<u32>().prop_map(RoomRequest::Id),
        text(12).prop_map(RoomRequest::Code),
        text(16).prop_map(|mode| RoomRequest::CreatePrivate { mode }),
    ]
}

/// Inputs with finite aims (non-finite ones are refused: see `non_finite_aims_are_refused`).
fn input() -> impl Strategy<Value = ClientMessage> {
    (
        any::<u32>(),
        any::<u8>(),
        -1.0e6f32..1.0e6,
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(seq, buttons, aim, ack, view)| {
            ClientMessage::Input(PlayerInput {
                seq,
                buttons,
                aim,
                ack_tick: Tick(ack),
                view_tick: Tick(view),
            })
        })
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        join(),
        input(),
        any::<u32>().prop_map(|nonce| ClientMessage::Ping(Ping { nonce })),
        any::<u32>().prop_map(|nonce| ClientMessage::Pong(Ping { nonce })),
        (any::<u32>(), text(MAX_CHAT_CHARS))
            .prop_map(|(request_id, text)| ClientMessage::Chat(Chat { request_id, text })),
        (any::<u32>(), any::<u32>(), text(MAX_CHAT_CHARS)).prop_map(|(request_id, to, text)| {
            ClientMessage::Whisper(Whisper {
                request_id,
                to: PlayerId(to),
                text,
            })
        }),
        Just(ClientMessage::Leave),
        Just(ClientMessage::Resync),
    ]
}

/// The server's small messages (the snapshot and welcome have their own tests).
fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        any::<u32>().prop_map(|nonce| ServerMessage::Pong(Ping { nonce })),
        (any::<u32>(), any::<u32>())
            .prop_map(|(nonce, rtt_us)| ServerMessage::Ping(Heartbeat { nonce, rtt_us })),
        (any::<u32>(), text(MAX_CHAT_CHARS), any::<bool>()).prop_map(|(from, text, whisper)| {
            ServerMessage::Chat(ChatLine {
                from: PlayerId(from),
                text,
                whisper,
            })
        }),
        (any::<u32>(), proptest::option::of(text(40)))
            .prop_map(|(request_id, error)| ServerMessage::Ack(Ack { request_id, error })),
        (any::<u32>(), any::<bool>()).prop_map(|(subject, back)| {
            ServerMessage::Notice(Notice {
                subject: PlayerId(subject),
                kind: if back {
                    NoticeKind::Back
                } else {
                    NoticeKind::Away
                },
            })
        }),
        (any::<u32>(), text(16)).prop_map(|(id, name)| ServerMessage::PlayerJoined(PlayerInfo {
            id: PlayerId(id),
            name
        })),
        any::<u32>().prop_map(|id| ServerMessage::PlayerLeft(PlayerLeft { id: PlayerId(id) })),
        (
            proptest::collection::vec((any::<u32>(), text(16)), 0..5),
            proptest::collection::vec(any::<u32>(), 0..5)
        )
            .prop_map(|(joined, left)| ServerMessage::Roster(Roster {
                joined: joined
                    .into_iter()
                    .map(|(id, name)| PlayerInfo {
                        id: PlayerId(id),
                        name
                    })
                    .collect(),
                left: left
                    .into_iter()
                    .map(|id| PlayerLeft { id: PlayerId(id) })
                    .collect(),
            })),
        text(60).prop_map(|message| ServerMessage::Error(ErrorMessage {
            code: ErrorCode::MalformedMessage,
            message
        })),
    ]
}

/// Two frames the server's encoder wrote for player 1 of a small two-player world: a full one
/// of tick 10, and a delta of tick 11 against it (the players and an orb moved).
fn server_frames() -> (Vec<u8>, Vec<u8>) {
    let world = |tick: u32, shift: f32| Snapshot {
        tick: Tick(tick),
        players: [(1, 300.0), (2, 500.0)]
            .map(|(id, x)| PlayerState {
                id: PlayerId(id),
                x: x + shift,
                y: 400.0,
                vx: 0.0,
                vy: 0.0,
                aim: 0.5,
                score: id,
                last_input_seq: 1,
                flags: 0,
            })
            .to_vec(),
        orbs: vec![OrbState {
            id: 3,
            x: 600.0 + 40.0 * shift,
            y: 300.0,
        }],
        arena_width: 2000.0,
        arena_height: 1500.0,
        ..Snapshot::default()
    };
    let mut replicator = skirmish::room::replication::Replicator::new();
    let mut full = Vec::new();
    replicator.record(&world(10, 0.0), 0);
    replicator.encode_for(PlayerId(1), None, &mut full);
    let mut delta = Vec::new();
    replicator.record(&world(11, 7.5), 0);
    replicator.encode_for(PlayerId(1), Some(Tick(10)), &mut delta);
    (full, delta)
}

/// A replica holding the state of [`server_frames`]' full frame.
fn holding_tick_10() -> Replica {
    let mut replica = Replica::new();
    replica.apply(&server_frames().0[1..]).unwrap();
    replica
}

#[test]
fn the_server_frames_apply() {
    let mut replica = holding_tick_10();
    let (_, delta) = server_frames();
    assert_eq!(replica.apply(&delta[1..]).unwrap().tick, Tick(11));
}

/// A valid encoding with some bytes changed, cut or added: the inputs most likely to get deep
/// into a decoder.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    (
        proptest::collection::vec((0..len.max(1), any::<u8>()), 0..4),
        0..=len,
        proptest::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(move |(changes, cut, tail)| {
            let mut bytes = valid.clone();
            for (at, value) in changes {
                if let Some(byte) = bytes.get_mut(at) {
                    *byte = value;
                }
            }
            bytes.truncate(cut);
            bytes.extend(tail);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoding_any_bytes_as_a_client_message_never_panics(bytes in bytes()) {
        if let Ok(message) = decode_client_message(&bytes) {
            let again = encode_client_message(&message).unwrap();
            prop_assert_eq!(decode_client_message(&again), Ok(message));
        }
    }

    #[test]
    fn decoding_any_bytes_as_a_server_message_never_panics(bytes in bytes()) {
        if let Ok(message) = decode_server_message(&bytes) {
            // Server messages may carry NaN, never equal to itself: compare encodings.
            let again = encode_server_message(&message).unwrap();
            let decoded = decode_server_message(&again).unwrap();
            prop_assert_eq!(encode_server_message(&decoded).unwrap(), again);
        }
    }

    #[test]
    fn no_snapshot_frame_makes_a_replica_panic(
        bytes in bytes(),
        mutated_delta in mutated(server_frames().1),
    ) {
        let _ = Replica::new().apply(&bytes);
        // Deltas against a state the replica holds reach the merge of cells; whatever applies
        // holds exactly the checksum its frame announced.
        for frame in [&bytes[..], mutated_delta.get(1..).unwrap_or_default()] {
            let mut holding = holding_tick_10();
            let applied = holding.apply(frame).map(|state| state.checksum());
            if let Ok(checksum) = applied {
                prop_assert_eq!(Some(checksum), holding.last_header().map(|h| h.checksum));
            }
        }
    }

    #[test]
    fn names_and_chat_lines_are_validated_without_panicking(raw in text(300)) {
        if let Ok(name) = validate_name(&raw) {
            prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
        }
        if let Ok(line) = validate_chat(&raw) {
            prop_assert!(!line.is_empty() && line.chars().count() <= MAX_CHAT_CHARS);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn client_messages_round_trip(message in client_message()) {
        let bytes = encode_client_message(&message).unwrap();
        prop_assert!(bytes.len() <= MAX_CLIENT_MESSAGE_BYTES);
        prop_assert_eq!(decode_client_message(&bytes), Ok(message));
    }

    #[test]
    fn server_messages_round_trip(message in server_message()) {
        let bytes = encode_server_message(&message).unwrap();
        prop_assert_eq!(decode_server_message(&bytes), Ok(message));
    }

    #[test]
    fn every_strict_prefix_of_a_client_message_is_an_error(message in client_message()) {
        let bytes = encode_client_message(&message).unwrap();
        for end in 0..bytes.len() {
            prop_assert!(decode_client_message(&bytes[..end]).is_err(), "prefix of {end}");
        }
    }

    #[test]
    fn mutated_client_messages_never_panic(
        bytes in client_message()
            .prop_map(|m| encode_client_message(&m).unwrap())
            .prop_flat_map(mutated)
    ) {
        if let Ok(message) = decode_client_message(&bytes) {
            let again = encode_client_message(&message).unwrap();
            prop_assert_eq!(decode_client_message(&again), Ok(message));
        }
    }

    #[test]
    fn non_finite_aims_are_refused(
        seq in any::<u32>(),
        aim in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
    ) {
        let message = ClientMessage::Input(PlayerInput { seq, aim, ..PlayerInput::default() });
        let bytes = encode_client_message(&message).unwrap();
        prop_assert_eq!(decode_client_message(&bytes), Err(DecodeError::NonFinite("aim")));
    }
}
