//! The swarm's verdict: the figures an operator needs to tell at a glance whether the server
//! held up, as text for people and JSON for scripts, and the pass/fail thresholds.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::rooms::RoomReport;
use super::stats::{Percentiles, SwarmStats, delivered_ratio};
use super::{Behaviour, SwarmConfig, Transport};

/// Above this share of one core, the swarm itself may be the bottleneck.
const SWARM_CPU_WARNING_PERCENT: f64 = 80.0;
/// Rooms the text report lists one by one; the rest are summed up in one line (the JSON report
/// lists every room).
const ROOMS_LISTED: usize = 50;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub url: String,
    pub transport: Transport,
    pub behaviour: Behaviour,
    pub duration_s: f64,
    pub bots_requested: u32,
    pub bots_attempted: u64,
    pub bots_established: u64,
    /// Joins a cluster node sent on to another node.
    pub redirects: u64,
    /// Failed connections + dropped connections + decode errors.
    pub errors: u64,
    pub failed: BTreeMap<String, u64>,
    pub dropped: BTreeMap<String, u64>,
    pub decode_errors: u64,
    pub connect: Percentiles,
    pub snapshots_expected: u64,
    pub snapshots_received: u64,
    /// received / expected, 0..1.
    pub delivered_ratio: f64,
    pub gap: Percentiles,
    pub gap_p99_ms: f64,
    pub ack_latency: Percentiles,
    pub ack_latency_p99_ms: f64,
    pub inputs_sent: u64,
    /// Chat lines sent, acknowledged, refused, and received by all bots.
    pub chat_sent: u64,
    pub chat_acked: u64,
    pub chat_refused: u64,
    pub chat_received: u64,
    /// Bytes received per bot-second: the messages and what framed them (WebSocket frame
    /// headers; HTTP response heads and the polling bodies' lengths), not TCP/IP headers.
    pub bytes_per_bot_per_s: f64,
    /// Share of one core the swarm used over the run.
    pub swarm_cpu_percent: f64,
    /// Every room a bot was welcomed into, by room id: its players and their figures.
    pub rooms: Vec<RoomReport>,
}

/// Thresholds below which a run fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thresholds {
    pub max_p99_gap_ms: Option<f64>,
    pub min_delivered: Option<f64>,
    pub max_errors: Option<u64>,
}

