//! Lag compensation: where each ship was during the last few ticks, so that a bolt is judged
//! against the world its shooter was looking at.
//!
//! A client draws the other ships a little in the past (its interpolation delay, plus the time
//! the snapshot took to reach it), and says which server tick it was drawing with every input
//! (`Input.view_tick`). When that input is applied at tick `A`, the shooter's *view lag* becomes
//! `A - view_tick` ticks. From then on, at every tick `T`, the shooter's bolts are tested
//! against where the targets were at `T - view lag`: a target that has moved on since the
//! shooter saw it is still hit where the shooter saw it. The bolt itself is never rewound (it
//! leaves from the shooter's own, predicted-in-sync position).
//!
//! The rule, with its limits:
//! - the rewind is at most [`MAX_REWIND_MS`] by default (`WorldConfig::max_rewind_ms`): a view
//!   lag beyond it is clamped to it, so a very laggy shooter gets partial compensation and a
//!   target is never hit where it was more than that long ago;
//! - a `view_tick` ahead of the tick the input is applied at (the future) or more than
//!   [`MAX_PLAUSIBLE_VIEW_LAG_MS`] behind it (a client that is not drawing the present game:
//!   before its first snapshot, after a stall, or lying) is ignored: no rewind;
//! - a target whose history is shorter than the rewind (it joined or respawned since) is judged
//!   at its oldest recorded position; a respawn restarts the history, so nobody is hit where
//!   they were before being tagged.
//!
//! Everything here is pure and sized once: each ship's history is a ring allocated when the
//! ship is created, written once per tick, never grown.

use crate::protocol::Tick;

/// Default cap on how far back a shooter's view is honoured.
pub const MAX_REWIND_MS: u32 = 250;

/// A `view_tick` further behind than this is not a view of the present game: ignored.
pub const MAX_PLAUSIBLE_VIEW_LAG_MS: u32 = 1000;

/// The longest rewind in ticks at `tick_hz` for a cap of `max_rewind_ms` (rounded down, so the
/// rewind never exceeds the cap).
pub fn max_rewind_ticks(tick_hz: u16, max_rewind_ms: u32) -> u16 {
    let ticks = u64::from(tick_hz) * u64::from(max_rewind_ms) / 1000;
    ticks.min(u64::from(u16::MAX - 1)) as u16
}

/// The view lag (ticks to rewind) of an input carrying `view_tick`, applied at `applied_at`:
/// clamped to `max_rewind`, or 0 when the view tick is in the future or implausibly old.
pub fn view_lag(applied_at: Tick, view_tick: Tick, tick_hz: u16, max_rewind: u16) -> u16 {
    let behind = applied_at.since(view_tick);
    let plausible = i64::from(tick_hz) * i64::from(MAX_PLAUSIBLE_VIEW_LAG_MS) / 1000;
    if behind <= 0 || i64::from(behind) > plausible {
        return 0;
    }
    behind.min(i32::from(max_rewind)) as u16
}

/// One ship's positions over its last ticks: a ring, newest at `head`.
#[derive(Debug, Clone)]
pub struct PositionHistory {
    /// One slot per tick; only the `recorded` slots ending at `head` are meaningful.
    positions: Box<[(f32, f32)]>,
    /// The slot of the newest position.
    head: usize,
    /// The tick of the newest position.
    newest: Tick,
    /// How many ticks back from `newest` (inclusive) are recorded: 1..=positions.len().
    recorded: usize,
}

impl PositionHistory {
    /// A history able to rewind `max_rewind` ticks, starting with one position at `tick`.
    pub fn new(max_rewind: u16, tick: Tick, x: f32, y: f32) -> PositionHistory {
        PositionHistory {
            positions: vec![(x, y); usize::from(max_rewind) + 1].into_boxed_slice(),
            head: 0,
            newest: tick,
            recorded: 1,
        }
    }

