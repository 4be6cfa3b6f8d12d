//! Orbs to collect: how many an arena holds (in proportion to its area), where they are
//! placed, and the pickup that scores and moves them. Must never draw a point from anything but
//! the world's seeded RNG: a replay depends on it.

use super::{Orb, World};
use crate::game::params::ORB_VALUE;

/// Orbs per arena unit squared: 250 in the default 3000 x 2000 arena.
const ORBS_PER_AREA: f32 = 250.0 / (3000.0 * 2000.0);

/// The orbs an arena of this size holds.
pub fn orb_count(width: f32, height: f32) -> usize {
    ((width * height * ORBS_PER_AREA).round() as usize).max(1)
}

impl World {
    /// Makes the orbs `count`: drops the newest, or adds some at random points.
    pub(super) fn place_orbs(&mut self, count: usize) {
        self.orbs.truncate(count);
        while self.orbs.len() < count {
            let (x, y) = self.random_point(self.params.orb_radius * 2.0);
            self.orbs.push(Orb { x, y });
        }
    }

    pub(super) fn resolve_orb_pickups(&mut self) {
        let reach = self.params.player_radius + self.params.orb_radius;
        for o in 0..self.orbs.len() {
            let orb = self.orbs[o];
            if let Some(collector) = self.find_player_touching(orb.x, orb.y, reach, |_| true) {
                self.players[collector].score += ORB_VALUE;
                let (x, y) = self.random_point(self.params.orb_radius * 2.0);
                self.orbs[o] = Orb { x, y };
            }
        }
    }
}
