//! HTTP long polling against the real server with real HTTP requests: a polling player joins,
//! plays against a WebSocket player and chats with it; snapshots are deltas against the tick the
//! client acknowledged and apply even when answers are lost; a lost answer is sent again; a
//! repeated POST applies nothing twice; a newer GET supersedes the older without ending the
//! session; a session with no GET ends like a silent socket; DELETE leaves (before joining too);
//! a polling player resumes; and every bad request gets its status and reason, counted by reason.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::metrics::metric;
use common::polling::{BINARY, Poller, request, up_body};
use common::{start_server, wait_for};
use skirmish::client::GameClient;
use skirmish::protocol::*;

const LOCAL: [u8; 4] = [127, 0, 0, 1];

/// Polls until a `Welcome`; returns it.
async fn welcomed(poller: &mut Poller) -> Welcome {
    for _ in 0..20 {
        for (_, message) in poller.fetch(None).await.messages() {
            if let ServerMessage::Welcome(welcome) = message {
                return welcome;
            }
        }
    }
    panic!("no welcome over polling");
}

/// Opens a session and joins as `name`.
async fn join(addr: std::net::SocketAddr, join: Join) -> (Poller, Welcome) {
    let mut poller = Poller::open(addr).await;
    assert_eq!(poller.send(&[ClientMessage::Join(join)]).await, 204);
    let welcome = welcomed(&mut poller).await;
    (poller, welcome)
}

#[tokio::test]
async fn a_polling_player_plays_and_chats_beside_a_websocket_player() {
    let server = start_server(&["--poll-hold", "2s"]).await;
    let (mut ws, _) = GameClient::join(&server.ws_url(), "Sock").await.unwrap();
    let (mut poller, welcome) = join(server.addr, Join::quick_play("Poll")).await;
    assert_eq!(welcome.players.len(), 2, "{:?}", welcome.players);
    // Snapshots arrive, each a delta against the tick the client said it applied.
    let mut replica = Replica::new();
    let mut applied = None;
    for round in 0..30u32 {
        let seq = round + 1;
        let input = ClientMessage::Input(PlayerInput {
            seq,
            buttons: buttons::RIGHT,
            ..PlayerInput::default()
        });
        assert_eq!(poller.send(&[input]).await, 204);
        // Every third answer is "lost": the client does not report what it applied.
        let report = if round % 3 == 2 { None } else { applied };
        let down = poller.fetch(report).await;
        if let Some(frame) = down.snapshot {
            // The WebSocket message's bytes: the snapshot variant, then the frame.
            assert_eq!(frame[0], 1, "a Snapshot message");
            let state = replica
                .apply(&frame[1..])
                .expect("a delta the client can apply");
            applied = Some(state.tick.0);
        }
    }
    let state = replica.latest().expect("snapshots over polling");
    assert_eq!(state.player_count, 2, "both players in the room");
    assert!(state.own.is_some(), "the own ship");
    // Chat both ways.
    let chat = ClientMessage::Chat(Chat {
        request_id: 5,
        text: "hello from polling".into(),
    });
    assert_eq!(poller.send(&[chat]).await, 204);
    wait_for(&mut ws, "the polling player's chat", |m| match m {
        ServerMessage::Chat(line) if line.text == "hello from polling" => Some(()),
        _ => None,
    })
    .await;
    ws.send(&ClientMessage::Chat(Chat {
        request_id: 1,
        text: "hello back".into(),
    }))
    .await
    .unwrap();
    let mut heard = false;
    for _ in 0..20 {
        let down = poller.fetch(applied).await;
        heard |= down
            .messages()
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::Chat(line) if line.text == "hello back"));
        if heard {
            break;
        }
    }
    assert!(heard, "the WebSocket player's chat over polling");
}

