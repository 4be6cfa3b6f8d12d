//! A fixed-bucket histogram that a hot path updates with relaxed atomic operations, read by the
//! exposition and the summary log. Owns no policy: it only counts what others report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive, in microseconds) of the tick-duration buckets: fine below a
/// millisecond, where a healthy tick lives, coarse above the 33 ms budget of 30 Hz.
pub const TICK_BUCKETS_MICROS: [u64; 20] = [
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000,
    20_000, 33_333, 50_000, 100_000, 250_000,
];

/// A fixed-bucket histogram of durations, safe to update from one thread and read from others.
#[derive(Debug)]
pub struct DurationHistogram {
    bounds_micros: &'static [u64],
    /// `counts[i]` counts observations in bucket `i` (not cumulative); the last is +Inf.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl DurationHistogram {
    pub fn new(bounds_micros: &'static [u64]) -> DurationHistogram {
        DurationHistogram {
            bounds_micros,
            counts: (0..=bounds_micros.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, duration: Duration) {
        let micros = duration.as_micros().min(u128::from(u64::MAX)) as u64;
        let bucket = self.bounds_micros.partition_point(|&bound| bound < micros);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds every observation of `other` (a histogram with the same buckets) to this one.
    pub fn absorb(&self, other: &DurationHistogram) {
        debug_assert_eq!(self.bounds_micros, other.bounds_micros);
        for (mine, theirs) in self.counts.iter().zip(&other.counts) {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.sum_micros
            .fetch_add(load(&other.sum_micros), Ordering::Relaxed);
        self.count.fetch_add(load(&other.count), Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The smallest bucket bound below which at least `quantile` of observations fall, in
    /// microseconds (`None` if empty or beyond the last bound).
    pub fn quantile_upper_bound_micros(&self, quantile: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let wanted = (quantile * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, bound) in self.bounds_micros.iter().enumerate() {
            seen += self.counts[i].load(Ordering::Relaxed);
            if seen >= wanted {
                return Some(*bound);
            }
        }
        None
    }

    /// Each bucket's count now (not cumulative), to compare with later.
    pub fn bucket_counts(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }

    /// Like [`DurationHistogram::quantile_upper_bound_micros`], over the observations made since
    /// `earlier` (an earlier [`DurationHistogram::bucket_counts`]).
    pub fn quantile_since_micros(&self, earlier: &[u64], quantile: f64) -> Option<u64> {
        let window = counts_since(&self.bucket_counts(), earlier);
        quantile_bound(self.bounds_micros, &window, quantile)
    }

    /// The buckets' upper bounds, in microseconds.
    pub fn bounds_micros(&self) -> &'static [u64] {
        self.bounds_micros
    }

    /// Each bucket's upper bound in seconds (the last is +Inf) and the observations in it alone
    /// (not cumulative: the exposition's encoder adds them up).
    pub fn buckets_seconds(&self) -> Vec<(f64, u64)> {
        self.bounds_micros
            .iter()
            .map(|&bound| bound as f64 / 1e6)
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.bucket_counts())
            .collect()
    }

    /// The sum of every observation, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Each bucket's observations between `earlier` and `now` (two [`DurationHistogram::bucket_counts`]).
pub fn counts_since(now: &[u64], earlier: &[u64]) -> Vec<u64> {
    now.iter()
        .enumerate()
        .map(|(i, count)| count.saturating_sub(earlier.get(i).copied().unwrap_or(0)))
        .collect()
}

/// The smallest bound (of `bounds`) below which at least `quantile` of the observations in
/// `counts` (per bucket, not cumulative) fall; `None` if there are none or beyond the last bound.
pub fn quantile_bound(bounds: &[u64], counts: &[u64], quantile: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let wanted = (quantile * total as f64).ceil() as u64;
    let mut seen = 0;
    for (bound, count) in bounds.iter().zip(counts) {
        seen += count;
        if seen >= wanted {
            return Some(*bound);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_inclusive_buckets() {
        let histogram = DurationHistogram::new(&[100, 1_000]);
        histogram.observe(Duration::from_micros(100));
        histogram.observe(Duration::from_micros(101));
        histogram.observe(Duration::from_millis(5));
        assert_eq!(
            histogram.buckets_seconds(),
            [(0.0001, 1), (0.001, 1), (f64::INFINITY, 1)]
        );
        assert_eq!(histogram.count(), 3);
        assert_eq!(histogram.quantile_upper_bound_micros(0.5), Some(1_000));
        assert_eq!(histogram.quantile_upper_bound_micros(1.0), None);
    }

    #[test]
    fn absorbing_adds_every_bucket_and_the_sum() {
        let total = DurationHistogram::new(&[100, 1_000]);
        let room = DurationHistogram::new(&[100, 1_000]);
        total.observe(Duration::from_micros(50));
        room.observe(Duration::from_micros(500));
        room.observe(Duration::from_millis(5));
        total.absorb(&room);
        assert_eq!(total.bucket_counts(), [1, 1, 1]);
        assert_eq!(total.count(), 3);
        assert!((total.sum_seconds() - 0.00555).abs() < 1e-12);
    }
}
