//! `GET /metrics`: the server's counters in Prometheus' text format. Reads counters only; never
//! takes a lock on a hot path, and knows nothing of who owns the counters: the caller gathers
//! them into [`Readings`].

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::counters::{DeliveryStats, NetStats, RoomStats};
use super::histogram::render_value;
use crate::protocol::CloseReason;

/// Everything the exposition reads, gathered by whoever serves it.
pub struct Readings<'a> {
    /// Players registered (connected) now.
    pub players: usize,
    /// TCP connections open now, counted against `--max-connections`.
    pub open_connections: usize,
    /// Connections answered 503 at accept, by the label of the cap that refused them.
    pub refused: &'a [(&'static str, u64)],
    pub net: &'a NetStats,
    pub delivery: &'a DeliveryStats,
    /// Every room's counters added up.
    pub room: &'a RoomStats,
    /// Open rooms and their connected players, by kind (a bounded set of labels: modes are
    /// the server's, not the clients').
    pub room_kinds: &'a [RoomKind],
    pub lobby: LobbyCounts,
    pub pool: PoolCounts,
    /// A cluster node's calls to the cluster's directory (`None` without a cluster).
    pub cluster: Option<ClusterCounts>,
    /// Long-polling sessions open now and opened, and requests refused by reason.
    pub polling: PollingCounts<'a>,
}

/// The polling transport's readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct PollingCounts<'a> {
    pub open: u64,
    pub opened: u64,
    pub refused: &'a [(&'static str, u64)],
}

/// A cluster node's readings of its directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterCounts {
    /// Whether the last call to Redis succeeded (1) or not (0).
    pub reachable: bool,
    /// Live nodes as of the last heartbeat.
    pub nodes: u64,
    pub calls: u64,
    pub failures: u64,
    pub heartbeats: u64,
    /// Joiners seated here by the directory, sent to another node, and tickets claimed here.
    pub seated_here: u64,
    pub redirected: u64,
    pub claimed: u64,
    /// Placements the directory refused (room full, no such room, no node with room...).
    pub refused: u64,
    /// Resume-token changes that found the queue to the directory full.
    pub token_changes_dropped: u64,
    /// Bus messages applied, ignored as malformed, and over their sender's rate limit.
    pub bus_applied: u64,
    pub bus_malformed: u64,
    pub bus_limited: u64,
}

/// The tick threads' readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolCounts {
    pub threads: u64,
    /// Rooms that overran their tick budget in more than a quarter of their ticks over the
    /// last window (a gauge).
    pub rooms_overrunning: u64,
    pub rooms_moved: u64,
}

/// Open rooms of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomKind {
    pub mode: String,
    pub private: bool,
    pub rooms: u64,
    pub players: u64,
}

/// Counters of rooms' lives.
#[derive(Debug, Clone, Copy, Default)]
pub struct LobbyCounts {
    pub opened: u64,
    pub disposed: u64,
    pub failed: u64,
    pub private_refused: u64,
}

