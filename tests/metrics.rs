//! `/metrics` tells the same story as the clients: counters move as players join, play, misbehave
//! and leave.

mod common;

use common::metrics::sample;
use common::*;
use fastwebsockets::OpCode;
use skirmish::client::GameClient;
use skirmish::protocol::{ClientMessage, PlayerInput, buttons};

async fn scrape(server: &TestServer) -> String {
    let (status, head, body) = http_get(server.addr, "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn counters_follow_players_joining_playing_and_leaving() {
    let server = start_server(&["--tick-threads", "2"]).await;
    let before = scrape(&server).await;
    assert_eq!(sample(&before, "skirmish_players"), 0.0);
    assert_eq!(sample(&before, "skirmish_tick_threads"), 2.0);
    assert_eq!(sample(&before, "skirmish_rooms_opened_total"), 0.0);
    assert!(
        !before.contains("skirmish_rooms{"),
        "no room before the first player"
    );
    assert!(before.contains("# TYPE skirmish_tick_duration_seconds histogram"));

    let (mut alice, welcome) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (mut mallory, _) = GameClient::join(&server.ws_url(), "Mallory").await.unwrap();
    for seq in 1..=10 {
        let input = PlayerInput {
            seq,
            buttons: buttons::LEFT,
            aim: 0.0,
            ..Default::default()
        };
        alice.send(&ClientMessage::Input(input)).await.unwrap();
    }
    wait_for_snapshot(&mut alice, "inputs applied", |s| {
        s.players
            .iter()
            .any(|p| p.id == welcome.player_id && p.last_input_seq == 10)
    })
    .await;
    let playing = scrape(&server).await;
    assert_eq!(sample(&playing, "skirmish_players"), 2.0);
    let public = "{mode=\"arena\",visibility=\"public\"}";
    assert_eq!(sample(&playing, &format!("skirmish_rooms{public}")), 1.0);
    assert_eq!(
        sample(&playing, &format!("skirmish_room_players{public}")),
        2.0
    );
    assert_eq!(sample(&playing, "skirmish_rooms_opened_total"), 1.0);
    assert_eq!(sample(&playing, "skirmish_rooms_overrunning"), 0.0);
    assert_eq!(sample(&playing, "skirmish_arena_width_units"), 3000.0);
    assert_eq!(sample(&playing, "skirmish_arena_height_units"), 2000.0);
    assert_eq!(sample(&playing, "skirmish_connections_accepted_total"), 2.0);
    assert_eq!(sample(&playing, "skirmish_inputs_received_total"), 10.0);
    assert!(sample(&playing, "skirmish_snapshots_sent_total") > 0.0);
    assert!(sample(&playing, "skirmish_bytes_in_total") > 0.0);
    assert!(sample(&playing, "skirmish_bytes_out_total") > 0.0);
    assert!(sample(&playing, "skirmish_ticks_total") > 0.0);
    assert!(sample(&playing, "skirmish_tick_duration_seconds_count") > 0.0);

    mallory
        .send_raw(OpCode::Text, b"hi".to_vec())
        .await
        .unwrap();
    expect_close(&mut mallory).await;
    alice.leave().await.unwrap();
    expect_close(&mut alice).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let after = scrape(&server).await;
        if sample(&after, "skirmish_players") == 0.0 {
            assert_eq!(
                sample(
                    &after,
                    "skirmish_connections_closed_total{reason=\"text_frame\"}"
                ),
                1.0
            );
            assert_eq!(
                sample(
                    &after,
                    "skirmish_connections_closed_total{reason=\"leave\"}"
                ),
                1.0
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "players never left:\n{after}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn refused_connections_are_counted_by_reason() {
    let server = start_server(&["--max-players", "1"]).await;
    let (_first, _) = GameClient::join(&server.ws_url(), "First").await.unwrap();
    assert!(GameClient::join(&server.ws_url(), "Second").await.is_err());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while sample(
        &scrape(&server).await,
        "skirmish_connections_rejected_total{reason=\"server_full\"}",
    ) != 1.0
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}
