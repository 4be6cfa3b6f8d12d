//! Ships entering and leaving the field: a join spawns a ship at a free point, a tag respawns
//! it there protected, going away pauses it, leaving removes it. Must never place a ship on top
//! of another when a free point turns up within a few attempts.

use std::collections::VecDeque;

use super::lag_compensation::PositionHistory;
use super::{MAX_PENDING_INPUTS, Player, World};
use crate::game::movement::Body;
use crate::protocol::PlayerId;

/// Attempts to find a spawn point away from other ships before settling for any point.
const SPAWN_ATTEMPTS: usize = 16;

impl World {
    /// Spawns a ship for `id` at a random free point. Returns false if `id` is already playing.
    pub fn add_player(&mut self, id: PlayerId) -> bool {
        if self.index_of.contains_key(&id) {
            return false;
        }
        if self.grid_stale {
            self.rebuild_grid();
        }
        let (x, y) = self.free_spawn_point();
        let index = self.players.len();
        self.index_of.insert(id, index);
        self.grid.place(index, x, y);
        self.reserve_for_players(index + 1);
        self.players.push(Player {
            id,
            body: Body {
                x,
                y,
                vx: 0.0,
                vy: 0.0,
            },
            aim: 0.0,
            score: 0,
            last_input_seq: 0,
            pending: VecDeque::with_capacity(MAX_PENDING_INPUTS),
            banked_steps: 1,
            fire_cooldown: 0,
            protection: self.params.spawn_protection_ticks,
            away: false,
            history: PositionHistory::new(self.max_rewind, self.tick, x, y),
            view_lag: 0,
        });
        true
    }

    /// Marks `id` as away (connection lost) or back. Going away drops its waiting inputs.
    /// Returns false if it is not playing.
    pub fn set_away(&mut self, id: PlayerId, away: bool) -> bool {
        let Some(&index) = self.index_of.get(&id) else {
            return false;
        };
        let player = &mut self.players[index];
        player.away = away;
        if away {
            player.pending.clear();
        }
        true
    }

    /// Removes `id`'s ship; its bolts keep flying. Returns false if it was not playing.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        let Some(index) = self.index_of.remove(&id) else {
            return false;
        };
        self.players.swap_remove(index);
        if let Some(moved) = self.players.get(index) {
            self.index_of.insert(moved.id, index);
        }
        self.grid_stale = true;
        true
    }

    pub(super) fn respawn(&mut self, index: usize) {
        let (x, y) = self.free_spawn_point();
        let protection = self.params.spawn_protection_ticks;
        let player = &mut self.players[index];
        player.body = Body {
            x,
            y,
            vx: 0.0,
            vy: 0.0,
        };
        player.protection = protection;
        player.history.restart(self.tick, x, y);
        self.grid.place(index, x, y);
    }

    /// A random point with no ship within a clearance, if one turns up in a few attempts.
    /// Needs the grid up to date: rebuilt since anyone left, every spawn since then placed.
    fn free_spawn_point(&mut self) -> (f32, f32) {
        let margin = self.params.player_radius * 2.0;
        let clearance = self.params.player_radius * 6.0;
        let mut point = self.random_point(margin);
        for _ in 0..SPAWN_ATTEMPTS {
            if !self.is_crowded(point, clearance) {
                break;
            }
            point = self.random_point(margin);
        }
        point
    }

    /// Whether any ship is closer than `clearance` to `point`: exactly the test of every ship,
    /// asked of only those the grid puts nearby. A ship has either not moved since the rebuild
    /// (found through its cell) or been placed since (found through the placings); either way
    /// its current position is the one tested. The search square is a unit wider than the
    /// circle so that rounding at a cell edge cannot hide a ship.
    fn is_crowded(&self, (x, y): (f32, f32), clearance: f32) -> bool {
        let too_close = |i: usize| {
            let p = &self.players[i];
            let (dx, dy) = (p.body.x - x, p.body.y - y);
            dx * dx + dy * dy < clearance * clearance
        };
        self.grid.any_near(x, y, clearance + 1.0, too_close)
            || self.grid.any_placed_near(x, y, clearance + 1.0, too_close)
    }
}
