//! The fixed-timestep driver: steps one [`Room`] on the calling thread at the room's tick rate,
//! catches up after a stall (within a bound, then drops the backlog), times every wake-up into
//! the room's statistics and logs a summary every few seconds. The only code that reads the
//! clock for a room.
//!
//! Must never: touch the room's state other than through [`Room::step`], or sleep while ticks
//! are due.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::room::{Outbox, Room};

/// Tick-duration summary over one report interval.
#[derive(Debug, Default)]
struct DurationWindow {
    ticks: u64,
    total: Duration,
    max: Duration,
    overruns: u64,
}

pub struct TickLoop<O: Outbox> {
    room: Room<O>,
    period: Duration,
    /// How often the loop logs its tick-duration summary.
    report_interval: Duration,
    window: DurationWindow,
}

impl<O: Outbox> TickLoop<O> {
    pub fn new(room: Room<O>, report_interval: Duration) -> TickLoop<O> {
        TickLoop {
            period: Duration::from_secs_f64(1.0 / f64::from(room.tick_hz())),
            room,
            report_interval,
            window: DurationWindow::default(),
        }
    }

    /// Runs ticks on the calling thread at the room's rate until `stop` is set.
    pub fn run(mut self, stop: &CancellationToken) {
        let mut next_tick = Instant::now();
        let mut last_report = Instant::now();
        let max_catch_up = self.room.config().max_catch_up_ticks;
        while !stop.is_cancelled() {
            let now = Instant::now();
            if now < next_tick {
                std::thread::sleep(next_tick - now);
                continue;
            }
            let due = self.ticks_due(now, next_tick);
            let started = Instant::now();
            self.room.step(due);
            self.record_duration(started.elapsed());
            next_tick += self.period * due;
            if Instant::now() > next_tick + self.period * max_catch_up {
                // Still hopelessly behind: drop the backlog rather than spiral.
                let behind = Instant::now().duration_since(next_tick);
                let dropped = (behind.as_secs_f64() / self.period.as_secs_f64()) as u64;
                self.room
                    .stats()
                    .ticks_dropped
                    .fetch_add(dropped, Ordering::Relaxed);
                next_tick = Instant::now();
            }
            if last_report.elapsed() >= self.report_interval {
                self.log_report();
                last_report = Instant::now();
            }
        }
    }

    /// How many ticks to simulate now, bounded by the catch-up limit.
    fn ticks_due(&self, now: Instant, next_tick: Instant) -> u32 {
        let late = now.duration_since(next_tick);
        let due = 1 + (late.as_secs_f64() / self.period.as_secs_f64()) as u32;
        due.min(self.room.config().max_catch_up_ticks.max(1))
    }

    fn record_duration(&mut self, took: Duration) {
        let window = &mut self.window;
        window.ticks += 1;
        window.total += took;
        window.max = window.max.max(took);
        let stats = self.room.stats();
        stats
            .last_tick_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        stats.tick_duration.observe(took);
        if took > self.period {
            window.overruns += 1;
            stats.overruns.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn log_report(&mut self) {
        let window = std::mem::take(&mut self.window);
        let mean = window
            .total
            .checked_div(window.ticks.max(1) as u32)
            .unwrap_or_default();
        let world = self.room.world();
        let stats = self.room.stats();
        tracing::info!(
            ticks = window.ticks,
            mean_us = mean.as_micros() as u64,
            max_us = window.max.as_micros() as u64,
            overruns = window.overruns,
            dropped_total = stats.ticks_dropped.load(Ordering::Relaxed),
            players = world.players().len(),
            mean_frame_bytes = stats.last_snapshot_bytes.load(Ordering::Relaxed),
            arena = %format_args!(
                "{}x{}",
                world.params().arena_width,
                world.params().arena_height
            ),
            "tick summary"
        );
    }
}
