//! The cluster with real parts: a real `redis-server` on a free port and real server processes
//! (the binary) joined to it, real WebSocket and HTTP clients. Rooms listed from every node,
//! quick play spread over nodes, the last seat raced for across nodes, a killed node's rooms
//! gone within the lease and its players landing in a new room, Redis restarted mid-run, resume
//! through another node, and an unreachable Redis at start.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::child::ChildServer;
use common::polling::request;
use common::redis::RedisServer;
use common::{PATIENCE, expect_close, http_get, wait_for_snapshot};
use serde_json::Value;
use skirmish::bots::{Behaviour, SwarmConfig, run_swarm};
use skirmish::client::{ClientError, GameClient, Received};
use skirmish::protocol::ServerMessage;
use skirmish::protocol::{ClientMessage, Join, RoomRequest, SeatTicket};
use skirmish::server::Operator;
use skirmish::session::operator::Outcome;

/// The lease the tests' nodes hold: short, so a killed node leaves quickly.
const LEASE: &str = "1s";

/// Redis and `n` nodes joined to it, named n1, n2, ... each with `flags` added.
struct Cluster {
    redis: RedisServer,
    nodes: Vec<ChildServer>,
}

impl Cluster {
    fn start(n: usize, flags: &[&str]) -> Option<Cluster> {
        let redis = RedisServer::start()?;
        let url = redis.url();
        let nodes = (1..=n)
            .map(|i| {
                let id = format!("n{i}");
                let mut all = vec![
                    "--redis-url",
                    &url,
                    "--node-id",
                    &id,
                    "--cluster-lease",
                    LEASE,
                    "--log",
                    "warn",
                ];
                all.extend_from_slice(flags);
                ChildServer::start(&all)
            })
            .collect();
        Some(Cluster { redis, nodes })
    }

    fn ws(&self, node: usize) -> String {
        self.nodes[node].ws_url()
    }

    fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].addr
    }

    /// Which node (index) a WebSocket URL is on.
    fn node_of(&self, ws_url: &str) -> usize {
        self.nodes
            .iter()
            .position(|node| node.ws_url() == ws_url)
            .unwrap_or_else(|| panic!("{ws_url} is no node of this cluster"))
    }
}

/// `GET /rooms` on `addr`: (status, the rooms).
async fn rooms(addr: SocketAddr) -> (u16, Vec<Value>) {
    let (status, _, body) = http_get(addr, "/rooms", "").await;
    let json: Value = serde_json::from_slice(&body).unwrap();
    let rooms = json["rooms"].as_array().cloned().unwrap_or_default();
    (status, rooms)
}

