//! The long-polling bodies' vectors (`tests/vectors/polling_v1.json`), which the JavaScript
//! client is tested against too: the server's encoder writes every download's bytes from its
//! fields, and its decoder reads every upload into its fields and refuses every malformed one.

use bytes::Bytes;
use serde_json::Value;
use skirmish::transport::polling::wire::{Down, decode_up, encode_down};

const VECTORS: &str = include_str!("vectors/polling_v1.json");

fn bytes_of(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap()).unwrap()
}

#[test]
fn the_server_writes_every_download_as_the_vectors_say() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let downloads = vectors["downloads"].as_array().unwrap();
    assert!(!downloads.is_empty());
    for vector in downloads {
        let messages: Vec<Vec<u8>> = vector["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes_of)
            .collect();
        let snapshot = (!vector["snapshot"].is_null()).then(|| bytes_of(&vector["snapshot"]));
        let code = vector["close_code"].as_u64().unwrap() as u16;
        let reason = vector["close_reason"].as_str().unwrap();
        let down = Down {
            first: vector["first"].as_u64().unwrap() as u32,
            reliable: messages.iter().map(Vec::as_slice).collect(),
            snapshot: snapshot.as_deref(),
            close: (code != 0).then_some((code, reason)),
        };
        assert_eq!(
            hex::encode(encode_down(&down)),
            vector["hex"].as_str().unwrap(),
            "{}",
            vector["name"]
        );
    }
}

#[test]
fn the_server_reads_every_upload_and_refuses_the_malformed() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    for vector in vectors["uploads"].as_array().unwrap() {
        let up = decode_up(&Bytes::from(bytes_of(&vector["hex"])), 1024).unwrap();
        assert_eq!(
            u64::from(up.first),
            vector["first"].as_u64().unwrap(),
            "{}",
            vector["name"]
        );
        let expected: Vec<Vec<u8>> = vector["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes_of)
            .collect();
        let got: Vec<Vec<u8>> = up.messages.iter().map(|m| m.to_vec()).collect();
        assert_eq!(got, expected, "{}", vector["name"]);
    }
    for vector in vectors["malformed_uploads"].as_array().unwrap() {
        let body = Bytes::from(bytes_of(&vector["hex"]));
        assert!(
            decode_up(&body, 1024).is_err(),
            "{} was accepted",
            vector["name"]
        );
    }
}
