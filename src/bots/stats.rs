//! What the whole swarm measured, shared by every bot: counters and histograms that bots update
//! as events happen, and the reasons connections failed or were dropped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Microsecond histograms from 1 µs to one minute, 3 significant digits.
fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug)]
pub struct SwarmStats {
    pub attempted: AtomicU64,
    pub established: AtomicU64,
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

struct Histograms {
    connect: Histogram<u64>,
    gap: Histogram<u64>,
    ack: Histogram<u64>,
}

impl std::fmt::Debug for Histograms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Histograms")
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
    fn of(histogram: &Histogram<u64>) -> Percentiles {
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

    /// One snapshot arrived `gap` after the previous one (`None` for a bot's first), and
    /// acknowledged an input sent `ack` ago (if it acknowledged a new one).
    pub fn record_snapshot(&self, gap: Option<Duration>, ack: Option<Duration>) {
        self.snapshots_received.fetch_add(1, Ordering::Relaxed);
        if gap.is_none() && ack.is_none() {
            return;
        }
        let mut histograms = self.histograms();
        if let Some(gap) = gap {
            histograms.gap.saturating_record(micros(gap));
        }
        if let Some(ack) = ack {
            histograms.ack.saturating_record(micros(ack));
        }
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

    fn histograms(&self) -> std::sync::MutexGuard<'_, Histograms> {
        self.histograms.lock().unwrap_or_else(|e| e.into_inner())
    }
}
