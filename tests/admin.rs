//! The operator's page against a real server (docs/ADMIN.md): off without `--admin-token`;
//! the state API and the socket refuse a missing or wrong token (and the socket sends nothing
//! before authentication); failed attempts are limited per address; an authenticated socket
//! gets the history and live samples whose numbers follow real players; kicking a player,
//! closing a room and sending a notice reach real game clients with the operator's words;
//! a socket that floods is answered "rate limited" and then closed.

mod common;

use std::time::Duration;

use common::{PATIENCE, UPGRADE_HEADERS, expect_close, http_get, start_server};
use fastwebsockets::{Frame, OpCode, Payload, WebSocket};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use skirmish::client::{GameClient, Received, close_code, close_reason, connect_websocket};
use skirmish::protocol::ServerMessage;

const TOKEN: &str = "operator-secret-1234";

type AdminSocket = WebSocket<TokioIo<Upgraded>>;

async fn admin_server() -> common::TestServer {
    start_server(&["--admin-token", TOKEN]).await
}

async fn open_socket(server: &common::TestServer) -> AdminSocket {
    connect_websocket(&format!("ws://{}/admin/ws", server.addr))
        .await
        .expect("the admin socket opens")
}

async fn send(ws: &mut AdminSocket, message: Value) {
    let bytes = message.to_string().into_bytes();
    ws.write_frame(Frame::text(Payload::Owned(bytes)))
        .await
        .expect("sent");
}

/// What the server sends next: a JSON message, or its close (code and reason).
async fn next(ws: &mut AdminSocket, patience: Duration) -> Option<Result<Value, (u16, String)>> {
    let frame = tokio::time::timeout(patience, ws.read_frame()).await.ok()?;
    let frame = frame.expect("a frame");
    Some(match frame.opcode {
        OpCode::Text => Ok(serde_json::from_slice(&frame.payload).expect("JSON")),
        OpCode::Close => Err((close_code(&frame.payload), close_reason(&frame.payload))),
        other => panic!("unexpected {other:?} frame"),
    })
}

async fn next_json(ws: &mut AdminSocket) -> Value {
    match next(ws, PATIENCE).await {
        Some(Ok(value)) => value,
        Some(Err((code, reason))) => panic!("closed {code} {reason}"),
        None => panic!("nothing from the admin socket in time"),
    }
}

async fn next_close(ws: &mut AdminSocket) -> (u16, String) {
    match next(ws, PATIENCE).await {
        Some(Err(close)) => close,
        Some(Ok(value)) => panic!("expected a close, got {value}"),
        None => panic!("no close in time"),
    }
}

/// The next message of `kind` that satisfies `accept`.
async fn next_of(ws: &mut AdminSocket, kind: &str, accept: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no {kind} in time");
        let message = next_json(ws).await;
        if message["type"] == kind && accept(&message) {
            return message;
        }
    }
}

async fn signed_in(server: &common::TestServer) -> (AdminSocket, Value) {
    let mut ws = open_socket(server).await;
    send(
        &mut ws,
        json!({"type": "auth", "token": TOKEN, "operator": "alice"}),
    )
    .await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    (ws, hello)
}

