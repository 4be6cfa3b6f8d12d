//! `/metrics` tells the same story as the clients: counters move as players join, play, misbehave
//! and leave; and the exposition is one that Prometheus' own Python client parses
//! (`tests/metrics_parse.py`).

mod common;

use common::metrics::{sample, wait_for_metric};
use common::*;
use fastwebsockets::OpCode;
use skirmish::client::GameClient;
use skirmish::protocol::{ClientMessage, PlayerInput, buttons};

fn text_ends_the_exposition(body: &[u8]) -> bool {
    body.ends_with(b"# EOF\n")
}

async fn scrape(server: &TestServer) -> String {
    let (status, head, body) = http_get(server.addr, "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(text_ends_the_exposition(&body), "no # EOF");
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn counters_follow_players_joining_playing_and_leaving() {
    let server = start_server(&["--tick-threads", "2"]).await;
    let before = scrape(&server).await;
    assert_eq!(sample(&before, "skirmish_players"), 0.0);
    assert_eq!(sample(&before, "skirmish_players_away"), 0.0);
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
    assert!(sample(&playing, "skirmish_received_bytes_total") > 0.0);
    assert!(sample(&playing, "skirmish_sent_bytes_total") > 0.0);
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
            // Neither a Leave nor a broken rule leaves a player away.
            assert_eq!(sample(&after, "skirmish_players_away"), 0.0);
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

#[tokio::test]
async fn prometheus_clients_own_parser_reads_the_exposition_of_a_live_server() {
    let python = PythonWithPrometheusClient::find();
    let server = start_server(&[]).await;
    let (_alice, _) = GameClient::join(&server.ws_url(), "Alice").await.unwrap();
    let (bob, _) = GameClient::join(&server.ws_url(), "Bob").await.unwrap();
    // Bob's connection is lost (no Leave): he stays in the world, away, for the resume grace.
    drop(bob);
    wait_for_metric(server.addr, "skirmish_players_away", PATIENCE, |away| {
        away == 1.0
    })
    .await;
    let exposition = scrape(&server).await;
    assert_eq!(sample(&exposition, "skirmish_players"), 1.0);
    python.check(
        &exposition,
        &[
            "--players",
            "1",
            "--players-away",
            "1",
            "--version",
            env!("CARGO_PKG_VERSION"),
        ],
    );
    server.stop().await;
}

#[tokio::test]
async fn a_lost_player_is_away_until_its_grace_ends() {
    let server = start_server(&["--resume-grace", "1s"]).await;
    let (carol, _) = GameClient::join(&server.ws_url(), "Carol").await.unwrap();
    drop(carol);
    wait_for_metric(server.addr, "skirmish_players_away", PATIENCE, |away| {
        away == 1.0
    })
    .await;
    wait_for_metric(server.addr, "skirmish_players_away", PATIENCE, |away| {
        away == 0.0
    })
    .await;
    server.stop().await;
}

/// `python3` able to import `prometheus_client`; the test fails, saying how to install what
/// is missing, where it cannot (never passes without checking).
struct PythonWithPrometheusClient;

impl PythonWithPrometheusClient {
    const INSTALL: &str = "install Python 3 and run: python3 -m pip install prometheus_client";

    fn find() -> PythonWithPrometheusClient {
        let probe = std::process::Command::new("python3")
            .args(["-c", "import prometheus_client"])
            .output()
            .unwrap_or_else(|error| panic!("python3 cannot be run ({error}): {}", Self::INSTALL));
        assert!(
            probe.status.success(),
            "python3 cannot import prometheus_client ({}): {}",
            String::from_utf8_lossy(&probe.stderr).trim(),
            Self::INSTALL
        );
        PythonWithPrometheusClient
    }

    /// Runs `tests/metrics_parse.py` with `args` on `exposition`; fails with what it said.
    fn check(&self, exposition: &str, args: &[&str]) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics_parse.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(exposition.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "metrics_parse.py refused the exposition:\n{}\n{exposition}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_grafana_dashboard_reads_only_metrics_the_server_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON");
    // Every family with a sample: a cluster, a room, a connection cap, procfs.
    let readings = skirmish::metrics::Readings {
        cluster: Some(Default::default()),
        refused: vec![("max_connections", 0)],
        room_kinds: vec![skirmish::metrics::RoomKind {
            mode: "arena".into(),
            private: false,
            rooms: 1,
            players: 1,
        }],
        process: skirmish::metrics::ProcessReadings {
            start_time_seconds: 1.0,
            resident_bytes: Some(1),
        },
        ..Default::default()
    };
    let exposition = skirmish::metrics::render(readings).unwrap();
    let exported: std::collections::HashSet<&str> = exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 9);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names_in(expr) {
                assert!(
                    exported.contains(name),
                    "{name} (in {expr:?}) is not exported"
                );
            }
        }
    }
}

/// The names of the server's metrics a PromQL expression reads.
fn metric_names_in(expr: &str) -> Vec<&str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("skirmish_") || word.starts_with("process_"))
        .collect()
}