/// The whole exposition.
pub fn render(readings: &Readings<'_>) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let net = readings.net;
    let game = readings.room;
    let delivery = readings.delivery;
    render_value(
        &mut out,
        "gauge",
        "skirmish_players",
        "Players in the game.",
        readings.players as u64,
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_connections_accepted_total",
        "WebSocket upgrades accepted.",
        load(&net.connections_accepted),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_upgrades_refused_total",
        "Upgrade requests refused for bad handshake headers.",
        load(&net.upgrades_refused),
    );
    render_by_reason(
        &mut out,
        "skirmish_connections_rejected_total",
        "Connections that ended before joining, by reason.",
        &net.rejected,
    );
    render_refusals(&mut out, readings.refused);
    render_value(
        &mut out,
        "gauge",
        "skirmish_connections_open",
        "TCP connections open now (HTTP and WebSocket), counted against --max-connections.",
        readings.open_connections as u64,
    );
    render_rooms(&mut out, readings.room_kinds, readings.lobby);
    render_pool(&mut out, readings.pool);
    if let Some(cluster) = readings.cluster {
        render_cluster(&mut out, cluster);
    }
    render_polling(&mut out, readings.polling);
    if let Some(bytes) = process_resident_bytes() {
        render_value(
            &mut out,
            "gauge",
            "skirmish_process_resident_bytes",
            "Resident memory of the server process (VmRSS).",
            bytes,
        );
    }
    render_by_reason(
        &mut out,
        "skirmish_connections_closed_total",
        "Connections of joined players that ended, by reason.",
        &net.closed,
    );
    game.tick_duration.render(
        &mut out,
        "skirmish_tick_duration_seconds",
        "Time the tick loop spent working per wake-up.",
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_ticks_total",
        "Ticks simulated.",
        load(&game.ticks_total),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_tick_overruns_total",
        "Wake-ups whose work took longer than one tick period.",
        load(&game.overruns),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_ticks_dropped_total",
        "Ticks skipped after falling too far behind.",
        load(&game.ticks_dropped),
    );
    render_value(
        &mut out,
        "gauge",
        "skirmish_snapshot_bytes",
        "Mean size of the players' snapshot frames of the last tick (each player's is its own).",
        load(&game.last_snapshot_bytes),
    );
    render_value(
        &mut out,
        "gauge",
        "skirmish_arena_width_units",
        "The arena's width (it grows and shrinks with the players unless fixed by --arena).",
        load(&game.arena_width),
    );
    render_value(
        &mut out,
        "gauge",
        "skirmish_arena_height_units",
        "The arena's height.",
        load(&game.arena_height),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_snapshots_sent_total",
        "Snapshots written to players.",
        load(&delivery.snapshots_sent),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_snapshots_skipped_total",
        "Snapshots slow readers never saw because a newer one replaced them.",
        load(&delivery.snapshots_skipped),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_snapshots_not_encoded_total",
        "Snapshots not encoded for a player whose writer had not taken the previous tick's yet.",
        load(&delivery.snapshots_not_encoded),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_inputs_received_total",
        "Input messages decoded.",
        load(&net.inputs_received),
    );
    let dropped = load(&net.inputs_dropped_queue_full) + load(&game.inputs_dropped);
    render_value(
        &mut out,
        "counter",
        "skirmish_inputs_dropped_total",
        "Inputs discarded: queue overflow, stale sequence or unknown player.",
        dropped,
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_bytes_in_total",
        "WebSocket payload bytes received.",
        load(&net.bytes_in),
    );
    render_value(
        &mut out,
        "counter",
        "skirmish_bytes_out_total",
        "WebSocket payload bytes sent.",
        load(&net.bytes_out),
    );
    let extra: [(&str, &str, &AtomicU64); 5] = [
        (
            "skirmish_messages_rate_limited_total",
            "Client messages dropped by the per-connection rate limit.",
            &net.messages_rate_limited,
        ),
        (
            "skirmish_chat_rate_limited_total",
            "Chat lines refused by the rate limit.",
            &net.chat_rate_limited,
        ),
        (
            "skirmish_upgrades_refused_origin_total",
            "Upgrades refused for their Origin (403).",
            &net.refused_origin,
        ),
        (
            "skirmish_upgrades_refused_auth_total",
            "Upgrades refused by authentication (401).",
            &net.refused_auth,
        ),
        (
            "skirmish_tls_handshakes_failed_total",
            "TLS handshakes that failed or timed out (with --tls-cert).",
            &net.tls_handshakes_failed,
        ),
    ];
    for (name, help, counter) in extra {
        render_value(&mut out, "counter", name, help, load(counter));
    }
    out
}

