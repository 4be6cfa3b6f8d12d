//! What each fuzz target checks, one function per decode entry point; each returns whether the
//! input was accepted (the stable runner keeps accepted inputs as seeds). Shared by the
//! libFuzzer targets (`fuzz_targets/`, nightly) and by the stable runner
//! (`tests/fuzz_corpus.rs` at the repository root, which includes this file by path), so both
//! routes hold the codec to the same rules:
//!
//! - no input panics;
//! - whatever decodes re-encodes to bytes that decode to the same message;
//! - a snapshot frame applied to a client's replica (fresh, or holding a state) either applies,
//!   leaving a state whose checksum is the frame's, or is refused; it never panics.
//!
//! Must stay dependent on `skirmish`'s public API only, and on nothing from libFuzzer.

use skirmish::protocol::{
    PlayerId, PlayerState, Replica, Snapshot, Tick, decode_client_message, decode_server_message,
    encode_client_message, encode_server_message, validate_chat, validate_name,
};
use skirmish::room::replication::Replicator;

/// Bytes from a client, as the server's reader decodes them. Returns whether they decoded.
pub fn client_message(data: &[u8]) -> bool {
    let Ok(message) = decode_client_message(data) else {
        return false;
    };
    // The server validates the text it accepted next: that must not panic either.
    use skirmish::protocol::ClientMessage;
    match &message {
        ClientMessage::Join(join) => {
            let _ = validate_name(&join.name);
        }
        ClientMessage::Chat(chat) => {
            let _ = validate_chat(&chat.text);
        }
        ClientMessage::Whisper(whisper) => {
            let _ = validate_chat(&whisper.text);
        }
        _ => {}
    }
    let again = encode_client_message(&message).expect("a decoded message encodes");
    assert_eq!(
        decode_client_message(&again).as_ref(),
        Ok(&message),
        "re-encoded {again:?}"
    );
    true
}

/// Bytes from a server, as the Rust client and the bots decode them. Returns whether they
/// decoded.
pub fn server_message(data: &[u8]) -> bool {
    let Ok(message) = decode_server_message(data) else {
        return false;
    };
    let again = encode_server_message(&message).expect("a decoded message encodes");
    let decoded = decode_server_message(&again).expect("a re-encoded message decodes");
    // Floats may be NaN, which is never equal to itself: compare the encodings instead.
    let twice = encode_server_message(&decoded).expect("a decoded message encodes");
    assert_eq!(again, twice, "re-encoding is not stable");
    true
}

/// Bytes from a server as a snapshot frame (after the variant byte), applied to a fresh
/// replica and to one holding the state of tick 10 (so deltas against it reach the merge).
/// Returns whether either applied.
pub fn snapshot_frame(data: &[u8]) -> bool {
    let fresh = Replica::new().apply(data).is_ok();
    let mut holding = Replica::for_monotonic_baselines();
    holding
        .apply(&held_frame()[1..])
        .expect("the server's own frame applies");
    let delta = match holding.apply(data) {
        Ok(state) => {
            let checksum = state.checksum();
            assert_eq!(Some(checksum), holding.last_header().map(|h| h.checksum));
            true
        }
        Err(_) => false,
    };
    fresh || delta
}

/// The arena of the snapshot vectors (`tests/vectors/protocol_v7.json`), whose frames seed the
/// corpus.
const ARENA: (f32, f32) = (2000.0, 1500.0);

/// A full frame of tick 10 for player 1 of a small world, from the server's encoder.
fn held_frame() -> Vec<u8> {
    let player = |id: u32, x: f32, y: f32| PlayerState {
        id: PlayerId(id),
        x,
        y,
        vx: 0.0,
        vy: 0.0,
        aim: 0.5,
        score: 3,
        last_input_seq: 1,
        flags: 0,
    };
    let world = Snapshot {
        tick: Tick(10),
        arena_width: ARENA.0,
        arena_height: ARENA.1,
        players: vec![player(1, 300.0, 400.0), player(2, 500.0, 420.0)],
        ..Snapshot::default()
    };
    let mut replicator = Replicator::new();
    replicator.record(&world, 0);
    let mut frame = Vec::new();
    replicator.encode_for(PlayerId(1), None, &mut frame);
    frame
}

/// A target's check: panics on a bug, returns whether the input was accepted.
pub type Check = fn(&[u8]) -> bool;

/// Every target, by name (the directory names under `fuzz/corpus/`).
pub const TARGETS: [(&str, Check); 3] = [
    ("client_message", client_message),
    ("server_message", server_message),
    ("snapshot_frame", snapshot_frame),
];