impl Report {
    pub fn new(config: &SwarmConfig, stats: &SwarmStats, wall: Duration, cpu: Duration) -> Report {
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let failed = stats.failures();
        let dropped = stats.drops();
        let decode_errors = load(&stats.decode_errors);
        let errors = failed.values().sum::<u64>() + dropped.values().sum::<u64>() + decode_errors;
        let expected = load(&stats.snapshots_expected);
        let received = load(&stats.snapshots_received);
        let summary = stats.summary();
        let connected_seconds = load(&stats.connected_micros) as f64 / 1e6;
        Report {
            url: config.url.clone(),
            transport: config.transport,
            behaviour: config.behaviour,
            duration_s: wall.as_secs_f64(),
            bots_requested: config.bots,
            bots_attempted: load(&stats.attempted),
            bots_established: load(&stats.established),
            redirects: load(&stats.redirected),
            errors,
            failed,
            dropped,
            decode_errors,
            connect: summary.connect,
            snapshots_expected: expected,
            snapshots_received: received,
            delivered_ratio: delivered_ratio(received, expected),
            gap: summary.gap,
            gap_p99_ms: summary.gap.p99_ms,
            ack_latency: summary.ack,
            ack_latency_p99_ms: summary.ack.p99_ms,
            inputs_sent: load(&stats.inputs_sent),
            chat_sent: load(&stats.chat_sent),
            chat_acked: load(&stats.chat_acked),
            chat_refused: load(&stats.chat_refused),
            chat_received: load(&stats.chat_received),
            bytes_per_bot_per_s: if connected_seconds > 0.0 {
                load(&stats.bytes_received) as f64 / connected_seconds
            } else {
                0.0
            },
            swarm_cpu_percent: 100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9),
            rooms: stats.rooms(),
        }
    }

    /// Which thresholds the run missed, each as a sentence; empty means it passed.
    pub fn missed(&self, thresholds: &Thresholds) -> Vec<String> {
        let mut missed = Vec::new();
        if let Some(max) = thresholds.max_p99_gap_ms
            && self.gap_p99_ms > max
        {
            missed.push(format!("gap p99 {:.1} ms > {max} ms", self.gap_p99_ms));
        }
        if let Some(min) = thresholds.min_delivered
            && self.delivered_ratio < min
        {
            missed.push(format!(
                "delivered {:.3}% < {:.3}%",
                self.delivered_ratio * 100.0,
                min * 100.0
            ));
        }
        if let Some(max) = thresholds.max_errors
            && self.errors > max
        {
            missed.push(format!("{} errors > {max}", self.errors));
        }
        missed
    }

    /// The report for people.
    pub fn render_text(&self, thresholds: &Thresholds) -> String {
        let mut out = String::new();
        let ms = |p: &Percentiles| {
            format!(
                "p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                p.p50_ms, p.p99_ms, p.max_ms
            )
        };
        let _ = writeln!(
            out,
            "Skirmish swarm: {} bots ({:?}) over {} against {} for {:.1} s",
            self.bots_requested, self.behaviour, self.transport, self.url, self.duration_s
        );
        let _ = writeln!(
            out,
            "  connections   attempted {}  established {}  failed {}  dropped {}",
            self.bots_attempted,
            self.bots_established,
            self.failed.values().sum::<u64>(),
            self.dropped.values().sum::<u64>()
        );
        for (reason, count) in &self.failed {
            let _ = writeln!(out, "    failed: {reason}: {count}");
        }
        for (reason, count) in &self.dropped {
            let _ = writeln!(out, "    dropped: {reason}: {count}");
        }
        let _ = writeln!(out, "  connect       {}", ms(&self.connect));
        if self.redirects > 0 {
            let _ = writeln!(
                out,
                "  redirects     {} (joins sent on to another cluster node; connect is timed to the final node's welcome)",
                self.redirects
            );
        }
        let _ = writeln!(
            out,
            "  snapshots     expected {}  received {}  delivered {:.3}%",
            self.snapshots_expected,
            self.snapshots_received,
            self.delivered_ratio * 100.0
        );
        let _ = writeln!(out, "  gap           {}", ms(&self.gap));
        let _ = writeln!(
            out,
            "  ack latency   {}  ({} inputs sent)",
            ms(&self.ack_latency),
            self.inputs_sent
        );
        let _ = writeln!(
            out,
            "  bandwidth     {:.1} KiB/s per bot",
            self.bytes_per_bot_per_s / 1024.0
        );
        if self.chat_sent > 0 {
            let _ = writeln!(
                out,
                "  chat          sent {}  acknowledged {}  refused {}  lines received {}",
                self.chat_sent, self.chat_acked, self.chat_refused, self.chat_received
            );
        }
        let _ = writeln!(out, "  decode errors {}", self.decode_errors);
        let _ = writeln!(
            out,
            "  swarm cpu     {:.0}% of one core",
            self.swarm_cpu_percent
        );
        if self.swarm_cpu_percent > SWARM_CPU_WARNING_PERCENT {
            let _ = writeln!(
                out,
                "  WARNING: the swarm used more than {SWARM_CPU_WARNING_PERCENT:.0}% of a core; \
                 it may be the bottleneck of this measurement"
            );
        }
        render_rooms(&mut out, &self.rooms);
        let missed = self.missed(thresholds);
        if missed.is_empty() {
            let _ = writeln!(out, "  verdict       PASS");
        } else {
            let _ = writeln!(out, "  verdict       FAIL: {}", missed.join("; "));
        }
        out
    }
}