#[tokio::test]
async fn lost_answers_and_repeated_posts_cost_nothing_and_a_newer_get_supersedes() {
    let server = start_server(&["--poll-hold", "1s"]).await;
    let mut poller = Poller::open(server.addr).await;
    let join = ClientMessage::Join(Join::quick_play("Steady"));
    // The same POST three times (its answers "lost"): joined once.
    for _ in 0..3 {
        let status = poller
            .post_raw(&up_body(1, std::slice::from_ref(&join)))
            .await
            .status;
        assert_eq!(status, 204);
    }
    poller.next_seq = 2;
    // An answer lost: the same messages come again until acknowledged.
    let first = poller.fetch_raw(0, None).await;
    let again = poller.fetch_raw(0, None).await;
    let (a, b) = (
        common::polling::Down::parse(&first.body),
        common::polling::Down::parse(&again.body),
    );
    assert!(matches!(a.messages()[0].1, ServerMessage::Welcome(_)));
    assert_eq!(a.reliable, b.reliable[..a.reliable.len()], "sent again");
    poller.ack = a.first + a.reliable.len() as u32 - 1;
    let later = poller.fetch(None).await;
    assert!(
        later
            .messages()
            .iter()
            .all(|(seq, _)| *seq > poller.ack - later.reliable.len() as u32),
        "acknowledged messages are not sent again"
    );
    // Two GETs at once: the older answers at once, the session lives on.
    let path = format!("/poll/{}?ack={}", poller.sid, poller.ack + 1000);
    let get = |path: String| {
        let addr = server.addr;
        tokio::spawn(async move { request(addr, LOCAL.into(), "GET", &path, "", b"").await })
    };
    let older = get(path.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newer = get(path);
    let older = tokio::time::timeout(Duration::from_millis(900), older)
        .await
        .expect("the older GET answered before its hold")
        .unwrap();
    assert_eq!(older.status, 200);
    assert_eq!(newer.await.unwrap().status, 200);
    let chat = ClientMessage::Chat(Chat {
        request_id: 9,
        text: "still here".into(),
    });
    assert_eq!(poller.send(&[chat]).await, 204, "the session survived");
    let mut acked = false;
    for _ in 0..10 {
        acked |= poller
            .fetch(None)
            .await
            .messages()
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::Ack(ack) if ack.request_id == 9 && ack.error.is_none()));
        if acked {
            break;
        }
    }
    assert!(acked, "the chat was acknowledged once");
}

#[tokio::test]
async fn a_session_without_gets_ends_like_a_silent_socket_and_its_player_resumes() {
    let server = start_server(&[
        "--poll-hold",
        "300ms",
        "--ping-timeout",
        "500ms",
        "--resume-grace",
        "10s",
    ])
    .await;
    let (mut poller, welcome) = join(server.addr, Join::quick_play("Quiet")).await;
    // No GET for longer than the ping timeout and a hold: the session ends, and its last GET
    // says why.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut close = None;
    for _ in 0..5 {
        let down = poller.fetch(None).await;
        if down.close.is_some() {
            close = down.close;
            break;
        }
    }
    assert_eq!(close, Some((4004, "ping timeout".to_owned())));
    // Its player waits, away, and comes back through a new session with its token.
    let resume = Join {
        resume_token: Some(welcome.resume_token),
        ..Join::quick_play("Quiet")
    };
    let (_poller, back) = join(server.addr, resume).await;
    assert!(back.resumed);
    assert_eq!(back.player_id, welcome.player_id);
}

#[tokio::test]
async fn delete_leaves_at_once() {
    let server = start_server(&["--poll-hold", "1s"]).await;
    let (mut ws, _) = GameClient::join(&server.ws_url(), "Watcher").await.unwrap();
    let (mut poller, welcome) = join(server.addr, Join::quick_play("Leaver")).await;
    let path = format!("/poll/{}", poller.sid);
    assert_eq!(
        request(server.addr, LOCAL.into(), "DELETE", &path, "", b"")
            .await
            .status,
        204
    );
    wait_for(&mut ws, "the leaver gone", |m| match m {
        ServerMessage::PlayerLeft(left) if left.id == welcome.player_id => Some(()),
        ServerMessage::Roster(r) if r.left.iter().any(|l| l.id == welcome.player_id) => Some(()),
        _ => None,
    })
    .await;
    let down = poller.fetch(None).await;
    assert_eq!(down.close.map(|(code, _)| code), Some(1000));
}