    /// Records the position at `tick`, normally the tick after the newest. Ticks skipped in
    /// between are taken to have held the previous position; the same tick again overwrites.
    pub fn record(&mut self, tick: Tick, x: f32, y: f32) {
        let ahead = tick.since(self.newest);
        if ahead <= 0 {
            self.positions[self.head] = (x, y);
            return;
        }
        let len = self.positions.len();
        let held = self.positions[self.head];
        let skipped = (ahead as usize - 1).min(len);
        for _ in 0..skipped {
            self.head = (self.head + 1) % len;
            self.positions[self.head] = held;
        }
        self.head = (self.head + 1) % len;
        self.positions[self.head] = (x, y);
        self.newest = tick;
        self.recorded = (self.recorded + ahead as usize).min(len);
    }

    /// Forgets the past: the ship is at (`x`, `y`) at `tick` and was nowhere before (a spawn).
    pub fn restart(&mut self, tick: Tick, x: f32, y: f32) {
        self.newest = tick;
        self.recorded = 1;
        self.positions[self.head] = (x, y);
    }

    /// The position `rewind` ticks before the newest, or the oldest recorded one if the
    /// history does not reach that far.
    pub fn position_before_newest(&self, rewind: u16) -> (f32, f32) {
        let len = self.positions.len();
        let back = usize::from(rewind).min(self.recorded - 1);
        self.positions[(self.head + len - back) % len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_rounded_down_to_whole_ticks() {
        assert_eq!(max_rewind_ticks(30, 250), 7);
        assert_eq!(max_rewind_ticks(60, 250), 15);
        assert_eq!(max_rewind_ticks(20, 250), 5);
        assert_eq!(max_rewind_ticks(30, 0), 0);
    }

    #[test]
    fn view_lag_is_clamped_and_nonsense_is_ignored() {
        let now = Tick(1000);
        assert_eq!(view_lag(now, Tick(1000), 30, 7), 0, "no lag");
        assert_eq!(view_lag(now, Tick(996), 30, 7), 4);
        assert_eq!(
            view_lag(now, Tick(990), 30, 7),
            7,
            "beyond the cap: clamped"
        );
        assert_eq!(
            view_lag(now, Tick(970), 30, 7),
            7,
            "one second: still plausible"
        );
        assert_eq!(view_lag(now, Tick(969), 30, 7), 0, "over a second: ignored");
        assert_eq!(view_lag(now, Tick(1001), 30, 7), 0, "the future: ignored");
        assert_eq!(
            view_lag(now, Tick(0), 30, 7),
            0,
            "before any snapshot: ignored"
        );
        assert_eq!(
            view_lag(Tick(2), Tick(u32::MAX - 1), 30, 7),
            4,
            "across the wrap"
        );
    }

    #[test]
    fn the_history_answers_for_recorded_ticks_and_clamps_beyond() {
        let mut history = PositionHistory::new(3, Tick(10), 0.0, 0.0);
        for tick in 11..=20 {
            history.record(Tick(tick), tick as f32, 0.0);
        }
        assert_eq!(history.position_before_newest(0), (20.0, 0.0));
        assert_eq!(history.position_before_newest(3), (17.0, 0.0));
        assert_eq!(
            history.position_before_newest(9),
            (17.0, 0.0),
            "ring holds 4"
        );

        history.restart(Tick(21), 500.0, 500.0);
        assert_eq!(
            history.position_before_newest(2),
            (500.0, 500.0),
            "respawn forgets"
        );
        history.record(Tick(22), 501.0, 500.0);
        assert_eq!(history.position_before_newest(1), (500.0, 500.0));
        assert_eq!(history.position_before_newest(3), (500.0, 500.0));
    }

    #[test]
    fn skipped_ticks_hold_the_previous_position_and_wrap_is_seamless() {
        let mut history = PositionHistory::new(4, Tick(u32::MAX - 1), 1.0, 1.0);
        history.record(Tick(u32::MAX), 2.0, 2.0);
        history.record(Tick(2), 5.0, 5.0);
        assert_eq!(history.position_before_newest(0), (5.0, 5.0));
        assert_eq!(history.position_before_newest(1), (2.0, 2.0));
        assert_eq!(history.position_before_newest(2), (2.0, 2.0));
        assert_eq!(history.position_before_newest(3), (2.0, 2.0));
        assert_eq!(history.position_before_newest(4), (1.0, 1.0));
    }
}
