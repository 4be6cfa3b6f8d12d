//! The session layer with real clients: path, origins, authentication, heartbeat, resume,
//! chat and whispers, acknowledgements, kicks and lifecycle hooks.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use skirmish::client::{GameClient, Received};
use skirmish::protocol::CloseReason;
use skirmish::protocol::*;
use skirmish::session::{SessionHooks, SessionInfo};

fn join(name: &str, resume_token: Option<ResumeToken>) -> Join {
    Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 42,
        name: name.into(),
        resume_token,
        baseline_tick: None,
        room: RoomRequest::default(),
    }
}

async fn wait_for_notice(client: &mut GameClient, subject: PlayerId, kind: NoticeKind) {
    wait_for(client, "a notice", |m| match m {
        ServerMessage::Notice(n) if n.subject == subject && n.kind == kind => Some(()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn the_websocket_is_served_only_at_its_path() {
    let server = start_server(&["--path", "/game"]).await;
    let (status, _, _) = http_get(server.addr, "/ws", UPGRADE_HEADERS).await;
    assert_eq!(status, 404);
    let url = format!("ws://{}/game", server.addr);
    let (_client, welcome) = GameClient::join(&url, "Pathfinder").await.unwrap();
    assert_eq!(welcome.request_id, 1);
    server.stop().await;
}

#[tokio::test]
async fn foreign_origins_are_refused_before_upgrade() {
    let server = start_server(&[]).await;
    let evil = format!("{UPGRADE_HEADERS}Origin: https://evil.example\r\n");
    let (status, _, body) = http_get(server.addr, "/ws", &evil).await;
    assert_eq!(
        (status, body.as_slice()),
        (403, &b"origin not allowed\n"[..])
    );
    // The page's own origin is fine (checked on the plain GET, which then asks for an upgrade).
    let own = format!("Origin: http://{}\r\n", server.addr);
    assert_eq!(http_get(server.addr, "/ws", &own).await.0, 426);
    let listed = start_server(&["--allowed-origins", "https://friend.example"]).await;
    let friend = "Origin: https://friend.example\r\n";
    assert_eq!(http_get(listed.addr, "/ws", friend).await.0, 426);
    let local = "Origin: http://localhost:3000\r\n";
    assert_eq!(http_get(listed.addr, "/ws", local).await.0, 403);
    server.stop().await;
    listed.stop().await;
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    let server = start_server(&["--auth-token", "s3cret"]).await;
    let (status, _, body) = http_get(server.addr, "/ws", UPGRADE_HEADERS).await;
    assert_eq!((status, body.as_slice()), (401, &b"missing token\n"[..]));
    let (status, _, body) = http_get(server.addr, "/ws?token=guess", UPGRADE_HEADERS).await;
    assert_eq!((status, body.as_slice()), (401, &b"invalid token\n"[..]));
    let bearer = format!("{UPGRADE_HEADERS}Authorization: Bearer wrong\r\n");
    assert_eq!(http_get(server.addr, "/ws", &bearer).await.0, 401);
    let url = format!("ws://{}/ws?token=s3cret", server.addr);
    GameClient::join(&url, "Insider").await.unwrap();
    assert!(
        GameClient::join(&server.ws_url(), "Outsider")
            .await
            .is_err()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed_with_ping_timeout() {
    let server = start_server(&["--ping-interval", "150ms", "--ping-timeout", "250ms"]).await;
    let (mut diligent, _) = GameClient::join(&server.ws_url(), "Diligent")
        .await
        .unwrap();
    let (mut silent, _) = GameClient::join(&server.ws_url(), "Silent").await.unwrap();
    // The diligent client answers every ping for a while and learns its round-trip time.
    let answering = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut measured_rtt = 0;
        while started.elapsed() < Duration::from_millis(900) {
            if let Received::Message(ServerMessage::Ping(ping)) = diligent.recv().await.unwrap() {
                measured_rtt = measured_rtt.max(ping.rtt_us);
                diligent
                    .send(&ClientMessage::Pong(Ping { nonce: ping.nonce }))
                    .await
                    .unwrap();
            }
        }
        (diligent, measured_rtt)
    });
    let (code, reason, error) = expect_close(&mut silent).await;
    assert_eq!((code, reason.as_str()), (4004, "ping timeout"));
    assert!(error.unwrap().starts_with("ping timeout"));
    let (mut diligent, measured_rtt) = answering.await.unwrap();
    assert!(measured_rtt > 0, "no round-trip time was reported");
    wait_for_snapshot(&mut diligent, "still playing", |_| true).await;
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_player_resumes_within_the_grace_with_its_state() {
    // An arena inside one player's area of interest, so that Bob always sees Alice.
    let server = start_server(&["--resume-grace", "5s", "--arena", "1000x700"]).await;
    let (mut alice, welcome) = GameClient::join_with(&server.ws_url(), join("Alice", None))
        .await
        .unwrap();
    let (mut bob, _) = GameClient::join(&server.ws_url(), "Bob").await.unwrap();
    assert!(!welcome.resumed && welcome.request_id == 42);
    for seq in 1..=10 {
        let input = PlayerInput {
            seq,
            buttons: buttons::DOWN,
            aim: 0.0,
            ..Default::default()
        };
        alice.send(&ClientMessage::Input(input)).await.unwrap();
    }
    let before = wait_for_snapshot(&mut alice, "Alice's inputs applied", |s| {
        s.players
            .iter()
            .any(|p| p.id == welcome.player_id && p.last_input_seq == 10)
    })
    .await;
    let before = *before
        .players
        .iter()
        .find(|p| p.id == welcome.player_id)
        .unwrap();

    alice.close(1001).await.unwrap();
    drop(alice);
    wait_for_notice(&mut bob, welcome.player_id, NoticeKind::Away).await;
    wait_for_snapshot(&mut bob, "Alice flagged away", |s| {
        s.players
            .iter()
            .any(|p| p.id == welcome.player_id && p.flags & player_flags::AWAY != 0)
    })
    .await;

    let resume = join("Alice", Some(welcome.resume_token));
    let (mut alice, again) = GameClient::join_with(&server.ws_url(), resume)
        .await
        .unwrap();
    assert!(again.resumed);
    assert_eq!(
        (again.player_id, again.resume_token),
        (welcome.player_id, welcome.resume_token)
    );
    wait_for_notice(&mut bob, welcome.player_id, NoticeKind::Back).await;
    let after = wait_for_snapshot(&mut alice, "Alice back", |s| {
        s.players
            .iter()
            .any(|p| p.id == welcome.player_id && p.flags & player_flags::AWAY == 0)
    })
    .await;
    let after = after
        .players
        .iter()
        .find(|p| p.id == welcome.player_id)
        .unwrap();
    assert_eq!(
        (after.x, after.y, after.last_input_seq),
        (before.x, before.y, 10)
    );
    assert!(after.score >= before.score);
    // Input sequence numbers carry on from where they were.
    let input = PlayerInput {
        seq: 11,
        buttons: buttons::UP,
        aim: 0.0,
        ..Default::default()
    };
    alice.send(&ClientMessage::Input(input)).await.unwrap();
    wait_for_snapshot(&mut alice, "input 11 applied", |s| {
        s.players
            .iter()
            .any(|p| p.id == welcome.player_id && p.last_input_seq == 11)
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_resume_costs_one_delta_from_the_last_snapshot_held() {
    let server = start_server(&["--resume-grace", "5s"]).await;
    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    for _ in 0..5 {
        wait_for_snapshot(&mut alice, "a few snapshots", |_| true).await;
    }
    let held = alice.latest_tick().expect("snapshots applied");
    alice.close(1001).await.unwrap();

    let mut again = GameClient::connect(&server.ws_url()).await.unwrap();
    alice.hand_replica_to(&mut again);
    drop(alice);
    let mut resume = join("Alice", Some(welcome.resume_token));
    resume.baseline_tick = Some(held);
    again.send(&ClientMessage::Join(resume)).await.unwrap();
    let snapshot =
        wait_for_snapshot(&mut again, "the first snapshot after resuming", |_| true).await;
    let header = again.last_frame_header().unwrap();
    assert_eq!(
        header.tick.since(held),
        header.baseline_age as i32,
        "the first frame after resuming is a delta against the snapshot held ({header:?})"
    );
    assert!(snapshot.players.iter().any(|p| p.id == welcome.player_id));
    server.stop().await;
}

#[tokio::test]
async fn after_the_grace_a_resume_starts_over() {
    let server = start_server(&["--resume-grace", "300ms"]).await;
    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut bob, _) = GameClient::join(&server.ws_url(), "Bob").await.unwrap();
    alice.close(1001).await.unwrap();
    drop(alice);
    let left = wait_for(&mut bob, "Alice to leave for good", |m| match m {
        ServerMessage::PlayerLeft(p) => Some(p.id),
        _ => None,
    })
    .await;
    assert_eq!(left, welcome.player_id);
    let resume = join("Alice", Some(welcome.resume_token));
    let (_alice, again) = GameClient::join_with(&server.ws_url(), resume)
        .await
        .unwrap();
    assert!(!again.resumed);
    assert_ne!(again.player_id, welcome.player_id);
    assert_ne!(again.resume_token, welcome.resume_token);
    server.stop().await;
}

#[tokio::test]
async fn a_resume_token_of_a_connected_player_is_refused() {
    let server = start_server(&[]).await;
    let (_alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let stolen = join("Mallory", Some(welcome.resume_token));
    let (_mallory, got) = GameClient::join_with(&server.ws_url(), stolen)
        .await
        .unwrap();
    assert!(!got.resumed);
    assert_ne!(got.player_id, welcome.player_id);
    let forged = join("Forger", Some(ResumeToken([0; 16])));
    let (_forger, got) = GameClient::join_with(&server.ws_url(), forged)
        .await
        .unwrap();
    assert!(!got.resumed);
    server.stop().await;
}

#[tokio::test]
async fn chat_reaches_everyone_and_whispers_only_their_target() {
    let server = start_server(&[]).await;
    let (mut ann, ann_w) = GameClient::join(&server.ws_url(), "Ann").await.unwrap();
    let (mut ben, ben_w) = GameClient::join(&server.ws_url(), "Ben").await.unwrap();
    let (mut cat, _) = GameClient::join(&server.ws_url(), "Cat").await.unwrap();

    let whisper = Whisper {
        request_id: 7,
        to: ben_w.player_id,
        text: "psst".into(),
    };
    ann.send(&ClientMessage::Whisper(whisper)).await.unwrap();
    let ack = wait_for(&mut ann, "the whisper's ack", |m| match m {
        ServerMessage::Ack(a) => Some(a.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        ack,
        Ack {
            request_id: 7,
            error: None
        }
    );
    let line = wait_for(&mut ben, "the whisper", |m| match m {
        ServerMessage::Chat(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        line,
        ChatLine {
            from: ann_w.player_id,
            text: "psst".into(),
            whisper: true
        }
    );

    let chat = Chat {
        request_id: 8,
        text: "  <b>hello</b> all ".into(),
    };
    ann.send(&ClientMessage::Chat(chat)).await.unwrap();
    // Cat's first chat line is the public one: the whisper never reached her.
    let seen_by_cat = wait_for(&mut cat, "a chat line", |m| match m {
        ServerMessage::Chat(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        seen_by_cat,
        ChatLine {
            from: ann_w.player_id,
            text: "<b>hello</b> all".into(),
            whisper: false
        }
    );
    let echoed = wait_for(&mut ann, "her own line", |m| match m {
        ServerMessage::Chat(c) => Some(c.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(echoed, "<b>hello</b> all");

    let nobody = Whisper {
        request_id: 9,
        to: PlayerId(999_999),
        text: "hello?".into(),
    };
    ann.send(&ClientMessage::Whisper(nobody)).await.unwrap();
    let refused = wait_for(&mut ann, "the refusal", |m| match m {
        ServerMessage::Ack(a) if a.request_id == 9 => Some(a.error.clone()),
        _ => None,
    })
    .await;
    assert!(refused.unwrap().contains("not connected"));
    server.stop().await;
}

#[tokio::test]
async fn a_chat_flood_is_rate_limited() {
    let server = start_server(&[]).await;
    let (mut flooder, _) = GameClient::join(&server.ws_url(), "Flooder").await.unwrap();
    for request_id in 1..=12 {
        let chat = Chat {
            request_id,
            text: format!("spam {request_id}"),
        };
        flooder.send(&ClientMessage::Chat(chat)).await.unwrap();
    }
    let mut accepted = 0;
    let mut refused = 0;
    while accepted + refused < 12 {
        if let Some(error) = wait_for(&mut flooder, "acks", |m| match m {
            ServerMessage::Ack(a) => Some(a.error.clone()),
            _ => None,
        })
        .await
        {
            assert!(error.starts_with("rate limited"), "{error}");
            refused += 1;
        } else {
            accepted += 1;
        }
    }
    assert!((5..=6).contains(&accepted), "{accepted} accepted");
    assert!(refused >= 6);
    let empty = Chat {
        request_id: 99,
        text: "   ".into(),
    };
    flooder.send(&ClientMessage::Chat(empty)).await.unwrap();
    let error = wait_for(&mut flooder, "an empty chat refused", |m| match m {
        ServerMessage::Ack(a) if a.request_id == 99 => Some(a.error.clone()),
        _ => None,
    })
    .await;
    assert_eq!(error.as_deref(), Some("message is empty"));
    server.stop().await;
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl SessionHooks for Recorder {
    fn on_connection(&self, session: &SessionInfo) {
        self.0
            .lock()
            .unwrap()
            .push(format!("connection {} {}", session.name, session.resumed));
    }
    fn on_disconnecting(&self, _id: PlayerId, reason: CloseReason) {
        self.0
            .lock()
            .unwrap()
            .push(format!("disconnecting {}", reason.socket_io_reason()));
    }
    fn on_disconnect(&self, _id: PlayerId, reason: CloseReason) {
        self.0
            .lock()
            .unwrap()
            .push(format!("disconnect {}", reason.socket_io_reason()));
    }
}

#[tokio::test]
async fn hooks_see_the_lifecycle_and_kicks_close_with_a_reason() {
    let hooks = Arc::new(Recorder::default());
    let recorder = Arc::clone(&hooks);
    let (server, sessions) = start_custom_server(&[], |s| s.with_hooks(hooks)).await;
    let (mut leaver, _) = GameClient::join(&server.ws_url(), "Leaver").await.unwrap();
    let (mut victim, welcome) = GameClient::join(&server.ws_url(), "Victim").await.unwrap();
    leaver.leave().await.unwrap();
    expect_close(&mut leaver).await;
    assert!(sessions.kick(welcome.player_id, CloseReason::Kicked));
    let (code, reason, error) = expect_close(&mut victim).await;
    assert_eq!((code, reason.as_str()), (4005, "kicked"));
    assert_eq!(error.as_deref(), Some("kicked"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while recorder.0.lock().unwrap().len() < 6 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            recorder.0.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let events = recorder.0.lock().unwrap().clone();
    let position = |event: &str| {
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("{event} missing from {events:?}"))
    };
    // Each player's events come in lifecycle order; the two players' may interleave.
    for reason in ["client namespace disconnect", "server namespace disconnect"] {
        assert!(
            position(&format!("disconnecting {reason}"))
                < position(&format!("disconnect {reason}"))
        );
    }
    assert!(
        position("connection Leaver false") < position("disconnecting client namespace disconnect")
    );
    assert!(
        position("connection Victim false") < position("disconnecting server namespace disconnect")
    );
    server.stop().await;
}

#[tokio::test]
async fn without_the_client_the_files_are_gone_but_the_game_is_not() {
    let server = start_server(&["--serve-client", "false"]).await;
    assert_eq!(http_get(server.addr, "/", "").await.0, 404);
    assert_eq!(http_get(server.addr, "/protocol.js", "").await.0, 404);
    assert_eq!(http_get(server.addr, "/healthz", "").await.0, 200);
    GameClient::join(&server.ws_url(), "Remote").await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn max_payload_bounds_messages() {
    let server = start_server(&["--max-payload", "256"]).await;
    let (mut client, _) = GameClient::join(&server.ws_url(), "Wordy").await.unwrap();
    let chat = Chat {
        request_id: 1,
        text: "é".repeat(150),
    };
    client.send(&ClientMessage::Chat(chat)).await.unwrap();
    assert_eq!(expect_close(&mut client).await.0, 1009);
    server.stop().await;
}

#[tokio::test]
async fn pings_keep_their_interval_when_answered_promptly() {
    // Interval shorter than the timeout: an answered ping must not wait for the timeout.
    let server = start_server(&["--ping-interval", "100ms", "--ping-timeout", "5s"]).await;
    let (mut client, _) = GameClient::join(&server.ws_url(), "Prompt").await.unwrap();
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(1000) {
        if let Received::Message(ServerMessage::Ping(ping)) = client.recv().await.unwrap() {
            pings += 1;
            client
                .send(&ClientMessage::Pong(Ping { nonce: ping.nonce }))
                .await
                .unwrap();
        }
    }
    assert!(
        pings >= 5,
        "only {pings} pings in a second at a 100 ms interval"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_join_for_a_private_code_is_told_there_is_no_such_room() {
    let server = start_server(&["--max-players", "50"]).await;
    let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
    let request = Join {
        room: RoomRequest::Code("0123456789".into()),
        ..join("Linked", None)
    };
    client.send(&ClientMessage::Join(request)).await.unwrap();
    let (code, reason, error) = expect_close(&mut client).await;
    assert_eq!(
        (code, reason.as_str()),
        (
            CloseReason::NoSuchRoom.code(),
            CloseReason::NoSuchRoom.text()
        )
    );
    assert_eq!((code, reason.as_str()), (4006, "no such room"));
    assert_eq!(error.as_deref(), Some("no such room"));
    // A malformed code is refused as malformed, with the rule it breaks.
    let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
    let request = Join {
        room: RoomRequest::Code("0123".into()),
        ..join("Linked", None)
    };
    client.send(&ClientMessage::Join(request)).await.unwrap();
    let (code, _, error) = expect_close(&mut client).await;
    assert_eq!(code, 1007);
    assert_eq!(
        error.as_deref(),
        Some("malformed message: room code must be 10 characters")
    );
    server.stop().await;
}
