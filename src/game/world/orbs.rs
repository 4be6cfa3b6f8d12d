//! Orbs to collect: how many an arena holds (in proportion to its area), where they are
//! placed, and the pickup that scores and moves them (checked only for orbs near a player, with
//! the outcome of checking every orb). Must never draw a point from anything but the world's
//! seeded RNG: a replay depends on it.

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
        self.orbs_moved = true;
        self.orbs.truncate(count);
        while self.orbs.len() < count {
            let (x, y) = self.random_point(self.params.orb_radius * 2.0);
            self.orbs.push(Orb { x, y });
        }
    }

    /// Each orb a player touches scores for the first such player (by index) and moves to a
    /// random point, orbs in index order. Only the orbs near some player's grid cell are
    /// checked (the others cannot be touched: a pickup's reach is less than a cell), with the
    /// same check as for every orb, so the outcome and the draws from the RNG are the same as
    /// checking them all.
    pub(super) fn resolve_orb_pickups(&mut self) {
        let reach = self.params.player_radius + self.params.orb_radius;
        debug_assert!(
            reach < super::GRID_CELL_SIZE,
            "a pickup reaches beyond the next cell"
        );
        self.refresh_orb_grid();
        // One bit per orb, set for each orb in or beside a cell holding a player; then the
        // set bits in ascending order, as checking every orb would take them.
        let mut marks = std::mem::take(&mut self.orb_candidates);
        marks.clear();
        marks.resize(self.orbs.len().div_ceil(64), 0);
        let orb_grid = &self.orb_grid;
        self.grid.for_each_occupied_cell(|column, row| {
            orb_grid.for_each_in_cells(column, row, 1, |o| marks[o / 64] |= 1 << (o % 64));
        });
        for (word, &marked) in marks.iter().enumerate() {
            let mut bits = marked;
            while bits != 0 {
                let o = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let orb = self.orbs[o];
                if let Some(collector) = self.find_player_touching(orb.x, orb.y, reach, |_| true) {
                    self.players[collector].score += ORB_VALUE;
                    let (x, y) = self.random_point(self.params.orb_radius * 2.0);
                    self.orbs[o] = Orb { x, y };
                    self.orbs_moved = true;
                }
            }
        }
        self.orb_candidates = marks;
    }

    /// Re-buckets the orbs if any moved since the last time.
    fn refresh_orb_grid(&mut self) {
        if self.orbs_moved || self.orb_grid.len() != self.orbs.len() {
            self.orb_grid.reserve(self.orbs.len());
            self.orb_grid
                .rebuild(self.orbs.iter().map(|orb| (orb.x, orb.y)));
            self.orbs_moved = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::world::WorldConfig;
    use crate::protocol::{PlayerId, PlayerInput, buttons};

    /// The rule as it was: every orb asks the grid for a player touching it.
    fn check_every_orb(world: &mut World) {
        let reach = world.params.player_radius + world.params.orb_radius;
        for o in 0..world.orbs.len() {
            let orb = world.orbs[o];
            if let Some(collector) = world.find_player_touching(orb.x, orb.y, reach, |_| true) {
                world.players[collector].score += ORB_VALUE;
                let (x, y) = world.random_point(world.params.orb_radius * 2.0);
                world.orbs[o] = Orb { x, y };
            }
        }
    }

    #[test]
    fn checking_only_orbs_near_players_plays_the_same_game_as_checking_every_orb() {
        for (players, seed) in [(2, 11), (12, 12), (60, 13)] {
            let config = WorldConfig::new(30, seed);
            let (mut fast, mut every) = (World::new(&config), World::new(&config));
            let mut lcg = seed as u32;
            let mut next = move || {
                lcg = lcg.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                lcg >> 8
            };
            let mut collected = 0;
            for tick in 1..=900u32 {
                // Players join over the first seconds and one leaves now and then: respawns,
                // leaves and a growing arena all happen.
                if tick <= players {
                    fast.add_player(PlayerId(tick));
                    every.add_player(PlayerId(tick));
                }
                if tick % 97 == 0 {
                    let gone = PlayerId(1 + next() % players);
                    fast.remove_player(gone);
                    every.remove_player(gone);
                    // Back at once, as a new ship somewhere else.
                    fast.add_player(gone);
                    every.add_player(gone);
                }
                for id in 1..=players.min(tick) {
                    let input = PlayerInput {
                        seq: tick,
                        buttons: (next() % 32) as u8
                            & (buttons::UP
                                | buttons::DOWN
                                | buttons::LEFT
                                | buttons::RIGHT
                                | buttons::FIRE),
                        aim: (next() % 628) as f32 / 100.0,
                        ..Default::default()
                    };
                    fast.queue_input(PlayerId(id), input);
                    every.queue_input(PlayerId(id), input);
                }
                fast.step();
                every.step_resolving_pickups_with(check_every_orb);
                let scores = |w: &World| {
                    w.players
                        .iter()
                        .map(|p| (p.id, p.score))
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    scores(&fast),
                    scores(&every),
                    "{players} players, tick {tick}"
                );
                let orbs = |w: &World| w.orbs.iter().map(|o| (o.x, o.y)).collect::<Vec<_>>();
                assert_eq!(orbs(&fast), orbs(&every), "{players} players, tick {tick}");
            }
            collected += fast.players.iter().map(|p| p.score).sum::<u32>();
            assert!(
                collected > 0,
                "{players} players collected nothing: the test saw no pickup"
            );
        }
    }
}