/// The rooms table: one line per room by id up to [`ROOMS_LISTED`], then one for the rest.
fn render_rooms(out: &mut String, rooms: &[RoomReport]) {
    let players: u64 = rooms.iter().map(|room| room.players).sum();
    let _ = writeln!(out, "  rooms         {}  players {players}", rooms.len());
    if rooms.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "    {:>10}  {:<16}  {:>7}  {:>9}  {:>10}",
        "room", "mode", "players", "delivered", "gap p99"
    );
    let (listed, rest) = rooms.split_at(rooms.len().min(ROOMS_LISTED));
    for room in listed {
        let _ = writeln!(
            out,
            "    {:>10}  {:<16}  {:>7}  {:>8.3}%  {:>7.1} ms",
            room.id,
            room.mode,
            room.players,
            room.delivered * 100.0,
            room.gap_p99_ms
        );
    }
    if rest.is_empty() {
        return;
    }
    let worst_delivered = rest.iter().map(|room| room.delivered).fold(1.0, f64::min);
    let worst_gap = rest.iter().map(|room| room.gap_p99_ms).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "    ... and {} more rooms: players {}, delivered {:.3}% at worst, gap p99 {:.1} ms at worst",
        rest.len(),
        rest.iter().map(|room| room.players).sum::<u64>(),
        worst_delivered * 100.0,
        worst_gap
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: u32, players: u64, delivered: f64, gap_p99_ms: f64) -> RoomReport {
        RoomReport {
            id,
            mode: "arena".into(),
            players,
            delivered,
            gap_p99_ms,
        }
    }

    fn rendered(rooms: &[RoomReport]) -> Vec<String> {
        let mut out = String::new();
        render_rooms(&mut out, rooms);
        out.lines().map(str::to_owned).collect()
    }

    #[test]
    fn the_rooms_table_has_a_line_per_room() {
        let lines = rendered(&[room(1, 30, 1.0, 34.12), room(2, 20, 0.99951, 41.0)]);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert_eq!(lines[0], "  rooms         2  players 50");
        assert!(lines[1].contains("room") && lines[1].contains("gap p99"));
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            words(&lines[2]),
            ["1", "arena", "30", "100.000%", "34.1", "ms"]
        );
        assert_eq!(
            words(&lines[3]),
            ["2", "arena", "20", "99.951%", "41.0", "ms"]
        );
    }

    #[test]
    fn beyond_fifty_rooms_the_rest_is_summed_up() {
        let rooms: Vec<RoomReport> = (1..=53)
            .map(|id| room(id, 2, 1.0 - f64::from(id) / 1000.0, f64::from(id)))
            .collect();
        let lines = rendered(&rooms);
        assert_eq!(lines.len(), 2 + ROOMS_LISTED + 1, "{lines:#?}");
        assert_eq!(lines[0], "  rooms         53  players 106");
        assert!(lines[2 + ROOMS_LISTED - 1].trim_start().starts_with("50 "));
        assert_eq!(
            lines.last().unwrap().trim(),
            "... and 3 more rooms: players 6, delivered 94.700% at worst, gap p99 53.0 ms at worst"
        );
    }

    #[test]
    fn no_room_is_one_line() {
        assert_eq!(rendered(&[]), ["  rooms         0  players 0"]);
    }

    #[test]
    fn the_json_report_lists_the_rooms() {
        let config = SwarmConfig {
            url: "ws://127.0.0.1:1/ws".into(),
            transport: Transport::Polling,
            bots: 1,
            duration: Duration::from_secs(1),
            ramp_per_second: 1.0,
            behaviour: Behaviour::Idle,
            seed: 1,
            threads: 1,
            room: Default::default(),
        };
        let stats = SwarmStats::default();
        stats.record_join(&crate::protocol::RoomInfo {
            id: 7,
            mode: "duel".into(),
            max_players: 2,
            code: None,
        });
        let report = Report::new(&config, &stats, Duration::from_secs(1), Duration::ZERO);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["transport"], "polling");
        assert_eq!(
            json["rooms"],
            serde_json::json!([
                {"id": 7, "mode": "duel", "players": 1, "delivered": 0.0, "gap_p99_ms": 0.0}
            ])
        );
        let text = report.render_text(&Thresholds::default());
        assert!(text.contains("  rooms         1  players 1\n"), "{text}");
        assert!(
            text.starts_with("Skirmish swarm: 1 bots (Idle) over polling against"),
            "{text}"
        );
    }
}
