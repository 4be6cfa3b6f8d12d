//! What the whole swarm measured, shared by every bot: counters and histograms, and the reasons
//! connections failed or were dropped, and each room's share ([`super::rooms`]). A bot counts its
//! own snapshots in a [`BotTally`] and hands them over in batches, keyed by the room its welcome
//! named, so that reading a snapshot takes neither a lock nor a shared atomic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::{Counter, Histogram};

use super::rooms::{RoomBook, RoomHandover, RoomReport};
use crate::protocol::RoomInfo;
use crate::protocol::rooms::RoomId;

/// Microsecond histograms from 1 µs to one minute, 3 significant digits.
fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug)]
pub struct SwarmStats {
    pub attempted: AtomicU64,
    pub established: AtomicU64,
    /// Joins a cluster node sent on to another node (each redirect followed).
    pub redirected: AtomicU64,
    /// Bots in the game right now.
    pub connected: AtomicU64,
    pub snapshots_received: AtomicU64,
    /// Sum over bots of the ticks each one's snapshots spanned (first to last, inclusive).
    pub snapshots_expected: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Sum over bots of the time each spent joined, in microseconds.
    pub connected_micros: AtomicU64,
    pub decode_errors: AtomicU64,
    pub inputs_sent: AtomicU64,
    /// Chat lines sent by `chat` bots, acknowledged, refused, and chat lines received.
    pub chat_sent: AtomicU64,
    pub chat_acked: AtomicU64,
    pub chat_refused: AtomicU64,
    pub chat_received: AtomicU64,
    /// Connections that never got a welcome, by reason.
    failed: Mutex<BTreeMap<String, u64>>,
    /// Joined connections that ended before the run did, by close code or error.
    dropped: Mutex<BTreeMap<String, u64>>,
    histograms: Mutex<Histograms>,
}

/// What a hand-over adds to beyond counters, under one lock.
struct Histograms {
    connect: Histogram<u64>,
    gap: Histogram<u64>,
    ack: Histogram<u64>,
    /// Each room's counts and gaps: the same lock, so a hand-over takes it once.
    rooms: RoomBook,
}

impl std::fmt::Debug for Histograms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Histograms")
    }
}

