//! Many rooms in one process, with real clients against the real server: quick play fills a
//! room before opening another, rooms lock at `--max-room-players`, a crowd racing for the last
//! seats never overfills a room, private rooms are reached only by their code and share
//! nothing with other rooms, a resumed player goes back to its own room, idle rooms are
//! disposed of, `/rooms` lists public rooms only, and a room that panics closes its own players
//! with 1011 while the others play on.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use skirmish::client::GameClient;
use skirmish::metrics::RoomStats;
use skirmish::protocol::*;
use skirmish::room::RoomIdentity;
use skirmish::runtime::Steppable;

fn join_room(name: &str, room: RoomRequest) -> Join {
    Join {
        room,
        ..Join::quick_play(name)
    }
}

/// Joins with `room` and returns the client and the room it was put in.
async fn join_into(server: &TestServer, name: &str, room: RoomRequest) -> (GameClient, Welcome) {
    GameClient::join_with(&server.ws_url(), join_room(name, room))
        .await
        .unwrap_or_else(|e| panic!("{name} could not join: {e}"))
}

/// Sends a join that must be refused; returns the close code and the error's message.
async fn refused(server: &TestServer, room: RoomRequest) -> (u16, Option<String>) {
    let mut client = GameClient::connect(&server.ws_url()).await.unwrap();
    client
        .send(&ClientMessage::Join(join_room("Refused", room)))
        .await
        .unwrap();
    let (code, _, error) = expect_close(&mut client).await;
    (code, error)
}

/// `/rooms`, as (id -> (players, max_players, locked)).
async fn listed_rooms(server: &TestServer) -> BTreeMap<u32, (u64, u64, bool)> {
    let (status, _, body) = http_get(server.addr, "/rooms", "").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("/rooms is JSON");
    json["rooms"]
        .as_array()
        .expect("a list of rooms")
        .iter()
        .map(|room| {
            let field = |name: &str| room[name].as_u64().unwrap_or_else(|| panic!("{name}"));
            assert_eq!(room["mode"], "arena");
            assert_eq!(room["tick_hz"], 30);
            assert!(field("created") > 1_600_000_000_000, "{room}");
            (
                field("id") as u32,
                (
                    field("players"),
                    field("max_players"),
                    room["locked"] == true,
                ),
            )
        })
        .collect()
}

