//! One room's fixed-timestep schedule: when its next tick is due, how many ticks to simulate
//! when it is late (catching up within a bound, then dropping the backlog rather than spiral),
//! and the timing of every step into the room's statistics, with a window for summaries and for
//! telling a room that keeps overrunning its budget. Pure: `now` is passed in.
//! Must never: read the clock, or let a room fall further behind than its catch-up bound.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::metrics::RoomStats;

/// How long a window of ticks summarises, and over which an overrunning room is told.
pub const WINDOW: Duration = Duration::from_secs(5);
/// A room whose steps overran its tick period in more than this share of a window's ticks is
/// reported as overrunning.
pub const OVERRUN_SHARE: f64 = 0.25;

/// What one window of steps measured.
#[derive(Debug, Default, Clone, Copy)]
pub struct Window {
    pub steps: u64,
    pub busy: Duration,
    pub max: Duration,
    pub overruns: u64,
}

impl Window {
    pub fn mean(&self) -> Duration {
        self.busy
            .checked_div(self.steps.max(1) as u32)
            .unwrap_or_default()
    }

    /// Whether the room overran its budget in too many of this window's steps.
    pub fn is_overrunning(&self) -> bool {
        self.steps > 0 && self.overruns as f64 > OVERRUN_SHARE * self.steps as f64
    }
}

/// One room's schedule.
#[derive(Debug)]
pub struct RoomClock {
    period: Duration,
    max_catch_up: u32,
    next_tick: Instant,
    window: Window,
    window_started: Instant,
}

impl RoomClock {
    pub fn new(tick_hz: u16, max_catch_up: u32, now: Instant) -> RoomClock {
        RoomClock {
            period: Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1))),
            max_catch_up: max_catch_up.max(1),
            next_tick: now,
            window: Window::default(),
            window_started: now,
        }
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    /// When the next tick is due.
    pub fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// How many ticks to simulate at `now` (0 if none is due), bounded by the catch-up limit.
    pub fn ticks_due(&self, now: Instant) -> u32 {
        if now < self.next_tick {
            return 0;
        }
        let late = now.duration_since(self.next_tick);
        let due = 1 + (late.as_secs_f64() / self.period.as_secs_f64()) as u32;
        due.min(self.max_catch_up)
    }

    /// Records a step of `ticks` ticks that took `took` and ended at `now`; schedules the next.
    pub fn stepped(&mut self, ticks: u32, took: Duration, now: Instant, stats: &RoomStats) {
        self.window.steps += 1;
        self.window.busy += took;
        self.window.max = self.window.max.max(took);
        stats
            .last_tick_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        stats.tick_duration.observe(took);
        if took > self.period {
            self.window.overruns += 1;
            stats.overruns.fetch_add(1, Ordering::Relaxed);
        }
        self.next_tick += self.period * ticks;
        if now > self.next_tick + self.period * self.max_catch_up {
            // Still hopelessly behind: drop the backlog rather than spiral.
            let behind = now.duration_since(self.next_tick);
            let dropped = (behind.as_secs_f64() / self.period.as_secs_f64()) as u64;
            stats.ticks_dropped.fetch_add(dropped, Ordering::Relaxed);
            self.next_tick = now;
        }
    }

    /// The window's figures once [`WINDOW`] has passed since it began (and a new one begins).
    pub fn take_window(&mut self, now: Instant) -> Option<Window> {
        if now.duration_since(self.window_started) < WINDOW {
            return None;
        }
        self.window_started = now;
        Some(std::mem::take(&mut self.window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_due_at_its_time_and_a_late_room_catches_up_within_its_bound() {
        let start = Instant::now();
        let stats = RoomStats::default();
        let mut clock = RoomClock::new(30, 5, start);
        assert_eq!(clock.ticks_due(start), 1);
        clock.stepped(1, Duration::from_millis(1), start, &stats);
        assert_eq!(clock.ticks_due(start), 0, "the next is a period away");
        let period = clock.period();
        assert_eq!(clock.ticks_due(start + period), 1);
        assert_eq!(clock.ticks_due(start + period * 3), 3);
        assert_eq!(clock.ticks_due(start + period * 40), 5, "bounded");
    }

    #[test]
    fn a_room_hopelessly_behind_drops_its_backlog() {
        let start = Instant::now();
        let stats = RoomStats::default();
        let mut clock = RoomClock::new(10, 2, start);
        let late = start + Duration::from_secs(2);
        clock.stepped(2, Duration::from_millis(1), late, &stats);
        assert!(stats.ticks_dropped.load(Ordering::Relaxed) >= 15);
        assert_eq!(clock.next_tick(), late, "starts again from now");
    }

    #[test]
    fn a_window_tells_a_room_that_keeps_overrunning() {
        let start = Instant::now();
        let stats = RoomStats::default();
        let mut clock = RoomClock::new(100, 5, start);
        let period = clock.period();
        for i in 0..10 {
            let took = if i < 3 { period * 2 } else { period / 10 };
            clock.stepped(1, took, start + period * i, &stats);
        }
        assert!(clock.take_window(start + Duration::from_secs(1)).is_none());
        let window = clock.take_window(start + WINDOW).unwrap();
        assert_eq!((window.steps, window.overruns), (10, 3));
        assert!(window.is_overrunning(), "3 of 10 is over a quarter");
        assert_eq!(stats.overruns.load(Ordering::Relaxed), 3);
    }
}