/// Why `leave` is a reason a connection can end before joining (see
/// `CloseReason::can_end_before_joining`): a polling client may DELETE before it joins.
#[tokio::test]
async fn a_delete_before_the_join_is_a_leave_before_joining() {
    let server = start_server(&[]).await;
    let poller = Poller::open(server.addr).await;
    let path = format!("/poll/{}", poller.sid);
    let answer = request(server.addr, LOCAL.into(), "DELETE", &path, "", b"").await;
    assert_eq!(answer.status, 204);
    let rejected = "skirmish_connections_rejected_total{reason=\"leave\"}";
    common::metrics::wait_for_metric(server.addr, rejected, common::PATIENCE, |n| n == 1.0).await;
}

#[tokio::test]
async fn bad_requests_get_their_status_and_reason_and_are_counted() {
    let server = start_server(&[
        "--poll-hold",
        "1s",
        "--allowed-origins",
        "https://game.example",
        "--max-connections-per-ip",
        "6",
    ])
    .await;
    let addr = server.addr;
    let local: IpAddr = LOCAL.into();
    let expect = |answer: &common::polling::Answer, status: u16, says: &str| {
        assert_eq!(answer.status, status, "{}", answer.head);
        let body = String::from_utf8_lossy(&answer.body);
        assert!(body.contains(says), "{status}: {body}");
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("cache-control: no-store")
        );
    };
    let evil = request(
        addr,
        local,
        "POST",
        "/poll",
        "Origin: https://evil.example\r\n",
        b"",
    )
    .await;
    expect(&evil, 403, "origin");
    expect(
        &request(addr, local, "GET", "/poll", "", b"").await,
        405,
        "POST",
    );
    let unknown = format!("/poll/{}", "ab".repeat(16));
    expect(
        &request(addr, local, "GET", &unknown, "", b"").await,
        404,
        "unknown or ended session",
    );
    let elsewhere = format!("/poll/n9.{}", "ab".repeat(16));
    expect(
        &request(addr, local, "GET", &elsewhere, "", b"").await,
        404,
        "unknown",
    );
    let poller = Poller::open(addr).await;
    let path = format!("/poll/{}", poller.sid);
    let other: IpAddr = [127, 0, 0, 2].into();
    expect(
        &request(addr, other, "GET", &path, "", b"").await,
        403,
        "another address",
    );
    expect(
        &request(addr, local, "PUT", &path, "", b"").await,
        405,
        "GET, POST, DELETE",
    );
    let text = "Content-Type: text/plain\r\n";
    expect(
        &request(addr, local, "POST", &path, text, b"\0\0\0\x01").await,
        415,
        "octet-stream",
    );
    let huge = vec![0u8; 20_000];
    expect(
        &request(addr, local, "POST", &path, BINARY, &huge).await,
        413,
        "at most",
    );
    expect(
        &request(addr, local, "POST", &path, BINARY, b"\0\0").await,
        400,
        "sequence",
    );
    expect(
        &request(addr, local, "POST", &path, BINARY, b"\0\0\0\x01\0\x05ab").await,
        400,
        "cut short",
    );
    let big_message = [&[0, 0, 0, 1, 0x08, 0][..], &[7u8; 2048][..]].concat();
    expect(
        &request(addr, local, "POST", &path, BINARY, &big_message).await,
        413,
        "over the limit",
    );
    expect(&poller.fetch_raw(0, Some(5)).await, 200, "");
    let bad_query = format!("{path}?ack=many");
    expect(
        &request(addr, local, "GET", &bad_query, "", b"").await,
        400,
        "not a number",
    );
    // Sessions count against the address's connections: the sixth and later are refused.
    let mut opened = vec![poller];
    for _ in 0..4 {
        opened.push(Poller::open(addr).await);
    }
    expect(
        &request(addr, local, "POST", "/poll", "", b"").await,
        503,
        "no session opened",
    );
    // Garbage as messages ends that session alone, with the WebSocket's close.
    let garbage = [&[0, 0, 0, 1, 0, 3][..], &[0xff, 0xff, 0xff][..]].concat();
    assert_eq!(opened[1].post_raw(&garbage).await.status, 204);
    let mut closed = None;
    for _ in 0..5 {
        let answer = opened[1].fetch_raw(0, None).await;
        if answer.status != 200 {
            break;
        }
        let down = common::polling::Down::parse(&answer.body);
        if down.close.is_some() {
            closed = down.close;
            break;
        }
    }
    assert_eq!(closed.map(|(code, _)| code), Some(1007));
    let late = opened[1]
        .post_raw(&up_body(9, &[ClientMessage::Leave]))
        .await;
    expect(&late, 404, "the session has ended");
    for (reason, at_least) in [
        ("origin", 1.0),
        ("method", 2.0),
        ("unknown_session", 2.0),
        ("other_address", 1.0),
        ("content_type", 1.0),
        ("too_large", 2.0),
        ("malformed", 3.0),
        ("too_many_sessions", 1.0),
    ] {
        let name = format!("skirmish_polling_refused_total{{reason=\"{reason}\"}}");
        let counted = metric(addr, &name).await;
        assert!(counted >= at_least, "{name} = {counted}");
    }
}

