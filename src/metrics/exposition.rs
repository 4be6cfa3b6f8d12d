//! `GET /metrics`: a scrape's [`Readings`] in the OpenMetrics text format. The
//! `prometheus-client` crate writes the text (HELP, TYPE, UNIT, the `_total` of counters, label
//! escaping, `# EOF`); this file only says which families there are, through one collector over
//! the readings, registered in a registry of its own for each scrape. Connections by reason
//! list the reasons that can end such a connection (zeros included, so that rates work) and any
//! other only once it counted one (a bug shows, never hides). Reads counters only; must never
//! take a lock, or know who owns a counter.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::histogram::DurationHistogram;
use super::readings::{ClusterCounts, LobbyCounts, PollingCounts, PoolCounts, Readings, RoomKind};
use crate::protocol::{CloseReason, PROTOCOL_VERSION};

/// The media type of what [`render`] writes (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why an exposition could not be written (only a bug in a collector can cause it).
#[derive(Debug, thiserror::Error)]
#[error("the metrics could not be encoded in the OpenMetrics text format")]
pub struct ExpositionError;

/// The whole exposition of `readings`.
pub fn render(readings: Readings) -> Result<String, ExpositionError> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ReadingsCollector(readings)));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry).map_err(|_| ExpositionError)?;
    Ok(out)
}

/// The reasons a family of connections by reason lists, with their counts: every reason
/// `possible` allows, and any other whose counter is not zero.
pub fn reasons_to_export(
    counters: &[AtomicU64],
    possible: fn(CloseReason) -> bool,
) -> Vec<(CloseReason, u64)> {
    CloseReason::ALL
        .into_iter()
        .map(|reason| (reason, counters[reason.index()].load(Ordering::Relaxed)))
        .filter(|&(reason, count)| possible(reason) || count > 0)
        .collect()
}

/// One scrape's readings, as the library's collector.
#[derive(Debug)]
struct ReadingsCollector(Readings);

impl Collector for ReadingsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let readings = &self.0;
        let mut families = Families(&mut encoder);
        encode_build_and_process(&mut families, readings)?;
        encode_sessions(&mut families, readings)?;
        encode_rooms(&mut families, &readings.room_kinds, readings.lobby)?;
        encode_pool(&mut families, readings.pool)?;
        if let Some(cluster) = readings.cluster {
            encode_cluster(&mut families, cluster)?;
        }
        encode_polling(&mut families, &readings.polling)?;
        encode_ticks(&mut families, readings)?;
        encode_traffic(&mut families, readings)?;
        encode_refusals_and_limits(&mut families, readings)
    }
}

/// Writes one family per call through the library's encoder.
struct Families<'a, 'e>(&'a mut DescriptorEncoder<'e>);

