//! How big the arena is: fixed, or sized to the number of players so that the game stays as
//! crowded as it is fun to play (and each player's area of interest holds about the same number
//! of ships, which keeps a snapshot's size independent of how many play). Pure: the world asks
//! [`ArenaRule::resize`] once a second and applies the answer.
//!
//! A growing arena grows at once with headroom (so a stream of joins resizes it every few
//! seconds, not every second), and shrinks only when it is much too large, by at most a
//! twentieth of its area a second (a side moves in by about 2.5%: at 1000 players' size, about
//! a ship's top speed), so that walls close in gradually.

use crate::protocol::snapshot::MAX_ARENA_SIDE;

/// The smallest side an arena may have, in units.
pub const MIN_ARENA_SIDE: f32 = 200.0;
/// Arena sides are whole multiples of this many units (sent as whole units in snapshots).
const SIDE_STEP: f32 = 16.0;
/// A growing arena gets this much more area than its players need.
const GROWTH_HEADROOM: f32 = 1.25;
/// A sized arena larger than its minimum shrinks when it has more than this many times the area
/// its players need.
const SHRINK_WHEN_ABOVE: f32 = 1.75;
/// The least fraction of its area an arena keeps when it shrinks once.
const MAX_SHRINK_STEP: f32 = 0.95;

/// How the arena's size is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArenaRule {
    /// Always this size.
    Fixed { width: f32, height: f32 },
    /// At least `min_width` x `min_height`, growing (in that aspect ratio) to give each player
    /// about `area_per_player` square units.
    PerPlayer {
        min_width: f32,
        min_height: f32,
        area_per_player: f32,
    },
}

impl ArenaRule {
    /// The size an arena starts at.
    pub fn initial(&self) -> (f32, f32) {
        match *self {
            ArenaRule::Fixed { width, height } => (width, height),
            ArenaRule::PerPlayer {
                min_width,
                min_height,
                ..
            } => (min_width, min_height),
        }
    }

    /// The size the arena should take now that `players` play in an arena of `current` size;
    /// `None` to keep it.
    pub fn resize(&self, players: usize, current: (f32, f32)) -> Option<(f32, f32)> {
        let ArenaRule::PerPlayer {
            min_width,
            min_height,
            area_per_player,
        } = *self
        else {
            return None;
        };
        let min_area = min_width * min_height;
        let needed = players as f32 * area_per_player;
        let desired = (needed * GROWTH_HEADROOM).max(min_area);
        let area = current.0 * current.1;
        let too_large =
            area > desired && (desired == min_area || area > needed * SHRINK_WHEN_ABOVE);
        let target = if area < needed {
            desired
        } else if too_large {
            desired.max(area * MAX_SHRINK_STEP)
        } else {
            return None;
        };
        let size = if target <= min_area {
            (min_width, min_height)
        } else {
            with_aspect(target, min_width / min_height)
        };
        (size != current).then_some(size)
    }
}

/// A `width x height` of about `area`, in whole steps, within the sides' bounds.
fn with_aspect(area: f32, aspect: f32) -> (f32, f32) {
    let side = |length: f32| {
        ((length / SIDE_STEP).round() * SIDE_STEP).clamp(MIN_ARENA_SIDE, MAX_ARENA_SIDE)
    };
    let width = (area * aspect).sqrt();
    (side(width), side(area / width))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ArenaRule = ArenaRule::PerPlayer {
        min_width: 3000.0,
        min_height: 2000.0,
        area_per_player: 150_000.0,
    };

    #[test]
    fn a_fixed_arena_never_changes() {
        let rule = ArenaRule::Fixed {
            width: 1000.0,
            height: 700.0,
        };
        assert_eq!(rule.initial(), (1000.0, 700.0));
        assert_eq!(rule.resize(5000, (1000.0, 700.0)), None);
    }

    #[test]
    fn few_players_keep_the_minimum_arena() {
        assert_eq!(RULE.initial(), (3000.0, 2000.0));
        for players in [0, 1, 20, 40] {
            assert_eq!(RULE.resize(players, (3000.0, 2000.0)), None, "{players}");
        }
    }

    #[test]
    fn a_crowd_grows_the_arena_with_headroom_in_its_aspect() {
        let (width, height) = RULE.resize(1000, (3000.0, 2000.0)).unwrap();
        let per_player = width * height / 1000.0;
        assert!(
            (150_000.0 * 1.2..150_000.0 * 1.3).contains(&per_player),
            "{per_player}"
        );
        assert!((width / height - 1.5).abs() < 0.01, "{width}x{height}");
        assert_eq!(width % SIDE_STEP, 0.0);
        // Settled: the same crowd, or a few more or less, leaves it alone.
        for players in [1000, 1100, 900, 800] {
            assert_eq!(RULE.resize(players, (width, height)), None, "{players}");
        }
    }

    #[test]
    fn an_emptied_arena_shrinks_a_twentieth_at_a_time_down_to_the_minimum() {
        let mut size = RULE.resize(1000, (3000.0, 2000.0)).unwrap();
        let mut steps = 0;
        while let Some(next) = RULE.resize(0, size) {
            assert!(
                next.0 * next.1 >= size.0 * size.1 * 0.94,
                "{next:?} from {size:?}"
            );
            size = next;
            steps += 1;
            assert!(steps < 100);
        }
        assert_eq!(size, (3000.0, 2000.0));
        assert!(steps > 50, "{steps}");
    }

    #[test]
    fn sides_stay_within_the_protocol_s_bounds() {
        let (width, height) = RULE.resize(1_000_000, (3000.0, 2000.0)).unwrap();
        assert_eq!((width, height), (MAX_ARENA_SIDE, MAX_ARENA_SIDE));
    }
}