/// Polls `/rooms` until `check` holds, failing after [`PATIENCE`].
async fn eventually_listed(
    server: &TestServer,
    what: &str,
    check: impl Fn(&BTreeMap<u32, (u64, u64, bool)>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let rooms = listed_rooms(server).await;
        if check(&rooms) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: /rooms lists {rooms:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn quick_play_fills_a_room_then_opens_the_next() {
    let server = start_server(&["--max-room-players", "2"]).await;
    assert!(
        listed_rooms(&server).await.is_empty(),
        "no room before anyone plays"
    );
    let (_a, first) = join_into(&server, "A", RoomRequest::default()).await;
    let (_b, second) = join_into(&server, "B", RoomRequest::default()).await;
    let (_c, third) = join_into(&server, "C", RoomRequest::default()).await;
    assert_eq!(
        first.room,
        RoomInfo {
            id: 1,
            mode: "arena".into(),
            max_players: 2,
            code: None,
        }
    );
    assert_eq!(second.room.id, 1);
    assert_eq!(third.room.id, 2, "room 1 was full");
    assert!(
        !third.players.iter().any(|p| p.id == first.player_id),
        "the roster is the room's"
    );
    assert_eq!(
        listed_rooms(&server).await,
        BTreeMap::from([(1, (2, 2, true)), (2, (1, 2, false))])
    );
    // By id: a full room is refused as full, a missing one as missing; room 2 has space.
    let (code, error) = refused(&server, RoomRequest::Id(1)).await;
    assert_eq!((code, error.as_deref()), (4007, Some("room full")));
    let (code, error) = refused(&server, RoomRequest::Id(9)).await;
    assert_eq!((code, error.as_deref()), (4006, Some("no such room")));
    // A cluster's seat ticket means nothing to a server that is in no cluster.
    let (code, error) = refused(&server, RoomRequest::Seat(SeatTicket([1; 16]))).await;
    assert_eq!((code, error.as_deref()), (4006, Some("no such room")));
    let (_d, fourth) = join_into(&server, "D", RoomRequest::Id(2)).await;
    assert_eq!(fourth.room.id, 2);
    // Filters: another mode is unknown; another region has no room and opens none here.
    let quick = |mode: &str, region: &str| RoomRequest::QuickPlay {
        mode: mode.into(),
        region: region.into(),
    };
    assert_eq!(refused(&server, quick("duel", "")).await.0, 4008);
    assert_eq!(refused(&server, quick("", "eu-west")).await.0, 4006);
    let (_e, fifth) = join_into(&server, "E", quick("arena", "local")).await;
    assert_eq!(fifth.room.id, 3);
    server.stop().await;
}

#[tokio::test]
async fn a_crowd_racing_for_seats_never_overfills_a_room_nor_leaves_one_half_empty() {
    const ROOM: u64 = 5;
    const CROWD: usize = 23;
    let server = start_server(&["--max-room-players", "5"]).await;
    let url = server.ws_url();
    let joins = (0..CROWD).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            GameClient::join_with(
                &url,
                join_room(&format!("Crowd{i}"), RoomRequest::default()),
            )
            .await
            .unwrap()
        })
    });
    let mut clients = Vec::new();
    let mut per_room = BTreeMap::<u32, u64>::new();
    for join in joins {
        let (client, welcome) = join.await.unwrap();
        *per_room.entry(welcome.room.id).or_default() += 1;
        clients.push(client);
    }
    // 23 joiners in rooms of 5: four full rooms and one of three, never a sixth player.
    assert_eq!(
        per_room.values().copied().collect::<Vec<_>>(),
        vec![ROOM, ROOM, ROOM, ROOM, 3],
        "{per_room:?}"
    );
    let listed = listed_rooms(&server).await;
    assert_eq!(listed.len(), 5);
    assert!(
        listed
            .values()
            .all(|&(players, max, _)| players <= max && max == ROOM)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_private_room_is_reached_by_its_code_and_shares_nothing() {
    let server = start_server(&["--arena", "1000x700"]).await;
    let create = RoomRequest::CreatePrivate {
        mode: String::new(),
    };
    let (mut host, hosted) = join_into(&server, "Host", create).await;
    let code = hosted
        .room
        .code
        .clone()
        .expect("a private room tells its code");
    assert_eq!(code.len(), 10);
    let (mut friend, befriended) =
        join_into(&server, "Friend", RoomRequest::Code(code.to_lowercase())).await;
    assert_eq!(
        befriended.room, hosted.room,
        "the code leads to the same room"
    );
    assert!(befriended.players.iter().any(|p| p.id == hosted.player_id));
    let (mut stranger, met) = join_into(&server, "Stranger", RoomRequest::default()).await;
    assert_ne!(
        met.room.id, hosted.room.id,
        "quick play never enters a private room"
    );
    assert!(
        met.players.iter().all(|p| p.name == "Stranger"),
        "{:?}",
        met.players
    );
    // Not listed, not reachable by id, and a wrong code says only "no such room".
    assert_eq!(
        listed_rooms(&server)
            .await
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![met.room.id]
    );
    let (code_by_id, _) = refused(&server, RoomRequest::Id(hosted.room.id)).await;
    assert_eq!(code_by_id, 4006);
    let (wrong_code, error) = refused(&server, RoomRequest::Code("0000000000".into())).await;
    assert_eq!((wrong_code, error.as_deref()), (4006, Some("no such room")));

    // Chat stays in the room; a whisper cannot cross into another room.
    host.send(&ClientMessage::Chat(Chat {
        request_id: 7,
        text: "only friends here".into(),
    }))
    .await
    .unwrap();
    let line = wait_for(&mut friend, "the host's line", |m| match m {
        ServerMessage::Chat(line) => Some(line.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (line.from, line.text.as_str()),
        (hosted.player_id, "only friends here")
    );
    stranger
        .send(&ClientMessage::Whisper(Whisper {
            request_id: 8,
            to: hosted.player_id,
            text: "hello?".into(),
        }))
        .await
        .unwrap();
    let ack = wait_for(&mut stranger, "the whisper's answer", |m| match m {
        ServerMessage::Ack(ack) if ack.request_id == 8 => Some(ack.clone()),
        _ => None,
    })
    .await;
    assert!(
        ack.error.is_some(),
        "another room's player is not reachable"
    );
    // Snapshots: the stranger sees only itself for a while; the friends see each other.
    for _ in 0..10 {
        let snapshot = wait_for_snapshot(&mut stranger, "a snapshot", |_| true).await;
        assert!(snapshot.players.iter().all(|p| p.id == met.player_id));
        assert!(
            snapshot
                .tags
                .iter()
                .all(|t| t.shooter == met.player_id || t.victim == met.player_id)
        );
    }
    wait_for_snapshot(&mut host, "the friend in view", |s| {
        s.players.iter().any(|p| p.id == befriended.player_id)
    })
    .await;
    // Nothing the stranger was sent named the private room's players.
    let mut heard = Vec::new();
    let listen_until = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Ok(received)) = tokio::time::timeout_at(listen_until, stranger.recv()).await {
        heard.push(format!("{received:?}"));
    }
    assert!(
        heard
            .iter()
            .all(|m| !m.contains("Host") && !m.contains("Friend")),
        "{heard:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn private_rooms_from_one_address_are_bounded() {
    let server = start_server(&["--max-private-rooms-per-ip", "2"]).await;
    let create = || RoomRequest::CreatePrivate {
        mode: String::new(),
    };
    let (_first, one) = join_into(&server, "One", create()).await;
    let (_second, two) = join_into(&server, "Two", create()).await;
    assert_ne!(one.room.code, two.room.code);
    let (code, error) = refused(&server, create()).await;
    assert_eq!(code, 4009);
    assert_eq!(
        error.as_deref(),
        Some("too many rooms: your address has as many private rooms open as it may")
    );
    assert_eq!(
        common::metrics::metric(server.addr, "skirmish_private_rooms_refused_total").await,
        1.0
    );
    assert_eq!(
        common::metrics::metric(
            server.addr,
            "skirmish_rooms{mode=\"arena\",visibility=\"private\"}"
        )
        .await,
        2.0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_resumed_player_goes_back_to_its_own_room() {
    let server = start_server(&["--max-room-players", "1", "--resume-grace", "5s"]).await;
    let (_first, first) = join_into(&server, "First", RoomRequest::default()).await;
    let (mut second, welcome) = join_into(&server, "Second", RoomRequest::default()).await;
    assert_eq!((first.room.id, welcome.room.id), (1, 2));
    second.close(1001).await.unwrap();
    drop(second);
    // Away, it keeps its seat: quick play opens a third room rather than take it.
    let (_third, third) = join_into(&server, "Third", RoomRequest::default()).await;
    assert_eq!(third.room.id, 3);
    let resume = Join {
        resume_token: Some(welcome.resume_token),
        ..join_room("Second", RoomRequest::default())
    };
    let (_again, again) = GameClient::join_with(&server.ws_url(), resume)
        .await
        .unwrap();
    assert!(again.resumed);
    assert_eq!((again.player_id, again.room.id), (welcome.player_id, 2));
    server.stop().await;
}

#[tokio::test]
async fn an_empty_room_is_disposed_of_after_the_idle_timeout() {
    let server = start_server(&["--room-idle-timeout", "300ms"]).await;
    let (mut player, welcome) = join_into(&server, "Lonely", RoomRequest::default()).await;
    assert_eq!(welcome.room.id, 1);
    player.leave().await.unwrap();
    expect_close(&mut player).await;
    eventually_listed(&server, "room 1 disposed of", |rooms| rooms.is_empty()).await;
    assert_eq!(
        common::metrics::metric(server.addr, "skirmish_rooms_disposed_total").await,
        1.0
    );
    let (_back, back) = join_into(&server, "Back", RoomRequest::default()).await;
    assert_eq!(back.room.id, 2, "a new room, not the disposed one");
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_refuses_whatever_room_is_asked_for() {
    let server = start_server(&["--max-players", "2", "--max-room-players", "1"]).await;
    let (_a, _) = join_into(&server, "A", RoomRequest::default()).await;
    let (_b, _) = join_into(&server, "B", RoomRequest::default()).await;
    for request in [
        RoomRequest::default(),
        RoomRequest::CreatePrivate {
            mode: String::new(),
        },
        RoomRequest::Id(1),
    ] {
        let (code, error) = refused(&server, request).await;
        assert_eq!(
            (code, error.as_deref()),
            (1013, Some("server full: 2 players at most"))
        );
    }
    server.stop().await;
}

/// A room that panics in its next step once `fail` is set.
struct FailingRoom {
    inner: Box<dyn Steppable>,
    fail: Arc<AtomicBool>,
}

impl Steppable for FailingRoom {
    fn tick_hz(&self) -> u16 {
        self.inner.tick_hz()
    }
    fn max_catch_up_ticks(&self) -> u32 {
        self.inner.max_catch_up_ticks()
    }
    fn step(&mut self, ticks: u32) {
        assert!(!self.fail.load(Ordering::Relaxed), "a bug in this room");
        self.inner.step(ticks);
    }
    fn stats(&self) -> &RoomStats {
        self.inner.stats()
    }
}

#[tokio::test]
async fn a_room_that_panics_closes_its_players_and_no_one_else() {
    let fail_room_two = Arc::new(AtomicBool::new(false));
    let fail = Arc::clone(&fail_room_two);
    let (server, _) = start_custom_server(&["--max-room-players", "1"], move |server| {
        server.with_room_wrapper(Arc::new(move |identity: &RoomIdentity, inner| {
            let fail = if identity.id.0 == 2 {
                Arc::clone(&fail)
            } else {
                Arc::default()
            };
            Box::new(FailingRoom { inner, fail }) as Box<dyn Steppable>
        }))
    })
    .await;
    let (mut healthy, _) = join_into(&server, "Healthy", RoomRequest::default()).await;
    let (mut doomed, doomed_in) = join_into(&server, "Doomed", RoomRequest::default()).await;
    assert_eq!(doomed_in.room.id, 2);
    fail_room_two.store(true, Ordering::Relaxed);
    let (code, reason, _) = expect_close(&mut doomed).await;
    assert_eq!((code, reason.as_str()), (1011, "room failed"));
    // Room 1 plays on: its player keeps getting new ticks.
    let tick = wait_for_snapshot(&mut healthy, "a snapshot", |_| true)
        .await
        .tick;
    wait_for_snapshot(&mut healthy, "later snapshots", |s| s.tick.0 > tick.0 + 10).await;
    eventually_listed(&server, "room 2 gone", |rooms| !rooms.contains_key(&2)).await;
    let (_next, next) = join_into(&server, "Next", RoomRequest::default()).await;
    assert_eq!(next.room.id, 3);
    assert_eq!(
        common::metrics::metric(server.addr, "skirmish_rooms_failed_total").await,
        1.0
    );
    server.stop().await;
}
