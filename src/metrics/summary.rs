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

/// Logs one line about the network side every `interval`, with rates over the interval.
pub async fn log_summaries(sources: SummarySources, interval: Duration) {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    let (mut sent, mut skipped, mut inputs, mut bytes_out) = (0, 0, 0, 0);
    loop {
        ticker.tick().await;
        let seconds = interval.as_secs_f64();
        let now_sent = load(&sources.delivery.snapshots_sent);
        let now_skipped = load(&sources.delivery.snapshots_skipped);
        let now_inputs = load(&sources.net.inputs_received);
        let now_bytes = load(&sources.net.bytes_out);
        tracing::info!(
            players = (sources.players)(),
            snapshots_per_s = ((now_sent - sent) as f64 / seconds) as u64,
            skipped = now_skipped - skipped,
            inputs_per_s = ((now_inputs - inputs) as f64 / seconds) as u64,
            out_kib_per_s = ((now_bytes - bytes_out) as f64 / seconds / 1024.0) as u64,
            tick_p99_le_us = (sources.rooms)()
                .tick_duration
                .quantile_upper_bound_micros(0.99),
            "server summary"
        );
        (sent, skipped, inputs, bytes_out) = (now_sent, now_skipped, now_inputs, now_bytes);
    }
}