impl Families<'_, '_> {
    fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        ConstCounter::new(value).encode(metric)
    }

    fn counter_in(&mut self, name: &str, unit: Unit, help: &str, value: u64) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, Some(&unit), MetricType::Counter)?;
        ConstCounter::new(value).encode(metric)
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(metric)
    }

    fn gauge_in<N: EncodeGaugeValue>(
        &mut self,
        name: &str,
        unit: Unit,
        help: &str,
        value: N,
    ) -> fmt::Result {
        let metric = self
            .0
            .encode_descriptor(name, help, Some(&unit), MetricType::Gauge)?;
        ConstGauge::new(value).encode(metric)
    }

    /// A counter or gauge family with one sample per label set.
    fn labelled<L: EncodeLabelSet>(
        &mut self,
        kind: MetricType,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result {
        let mut metric = self.0.encode_descriptor(name, help, None, kind)?;
        for (labels, value) in samples {
            let sample = metric.encode_family(&labels)?;
            match kind {
                MetricType::Counter => ConstCounter::new(value).encode(sample)?,
                _ => ConstGauge::new(value).encode(sample)?,
            }
        }
        Ok(())
    }

    /// Connections of one outcome by reason (see [`reasons_to_export`]).
    fn by_reason(
        &mut self,
        name: &str,
        help: &str,
        counters: &[AtomicU64],
        possible: fn(CloseReason) -> bool,
    ) -> fmt::Result {
        let samples = reasons_to_export(counters, possible)
            .into_iter()
            .map(|(reason, count)| ([("reason", reason.label())], count));
        self.labelled(MetricType::Counter, name, help, samples)
    }

    /// Counters by a label named `reason`.
    fn by_label(&mut self, name: &str, help: &str, counts: &[(&'static str, u64)]) -> fmt::Result {
        let samples = counts
            .iter()
            .map(|&(label, count)| ([("reason", label)], count));
        self.labelled(MetricType::Counter, name, help, samples)
    }

    fn histogram_in_seconds(
        &mut self,
        name: &str,
        help: &str,
        histogram: &DurationHistogram,
    ) -> fmt::Result {
        let unit = Unit::Seconds;
        let mut metric =
            self.0
                .encode_descriptor(name, help, Some(&unit), MetricType::Histogram)?;
        // Per-bucket counts: the encoder adds them up into Prometheus' cumulative buckets.
        let buckets = histogram.buckets_seconds();
        let count = buckets.iter().map(|&(_, count)| count).sum();
        metric.encode_histogram::<NoLabelSet>(histogram.sum_seconds(), count, &buckets, None)
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// What runs (version, protocol) and since when, and the process's memory.
fn encode_build_and_process(families: &mut Families, readings: &Readings) -> fmt::Result {
    let mut metric = families.0.encode_descriptor(
        "skirmish_build",
        "The server's version and the protocol version it speaks.",
        None,
        MetricType::Info,
    )?;
    let protocol = PROTOCOL_VERSION.to_string();
    metric.encode_info(&[
        ("version", env!("CARGO_PKG_VERSION")),
        ("protocol", protocol.as_str()),
    ])?;
    let started = readings.process.start_time_seconds;
    families.gauge_in(
        "skirmish_process_start_time",
        Unit::Seconds,
        "When the server process started, in seconds since the Unix epoch.",
        started,
    )?;
    families.gauge_in(
        "process_start_time",
        Unit::Seconds,
        "Start time of the process since unix epoch in seconds (the standard name).",
        started,
    )?;
    if let Some(bytes) = readings.process.resident_bytes {
        families.gauge_in(
            "skirmish_process_resident",
            Unit::Bytes,
            "Resident memory of the server process (VmRSS).",
            bytes,
        )?;
    }
    Ok(())
}

/// Players, and connections by outcome.
fn encode_sessions(families: &mut Families, readings: &Readings) -> fmt::Result {
    let net = &readings.net;
    families.gauge("skirmish_players", "Players in the game.", readings.players)?;
    families.gauge(
        "skirmish_players_away",
        "Players disconnected but kept in the world for the resume grace.",
        load(&readings.room.players_away),
    )?;
    families.counter(
        "skirmish_connections_accepted",
        "Sessions accepted: WebSocket upgrades and long-polling sessions opened.",
        load(&net.connections_accepted),
    )?;
    families.counter(
        "skirmish_upgrades_refused",
        "Upgrade requests refused for bad handshake headers.",
        load(&net.upgrades_refused),
    )?;
    families.by_reason(
        "skirmish_connections_rejected",
        "Connections that ended before joining, by reason.",
        &net.rejected,
        CloseReason::can_end_before_joining,
    )?;
    families.by_reason(
        "skirmish_connections_closed",
        "Connections of joined players that ended, by reason.",
        &net.closed,
        CloseReason::can_end_after_joining,
    )?;
    families.by_label(
        "skirmish_connections_refused",
        "Connections answered 503 at accept for a connection cap, by cap.",
        &readings.refused,
    )?;
    families.gauge(
        "skirmish_connections_open",
        "TCP connections open now (HTTP and WebSocket), counted against --max-connections.",
        readings.open_connections,
    )
}

/// Rooms and players by kind, and the counters of rooms' lives.
fn encode_rooms(families: &mut Families, kinds: &[RoomKind], lobby: LobbyCounts) -> fmt::Result {
    families.labelled(
        MetricType::Gauge,
        "skirmish_rooms",
        "Rooms open now, by mode and visibility.",
        kinds.iter().map(|kind| (room_labels(kind), kind.rooms)),
    )?;
    families.labelled(
        MetricType::Gauge,
        "skirmish_room_players",
        "Players connected now, by their room's mode and visibility.",
        kinds.iter().map(|kind| (room_labels(kind), kind.players)),
    )?;
    for (name, help, value) in [
        ("skirmish_rooms_opened", "Rooms opened.", lobby.opened),
        (
            "skirmish_rooms_disposed",
            "Rooms disposed of after staying empty for the idle timeout.",
            lobby.disposed,
        ),
        (
            "skirmish_rooms_failed",
            "Rooms that panicked and were closed with their players.",
            lobby.failed,
        ),
        (
            "skirmish_private_rooms_refused",
            "Private rooms refused because their address had as many open as it may.",
            lobby.private_refused,
        ),
    ] {
        families.counter(name, help, value)?;
    }
    Ok(())
}

fn room_labels(kind: &RoomKind) -> [(&'static str, &str); 2] {
    let visibility = if kind.private { "private" } else { "public" };
    [("mode", kind.mode.as_str()), ("visibility", visibility)]
}

/// The tick threads: how many, rooms overrunning their budget, rooms moved between threads.
fn encode_pool(families: &mut Families, pool: PoolCounts) -> fmt::Result {
    families.gauge(
        "skirmish_tick_threads",
        "Threads that step the rooms (--tick-threads).",
        pool.threads,
    )?;
    families.gauge(
        "skirmish_rooms_overrunning",
        "Rooms that overran their tick budget in over a quarter of their ticks in the last 5 s.",
        pool.rooms_overrunning,
    )?;
    families.counter(
        "skirmish_rooms_moved",
        "Rooms handed to a less busy tick thread.",
        pool.rooms_moved,
    )
}

/// A cluster node's directory: reachable, nodes, and its calls by outcome.
fn encode_cluster(families: &mut Families, cluster: ClusterCounts) -> fmt::Result {
    families.gauge(
        "skirmish_cluster_reachable",
        "Whether the last call to the cluster's Redis succeeded.",
        u64::from(cluster.reachable),
    )?;
    families.gauge(
        "skirmish_cluster_nodes",
        "Live nodes in the cluster as of the last heartbeat.",
        cluster.nodes,
    )?;
    for (name, help, value) in [
        (
            "skirmish_cluster_calls",
            "Calls (scripts, pipelines) to the cluster's Redis.",
            cluster.calls,
        ),
        (
            "skirmish_cluster_call_failures",
            "Calls to the cluster's Redis that failed or timed out.",
            cluster.failures,
        ),
        (
            "skirmish_cluster_heartbeats",
            "Heartbeats (lease and rooms renewed) that succeeded.",
            cluster.heartbeats,
        ),
        (
            "skirmish_cluster_seated_here",
            "Joiners the directory seated on this node.",
            cluster.seated_here,
        ),
        (
            "skirmish_cluster_redirected",
            "Joiners sent to another node with a seat ticket.",
            cluster.redirected,
        ),
        (
            "skirmish_cluster_tickets_claimed",
            "Seat tickets claimed on this node.",
            cluster.claimed,
        ),
        (
            "skirmish_cluster_refused",
            "Placements the directory refused.",
            cluster.refused,
        ),
        (
            "skirmish_cluster_bus_applied",
            "Messages from the cluster's bus (announcements, kicks) acted on.",
            cluster.bus_applied,
        ),
        (
            "skirmish_cluster_bus_malformed",
            "Messages on the cluster's bus ignored as malformed.",
            cluster.bus_malformed,
        ),
        (
            "skirmish_cluster_bus_limited",
            "Messages on the cluster's bus dropped by their sender's rate limit.",
            cluster.bus_limited,
        ),
        (
            "skirmish_cluster_token_changes_dropped",
            "Resume-token changes dropped (queue full), repaired by the next resync.",
            cluster.token_changes_dropped,
        ),
    ] {
        families.counter(name, help, value)?;
    }
    Ok(())
}

/// The polling transport: sessions open and opened, refusals by reason.
fn encode_polling(families: &mut Families, polling: &PollingCounts) -> fmt::Result {
    families.gauge(
        "skirmish_polling_sessions",
        "Long-polling sessions open now.",
        polling.open,
    )?;
    families.counter(
        "skirmish_polling_sessions_opened",
        "Long-polling sessions opened.",
        polling.opened,
    )?;
    families.by_label(
        "skirmish_polling_refused",
        "Long-polling requests refused, by reason.",
        &polling.refused,
    )
}

/// The rooms' ticks: their durations, how many, and the world they stepped.
fn encode_ticks(families: &mut Families, readings: &Readings) -> fmt::Result {
    let room = &readings.room;
    families.histogram_in_seconds(
        "skirmish_tick_duration",
        "Time the tick loop spent working per wake-up.",
        &room.tick_duration,
    )?;
    families.counter(
        "skirmish_ticks",
        "Ticks simulated.",
        load(&room.ticks_total),
    )?;
    families.counter(
        "skirmish_tick_overruns",
        "Wake-ups whose work took longer than one tick period.",
        load(&room.overruns),
    )?;
    families.counter(
        "skirmish_ticks_dropped",
        "Ticks skipped after falling too far behind.",
        load(&room.ticks_dropped),
    )?;
    families.gauge_in(
        "skirmish_snapshot",
        Unit::Bytes,
        "Mean size of the players' snapshot frames of the last tick (each player's is its own).",
        load(&room.last_snapshot_bytes),
    )?;
    families.gauge(
        "skirmish_arena_width_units",
        "The arena's width in world units (it grows and shrinks with the players unless fixed by --arena).",
        load(&room.arena_width),
    )?;
    families.gauge(
        "skirmish_arena_height_units",
        "The arena's height in world units.",
        load(&room.arena_height),
    )
}

/// Snapshots, inputs and bytes.
fn encode_traffic(families: &mut Families, readings: &Readings) -> fmt::Result {
    let (net, room, delivery) = (&readings.net, &readings.room, &readings.delivery);
    for (name, help, value) in [
        (
            "skirmish_snapshots_sent",
            "Snapshots written to players.",
            load(&delivery.snapshots_sent),
        ),
        (
            "skirmish_snapshots_skipped",
            "Snapshots slow readers never saw because a newer one replaced them.",
            load(&delivery.snapshots_skipped),
        ),
        (
            "skirmish_snapshots_not_encoded",
            "Snapshots not encoded for a player whose writer had not taken the previous tick's yet.",
            load(&delivery.snapshots_not_encoded),
        ),
        (
            "skirmish_inputs_received",
            "Input messages decoded.",
            load(&net.inputs_received),
        ),
        (
            "skirmish_inputs_dropped",
            "Inputs discarded: queue overflow, stale sequence or unknown player.",
            load(&net.inputs_dropped_queue_full) + load(&room.inputs_dropped),
        ),
    ] {
        families.counter(name, help, value)?;
    }
    families.counter_in(
        "skirmish_received",
        Unit::Bytes,
        "Message bytes received from clients (WebSocket payloads, polling bodies).",
        load(&net.bytes_in),
    )?;
    families.counter_in(
        "skirmish_sent",
        Unit::Bytes,
        "WebSocket bytes sent to clients (frames, headers included).",
        load(&net.bytes_out),
    )
}

/// Rate limits and refused upgrades and handshakes.
fn encode_refusals_and_limits(families: &mut Families, readings: &Readings) -> fmt::Result {
    let net = &readings.net;
    for (name, help, counter) in [
        (
            "skirmish_messages_rate_limited",
            "Client messages dropped by the per-connection rate limit.",
            &net.messages_rate_limited,
        ),
        (
            "skirmish_chat_rate_limited",
            "Chat lines refused by the rate limit.",
            &net.chat_rate_limited,
        ),
        (
            "skirmish_upgrades_refused_origin",
            "Upgrades refused for their Origin (403).",
            &net.refused_origin,
        ),
        (
            "skirmish_upgrades_refused_auth",
            "Upgrades refused by authentication (401).",
            &net.refused_auth,
        ),
        (
            "skirmish_tls_handshakes_failed",
            "TLS handshakes that failed or timed out (with --tls-cert).",
            &net.tls_handshakes_failed,
        ),
    ] {
        families.counter(name, help, load(counter))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::readings::ProcessReadings;

    fn exposition_of(readings: Readings) -> String {
        render(readings).expect("an exposition")
    }

    #[test]
    fn impossible_reasons_are_left_out_while_they_count_nothing() {
        let text = exposition_of(Readings::default());
        assert!(text.contains("skirmish_connections_rejected_total{reason=\"join_timeout\"} 0\n"));
        assert!(text.contains("skirmish_connections_closed_total{reason=\"kicked\"} 0\n"));
        assert!(!text.contains("skirmish_connections_rejected_total{reason=\"kicked\"}"));
        assert!(!text.contains("skirmish_connections_closed_total{reason=\"join_timeout\"}"));
        for reason in CloseReason::ALL {
            let label = format!("{{reason=\"{}\"}}", reason.label());
            let rejected = format!("skirmish_connections_rejected_total{label}");
            let closed = format!("skirmish_connections_closed_total{label}");
            assert_eq!(
                text.contains(&rejected),
                reason.can_end_before_joining(),
                "{reason}"
            );
            assert_eq!(
                text.contains(&closed),
                reason.can_end_after_joining(),
                "{reason}"
            );
        }
    }

    #[test]
    fn an_impossible_reason_that_counted_one_is_shown() {
        let readings = Readings::default();
        readings.net.rejected[CloseReason::Kicked.index()].fetch_add(1, Ordering::Relaxed);
        readings.net.closed[CloseReason::NoSuchRoom.index()].fetch_add(2, Ordering::Relaxed);
        let text = exposition_of(readings);
        assert!(
            text.contains("skirmish_connections_rejected_total{reason=\"kicked\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("skirmish_connections_closed_total{reason=\"no_such_room\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn the_library_writes_types_units_totals_and_the_end() {
        let readings = Readings {
            players: 3,
            process: ProcessReadings {
                start_time_seconds: 1_700_000_000.5,
                resident_bytes: Some(4096),
            },
            ..Readings::default()
        };
        readings.room.players_away.store(1, Ordering::Relaxed);
        let text = exposition_of(readings);
        for expected in [
            "# TYPE skirmish_players gauge\nskirmish_players 3\n",
            "skirmish_players_away 1\n",
            "# TYPE skirmish_ticks counter\n",
            "skirmish_ticks_total 0\n",
            "# TYPE skirmish_tick_duration_seconds histogram\n# UNIT skirmish_tick_duration_seconds seconds\n",
            "# TYPE skirmish_sent_bytes counter\n# UNIT skirmish_sent_bytes bytes\n",
            "skirmish_snapshot_bytes 0",
            "skirmish_process_resident_bytes 4096\n",
            "process_start_time_seconds 1700000000.5\n",
            "# TYPE skirmish_build info\n",
        ] {
            assert!(text.contains(expected), "{expected:?} not in:\n{text}");
        }
        let build = format!(
            "skirmish_build_info{{version=\"{}\",protocol=\"{PROTOCOL_VERSION}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&build), "{text}");
        assert!(text.ends_with("# EOF\n"));
        assert!(
            !text.contains("skirmish_cluster_"),
            "no cluster, no cluster family"
        );
    }

    #[test]
    fn the_tick_histogram_is_cumulative_in_seconds_and_ends_at_its_count() {
        let readings = Readings::default();
        let ticks = &readings.room.tick_duration;
        ticks.observe(Duration::from_micros(40));
        ticks.observe(Duration::from_micros(120));
        ticks.observe(Duration::from_secs(2));
        let text = exposition_of(readings);
        let name = "skirmish_tick_duration_seconds";
        for expected in [
            format!("{name}_bucket{{le=\"0.0001\"}} 1\n"),
            format!("{name}_bucket{{le=\"0.0002\"}} 2\n"),
            format!("{name}_bucket{{le=\"0.25\"}} 2\n"),
            format!("{name}_bucket{{le=\"+Inf\"}} 3\n"),
            format!("{name}_count 3\n"),
            format!("{name}_sum 2.00016\n"),
        ] {
            assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
        }
    }

    #[test]
    fn rooms_are_labelled_by_mode_and_visibility_with_escaped_values() {
        let readings = Readings {
            room_kinds: vec![RoomKind {
                mode: "odd\"mode".to_owned(),
                private: true,
                rooms: 2,
                players: 5,
            }],
            ..Readings::default()
        };
        let text = exposition_of(readings);
        assert!(
            text.contains("skirmish_rooms{mode=\"odd\\\"mode\",visibility=\"private\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("skirmish_room_players{mode=\"odd\\\"mode\",visibility=\"private\"} 5\n")
        );
    }
}
