//! The counters every layer reports into: the network's ([`NetStats`]), delivery's
//! ([`DeliveryStats`]) and a room's ([`RoomStats`]). Relaxed atomics, each an independent reading,
//! so a hot path pays one uncontended add. Must never: hold a lock, or know who reads them.

use std::sync::atomic::{AtomicU64, Ordering};

use super::histogram::{DurationHistogram, TICK_BUCKETS_MICROS};
use crate::protocol::CloseReason;

/// Network counters, read by `/healthz`, `/metrics` and the summary log.
#[derive(Debug, Default)]
pub struct NetStats {
    pub connections_accepted: AtomicU64,
    /// Connections that ended after joining, by [`CloseReason::index`].
    pub closed: [AtomicU64; CloseReason::ALL.len()],
    /// Connections that ended before joining (refused or abandoned), by reason.
    pub rejected: [AtomicU64; CloseReason::ALL.len()],
    /// Upgrade requests refused before a WebSocket existed (bad handshake headers).
    pub upgrades_refused: AtomicU64,
    pub inputs_received: AtomicU64,
    /// Inputs dropped because the room's queue was full.
    pub inputs_dropped_queue_full: AtomicU64,
    pub bytes_in: AtomicU64,
    /// WebSocket frames' bytes written to sockets (headers included).
    pub bytes_out: AtomicU64,
    /// Chat lines refused by the rate limit.
    pub chat_rate_limited: AtomicU64,
    /// Messages dropped by the per-connection message rate limit.
    pub messages_rate_limited: AtomicU64,
    /// Upgrades refused for their Origin (403) or by the authenticator (401).
    pub refused_origin: AtomicU64,
    pub refused_auth: AtomicU64,
    /// TLS handshakes that failed or took longer than the handshake timeout.
    pub tls_handshakes_failed: AtomicU64,
}

/// Counters about delivery, read by health and metrics endpoints.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub snapshots_sent: AtomicU64,
    /// Snapshots a slow reader never saw because a newer one replaced them first.
    pub snapshots_skipped: AtomicU64,
    /// Snapshots not encoded for a player whose writer had not yet taken the previous tick's.
    pub snapshots_not_encoded: AtomicU64,
    pub kicked_slow: AtomicU64,
}

/// Counters a room and its driver publish for the rest of the server (health, metrics).
#[derive(Debug)]
pub struct RoomStats {
    /// Duration of each wake-up's work (usually one tick; several when catching up).
    pub tick_duration: DurationHistogram,
    pub tick: AtomicU64,
    pub players: AtomicU64,
    /// Players kept in the world, away, for the resume grace (stored each tick).
    pub players_away: AtomicU64,
    pub ticks_total: AtomicU64,
    /// Ticks whose work took longer than the tick period.
    pub overruns: AtomicU64,
    /// Ticks skipped because the loop fell further behind than it may catch up.
    pub ticks_dropped: AtomicU64,
    pub last_tick_micros: AtomicU64,
    pub last_snapshot_bytes: AtomicU64,
    /// The arena's width and height (whole units) at the last tick.
    pub arena_width: AtomicU64,
    pub arena_height: AtomicU64,
    pub inputs_applied: AtomicU64,
    /// Inputs discarded by the world: queue overflow, stale sequence or unknown player.
    pub inputs_dropped: AtomicU64,
}

impl RoomStats {
    /// Adds `other`'s counters and tick durations to these (a closed room's, kept in the
    /// process's totals so that counters never go back).
    pub fn absorb_counters(&self, other: &RoomStats) {
        let add = |mine: &AtomicU64, theirs: &AtomicU64| {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        };
        self.tick_duration.absorb(&other.tick_duration);
        add(&self.ticks_total, &other.ticks_total);
        add(&self.overruns, &other.overruns);
        add(&self.ticks_dropped, &other.ticks_dropped);
        add(&self.inputs_applied, &other.inputs_applied);
        add(&self.inputs_dropped, &other.inputs_dropped);
    }

    /// Adds `other`'s counters, and its readings of now: players and snapshot bytes add up,
    /// so do players away; the tick, the tick's duration and the arena's sides are the largest of any room.
    pub fn absorb(&self, other: &RoomStats) {
        self.absorb_counters(other);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.players
            .fetch_add(load(&other.players), Ordering::Relaxed);
        self.players_away
            .fetch_add(load(&other.players_away), Ordering::Relaxed);
        self.last_snapshot_bytes
            .fetch_add(load(&other.last_snapshot_bytes), Ordering::Relaxed);
        for (mine, theirs) in [
            (&self.tick, &other.tick),
            (&self.last_tick_micros, &other.last_tick_micros),
            (&self.arena_width, &other.arena_width),
            (&self.arena_height, &other.arena_height),
        ] {
            mine.fetch_max(load(theirs), Ordering::Relaxed);
        }
    }
}

impl Default for RoomStats {
    fn default() -> RoomStats {
        RoomStats {
            tick_duration: DurationHistogram::new(&TICK_BUCKETS_MICROS),
            tick: AtomicU64::default(),
            players: AtomicU64::default(),
            players_away: AtomicU64::default(),
            ticks_total: AtomicU64::default(),
            overruns: AtomicU64::default(),
            ticks_dropped: AtomicU64::default(),
            last_tick_micros: AtomicU64::default(),
            last_snapshot_bytes: AtomicU64::default(),
            arena_width: AtomicU64::default(),
            arena_height: AtomicU64::default(),
            inputs_applied: AtomicU64::default(),
            inputs_dropped: AtomicU64::default(),
        }
    }
}
