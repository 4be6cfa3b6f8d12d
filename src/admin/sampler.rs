//! The operator's page's numbers over time: a [`Reading`] of the server's counters at an
//! instant, the [`Sample`] of what happened between two readings (counts during the interval,
//! gauges at its end, tick quantiles over it), and the [`History`] of the last minutes. Pure:
//! the caller reads the counters and passes the time. Must never: keep more than
//! [`HISTORY_SAMPLES`], or report a counter going back (a reset reads as zero).

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::metrics::histogram::{counts_since, quantile_bound};
use crate::protocol::CloseReason;

/// Ten minutes of one-second samples.
pub const HISTORY_SAMPLES: usize = 600;

/// The server's counters (totals since start) and gauges at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Unix time, in milliseconds.
    pub at_ms: u64,
    pub players: u64,
    pub away: u64,
    pub rooms: u64,
    pub connections: u64,
    /// The tick-duration histogram's bucket counts (every room's, added up), and its bounds.
    pub tick_buckets: Vec<u64>,
    pub tick_bounds: &'static [u64],
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub accepted: u64,
    /// By [`CloseReason::index`].
    pub closed: Vec<u64>,
    pub rejected: Vec<u64>,
    /// Connections refused at accept, by cap label.
    pub refused: Vec<(&'static str, u64)>,
    /// Messages and chat lines refused by the rate limits.
    pub rate_limited: u64,
    pub snapshots_skipped: u64,
}

/// What happened between two readings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// The end of the interval (unix milliseconds).
    pub t: u64,
    pub players: u64,
    pub away: u64,
    pub rooms: u64,
    pub connections: u64,
    pub tick_p50_us: Option<u64>,
    pub tick_p99_us: Option<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub accepted: u64,
    /// Non-zero counts only, by the metrics' reason labels.
    pub closed: BTreeMap<&'static str, u64>,
    pub rejected: BTreeMap<&'static str, u64>,
    pub refused: BTreeMap<&'static str, u64>,
    pub rate_limited: u64,
    pub snapshots_skipped: u64,
}

impl Sample {
    /// What happened from `before` to `now`.
    pub fn between(before: &Reading, now: &Reading) -> Sample {
        let ticks = counts_since(&now.tick_buckets, &before.tick_buckets);
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        Sample {
            t: now.at_ms,
            players: now.players,
            away: now.away,
            rooms: now.rooms,
            connections: now.connections,
            tick_p50_us: quantile_bound(now.tick_bounds, &ticks, 0.5),
            tick_p99_us: quantile_bound(now.tick_bounds, &ticks, 0.99),
            bytes_in: delta(now.bytes_in, before.bytes_in),
            bytes_out: delta(now.bytes_out, before.bytes_out),
            accepted: delta(now.accepted, before.accepted),
            closed: by_reason(&now.closed, &before.closed),
            rejected: by_reason(&now.rejected, &before.rejected),
            refused: by_label(&now.refused, &before.refused),
            rate_limited: delta(now.rate_limited, before.rate_limited),
            snapshots_skipped: delta(now.snapshots_skipped, before.snapshots_skipped),
        }
    }
}

/// The non-zero increases of per-reason counters, by label.
fn by_reason(now: &[u64], before: &[u64]) -> BTreeMap<&'static str, u64> {
    CloseReason::ALL
        .iter()
        .filter_map(|reason| {
            let i = reason.index();
            let grew = now
                .get(i)?
                .saturating_sub(before.get(i).copied().unwrap_or(0));
            (grew > 0).then_some((reason.label(), grew))
        })
        .collect()
}

fn by_label(
    now: &[(&'static str, u64)],
    before: &[(&'static str, u64)],
) -> BTreeMap<&'static str, u64> {
    now.iter()
        .filter_map(|&(label, count)| {
            let earlier = before
                .iter()
                .find(|(other, _)| *other == label)
                .map_or(0, |(_, count)| *count);
            let grew = count.saturating_sub(earlier);
            (grew > 0).then_some((label, grew))
        })
        .collect()
}

/// The last [`HISTORY_SAMPLES`] samples, oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == HISTORY_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: &[u64] = &[100, 1_000, 10_000];

    fn reading(at_ms: u64) -> Reading {
        Reading {
            at_ms,
            tick_bounds: BOUNDS,
            tick_buckets: vec![0; 3],
            closed: vec![0; CloseReason::ALL.len()],
            rejected: vec![0; CloseReason::ALL.len()],
            refused: vec![("max_connections", 0)],
            ..Reading::default()
        }
    }

    #[test]
    fn a_sample_counts_what_happened_during_its_interval() {
        let mut before = reading(1_000);
        before.bytes_out = 5_000;
        before.tick_buckets = vec![100, 0, 0];
        before.closed[CloseReason::Leave.index()] = 3;
        let mut now = reading(2_000);
        now.players = 7;
        now.bytes_out = 8_000;
        now.tick_buckets = vec![110, 89, 1];
        now.closed[CloseReason::Leave.index()] = 4;
        now.closed[CloseReason::PingTimeout.index()] = 2;
        now.refused = vec![("max_connections", 1)];
        let sample = Sample::between(&before, &now);
        assert_eq!(sample.t, 2_000);
        assert_eq!(sample.players, 7);
        assert_eq!(sample.bytes_out, 3_000);
        // 10 fast ticks and 89 slower ones in this interval (not the 100 fast ones before it).
        assert_eq!(sample.tick_p50_us, Some(1_000));
        assert_eq!(sample.tick_p99_us, Some(1_000));
        assert_eq!(
            sample.closed,
            BTreeMap::from([("leave", 1), ("ping_timeout", 2)])
        );
        assert!(sample.rejected.is_empty(), "only non-zero reasons");
        assert_eq!(sample.refused, BTreeMap::from([("max_connections", 1)]));
    }

    #[test]
    fn no_tick_gives_no_quantile_and_a_reset_reads_as_zero() {
        let mut before = reading(0);
        before.bytes_in = 10;
        let sample = Sample::between(&before, &reading(1_000));
        assert_eq!(sample.tick_p99_us, None);
        assert_eq!(sample.bytes_in, 0);
    }

    #[test]
    fn history_keeps_the_last_ten_minutes() {
        let mut history = History::default();
        for t in 0..HISTORY_SAMPLES as u64 + 5 {
            history.push(Sample::between(&reading(t), &reading(t)));
        }
        assert_eq!(history.len(), HISTORY_SAMPLES);
        assert_eq!(history.samples().next().map(|s| s.t), Some(5));
    }
}
