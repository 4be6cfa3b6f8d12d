//! End-to-end tests of the server with real WebSocket clients: joining, playing, leaving, and
//! every kind of bad client being closed with the right code while others play on.

mod common;

use common::*;
use fastwebsockets::OpCode;
use skirmish::client::GameClient;
use skirmish::protocol::*;

#[tokio::test]
async fn two_players_see_each_other_move_and_leave() {
    // An arena inside one player's area of interest, so the two always see each other.
    let server = start_server(&["--arena", "1000x700"]).await;
    let (mut alice, alice_welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut bob, bob_welcome) = GameClient::join(&server.ws_url(), "Bob").await.unwrap();
    let (alice_id, bob_id) = (alice_welcome.player_id, bob_welcome.player_id);
    assert_ne!(alice_id, bob_id);
    assert_eq!(bob_welcome.tick_hz, 30);
    assert!(
        bob_welcome
            .players
            .iter()
            .any(|p| p.id == alice_id && p.name == "Alice")
    );
    let joined = wait_for(&mut alice, "Bob's join", |m| match m {
        ServerMessage::PlayerJoined(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert_eq!((joined.id, joined.name.as_str()), (bob_id, "Bob"));

    let start = wait_for_snapshot(&mut bob, "Alice in Bob's snapshot", |s| {
        s.players.iter().any(|p| p.id == alice_id)
    })
    .await;
    let start_x = start.players.iter().find(|p| p.id == alice_id).unwrap().x;

    for seq in 1..=15 {
        let input = PlayerInput {
            seq,
            buttons: buttons::RIGHT,
            aim: 0.0,
            ..Default::default()
        };
        alice.send(&ClientMessage::Input(input)).await.unwrap();
    }
    // Bob sees Alice move right (quantized, without her acknowledgements, which are hers).
    let moved = wait_for_snapshot(&mut bob, "Alice to move right", |s| {
        s.players
            .iter()
            .any(|p| p.id == alice_id && p.x > start_x + 20.0 && p.last_input_seq == 0)
    })
    .await;
    assert!(moved.players.iter().any(|p| p.id == bob_id));
    // Alice sees herself move in full precision, her inputs acknowledged.
    wait_for_snapshot(&mut alice, "Alice to see herself move", |s| {
        s.players
            .iter()
            .any(|p| p.id == alice_id && p.x > start_x + 20.0 && p.last_input_seq == 15)
    })
    .await;

    alice.leave().await.unwrap();
    let left = wait_for(&mut bob, "Alice's leave", |m| match m {
        ServerMessage::PlayerLeft(p) => Some(p.id),
        _ => None,
    })
    .await;
    assert_eq!(left, alice_id);
    wait_for_snapshot(&mut bob, "a snapshot without Alice", |s| {
        !s.players.iter().any(|p| p.id == alice_id) && s.players.iter().any(|p| p.id == bob_id)
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_closes_only_the_offender() {
    let server = start_server(&[]).await;
    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut mallory, _) = GameClient::join(&server.ws_url(), "Mallory").await.unwrap();
    mallory
        .send_raw(OpCode::Binary, vec![0xff, 0x00, 0x13, 0x37])
        .await
        .unwrap();
    let (code, reason, error) = expect_close(&mut mallory).await;
    assert_eq!(code, 1007);
    assert_eq!(reason, "malformed message");
    assert!(error.unwrap().starts_with("malformed message"));

    // Alice plays on: she hears Mallory left and keeps getting fresh snapshots.
    wait_for(&mut alice, "Mallory's leave", |m| {
        matches!(m, ServerMessage::PlayerLeft(_)).then_some(())
    })
    .await;
    let first = wait_for_snapshot(&mut alice, "a snapshot", |_| true).await;
    wait_for_snapshot(&mut alice, "a later snapshot", |s| {
        s.tick.since(first.tick) >= 3 && s.players.iter().any(|p| p.id == welcome.player_id)
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn text_frames_are_refused_with_1003() {
    let server = start_server(&[]).await;
    let (mut client, _) = GameClient::join(&server.ws_url(), "Texter").await.unwrap();
    client
        .send_raw(OpCode::Text, b"{\"hello\":1}".to_vec())
        .await
        .unwrap();
    let (code, reason, _) = expect_close(&mut client).await;
    assert_eq!((code, reason.as_str()), (1003, "binary messages only"));
    server.stop().await;
}

#[tokio::test]
async fn version_mismatch_is_explained_before_close() {
    let server = start_server(&[]).await;
    let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
    let join = Join {
        protocol_version: PROTOCOL_VERSION + 1,
        request_id: 1,
        name: "Future".into(),
        resume_token: None,
        baseline_tick: None,
        room: RoomRequest::default(),
    };
    client.send(&ClientMessage::Join(join)).await.unwrap();
    let (code, _, error) = expect_close(&mut client).await;
    assert_eq!(code, 4000);
    let error = error.expect("an error message before the close");
    assert!(
        error.contains(&format!(
            "server speaks version {PROTOCOL_VERSION}, client sent {}",
            PROTOCOL_VERSION + 1
        )),
        "{error}"
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let server = start_server(&[]).await;
    for name in ["", "<script>", "a-name-far-too-long-for-anyone"] {
        let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
        let join = Join {
            protocol_version: PROTOCOL_VERSION,
            request_id: 1,
            name: name.into(),
            resume_token: None,
            baseline_tick: None,
            room: RoomRequest::default(),
        };
        client.send(&ClientMessage::Join(join)).await.unwrap();
        let (code, reason, error) = expect_close(&mut client).await;
        assert_eq!(
            (code, reason.as_str()),
            (4001, "invalid name"),
            "name {name:?}"
        );
        assert!(error.unwrap().starts_with("invalid name: "));
    }
    server.stop().await;
}

#[tokio::test]
async fn input_before_join_and_second_join_are_unexpected() {
    let server = start_server(&[]).await;
    let mut early = GameClient::connect(&server.ws_url()).await.unwrap();
    early
        .send(&ClientMessage::Input(PlayerInput::default()))
        .await
        .unwrap();
    assert_eq!(expect_close(&mut early).await.0, 1008);

    let (mut twice, _) = GameClient::join(&server.ws_url(), "Twice").await.unwrap();
    twice
        .send(&ClientMessage::Join(Join {
            protocol_version: PROTOCOL_VERSION,
            request_id: 1,
            name: "Again".into(),
            resume_token: None,
            baseline_tick: None,
            room: RoomRequest::default(),
        }))
        .await
        .unwrap();
    assert_eq!(expect_close(&mut twice).await.0, 1008);
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_refuses_with_server_full() {
    let server = start_server(&["--max-players", "1"]).await;
    let (_first, _) = GameClient::join(&server.ws_url(), "First").await.unwrap();
    let mut second = GameClient::connect(&server.ws_url()).await.unwrap();
    second
        .send(&ClientMessage::Join(Join {
            protocol_version: PROTOCOL_VERSION,
            request_id: 1,
            name: "Second".into(),
            resume_token: None,
            baseline_tick: None,
            room: RoomRequest::default(),
        }))
        .await
        .unwrap();
    let (code, reason, error) = expect_close(&mut second).await;
    assert_eq!((code, reason.as_str()), (1013, "server full"));
    assert!(error.unwrap().contains("1 players at most"));
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_join_timeout() {
    let server = start_server(&["--join-timeout", "300ms"]).await;
    let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
    let (code, reason, _) = expect_close(&mut client).await;
    assert_eq!((code, reason.as_str()), (4002, "join timeout"));
    server.stop().await;
}

#[tokio::test]
async fn oversized_messages_are_refused_with_1009() {
    let server = start_server(&[]).await;
    let (mut client, _) = GameClient::join(&server.ws_url(), "Big").await.unwrap();
    client
        .send_raw(OpCode::Binary, vec![1; 64 * 1024])
        .await
        .unwrap();
    assert_eq!(expect_close(&mut client).await.0, 1009);
    server.stop().await;
}

#[tokio::test]
async fn ping_is_answered_with_the_same_nonce() {
    let server = start_server(&[]).await;
    let (mut client, _) = GameClient::join(&server.ws_url(), "Pinger").await.unwrap();
    client
        .send(&ClientMessage::Ping(Ping { nonce: 99 }))
        .await
        .unwrap();
    let nonce = wait_for(&mut client, "pong", |m| match m {
        ServerMessage::Pong(p) => Some(p.nonce),
        _ => None,
    })
    .await;
    assert_eq!(nonce, 99);
    server.stop().await;
}

#[tokio::test]
async fn http_serves_the_game_health_and_refuses_plain_gets_on_ws() {
    let server = start_server(&[]).await;
    let (status, head, body) = http_get(server.addr, "/", "").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-cache"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("<canvas"));
    let etag = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("etag:")
                .then(|| l[5..].trim().to_owned())
        })
        .expect("an ETag");
    let (status, _, body) = http_get(server.addr, "/", &format!("If-None-Match: {etag}\r\n")).await;
    assert_eq!((status, body.len()), (304, 0));

    let (status, head, _) = http_get(server.addr, "/protocol.js", "").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains("text/javascript"),
        "{head}"
    );

    let (status, head, body) = http_get(server.addr, "/healthz", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("application/json"));
    assert!(String::from_utf8_lossy(&body).contains("\"status\":\"ok\""));

    assert_eq!(http_get(server.addr, "/ws", "").await.0, 426);
    assert_eq!(http_get(server.addr, "/no-such-file.js", "").await.0, 404);
    assert_eq!(
        http_get(server.addr, "/test/protocol.test.mjs", "").await.0,
        404
    );
    server.stop().await;
}

#[tokio::test]
async fn a_persistent_flooder_is_closed_and_others_play_on() {
    let server = start_server(&[]).await;
    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut flooder, _) = GameClient::join(&server.ws_url(), "Flooder").await.unwrap();
    // 500 messages a second for two seconds: far over the limit, for longer than its grace.
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(10));
    for burst in 0..220u32 {
        ticker.tick().await;
        for i in 0..5 {
            let input = PlayerInput {
                seq: burst * 5 + i + 1,
                buttons: buttons::UP,
                aim: 0.0,
                ..Default::default()
            };
            if flooder.send(&ClientMessage::Input(input)).await.is_err() {
                break;
            }
        }
    }
    let (code, reason, error) = expect_close(&mut flooder).await;
    assert_eq!((code, reason.as_str()), (1008, "rate limited"));
    assert!(error.unwrap().contains("messages a second"));

    let first = wait_for_snapshot(&mut alice, "a snapshot", |_| true).await;
    wait_for_snapshot(&mut alice, "fresh snapshots after the flood", |s| {
        s.tick.since(first.tick) >= 5 && s.players.iter().any(|p| p.id == welcome.player_id)
    })
    .await;
    server.stop().await;
}