#[tokio::test]
async fn polling_without_the_token_is_refused_like_the_upgrade() {
    let server = start_server(&["--auth-token", "s3cret"]).await;
    let local: IpAddr = LOCAL.into();
    let refused = request(server.addr, local, "POST", "/poll", "", b"").await;
    assert_eq!(refused.status, 401, "{}", refused.head);
    let admitted = request(server.addr, local, "POST", "/poll?token=s3cret", "", b"").await;
    assert_eq!(admitted.status, 200, "{}", admitted.head);
    let counted = metric(
        server.addr,
        "skirmish_polling_refused_total{reason=\"auth\"}",
    )
    .await;
    assert_eq!(counted, 1.0);
}

/// The next message on `client` that `pick` accepts, skipping snapshots it cannot decode (a
/// socket that took over a polling session holds no replica until a welcome).
async fn next_on<T>(
    client: &mut GameClient,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, client.recv()).await {
            Err(_) => panic!("timed out"),
            Ok(Ok(skirmish::client::Received::Message(message))) => {
                if let Some(found) = pick(&message) {
                    return found;
                }
            }
            Ok(Ok(skirmish::client::Received::Closed { code, reason })) => {
                panic!("closed {code} {reason}")
            }
            Ok(Err(skirmish::client::ClientError::Decode(_))) => {}
            Ok(Err(other)) => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn a_websocket_takes_over_a_polling_session_in_place() {
    let server = start_server(&["--poll-hold", "1s"]).await;
    let (mut sock, _) = GameClient::join(&server.ws_url(), "Sock").await.unwrap();
    // Polling: joined, welcomed, one chat line heard; then the client upgrades.
    let (mut poller, welcome) = join(server.addr, Join::quick_play("Mover")).await;
    sock.send(&ClientMessage::Chat(Chat {
        request_id: 1,
        text: "before".into(),
    }))
    .await
    .unwrap();
    let mut heard_before = false;
    for _ in 0..10 {
        heard_before |= poller
            .fetch(None)
            .await
            .messages()
            .iter()
            .any(|(_, m)| matches!(m, ServerMessage::Chat(l) if l.text == "before"));
        if heard_before {
            break;
        }
    }
    assert!(heard_before);
    // A chat line queued while the client switches is not lost: it comes on the socket.
    sock.send(&ClientMessage::Chat(Chat {
        request_id: 2,
        text: "during".into(),
    }))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut upgraded = GameClient::connect(&server.ws_url()).await.unwrap();
    upgraded
        .send(&ClientMessage::Upgrade(Upgrade {
            sid: poller.sid.clone(),
            ack: poller.ack,
        }))
        .await
        .unwrap();
    next_on(&mut upgraded, |m| {
        matches!(m, ServerMessage::Chat(l) if l.text == "during").then_some(())
    })
    .await;
    // The same player goes on over the socket: its chat reaches the other player as from it.
    upgraded
        .send(&ClientMessage::Chat(Chat {
            request_id: 3,
            text: "after".into(),
        }))
        .await
        .unwrap();
    let from = wait_for(&mut sock, "the upgraded player's chat", |m| match m {
        ServerMessage::Chat(line) if line.text == "after" => Some(line.from),
        // No rejoin: the other player never sees it leave, go away or come back.
        ServerMessage::PlayerLeft(_) | ServerMessage::Notice(_) => panic!("{m:?}"),
        _ => None,
    })
    .await;
    assert_eq!(from, welcome.player_id);
    // Polling that session now is refused, and so is a second takeover.
    let answer = poller.fetch_raw(poller.ack, None).await;
    assert_eq!(answer.status, 409, "{}", answer.head);
    let mut again = GameClient::connect(&server.ws_url()).await.unwrap();
    again
        .send(&ClientMessage::Upgrade(Upgrade {
            sid: poller.sid.clone(),
            ack: poller.ack,
        }))
        .await
        .unwrap();
    let (code, reason, _) = common::expect_close(&mut again).await;
    assert_eq!((code, reason.as_str()), (1008, "unexpected message"));
    // Leaving over the socket ends the session, with the socket's close.
    upgraded.leave().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let code = loop {
        match tokio::time::timeout_at(deadline, upgraded.recv())
            .await
            .expect("a close")
        {
            Ok(skirmish::client::Received::Closed { code, .. }) => break code,
            Ok(_) | Err(skirmish::client::ClientError::Decode(_)) => {}
            Err(other) => panic!("{other}"),
        }
    };
    assert_eq!(code, 1000);
}

#[tokio::test]
async fn a_flood_of_posted_messages_is_rate_limited_like_a_sockets() {
    let server = start_server(&["--poll-hold", "1s"]).await;
    let (mut poller, _) = join(server.addr, Join::quick_play("Flood")).await;
    // 60 inputs per POST, as fast as POSTs go for over two seconds: far past 90 messages a
    // second for longer than the budget's second of grace.
    let mut refused = 0;
    let started = std::time::Instant::now();
    let mut seq = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let inputs: Vec<ClientMessage> = (0..60)
            .map(|_| {
                seq += 1;
                ClientMessage::Input(PlayerInput {
                    seq,
                    ..PlayerInput::default()
                })
            })
            .collect();
        let status = poller.send(&inputs).await;
        if status == 404 {
            break;
        }
        if status != 204 {
            refused += 1;
        }
    }
    let mut close = None;
    for _ in 0..20 {
        let down = poller.fetch(None).await;
        if down.close.is_some() {
            close = down.close;
            break;
        }
    }
    assert_eq!(
        close,
        Some((1008, "rate limited".to_owned())),
        "{refused} POSTs refused"
    );
}