fn room_keys(rooms: &[Value]) -> BTreeSet<(String, u64)> {
    rooms
        .iter()
        .map(|room| {
            (
                room["node"].as_str().unwrap().to_owned(),
                room["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Polls `check` until it gives a value, for up to ten seconds.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The reason a join was refused with.
fn refusal<T>(result: Result<T, ClientError>) -> String {
    match result {
        Ok(_) => panic!("the join was not refused"),
        Err(ClientError::Closed { reason, .. }) => reason,
        Err(other) => panic!("{other}"),
    }
}

fn join_code(name: &str, code: &str) -> Join {
    Join {
        room: RoomRequest::Code(code.to_owned()),
        ..Join::quick_play(name)
    }
}

#[tokio::test]
async fn quick_play_spreads_over_nodes_and_every_node_lists_every_room() {
    let Some(cluster) = Cluster::start(3, &["--max-room-players", "2"]) else {
        return;
    };
    // Six players by quick play, all through the first node: rooms of two fill one at a time,
    // each new one on the least-loaded node.
    let mut players = Vec::new();
    for i in 0..6 {
        let (client, welcome) = GameClient::join(&cluster.ws(0), &format!("P{i}"))
            .await
            .unwrap();
        let node = cluster.node_of(client.url());
        players.push((node, welcome.room.id, client));
    }
    let mut per_room: BTreeMap<(usize, u32), usize> = BTreeMap::new();
    for (node, room, _) in &players {
        *per_room.entry((*node, *room)).or_default() += 1;
    }
    assert_eq!(per_room.len(), 3, "three rooms of two: {per_room:?}");
    assert!(per_room.values().all(|&n| n == 2), "{per_room:?}");
    let nodes: BTreeSet<usize> = per_room.keys().map(|(node, _)| *node).collect();
    assert_eq!(nodes.len(), 3, "one room on each node: {per_room:?}");
    // Every node lists the same three rooms, each with its node's URL and its two players.
    for i in 0..3 {
        let listed = eventually("every room listed with its players", || async {
            let (status, rooms) = rooms(cluster.addr(i)).await;
            (status == 200
                && rooms.len() == 3
                && rooms
                    .iter()
                    .all(|room| room["players"] == 2 && room["locked"] == true))
            .then_some(rooms)
        })
        .await;
        for room in &listed {
            let node = room["node"].as_str().unwrap();
            let index: usize = node[1..].parse::<usize>().unwrap() - 1;
            assert_eq!(
                room["url"].as_str().unwrap(),
                format!("http://{}", cluster.addr(index))
            );
        }
    }
    // A seventh goes to a fourth room, on the node with the fewest players (any: all have 2),
    // and playing there works: snapshots arrive.
    let (mut seventh, _) = GameClient::join(&cluster.ws(1), "P6").await.unwrap();
    wait_for_snapshot(&mut seventh, "a snapshot", |_| true).await;
}

#[tokio::test]
async fn the_last_seats_of_a_private_room_raced_for_from_every_node_are_given_once() {
    let Some(cluster) = Cluster::start(3, &["--max-room-players", "3"]) else {
        return;
    };
    let create = Join {
        room: RoomRequest::CreatePrivate {
            mode: String::new(),
        },
        ..Join::quick_play("Host")
    };
    let (host, welcome) = GameClient::join_with(&cluster.ws(0), create).await.unwrap();
    let code = welcome.room.code.clone().expect("a private room's code");
    let home = host.url().to_owned();
    // Twelve joiners at once, four through each node, for the two seats left.
    let joins = (0..12).map(|i| {
        let url = cluster.ws(i % 3);
        let join = join_code(&format!("R{i}"), &code);
        tokio::spawn(async move { GameClient::join_with(&url, join).await })
    });
    let mut seated = Vec::new();
    let mut refused = 0;
    for join in joins {
        match join.await.unwrap() {
            Ok((client, welcome)) => {
                assert_eq!(client.url(), home, "seated in the room's own node");
                assert_eq!(welcome.room.code.as_deref(), Some(code.as_str()));
                seated.push(client);
            }
            Err(ClientError::Closed { reason, .. }) => {
                assert!(reason.contains("room full"), "{reason}");
                refused += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((seated.len(), refused), (2, 10), "never past max_players");
    // The private room is listed nowhere.
    for i in 0..3 {
        assert_eq!(rooms(cluster.addr(i)).await.1.len(), 0);
    }
    drop(host);
}

#[tokio::test]
async fn resume_through_another_node_is_sent_to_the_players_node() {
    let Some(cluster) = Cluster::start(2, &["--resume-grace", "30s"]) else {
        return;
    };
    let (mut client, welcome) = GameClient::join(&cluster.ws(0), "Wanderer").await.unwrap();
    assert_eq!(cluster.node_of(client.url()), 0);
    wait_for_snapshot(&mut client, "a snapshot", |_| true).await;
    // The connection drops without a goodbye; the client comes back through the other node.
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resume = Join {
        resume_token: Some(welcome.resume_token),
        ..Join::quick_play("Wanderer")
    };
    let (client, back) = GameClient::join_with(&cluster.ws(1), resume).await.unwrap();
    assert_eq!(cluster.node_of(client.url()), 0, "sent back to its node");
    assert!(back.resumed, "{back:?}");
    assert_eq!(
        (back.player_id, back.room.id),
        (welcome.player_id, welcome.room.id)
    );
    assert_eq!(back.resume_failed, None);
}

#[tokio::test]
async fn a_killed_nodes_rooms_leave_within_the_lease_and_its_players_start_again_elsewhere() {
    let Some(mut cluster) = Cluster::start(2, &["--resume-grace", "30s"]) else {
        return;
    };
    // A player on the second node, in a room every node lists.
    let (client, welcome) = GameClient::join(&cluster.ws(1), "Doomed").await.unwrap();
    assert_eq!(cluster.node_of(client.url()), 1);
    eventually("the room listed by the first node", || async {
        let (_, rooms) = rooms(cluster.addr(0)).await;
        room_keys(&rooms)
            .contains(&("n2".to_owned(), u64::from(welcome.room.id)))
            .then_some(())
    })
    .await;
    // Killed: no goodbye, no departure.
    let killed = Instant::now();
    let mut node = cluster.nodes.remove(1);
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    drop(client);
    let lease = Duration::from_secs(1);
    loop {
        let (_, rooms) = rooms(cluster.addr(0)).await;
        if rooms.iter().all(|room| room["node"] != "n2") {
            break;
        }
        assert!(
            killed.elapsed() < 2 * lease + Duration::from_millis(500),
            "still listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its player, coming back through the surviving node, is told its resume failed and why,
    // and plays in a new room there.
    let resume = Join {
        resume_token: Some(welcome.resume_token),
        ..Join::quick_play("Doomed")
    };
    let (mut client, again) = GameClient::join_with(&cluster.ws(0), resume).await.unwrap();
    assert!(!again.resumed);
    let why = again.resume_failed.expect("the resume's failure explained");
    assert!(why.contains("left the cluster"), "{why}");
    assert_eq!(cluster.node_of(client.url()), 0);
    wait_for_snapshot(&mut client, "a snapshot", |_| true).await;
}

#[tokio::test]
async fn redis_restarted_mid_run_rooms_play_on_joins_are_refused_then_all_comes_back() {
    let Some(mut cluster) = Cluster::start(2, &["--resume-grace", "30s"]) else {
        return;
    };
    let (mut player, welcome) = GameClient::join(&cluster.ws(0), "Steady").await.unwrap();
    wait_for_snapshot(&mut player, "a snapshot", |_| true).await;
    cluster.redis.stop();
    // The room plays on: snapshots keep coming.
    let started = player.latest_tick().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while player.latest_tick().unwrap().since(started) < 30 {
        assert!(
            Instant::now() < deadline,
            "no snapshots while Redis is down"
        );
        let _ = tokio::time::timeout(Duration::from_millis(100), player.recv()).await;
    }
    // A new joiner is refused with the reason; the lobby says why it cannot list.
    let mut newcomer = GameClient::connect(&cluster.ws(1)).await.unwrap();
    newcomer
        .send(&skirmish::protocol::ClientMessage::Join(Join::quick_play(
            "Late",
        )))
        .await
        .unwrap();
    let (code, reason, error) = expect_close(&mut newcomer).await;
    assert_eq!(
        (code, reason.as_str()),
        (4011, "cluster directory unavailable")
    );
    assert!(error.unwrap().contains("try again"));
    let (status, _, body) = http_get(cluster.addr(1), "/rooms", "").await;
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("unreachable"));
    // Redis comes back empty: the nodes register again with their rooms and tokens.
    cluster.redis.resume();
    eventually("the room listed again by the other node", || async {
        let (status, rooms) = rooms(cluster.addr(1)).await;
        (status == 200
            && room_keys(&rooms).contains(&("n1".to_owned(), u64::from(welcome.room.id))))
        .then_some(())
    })
    .await;
    let (_, late) = eventually("joins work again", || async {
        GameClient::join(&cluster.ws(1), "Late").await.ok()
    })
    .await;
    assert_eq!(
        late.room.id, welcome.room.id,
        "quick play fills the open room"
    );
    // The token was told again: resuming through the other node finds the player.
    drop(player);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resume = Join {
        resume_token: Some(welcome.resume_token),
        ..Join::quick_play("Steady")
    };
    let (_, back) = GameClient::join_with(&cluster.ws(1), resume).await.unwrap();
    assert!(back.resumed, "{back:?}");
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_a_clear_error_naming_its_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let output = tokio::time::timeout(
        PATIENCE,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_skirmish"))
            .args(["--addr", "127.0.0.1:0", "--redis-url", &url])
            .output(),
    )
    .await
    .expect("the server gives up in time")
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot join the cluster"), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_follows_redirects_and_plays_on_every_node() {
    swarm_through_redirects(skirmish::bots::Transport::Websocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_bots_follow_redirects_too() {
    swarm_through_redirects(skirmish::bots::Transport::Polling).await;
}

/// 24 bots through the first of three nodes with rooms of four: most are sent on.
async fn swarm_through_redirects(transport: skirmish::bots::Transport) {
    // A polling bot holds two connections and a session of its address.
    let flags = ["--max-room-players", "4", "--max-connections-per-ip", "200"];
    let Some(cluster) = Cluster::start(3, &flags) else {
        return;
    };
    let config = SwarmConfig {
        url: cluster.ws(0),
        transport,
        bots: 24,
        duration: Duration::from_secs(3),
        ramp_per_second: 50.0,
        behaviour: Behaviour::Wander,
        seed: 5,
        threads: 1,
        room: RoomRequest::default(),
    };
    let report = run_swarm(&config, |_, _| {}).await;
    println!("{}", report.render_text(&Default::default()));
    assert_eq!(report.bots_established, 24, "{:?}", report.failed);
    assert_eq!(report.errors, 0, "{:?} {:?}", report.failed, report.dropped);
    assert!(report.redirects >= 8, "{} redirects", report.redirects);
    assert!(report.delivered_ratio >= 0.95, "{}", report.delivered_ratio);
    // Every node ran rooms for them.
    let (_, listed) = rooms(cluster.addr(2)).await;
    let nodes: BTreeSet<&str> = listed
        .iter()
        .map(|room| room["node"].as_str().unwrap())
        .collect();
    assert!(nodes.len() >= 2, "{listed:?}");
}

/// An in-process node on `redis` named `id`, with its operator.
async fn operated_node(redis: &RedisServer, id: &str) -> (common::TestServer, Operator) {
    let url = redis.url();
    let flags = [
        "--redis-url",
        &url,
        "--node-id",
        id,
        "--cluster-lease",
        LEASE,
    ];
    let mut operator = None;
    let (server, _) = common::start_custom_server(&flags, |server| {
        operator = Some(server.operator());
        server
    })
    .await;
    (server, operator.unwrap())
}

/// Reads until an announcement arrives, or `patience` passes.
async fn next_announcement(client: &mut GameClient, patience: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, client.recv()).await {
            Ok(Ok(Received::Message(ServerMessage::Announcement(a)))) => return Some(a.text),
            Ok(Ok(Received::Message(_))) => {}
            _ => return None,
        }
    }
}

#[tokio::test]
async fn operators_announce_to_every_node_and_kick_on_another_over_the_bus() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, operator) = operated_node(&redis, "a").await;
    let (b, _) = operated_node(&redis, "b").await;
    let (mut on_a, _) = GameClient::join(&a.ws_url(), "OnA").await.unwrap();
    // A private room goes to the least-loaded node: b.
    let create = Join {
        room: RoomRequest::CreatePrivate {
            mode: String::new(),
        },
        ..Join::quick_play("OnB")
    };
    let (mut on_b, welcome_b) = GameClient::join_with(&b.ws_url(), create).await.unwrap();
    assert_eq!(on_b.url(), b.ws_url(), "the private room opened on b");
    operator.announce("Maintenance in 5 minutes").await.unwrap();
    for client in [&mut on_a, &mut on_b] {
        assert_eq!(
            next_announcement(client, PATIENCE).await.as_deref(),
            Some("Maintenance in 5 minutes")
        );
    }
    assert!(operator.announce("").await.is_err(), "checked like chat");
    // A kick from a's operator closes b's player with "kicked" and the operator's reason.
    let kicked = operator
        .kick_with_reason(Some("b"), welcome_b.player_id, "cheating")
        .await
        .unwrap();
    assert_eq!(kicked, Outcome::Forwarded);
    let (code, reason, error) = expect_close(&mut on_b).await;
    assert_eq!((code, reason.as_str()), (4005, "kicked"));
    assert_eq!(error.as_deref(), Some("kicked: cheating"));
    // A room of b closed from a: its players are told why.
    let create = Join {
        room: RoomRequest::CreatePrivate {
            mode: String::new(),
        },
        ..Join::quick_play("OnB2")
    };
    let (mut on_b, welcome_b) = GameClient::join_with(&b.ws_url(), create).await.unwrap();
    assert_eq!(on_b.url(), b.ws_url());
    let room = skirmish::protocol::rooms::RoomId(welcome_b.room.id);
    let closed = operator.close_room(Some("b"), room, "maintenance").await;
    assert_eq!(closed.unwrap(), Outcome::Forwarded);
    let (code, _, error) = expect_close(&mut on_b).await;
    assert_eq!(code, 4005);
    assert_eq!(error.as_deref(), Some("kicked: room closed: maintenance"));
    // Hostile entries on the bus: malformed ones are ignored, a flood is cut by its sender's
    // rate limit, and the players never notice anything but what passed.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let add = |json: String| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("skirmish:bus").arg("*").arg("m").arg(json);
        cmd
    };
    for garbage in [
        "not json".to_owned(),
        r#"{"from":"x","kind":"announce","text":""}"#.to_owned(),
        format!(
            r#"{{"from":"x","kind":"announce","text":"{}"}}"#,
            "y".repeat(300)
        ),
        r#"{"from":"x","kind":"format_disk"}"#.to_owned(),
    ] {
        let _: String = add(garbage).query_async(&mut conn).await.unwrap();
    }
    for i in 0..60 {
        let json = format!(r#"{{"from":"flood","kind":"announce","text":"spam {i}"}}"#);
        let _: String = add(json).query_async(&mut conn).await.unwrap();
    }
    let mut heard = 0;
    while next_announcement(&mut on_a, Duration::from_millis(700))
        .await
        .is_some()
    {
        heard += 1;
    }
    assert!(
        (20..=25).contains(&heard),
        "{heard} of 60 spam lines got through"
    );
    let malformed = common::metrics::metric(a.addr, "skirmish_cluster_bus_malformed_total").await;
    let limited = common::metrics::metric(a.addr, "skirmish_cluster_bus_limited_total").await;
    assert_eq!(malformed, 4.0);
    assert!(limited >= 35.0, "{limited}");
    // The player played on throughout.
    wait_for_snapshot(&mut on_a, "a snapshot after the flood", |_| true).await;
    // Redis restarts empty: the bus is read from its new start, nothing after it is missed.
    let mut redis = redis;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.resume();
    let announced = eventually("an announcement after Redis came back", || async {
        operator.announce("Back").await.ok()
    })
    .await;
    let _: () = announced;
    assert_eq!(
        next_announcement(&mut on_a, PATIENCE).await.as_deref(),
        Some("Back")
    );
}

#[tokio::test]
async fn forged_reused_and_misdirected_seat_tickets_are_refused_with_the_reason() {
    let Some(cluster) = Cluster::start(2, &["--max-room-players", "1"]) else {
        return;
    };
    let seat = |ticket| Join {
        room: RoomRequest::Seat(ticket),
        ..Join::quick_play("Forger")
    };
    // A ticket no node gave.
    let reason = refusal(GameClient::join_with(&cluster.ws(0), seat(SeatTicket([7; 16]))).await);
    assert!(reason.contains("the reserved seat expired"), "{reason}");
    // A real ticket: node 1's only room of one is full, so quick play through node 1 opens a
    // room on node 2 and hands out a ticket for it. Read it off the Redirect by hand.
    let (_first, _) = GameClient::join(&cluster.ws(0), "First").await.unwrap();
    let mut asker = GameClient::connect(&cluster.ws(0)).await.unwrap();
    asker
        .send(&ClientMessage::Join(Join::quick_play("Second")))
        .await
        .unwrap();
    let ticket = loop {
        match asker.recv().await.unwrap() {
            Received::Message(ServerMessage::Redirect(redirect)) => {
                assert_eq!(redirect.url, format!("http://{}", cluster.addr(1)));
                break redirect.ticket.expect("a seat ticket");
            }
            Received::Message(_) => {}
            Received::Closed { code, reason } => panic!("closed {code} {reason}"),
        }
    };
    let (code, reason, _) = expect_close(&mut asker).await;
    assert_eq!((code, reason.as_str()), (4010, "play on another node"));
    // Presented to the wrong node: refused, and still good on its own node, once.
    let wrong = refusal(GameClient::join_with(&cluster.ws(0), seat(ticket)).await);
    assert!(wrong.contains("another node"), "{wrong}");
    let (client, _) = GameClient::join_with(&cluster.ws(1), seat(ticket))
        .await
        .unwrap();
    assert_eq!(cluster.node_of(client.url()), 1);
    let again = refusal(GameClient::join_with(&cluster.ws(1), seat(ticket)).await);
    assert!(again.contains("expired"), "a ticket works once: {again}");
}

#[tokio::test]
async fn polling_across_nodes_pages_of_other_nodes_may_poll_and_sessions_name_their_node() {
    let Some(cluster) = Cluster::start(2, &[]) else {
        return;
    };
    let local: std::net::IpAddr = [127, 0, 0, 1].into();
    let (n1, n2) = (cluster.addr(0), cluster.addr(1));
    let page_of_n1 = format!("Origin: http://{n1}\r\n");
    // A page served by n1 may open and use a polling session on n2 (CORS for the cluster's
    // pages); a foreign page may not.
    let preflight = request(n2, local, "OPTIONS", "/poll", &page_of_n1, b"").await;
    assert_eq!(preflight.status, 204);
    let head = preflight.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("access-control-allow-origin: http://{n1}")),
        "{head}"
    );
    assert!(
        head.contains("access-control-allow-methods: get, post, delete"),
        "{head}"
    );
    let opened = request(n2, local, "POST", "/poll", &page_of_n1, b"").await;
    assert_eq!(opened.status, 200, "{}", opened.head);
    let sid = serde_json::from_slice::<Value>(&opened.body).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sid.starts_with("n2."), "{sid}");
    let foreign = request(
        n2,
        local,
        "POST",
        "/poll",
        "Origin: https://evil.example\r\n",
        b"",
    )
    .await;
    assert_eq!(foreign.status, 403);
    // A request for n2's session that reaches n1 is told where the session lives (once n1's
    // heartbeat has seen n2).
    eventually("n1 knows n2", || async {
        (common::metrics::metric(n1, "skirmish_cluster_nodes").await == 2.0).then_some(())
    })
    .await;
    let misdirected = request(n1, local, "GET", &format!("/poll/{sid}"), "", b"").await;
    assert_eq!(misdirected.status, 421, "{}", misdirected.head);
    let head = misdirected.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("x-skirmish-node-url: http://{n2}")),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&misdirected.body).contains("\"n2\""));
}