fn render_by_reason(out: &mut String, name: &str, help: &str, counters: &[AtomicU64]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for reason in CloseReason::ALL {
        let value = counters[reason.index()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{reason=\"{}\"}} {value}", reason.label());
    }
}

/// Rooms and players by kind, and the counters of rooms' lives.
fn render_rooms(out: &mut String, kinds: &[RoomKind], lobby: LobbyCounts) {
    let visibility = |kind: &RoomKind| if kind.private { "private" } else { "public" };
    for (name, help, value) in [
        (
            "skirmish_rooms",
            "Rooms open now, by mode and visibility.",
            (|kind: &RoomKind| kind.rooms) as fn(&RoomKind) -> u64,
        ),
        (
            "skirmish_room_players",
            "Players connected now, by their room's mode and visibility.",
            |kind: &RoomKind| kind.players,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for kind in kinds {
            let _ = writeln!(
                out,
                "{name}{{mode=\"{}\",visibility=\"{}\"}} {}",
                kind.mode,
                visibility(kind),
                value(kind)
            );
        }
    }
    for (name, help, value) in [
        ("skirmish_rooms_opened_total", "Rooms opened.", lobby.opened),
        (
            "skirmish_rooms_disposed_total",
            "Rooms disposed of after staying empty for the idle timeout.",
            lobby.disposed,
        ),
        (
            "skirmish_rooms_failed_total",
            "Rooms that panicked and were closed with their players.",
            lobby.failed,
        ),
        (
            "skirmish_private_rooms_refused_total",
            "Private rooms refused because their address had as many open as it may.",
            lobby.private_refused,
        ),
    ] {
        render_value(out, "counter", name, help, value);
    }
}

/// The polling transport: sessions open and opened, refusals by reason.
fn render_polling(out: &mut String, polling: PollingCounts<'_>) {
    render_value(
        out,
        "gauge",
        "skirmish_polling_sessions",
        "Long-polling sessions open now.",
        polling.open,
    );
    render_value(
        out,
        "counter",
        "skirmish_polling_sessions_opened_total",
        "Long-polling sessions opened.",
        polling.opened,
    );
    let name = "skirmish_polling_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} Long-polling requests refused, by reason.\n# TYPE {name} counter"
    );
    for (label, value) in polling.refused {
        let _ = writeln!(out, "{name}{{reason=\"{label}\"}} {value}");
    }
}

/// A cluster node's directory: reachable, nodes, and its calls by outcome.
fn render_cluster(out: &mut String, cluster: ClusterCounts) {
    for (kind, name, help, value) in [
        (
            "gauge",
            "skirmish_cluster_reachable",
            "Whether the last call to the cluster's Redis succeeded.",
            u64::from(cluster.reachable),
        ),
        (
            "gauge",
            "skirmish_cluster_nodes",
            "Live nodes in the cluster as of the last heartbeat.",
            cluster.nodes,
        ),
        (
            "counter",
            "skirmish_cluster_calls_total",
            "Calls (scripts, pipelines) to the cluster's Redis.",
            cluster.calls,
        ),
        (
            "counter",
            "skirmish_cluster_call_failures_total",
            "Calls to the cluster's Redis that failed or timed out.",
            cluster.failures,
        ),
        (
            "counter",
            "skirmish_cluster_heartbeats_total",
            "Heartbeats (lease and rooms renewed) that succeeded.",
            cluster.heartbeats,
        ),
        (
            "counter",
            "skirmish_cluster_seated_here_total",
            "Joiners the directory seated on this node.",
            cluster.seated_here,
        ),
        (
            "counter",
            "skirmish_cluster_redirected_total",
            "Joiners sent to another node with a seat ticket.",
            cluster.redirected,
        ),
        (
            "counter",
            "skirmish_cluster_tickets_claimed_total",
            "Seat tickets claimed on this node.",
            cluster.claimed,
        ),
        (
            "counter",
            "skirmish_cluster_refused_total",
            "Placements the directory refused.",
            cluster.refused,
        ),
        (
            "counter",
            "skirmish_cluster_bus_applied_total",
            "Messages from the cluster's bus (announcements, kicks) acted on.",
            cluster.bus_applied,
        ),
        (
            "counter",
            "skirmish_cluster_bus_malformed_total",
            "Messages on the cluster's bus ignored as malformed.",
            cluster.bus_malformed,
        ),
        (
            "counter",
            "skirmish_cluster_bus_limited_total",
            "Messages on the cluster's bus dropped by their sender's rate limit.",
            cluster.bus_limited,
        ),
        (
            "counter",
            "skirmish_cluster_token_changes_dropped_total",
            "Resume-token changes dropped (queue full), repaired by the next resync.",
            cluster.token_changes_dropped,
        ),
    ] {
        render_value(out, kind, name, help, value);
    }
}

/// The tick threads: how many, rooms overrunning their budget, rooms moved between threads.
fn render_pool(out: &mut String, pool: PoolCounts) {
    render_value(
        out,
        "gauge",
        "skirmish_tick_threads",
        "Threads that step the rooms (--tick-threads).",
        pool.threads,
    );
    render_value(
        out,
        "gauge",
        "skirmish_rooms_overrunning",
        "Rooms that overran their tick budget in over a quarter of their ticks in the last 5 s.",
        pool.rooms_overrunning,
    );
    render_value(
        out,
        "counter",
        "skirmish_rooms_moved_total",
        "Rooms handed to a less busy tick thread.",
        pool.rooms_moved,
    );
}

/// Connections refused at accept by the caps, by which cap.
fn render_refusals(out: &mut String, refused: &[(&'static str, u64)]) {
    let name = "skirmish_connections_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} Connections answered 503 at accept for a connection cap, by cap.\n\
         # TYPE {name} counter"
    );
    for (label, value) in refused {
        let _ = writeln!(out, "{name}{{reason=\"{label}\"}} {value}");
    }
}

/// The process's resident set size in bytes, from `/proc/self/status` (`None` where there is
/// no procfs).
pub fn process_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        let status = "Name:\tskirmish\nVmPeak:\t  9000 kB\nVmRSS:\t  1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        if cfg!(target_os = "linux") {
            assert!(process_resident_bytes().is_some_and(|bytes| bytes > 0));
        }
    }
}
