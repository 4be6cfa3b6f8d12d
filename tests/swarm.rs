//! The swarm's library against the real server: fifty bots play for a few seconds and every one
//! of them connects, decodes everything, and receives nearly every snapshot, in rooms whose
//! players add up to the bots; so do thirty bots over long polling, and leave by DELETE; bots asking for a room by id land in it, and bots asking for a
//! room that does not exist are refused.

mod common;

use std::time::Duration;

use common::metrics::wait_for_metric;
use common::start_server;
use skirmish::bots::{Behaviour, SwarmConfig, Transport, run_swarm};
use skirmish::client::{GameClient, Received};
use skirmish::protocol::{ClientMessage, Ping, RoomRequest, ServerMessage};

/// A swarm of `bots` with `behaviour` against `url` for `duration`: 100 new bots a second, one
/// thread, quick play (tests override what they need).
fn swarm_config(
    url: String,
    bots: u32,
    duration: Duration,
    behaviour: Behaviour,
    seed: u64,
) -> SwarmConfig {
    SwarmConfig {
        url,
        transport: Transport::Websocket,
        bots,
        duration,
        ramp_per_second: 100.0,
        behaviour,
        seed,
        threads: 1,
        room: RoomRequest::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_bots_play_without_errors() {
    // A quick heartbeat: bots that did not answer pings would be dropped within the run.
    let server = start_server(&["--ping-interval", "250ms", "--ping-timeout", "500ms"]).await;
    let config = swarm_config(
        server.ws_url(),
        50,
        Duration::from_secs(4),
        Behaviour::Chase,
        3,
    );
    let report = run_swarm(&config, |_, _| {}).await;
    println!("{}", report.render_text(&Default::default()));
    assert_played_well(&report, 50, 0.95);
    // However many rooms quick play spread them over, every bot is in one.
    let rooms = rooms_in_json(&report);
    let players: u64 = rooms
        .iter()
        .map(|room| room["players"].as_u64().unwrap())
        .sum();
    assert_eq!(players, 50, "{rooms:?}");
    for room in &rooms {
        assert!(
            room["mode"].as_str().is_some_and(|mode| !mode.is_empty()),
            "{room}"
        );
        assert!(room["delivered"].as_f64().unwrap() >= 0.95, "{room}");
        assert!(room["gap_p99_ms"].as_f64().unwrap() > 0.0, "{room}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_polling_bots_play_without_errors() {
    // Each polling bot holds two TCP connections and a session of the address's budget; a
    // quick heartbeat makes the bots answer pings by POST within the run.
    let server = start_server(&[
        "--poll-hold",
        "2s",
        "--max-connections-per-ip",
        "200",
        "--ping-interval",
        "250ms",
        "--ping-timeout",
        "1s",
    ])
    .await;
    let config = SwarmConfig {
        transport: Transport::Polling,
        ..swarm_config(
            server.ws_url(),
            30,
            Duration::from_secs(4),
            Behaviour::Wander,
            6,
        )
    };
    let report = run_swarm(&config, |_, _| {}).await;
    println!("{}", report.render_text(&Default::default()));
    assert_eq!(report.transport, Transport::Polling);
    assert_played_well(&report, 30, 0.9);
    let players: u64 = rooms_in_json(&report)
        .iter()
        .map(|room| room["players"].as_u64().unwrap())
        .sum();
    assert_eq!(players, 30);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["transport"], "polling");
    // Every bot said goodbye with DELETE: none is left away, waiting for its resume grace.
    let left = r#"skirmish_connections_closed_total{reason="leave"}"#;
    wait_for_metric(server.addr, left, Duration::from_secs(2), |n| n == 30.0).await;
    let players = "skirmish_players";
    wait_for_metric(server.addr, players, Duration::from_secs(2), |n| n == 0.0).await;
    server.stop().await;
}

/// The JSON report's `rooms`, checked to be listed by room id, each with exactly its five keys.
fn rooms_in_json(report: &skirmish::bots::Report) -> Vec<serde_json::Value> {
    let json = serde_json::to_value(report).unwrap();
    let rooms = json["rooms"].as_array().expect("a rooms list").clone();
    let ids: Vec<u64> = rooms
        .iter()
        .map(|room| room["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by room id: {ids:?}");
    for room in &rooms {
        let mut keys: Vec<&str> = room
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["delivered", "gap_p99_ms", "id", "mode", "players"]);
    }
    rooms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_asking_for_a_room_by_id_all_land_in_it() {
    let server = start_server(&[]).await;
    // A player holds a room open; the bots then ask for it by the id its welcome told.
    let (mut host, welcome) = GameClient::join(&server.ws_url(), "host").await.unwrap();
    let host_reads = tokio::spawn(async move {
        while let Ok(Received::Message(message)) = host.recv().await {
            if let ServerMessage::Ping(ping) = message {
                let pong = ClientMessage::Pong(Ping { nonce: ping.nonce });
                let _ = host.send(&pong).await;
            }
        }
    });
    let config = SwarmConfig {
        ramp_per_second: 50.0,
        room: RoomRequest::Id(welcome.room.id),
        ..swarm_config(
            server.ws_url(),
            5,
            Duration::from_secs(2),
            Behaviour::Wander,
            4,
        )
    };
    let report = run_swarm(&config, |_, _| {}).await;
    assert_eq!(report.errors, 0, "{:?} {:?}", report.failed, report.dropped);
    let rooms = rooms_in_json(&report);
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0]["id"], u64::from(welcome.room.id));
    assert_eq!(rooms[0]["mode"], welcome.room.mode.as_str());
    assert_eq!(rooms[0]["players"], 5);
    server.stop().await;
    host_reads.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_play_bots_fill_rooms_and_the_report_breaks_them_down() {
    let server = start_server(&["--max-room-players", "8"]).await;
    let config = swarm_config(
        server.ws_url(),
        40,
        Duration::from_secs(3),
        Behaviour::Wander,
        5,
    );
    let report = run_swarm(&config, |_, _| {}).await;
    assert_eq!(report.errors, 0, "{:?} {:?}", report.failed, report.dropped);
    let rooms = rooms_in_json(&report);
    let sizes: Vec<u64> = rooms
        .iter()
        .map(|room| room["players"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sizes,
        vec![8; 5],
        "40 bots in rooms of 8: five full rooms, {rooms:?}"
    );
    for room in &rooms {
        let delivered = room["delivered"].as_f64().unwrap();
        assert!(delivered > 0.9, "room {} delivered {delivered}", room["id"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_refused_bot_is_counted_with_the_reason() {
    let server = start_server(&["--max-players", "2"]).await;
    let config = SwarmConfig {
        ramp_per_second: 50.0,
        ..swarm_config(
            server.ws_url(),
            3,
            Duration::from_secs(1),
            Behaviour::Idle,
            1,
        )
    };
    let report = run_swarm(&config, |_, _| {}).await;
    assert_eq!(report.bots_established, 2);
    assert_eq!(report.errors, 1);
    let (reason, count) = report.failed.iter().next().unwrap();
    assert!(reason.contains("server full"), "{reason}");
    assert_eq!(*count, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatting_bots_are_heard_by_everyone() {
    let server = start_server(&[]).await;
    let config = swarm_config(
        server.ws_url(),
        10,
        Duration::from_millis(6500),
        Behaviour::Chat,
        5,
    );
    let report = run_swarm(&config, |_, _| {}).await;
    assert_eq!(report.errors, 0, "{:?} {:?}", report.failed, report.dropped);
    assert_eq!(report.chat_sent, 10, "each bot speaks once in 6.5 s");
    assert_eq!((report.chat_acked, report.chat_refused), (10, 0));
    // Every line reaches every bot, its speaker included (Socket.IO's io.emit).
    assert_eq!(report.chat_received, 100);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_dropped_by_the_server_are_counted_by_close_code() {
    let server = start_server(&[]).await;
    let config = swarm_config(
        server.ws_url(),
        5,
        Duration::from_secs(6),
        Behaviour::Wander,
        2,
    );
    let swarm = tokio::spawn(async move { run_swarm(&config, |_, _| {}).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A graceful shutdown closes every connection with 1001 (going away), before the run ends.
    server.stop().await;
    let report = swarm.await.unwrap();
    assert_eq!(report.bots_established, 5, "{:?}", report.failed);
    assert_eq!(
        report.dropped.get("closed by server (1001)"),
        Some(&5),
        "{:?}",
        report.dropped
    );
    assert_eq!(
        report.errors, 5,
        "failed {:?}, dropped {:?}, decode errors {}",
        report.failed, report.dropped, report.decode_errors
    );
}

#[tokio::test]
async fn bots_that_cannot_connect_fail_with_the_reason() {
    // A port nothing listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = SwarmConfig {
        threads: 2,
        ..swarm_config(
            format!("ws://{addr}/ws"),
            3,
            Duration::from_secs(1),
            Behaviour::Wander,
            1,
        )
    };
    let report = run_swarm(&config, |_, _| {}).await;
    assert_eq!(report.bots_established, 0);
    assert_eq!(report.errors, 3);
    assert_eq!(
        report.failed.get("connect: connection refused"),
        Some(&3),
        "{:?}",
        report.failed
    );
}

#[tokio::test]
async fn bots_asking_for_a_room_that_does_not_exist_are_refused() {
    let server = start_server(&[]).await;
    // No server opens room 999999 for two idle bots, nor a private room nobody created.
    for room in [
        RoomRequest::Id(999_999),
        RoomRequest::Code("0Z0Z789ABC".into()),
    ] {
        let config = SwarmConfig {
            ramp_per_second: 50.0,
            room: room.clone(),
            ..swarm_config(
                server.ws_url(),
                2,
                Duration::from_secs(1),
                Behaviour::Idle,
                1,
            )
        };
        let report = run_swarm(&config, |_, _| {}).await;
        assert_eq!(report.bots_established, 0, "{room:?}");
        assert_eq!(report.errors, 2, "{room:?}: {:?}", report.failed);
        let reasons = format!("{:?}", report.failed);
        assert!(reasons.contains("no such room"), "{room:?}: {reasons}");
    }
    server.stop().await;
}

/// What every healthy run shows: all `bots` established, no error or decode error, a minute's
/// worth of snapshots each, at least `delivered` of them delivered, inputs acknowledged, bytes.
fn assert_played_well(report: &skirmish::bots::Report, bots: u64, delivered: f64) {
    assert_eq!(report.bots_established, bots, "{:?}", report.failed);
    assert_eq!(
        report.errors, 0,
        "failed {:?} dropped {:?}",
        report.failed, report.dropped
    );
    assert_eq!(report.decode_errors, 0);
    assert!(
        report.snapshots_received > bots * 60,
        "{} snapshots",
        report.snapshots_received
    );
    assert!(
        report.delivered_ratio >= delivered,
        "delivered {}",
        report.delivered_ratio
    );
    assert!(report.ack_latency.count > 0, "no input was acknowledged");
    assert!(report.bytes_per_bot_per_s > 0.0);
}
