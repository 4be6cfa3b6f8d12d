//! The swarm's figures room by room: for every room a `Welcome` named, the bots it welcomed, the
//! snapshots they were sent and received, and the gaps between them, measured exactly as the
//! whole swarm's are (the same delivered ratio, the same microsecond gaps at the same precision).
//! Fed by the bots' hand-overs, never by a bot's snapshot itself, and read once for the report.
//! Must never: be touched on a bot's hot path, or hold more per room than a room's histogram.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::stats::{Percentiles, delivered_ratio};
use crate::protocol::RoomInfo;
use crate::protocol::rooms::RoomId;

/// What the bots in one room measured together.
#[derive(Debug)]
struct RoomFigures {
    /// The mode the room's first `Welcome` named (a room keeps its mode).
    mode: String,
    /// Bots the room welcomed over the run.
    players: u64,
    snapshots_received: u64,
    /// Sum over the room's bots of the ticks each one's snapshots spanned.
    snapshots_expected: u64,
    /// Snapshot gaps in microseconds. Auto-resizing from 1 µs at 3 significant digits: the
    /// buckets of the swarm's own gap histogram, so one room's p99 is the swarm's when there is
    /// one room; it grows only as far as the room's longest gap (32 KB for gaps under 100 ms), where a fixed one-minute range would take 70 KB per room.
    gap: Histogram<u32>,
}

impl RoomFigures {
    fn new(mode: &str) -> RoomFigures {
        RoomFigures {
            mode: mode.to_owned(),
            players: 0,
            snapshots_received: 0,
            snapshots_expected: 0,
            gap: Histogram::new(3).expect("3 significant digits is a valid precision"),
        }
    }
}

/// One bot's hand-over to its room: counts since its last one, and the gaps it measured.
#[derive(Debug, Clone, Copy)]
pub struct RoomHandover<'a> {
    pub snapshots_received: u64,
    pub snapshots_expected: u64,
    /// Gaps in microseconds, each within the histograms' range.
    pub gaps: &'a [u64],
}

/// Every room a bot was welcomed into, by id. Held under the swarm's histogram lock, which a
/// hand-over takes anyway, so keying the hand-over by room costs one map lookup.
#[derive(Debug, Default)]
pub struct RoomBook {
    rooms: BTreeMap<RoomId, RoomFigures>,
}

impl RoomBook {
    /// A bot was welcomed into `room`.
    pub fn record_join(&mut self, room: &RoomInfo) {
        self.figures(RoomId(room.id), &room.mode).players += 1;
    }

    /// Adds a bot's hand-over to its room's figures.
    pub fn take_over(&mut self, room: RoomId, handover: RoomHandover<'_>) {
        let figures = self.figures(room, "");
        figures.snapshots_received += handover.snapshots_received;
        figures.snapshots_expected += handover.snapshots_expected;
        for &gap in handover.gaps {
            // `record`, not `saturating_record`: the latter clamps to the current range instead
            // of growing it. Growing fails only past usize, far beyond the one-minute bound.
            if figures.gap.record(gap).is_err() {
                figures.gap.saturating_record(gap);
            }
        }
    }

    /// The room's figures, first met with `mode` (a hand-over always follows its bot's join,
    /// so the mode is the `Welcome`'s).
    fn figures(&mut self, room: RoomId, mode: &str) -> &mut RoomFigures {
        self.rooms
            .entry(room)
            .or_insert_with(|| RoomFigures::new(mode))
    }

    /// Every room's line of the report, by room id.
    pub fn reports(&self) -> Vec<RoomReport> {
        self.rooms
            .iter()
            .map(|(id, figures)| RoomReport {
                id: id.0,
                mode: figures.mode.clone(),
                players: figures.players,
                delivered: delivered_ratio(figures.snapshots_received, figures.snapshots_expected),
                gap_p99_ms: Percentiles::of(&figures.gap).p99_ms,
            })
            .collect()
    }
}

/// One room in the swarm's report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoomReport {
    pub id: u32,
    pub mode: String,
    /// Bots the room welcomed over the run.
    pub players: u64,
    /// Snapshots received / expected by the room's bots, 0..1 (the report's `delivered_ratio`).
    pub delivered: f64,
    /// The 99th percentile of the gaps between the room's bots' snapshots (the report's
    /// `gap_p99_ms`).
    pub gap_p99_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: u32, mode: &str) -> RoomInfo {
        RoomInfo {
            id,
            mode: mode.into(),
            max_players: 16,
            code: None,
        }
    }

    fn handover(received: u64, expected: u64, gaps: &[u64]) -> RoomHandover<'_> {
        RoomHandover {
            snapshots_received: received,
            snapshots_expected: expected,
            gaps,
        }
    }

    #[test]
    fn each_room_counts_its_own_bots_snapshots_and_gaps() {
        let mut book = RoomBook::default();
        book.record_join(&room(2, "duel"));
        book.record_join(&room(1, "arena"));
        book.record_join(&room(2, "duel"));
        book.take_over(RoomId(2), handover(30, 0, &[33_000; 29]));
        book.take_over(RoomId(1), handover(10, 0, &[33_000, 33_000, 200_000]));
        book.take_over(RoomId(2), handover(20, 60, &[40_000; 20]));
        book.take_over(RoomId(1), handover(0, 20, &[]));
        let reports = book.reports();
        let ids: Vec<u32> = reports.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2], "by room id");
        let (one, two) = (&reports[0], &reports[1]);
        assert_eq!((one.mode.as_str(), one.players), ("arena", 1));
        assert_eq!((two.mode.as_str(), two.players), ("duel", 2));
        assert!((one.delivered - 0.5).abs() < 1e-9, "{}", one.delivered);
        assert!(
            (two.delivered - 50.0 / 60.0).abs() < 1e-9,
            "{}",
            two.delivered
        );
        // Room 1's slow gap is its p99 and does not leak into room 2.
        assert!((one.gap_p99_ms - 200.0).abs() < 0.2, "{}", one.gap_p99_ms);
        assert!((two.gap_p99_ms - 40.0).abs() < 0.05, "{}", two.gap_p99_ms);
    }

    #[test]
    fn a_room_whose_bots_saw_nothing_delivered_nothing() {
        let mut book = RoomBook::default();
        book.record_join(&room(5, "arena"));
        let report = &book.reports()[0];
        assert_eq!((report.players, report.delivered), (1, 0.0));
        assert_eq!(report.gap_p99_ms, 0.0);
    }

    #[test]
    fn a_room_measures_gaps_in_the_swarms_own_buckets() {
        let mut swarm_gaps = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut book = RoomBook::default();
        book.record_join(&room(1, "arena"));
        let gaps: Vec<u64> = (0..5000u64).map(|i| 30_000 + (i * 7919) % 12_345).collect();
        for &gap in &gaps {
            swarm_gaps.record(gap).unwrap();
        }
        book.take_over(RoomId(1), handover(5000, 5000, &gaps));
        // Under 100 ms a room's histogram stays at 8192 buckets of 4 bytes.
        assert!(book.rooms[&RoomId(1)].gap.distinct_values() <= 8192);
        book.take_over(RoomId(1), handover(0, 0, &[60_000_000]));
        swarm_gaps.record(60_000_000).unwrap();
        assert_eq!(
            book.reports()[0].gap_p99_ms,
            Percentiles::of(&swarm_gaps).p99_ms
        );
        assert_eq!(book.rooms[&RoomId(1)].gap.max(), swarm_gaps.max());
    }
}