#[tokio::test]
async fn without_an_admin_token_there_is_no_admin_page() {
    let server = start_server(&[]).await;
    for path in [
        "/admin",
        "/admin/",
        "/admin/ws",
        "/admin/api/state",
        "/admin/index.html",
    ] {
        let (status, _, _) = http_get(server.addr, path, "").await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = http_get(server.addr, "/admin/ws", UPGRADE_HEADERS).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn the_page_carries_no_data_and_the_state_api_wants_the_token() {
    let server = admin_server().await;
    let (status, head, body) = http_get(server.addr, "/admin", "").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("x-frame-options: DENY"), "{head}");
    assert!(!String::from_utf8_lossy(&body).contains(TOKEN));
    let (status, head, _) = http_get(server.addr, "/admin/api/state", "").await;
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: Bearer"), "{head}");
    let wrong = "Authorization: Bearer operator-secret-1235\r\n";
    assert_eq!(
        http_get(server.addr, "/admin/api/state", wrong).await.0,
        401
    );
    let right = format!("Authorization: Bearer {TOKEN}\r\n");
    let (status, _, body) = http_get(server.addr, "/admin/api/state", &right).await;
    assert_eq!(status, 200);
    let state: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(state["type"], "state");
    assert_eq!(state["nodes"][0]["me"], true, "{state}");
    server.stop().await;
}

#[tokio::test]
async fn the_socket_checks_origin_like_the_game() {
    let server = admin_server().await;
    let evil = format!("{UPGRADE_HEADERS}Origin: http://evil.example\r\n");
    assert_eq!(http_get(server.addr, "/admin/ws", &evil).await.0, 403);
    let other_port = format!("{UPGRADE_HEADERS}Origin: http://127.0.0.1:1\r\n");
    assert_eq!(http_get(server.addr, "/admin/ws", &other_port).await.0, 403);
    server.stop().await;
}

#[tokio::test]
async fn the_socket_sends_nothing_before_authentication() {
    let server = admin_server().await;
    // Samples are taken every second: a socket that has not authenticated sees none of them,
    // not even a pong.
    let mut ws = open_socket(&server).await;
    ws.write_frame(Frame::new(
        true,
        OpCode::Ping,
        None,
        Payload::Owned(b"hi".to_vec()),
    ))
    .await
    .unwrap();
    assert!(
        next(&mut ws, Duration::from_millis(2500)).await.is_none(),
        "nothing before auth"
    );
    send(
        &mut ws,
        json!({"type": "auth", "token": "operator-secret-1235", "operator": "eve"}),
    )
    .await;
    assert_eq!(next_close(&mut ws).await, (4401, "unauthorized".into()));

    let mut ws = open_socket(&server).await;
    send(&mut ws, json!({"type": "notice", "text": "no token"})).await;
    assert_eq!(
        next_close(&mut ws).await.0,
        4401,
        "an action first is refused"
    );

    let mut ws = open_socket(&server).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(7)).await,
        Some(Err((4401, "unauthorized".into()))),
        "silence is refused after the authentication timeout"
    );
    server.stop().await;
}

#[tokio::test]
async fn failed_attempts_are_limited_per_address() {
    let server = admin_server().await;
    for attempt in 0..5 {
        let mut ws = open_socket(&server).await;
        send(
            &mut ws,
            json!({"type": "auth", "token": format!("guess-number-{attempt}"), "operator": "eve"}),
        )
        .await;
        assert_eq!(next_close(&mut ws).await.0, 4401);
    }
    let mut ws = open_socket(&server).await;
    send(
        &mut ws,
        json!({"type": "auth", "token": TOKEN, "operator": "eve"}),
    )
    .await;
    assert_eq!(
        next_close(&mut ws).await,
        (4429, "too many attempts".into()),
        "past the limit even the right token waits"
    );
    let right = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_eq!(
        http_get(server.addr, "/admin/api/state", &right).await.0,
        429
    );
    server.stop().await;
}

