//! The one-line network summary logged every few seconds, with rates over the interval. Reads
//! counters only; the player count and the rooms' totals come from whoever starts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::counters::{DeliveryStats, NetStats, RoomStats};

/// The counters a summary reads, how to add up the rooms' and how to count the players.
pub struct SummarySources {
    pub net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    pub rooms: Box<dyn Fn() -> RoomStats + Send + Sync>,
    pub players: Box<dyn Fn() -> usize + Send + Sync>,
}

/// While nothing happens (no player, no snapshot, no input), a summary is logged at most this
/// often: a log that says the server lives, not one line every few seconds about nothing.
pub const IDLE_SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Logs one line about the network side every `interval`, with rates and the tick p99 over the
/// interval; while idle, one line per [`IDLE_SUMMARY_EVERY`].
pub async fn log_summaries(sources: SummarySources, interval: Duration) {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    let (mut sent, mut skipped, mut inputs, mut bytes_out) = (0, 0, 0, 0);
    let mut ticks = (sources.rooms)().tick_duration.bucket_counts();
    let mut last_logged: Option<tokio::time::Instant> = None;
    loop {
        ticker.tick().await;
        let seconds = interval.as_secs_f64();
        let now_sent = load(&sources.delivery.snapshots_sent);
        let now_skipped = load(&sources.delivery.snapshots_skipped);
        let now_inputs = load(&sources.net.inputs_received);
        let now_bytes = load(&sources.net.bytes_out);
        let players = (sources.players)();
        let rooms = (sources.rooms)();
        let idle = players == 0 && now_sent == sent && now_inputs == inputs;
        let since = last_logged.map(|at| at.elapsed());
        if should_log(idle, since) {
            last_logged = Some(tokio::time::Instant::now());
            tracing::info!(
                players,
                snapshots_per_s = ((now_sent - sent) as f64 / seconds) as u64,
                skipped = now_skipped - skipped,
                inputs_per_s = ((now_inputs - inputs) as f64 / seconds) as u64,
                out_kib_per_s = ((now_bytes - bytes_out) as f64 / seconds / 1024.0) as u64,
                tick_p99_le_us = rooms.tick_duration.quantile_since_micros(&ticks, 0.99),
                "server summary"
            );
        }
        ticks = rooms.tick_duration.bucket_counts();
        (sent, skipped, inputs, bytes_out) = (now_sent, now_skipped, now_inputs, now_bytes);
    }
}

/// Whether this interval's summary is logged: always while something happens; while idle, only
/// once [`IDLE_SUMMARY_EVERY`] has passed since the last one (or if none was logged yet).
fn should_log(idle: bool, since_last: Option<Duration>) -> bool {
    !idle || since_last.is_none_or(|since| since >= IDLE_SUMMARY_EVERY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::{DurationHistogram, TICK_BUCKETS_MICROS};

    #[test]
    fn an_idle_server_logs_one_summary_a_minute() {
        assert!(should_log(false, Some(Duration::from_secs(5))));
        assert!(should_log(true, None));
        assert!(!should_log(true, Some(Duration::from_secs(5))));
        assert!(should_log(true, Some(IDLE_SUMMARY_EVERY)));
    }

    #[test]
    fn the_tick_p99_is_over_the_interval_not_since_start() {
        let ticks = DurationHistogram::new(&TICK_BUCKETS_MICROS);
        for _ in 0..1000 {
            ticks.observe(Duration::from_millis(5));
        }
        let before = ticks.bucket_counts();
        for _ in 0..100 {
            ticks.observe(Duration::from_micros(40));
        }
        let window = ticks.quantile_since_micros(&before, 0.99).unwrap();
        let overall = ticks.quantile_upper_bound_micros(0.99).unwrap();
        assert!(window <= 50, "{window}");
        assert!(overall >= 5000, "{overall}");
        assert_eq!(
            ticks.quantile_since_micros(&ticks.bucket_counts(), 0.99),
            None
        );
    }
}
