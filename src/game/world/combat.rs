//! Bolts in flight and what they hit: each tick's flight, the hit test judged where the targets
//! were when the shooter saw them (see [`super::lag_compensation`]), the tag that moves score
//! from victim to shooter and respawns the victim, and the position history that test reads.
//! Must never tag a protected ship or its own shooter.

use super::{Bolt, MAX_INPUT_STEPS_BANKED, World};
use crate::game::params::TAG_BONUS;
use crate::protocol::{PlayerId, Tagged};

impl World {
    /// Adds this tick's positions to every ship's history.
    pub(super) fn record_positions(&mut self) {
        let tick = self.tick;
        for player in &mut self.players {
            player.history.record(tick, player.body.x, player.body.y);
        }
    }

    pub(super) fn step_bolts(&mut self) {
        let (dt, width, height) = (self.dt, self.params.arena_width, self.params.arena_height);
        self.bolts.retain_mut(|bolt| {
            bolt.x += bolt.vx * dt;
            bolt.y += bolt.vy * dt;
            bolt.ticks_left = bolt.ticks_left.saturating_sub(1);
            bolt.ticks_left > 0
                && (0.0..=width).contains(&bolt.x)
                && (0.0..=height).contains(&bolt.y)
        });
    }

    pub(super) fn resolve_bolt_hits(&mut self) {
        let mut b = 0;
        while b < self.bolts.len() {
            let bolt = self.bolts[b];
            match self.find_bolt_victim(&bolt) {
                Some(victim) => {
                    self.bolts.swap_remove(b);
                    self.tag(bolt.owner, victim);
                }
                None => b += 1,
            }
        }
    }

    /// The first player (by index) that `bolt` touches, each target taken where it was when its
    /// shooter saw it (the shooter's view lag ago; see [`super::lag_compensation`]). Protection is
    /// judged now: a ship protected now cannot be tagged for where it was.
    fn find_bolt_victim(&self, bolt: &Bolt) -> Option<usize> {
        let reach = self.params.player_radius + self.params.bolt_radius;
        let rewind = self
            .index_of
            .get(&bolt.owner)
            .map_or(0, |&i| self.players[i].view_lag);
        if rewind == 0 {
            return self.find_player_touching(bolt.x, bolt.y, reach, |p| {
                p.id != bolt.owner && !p.is_protected()
            });
        }
        // The grid holds current positions: widen the search by the furthest a ship can have
        // travelled since (a step moves at most max_speed * dt; a tick takes at most the
        // banked steps).
        let steps = f32::from(rewind) + f32::from(MAX_INPUT_STEPS_BANKED);
        let travel = steps * self.params.max_speed * self.dt + 1.0;
        let mut found: Option<usize> = None;
        self.grid
            .for_each_near(bolt.x, bolt.y, reach + travel, |i| {
                let p = &self.players[i];
                if p.id == bolt.owner || p.is_protected() || found.is_some_and(|f| f < i) {
                    return;
                }
                let (x, y) = p.history.position_before_newest(rewind);
                let (dx, dy) = (x - bolt.x, y - bolt.y);
                if dx * dx + dy * dy <= reach * reach {
                    found = Some(i);
                }
            });
        found
    }

    fn tag(&mut self, shooter: PlayerId, victim_index: usize) {
        let victim = &mut self.players[victim_index];
        let stolen = victim.score / 2;
        victim.score -= stolen;
        let victim_id = victim.id;
        if let Some(&shooter_index) = self.index_of.get(&shooter) {
            self.players[shooter_index].score += TAG_BONUS + stolen;
        }
        self.respawn(victim_index);
        self.tags.push(Tagged {
            tick: self.tick,
            shooter,
            victim: victim_id,
        });
    }
}