#[tokio::test]
async fn a_post_while_another_is_still_arriving_is_refused_and_the_first_still_lands() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_server(&["--poll-hold", "1s"]).await;
    let (mut poller, _) = join(server.addr, Join::quick_play("Twice")).await;
    // A POST whose body is only half sent: it is in flight.
    let chat = ClientMessage::Chat(Chat {
        request_id: 7,
        text: "slow post".into(),
    });
    let body = up_body(2, std::slice::from_ref(&chat));
    let mut slow = common::raw_socket::connect_from(server.addr, LOCAL.into(), None).await;
    let head = format!(
        "POST /poll/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{BINARY}Content-Length: {}\r\n\r\n",
        poller.sid,
        server.addr,
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..3]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = poller.post_raw(&up_body(2, &[chat])).await;
    assert_eq!(second.status, 409, "{}", second.head);
    assert!(String::from_utf8_lossy(&second.body).contains("one at a time"));
    // The first one finishes and is applied.
    slow.write_all(&body[3..]).await.unwrap();
    let mut answer = Vec::new();
    slow.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 204"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    poller.next_seq = 3;
    let mut acked = false;
    for _ in 0..10 {
        acked |= poller.fetch(None).await.messages().iter().any(
            |(_, m)| matches!(m, ServerMessage::Ack(ack) if ack.request_id == 7 && ack.error.is_none()),
        );
        if acked {
            break;
        }
    }
    assert!(acked);
    let counted = metric(
        server.addr,
        "skirmish_polling_refused_total{reason=\"overlapping_post\"}",
    )
    .await;
    assert_eq!(counted, 1.0);
}
