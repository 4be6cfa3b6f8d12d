//! What each fuzz target checks, one function per decode entry point; each returns whether the
//! input was accepted (the stable runner keeps accepted inputs as seeds). Shared by the
//! libFuzzer targets (`fuzz_targets/`, nightly) and by the stable runner
//! (`tests/fuzz_corpus.rs` at the repository root, which includes this file by path), so both
//! routes hold the codec to the same rules:
//!
//! - no input panics;
//! - whatever decodes re-encodes to bytes that decode to the same message;
//! - the snapshot scanner accepts exactly what the full decoder accepts as a snapshot.
//!
//! Must stay dependent on `skirmish`'s public API only, and on nothing from libFuzzer.

use skirmish::protocol::{
    ServerMessage, decode_client_message, decode_server_message, encode_client_message,
    encode_server_message, scan_snapshot, validate_chat, validate_name,
};

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

/// Bytes from a server, as the bots' snapshot scanner reads them. Returns whether they were a
/// well-formed snapshot.
pub fn snapshot_scan(data: &[u8]) -> bool {
    let mut visited = 0u32;
    let scanned = scan_snapshot(data, |_| visited = visited.saturating_add(1));
    let decoded = decode_server_message(data);
    match (&scanned, &decoded) {
        (Ok(Some(scan)), Ok(ServerMessage::Snapshot(snapshot))) => {
            assert_eq!(scan.tick, snapshot.tick);
            assert_eq!(scan.players as usize, snapshot.players.len());
            assert_eq!(visited, scan.players);
            assert_eq!(scan.orbs as usize, snapshot.orbs.len());
            assert_eq!(scan.bolts as usize, snapshot.bolts.len());
            assert_eq!(scan.tags as usize, snapshot.tags.len());
            true
        }
        (Ok(Some(_)), _) | (_, Ok(ServerMessage::Snapshot(_))) => {
            panic!("scanner says {scanned:?}, decoder says {decoded:?}");
        }
        _ => false,
    }
}

/// A target's check: panics on a bug, returns whether the input was accepted.
pub type Check = fn(&[u8]) -> bool;

/// Every target, by name (the directory names under `fuzz/corpus/`).
pub const TARGETS: [(&str, Check); 3] = [
    ("client_message", client_message),
    ("server_message", server_message),
    ("snapshot_scan", snapshot_scan),
];