/// Snapshots received / expected, 0..1 (0 when none were expected): the swarm's delivered figure
/// and each room's.
pub fn delivered_ratio(received: u64, expected: u64) -> f64 {
    if expected == 0 {
        0.0
    } else {
        (received as f64 / expected as f64).min(1.0)
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of<T: Counter>(histogram: &Histogram<T>) -> Percentiles {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// A consistent reading of the histograms.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistogramSummary {
    pub connect: Percentiles,
    pub gap: Percentiles,
    pub ack: Percentiles,
}

impl Default for SwarmStats {
    fn default() -> SwarmStats {
        SwarmStats {
            attempted: AtomicU64::new(0),
            established: AtomicU64::new(0),
            redirected: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            snapshots_received: AtomicU64::new(0),
            snapshots_expected: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            connected_micros: AtomicU64::new(0),
            decode_errors: AtomicU64::new(0),
            inputs_sent: AtomicU64::new(0),
            chat_sent: AtomicU64::new(0),
            chat_acked: AtomicU64::new(0),
            chat_refused: AtomicU64::new(0),
            chat_received: AtomicU64::new(0),
            failed: Mutex::new(BTreeMap::new()),
            dropped: Mutex::new(BTreeMap::new()),
            histograms: Mutex::new(Histograms {
                connect: micros_histogram(),
                gap: micros_histogram(),
                ack: micros_histogram(),
                rooms: RoomBook::default(),
            }),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    (duration.as_micros() as u64).clamp(1, 60_000_000)
}

impl SwarmStats {
    pub fn record_failure(&self, reason: impl Into<String>) {
        *self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason.into())
            .or_default() += 1;
    }

    pub fn record_drop(&self, reason: impl Into<String>) {
        *self
            .dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason.into())
            .or_default() += 1;
    }

    pub fn record_connect(&self, took: Duration) {
        self.histograms().connect.saturating_record(micros(took));
    }

    /// A bot was welcomed into `room`.
    pub fn record_join(&self, room: &RoomInfo) {
        self.histograms().rooms.record_join(room);
    }

    /// Adds what one bot counted since its last handover, under one lock of the histograms
    /// (taken only when there is something to add).
    fn take_over(&self, tally: &mut BotTally) {
        let counts = std::mem::take(&mut tally.counts);
        let add = |counter: &AtomicU64, value: u64| {
            if value > 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        };
        add(&self.snapshots_received, counts.snapshots_received);
        add(&self.snapshots_expected, counts.snapshots_expected);
        add(&self.bytes_received, counts.bytes_received);
        add(&self.decode_errors, counts.decode_errors);
        add(&self.inputs_sent, counts.inputs_sent);
        add(&self.chat_sent, counts.chat_sent);
        add(&self.chat_acked, counts.chat_acked);
        add(&self.chat_refused, counts.chat_refused);
        add(&self.chat_received, counts.chat_received);
        let for_the_room = counts.snapshots_received > 0 || counts.snapshots_expected > 0;
        if !for_the_room && tally.gaps.is_empty() && tally.acks.is_empty() {
            return;
        }
        let mut histograms = self.histograms();
        for &gap in &tally.gaps {
            histograms.gap.saturating_record(gap);
        }
        for &ack in &tally.acks {
            histograms.ack.saturating_record(ack);
        }
        let handover = RoomHandover {
            snapshots_received: counts.snapshots_received,
            snapshots_expected: counts.snapshots_expected,
            gaps: &tally.gaps,
        };
        histograms.rooms.take_over(tally.room, handover);
        drop(histograms);
        tally.gaps.clear();
        tally.acks.clear();
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn drops(&self) -> BTreeMap<String, u64> {
        self.dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn summary(&self) -> HistogramSummary {
        let histograms = self.histograms();
        HistogramSummary {
            connect: Percentiles::of(&histograms.connect),
            gap: Percentiles::of(&histograms.gap),
            ack: Percentiles::of(&histograms.ack),
        }
    }

    /// Every room a bot was welcomed into, by room id.
    pub fn rooms(&self) -> Vec<RoomReport> {
        self.histograms().rooms.reports()
    }

    fn histograms(&self) -> std::sync::MutexGuard<'_, Histograms> {
        self.histograms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Most snapshots a bot counts before handing its tally over (a bound on what it buffers).
const SNAPSHOTS_PER_HANDOVER: usize = 32;
/// Longest a bot keeps its counts before handing them over: twice per line of the live display
/// (once a second), so every line counts every bot's snapshots of the second before it, instead
/// of batches of 32 that arrive in bursts (which read 1280/s for 1200 and dipped by a third
/// whenever the batches of many bots fell into the same second).
pub const HANDOVER_INTERVAL: Duration = Duration::from_millis(500);

/// One bot's counters since its last handover, each meaning the same as its namesake in
/// [`SwarmStats`].
#[derive(Debug, Default)]
pub struct BotCounts {
    pub snapshots_received: u64,
    /// Added once, when the bot finishes: the ticks its snapshots spanned.
    pub snapshots_expected: u64,
    pub bytes_received: u64,
    pub decode_errors: u64,
    pub inputs_sent: u64,
    pub chat_sent: u64,
    pub chat_acked: u64,
    pub chat_refused: u64,
    pub chat_received: u64,
}

/// What one bot measured and has not yet handed to the swarm's [`SwarmStats`]: handed over every
/// [`SNAPSHOTS_PER_HANDOVER`] snapshots and when the tally is dropped, so nothing is lost when a
/// bot ends, however it ends.
#[derive(Debug)]
pub struct BotTally {
    stats: Arc<SwarmStats>,
    /// The room the bot's welcome named: what its hand-overs are keyed by.
    room: RoomId,
    pub counts: BotCounts,
    /// Snapshot gaps and acknowledgement latencies in microseconds, waiting for the histograms.
    gaps: Vec<u64>,
    acks: Vec<u64>,
    /// When the counts began to gather (the first snapshot since the last handover).
    gathering_since: Option<Instant>,
}

impl BotTally {
    /// The tally of a bot just welcomed into `room` (counted as one of the room's players).
    pub fn new(stats: Arc<SwarmStats>, room: &RoomInfo) -> BotTally {
        stats.record_join(room);
        BotTally {
            stats,
            room: RoomId(room.id),
            counts: BotCounts::default(),
            gaps: Vec::with_capacity(SNAPSHOTS_PER_HANDOVER),
            acks: Vec::with_capacity(SNAPSHOTS_PER_HANDOVER),
            gathering_since: None,
        }
    }

    /// One snapshot arrived at `now`, `gap` after the previous one (`None` for a bot's first),
    /// and acknowledged an input sent `ack` ago (if it acknowledged a new one).
    pub fn record_snapshot(&mut self, gap: Option<Duration>, ack: Option<Duration>, now: Instant) {
        self.counts.snapshots_received += 1;
        let since = *self.gathering_since.get_or_insert(now);
        if let Some(gap) = gap {
            self.gaps.push(micros(gap));
        }
        if let Some(ack) = ack {
            self.acks.push(micros(ack));
        }
        if self.counts.snapshots_received >= SNAPSHOTS_PER_HANDOVER as u64
            || now.saturating_duration_since(since) >= HANDOVER_INTERVAL
        {
            self.hand_over();
        }
    }

    /// Adds everything counted so far to the swarm's figures.
    pub fn hand_over(&mut self) {
        self.gathering_since = None;
        let stats = Arc::clone(&self.stats);
        stats.take_over(self);
    }
}

impl Drop for BotTally {
    fn drop(&mut self) {
        self.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room_one() -> RoomInfo {
        RoomInfo {
            id: 1,
            mode: "arena".into(),
            max_players: 64,
            code: None,
        }
    }

    #[test]
    fn a_tally_reaches_the_swarm_in_batches_and_when_dropped() {
        let stats = Arc::new(SwarmStats::default());
        let mut tally = BotTally::new(Arc::clone(&stats), &room_one());
        // Snapshots at 240 Hz: 32 arrive well within the handover interval.
        let start = Instant::now();
        let at = |i: usize| start + Duration::from_millis(4 * i as u64);
        tally.record_snapshot(None, None, at(0));
        for i in 1..SNAPSHOTS_PER_HANDOVER {
            tally.counts.bytes_received += 10;
            tally.record_snapshot(
                Some(Duration::from_millis(33)),
                Some(Duration::from_millis(5)),
                at(i),
            );
        }
        let handed = SNAPSHOTS_PER_HANDOVER as u64;
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), handed);
        assert_eq!(
            stats.bytes_received.load(Ordering::Relaxed),
            10 * (handed - 1)
        );
        assert_eq!(stats.summary().gap.count, handed - 1);
        tally.counts.inputs_sent += 1;
        tally.record_snapshot(Some(Duration::from_millis(33)), None, at(40));
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), handed);
        drop(tally);
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), handed + 1);
        assert_eq!(stats.inputs_sent.load(Ordering::Relaxed), 1);
        let summary = stats.summary();
        assert_eq!((summary.gap.count, summary.ack.count), (handed, handed - 1));
        assert!((summary.ack.p50_ms - 5.0).abs() < 0.01);
    }

    #[test]
    fn a_slow_bot_hands_its_counts_over_at_least_twice_a_second() {
        let stats = Arc::new(SwarmStats::default());
        let mut tally = BotTally::new(Arc::clone(&stats), &room_one());
        let start = Instant::now();
        // 10 Hz: far fewer than a batch in the interval.
        for i in 0..5u64 {
            let at = start + Duration::from_millis(100 * i);
            tally.record_snapshot(Some(Duration::from_millis(100)), None, at);
        }
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), 0);
        tally.record_snapshot(None, None, start + HANDOVER_INTERVAL);
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), 6);
        // The next interval starts at the next snapshot.
        tally.record_snapshot(None, None, start + HANDOVER_INTERVAL * 2);
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), 6);
        tally.record_snapshot(None, None, start + HANDOVER_INTERVAL * 3);
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn hand_overs_are_keyed_by_the_bots_room() {
        let stats = Arc::new(SwarmStats::default());
        let room_two = RoomInfo {
            id: 2,
            mode: "duel".into(),
            ..room_one()
        };
        let mut in_one = BotTally::new(Arc::clone(&stats), &room_one());
        let mut in_two = BotTally::new(Arc::clone(&stats), &room_two);
        let also_in_two = BotTally::new(Arc::clone(&stats), &room_two);
        let start = Instant::now();
        for i in 0..10u64 {
            let at = start + Duration::from_millis(33 * i);
            in_one.record_snapshot(Some(Duration::from_millis(33)), None, at);
            if i % 2 == 0 {
                in_two.record_snapshot(Some(Duration::from_millis(66)), None, at);
            }
        }
        in_one.counts.snapshots_expected += 10;
        in_two.counts.snapshots_expected += 10;
        drop((in_one, in_two, also_in_two));
        let rooms = stats.rooms();
        let figures: Vec<(u32, &str, u64)> = rooms
            .iter()
            .map(|room| (room.id, room.mode.as_str(), room.players))
            .collect();
        assert_eq!(figures, [(1, "arena", 1), (2, "duel", 2)]);
        assert_eq!((rooms[0].delivered, rooms[1].delivered), (1.0, 0.5));
        assert!((rooms[0].gap_p99_ms - 33.0).abs() < 0.05, "{:?}", rooms[0]);
        assert!((rooms[1].gap_p99_ms - 66.0).abs() < 0.05, "{:?}", rooms[1]);
        // The rooms share out the swarm's own figures.
        assert_eq!(stats.snapshots_received.load(Ordering::Relaxed), 15);
        assert_eq!(stats.snapshots_expected.load(Ordering::Relaxed), 20);
        assert_eq!(stats.summary().gap.count, 15);
    }
}