#[tokio::test]
async fn samples_follow_real_players() {
    let server = admin_server().await;
    let (mut ws, hello) = signed_in(&server).await;
    assert_eq!(hello["interval_ms"], 1000);
    assert!(hello["history"].is_array());
    let (mut alice, _) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let sample = next_of(&mut ws, "sample", |s| {
        s["players"] == 1 && s["bytes_out"].as_u64() > Some(0)
    })
    .await;
    assert!(sample["tick_p99_us"].as_u64().is_some(), "{sample}");
    let state = next_of(&mut ws, "state", |s| {
        s["players"].as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    let row = &state["players"][0];
    assert_eq!(row["name"], "Alice", "{state}");
    assert_eq!(row["transport"], "websocket");
    assert_eq!(state["rooms"][0]["players"], 1);
    alice.leave().await.unwrap();
    let sample = next_of(&mut ws, "sample", |s| {
        s["closed"]["leave"].as_u64() == Some(1)
    })
    .await;
    assert_eq!(sample["players"], 0, "{sample}");
    // A second socket gets the history so far at once.
    let (_second, hello) = signed_in(&server).await;
    assert!(
        hello["history"].as_array().is_some_and(|h| h.len() >= 2),
        "{hello}"
    );
    server.stop().await;
}

/// Reads a game client until its announcement arrives.
async fn announcement(client: &mut GameClient) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, client.recv()).await {
            Ok(Ok(Received::Message(ServerMessage::Announcement(a)))) => return a.text,
            Ok(Ok(Received::Message(_))) => {}
            other => panic!("no announcement: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_operator_kicks_closes_rooms_and_sends_notices_that_players_see() {
    let server = admin_server().await;
    let (mut ws, _) = signed_in(&server).await;
    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut bob, _) = GameClient::join(&server.ws_url(), "Bob").await.unwrap();

    send(
        &mut ws,
        json!({"type": "notice", "id": 1, "text": "restart in 5 minutes"}),
    )
    .await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(
        result,
        json!({"type": "result", "id": 1, "ok": true, "message": "notice sent"})
    );
    assert_eq!(announcement(&mut alice).await, "restart in 5 minutes");

    let alice_id = welcome.player_id.0;
    send(
        &mut ws,
        json!({"type": "kick", "id": 2, "player": alice_id, "reason": "abusive chat"}),
    )
    .await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(result["ok"], true, "{result}");
    let (code, _, error) = expect_close(&mut alice).await;
    assert_eq!(code, 4005);
    assert_eq!(error.as_deref(), Some("kicked: abusive chat"));

    send(
        &mut ws,
        json!({"type": "kick", "id": 3, "player": alice_id, "reason": "again"}),
    )
    .await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(
        result,
        json!({"type": "result", "id": 3, "ok": false, "error": "no such player"})
    );

    send(
        &mut ws,
        json!({"type": "close_room", "id": 4, "room": 1, "reason": "maintenance"}),
    )
    .await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(result["ok"], true, "{result}");
    let (code, _, error) = expect_close(&mut bob).await;
    assert_eq!(code, 4005);
    assert_eq!(error.as_deref(), Some("kicked: room closed: maintenance"));
    send(&mut ws, json!({"type": "close_room", "id": 5, "room": 1})).await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(result["error"], "no such room", "{result}");

    send(
        &mut ws,
        json!({"type": "notice", "id": 6, "text": "bad\u{7}text"}),
    )
    .await;
    let result = next_of(&mut ws, "result", |_| true).await;
    assert_eq!(
        result["ok"], false,
        "a text a chat line could not be is refused: {result}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_socket_that_floods_is_refused_then_closed() {
    let server = admin_server().await;
    let (mut ws, _) = signed_in(&server).await;
    for _ in 0..40 {
        send(&mut ws, json!({"type": "bogus"})).await;
    }
    let mut limited = 0;
    let close = loop {
        match next(&mut ws, PATIENCE).await {
            Some(Ok(message)) if message["error"] == "rate limited" => limited += 1,
            Some(Ok(_)) => {}
            Some(Err(close)) => break close,
            None => panic!("the flooding socket was not closed"),
        }
    };
    assert_eq!(close, (1008, "rate limited".into()));
    assert!(limited >= 20, "answered rate limited {limited} times first");
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_or_binary_message_closes_the_socket_with_its_code() {
    let server = admin_server().await;
    let (mut ws, _) = signed_in(&server).await;
    let huge = json!({"type": "notice", "text": "x".repeat(5000)});
    send(&mut ws, huge).await;
    assert_eq!(next_of_close(&mut ws).await.0, 1009);
    let (mut ws, _) = signed_in(&server).await;
    ws.write_frame(Frame::binary(Payload::Owned(vec![1, 2, 3])))
        .await
        .unwrap();
    assert_eq!(next_of_close(&mut ws).await.0, 1003);
    server.stop().await;
}

/// Skips samples and states until the close.
async fn next_of_close(ws: &mut AdminSocket) -> (u16, String) {
    loop {
        match next(ws, PATIENCE).await {
            Some(Ok(_)) => {}
            Some(Err(close)) => return close,
            None => panic!("no close in time"),
        }
    }
}
