//! A player's controls: inputs queued in `seq` order within a bounded queue, and each tick's
//! input steps (movement, aim, firing a bolt) taken out of a small bank so that no player ever
//! moves faster than real time. Must never trust a client's pace: what it sends beyond the
//! budget is dropped and reported as an [`InputOutcome`].

use super::lag_compensation::view_lag;
use super::{Bolt, MAX_INPUT_STEPS_BANKED, MAX_PENDING_INPUTS, World};
use crate::game::movement::step_body;
use crate::protocol::{PlayerId, PlayerInput, buttons};

/// What happened to an input handed to [`World::queue_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    Queued,
    /// Queued, but the player's queue was full and its oldest input was discarded.
    QueuedDroppingOldest,
    /// Its `seq` was not after the last one seen for this player (replayed or reordered).
    Stale,
    UnknownPlayer,
}

impl World {
    /// Queues an input for `id`'s next steps. Inputs are simulated in `seq` order, each as one
    /// movement step, at most one step per tick on average.
    pub fn queue_input(&mut self, id: PlayerId, input: PlayerInput) -> InputOutcome {
        let Some(&index) = self.index_of.get(&id) else {
            return InputOutcome::UnknownPlayer;
        };
        let player = &mut self.players[index];
        let newest_seen = player
            .pending
            .back()
            .map_or(player.last_input_seq, |i| i.seq);
        if input.seq <= newest_seen {
            return InputOutcome::Stale;
        }
        let mut outcome = InputOutcome::Queued;
        if player.pending.len() == MAX_PENDING_INPUTS {
            player.pending.pop_front();
            outcome = InputOutcome::QueuedDroppingOldest;
        }
        player.pending.push_back(input);
        outcome
    }

    pub(super) fn step_players(&mut self) {
        for index in 0..self.players.len() {
            let player = &mut self.players[index];
            player.fire_cooldown = player.fire_cooldown.saturating_sub(1);
            player.protection = player.protection.saturating_sub(1);
            player.banked_steps = (player.banked_steps + 1).min(MAX_INPUT_STEPS_BANKED);
            while self.players[index].banked_steps > 0 {
                let player = &mut self.players[index];
                let Some(input) = player.pending.pop_front() else {
                    break;
                };
                player.banked_steps -= 1;
                self.apply_input_step(index, input);
            }
        }
    }

    fn apply_input_step(&mut self, index: usize, input: PlayerInput) {
        let params = self.params;
        let player = &mut self.players[index];
        step_body(&mut player.body, input.buttons, &params, self.dt);
        player.aim = input.aim;
        player.last_input_seq = input.seq;
        player.view_lag = view_lag(self.tick, input.view_tick, self.tick_hz, self.max_rewind);
        if input.buttons & buttons::FIRE != 0 && player.fire_cooldown == 0 {
            player.fire_cooldown = params.fire_cooldown_ticks;
            player.protection = 0;
            let (dx, dy) = (input.aim.cos(), input.aim.sin());
            let muzzle = params.player_radius + params.bolt_radius + 1.0;
            let bolt = Bolt {
                id: self.next_bolt_id,
                owner: player.id,
                x: player.body.x + dx * muzzle,
                y: player.body.y + dy * muzzle,
                vx: dx * params.bolt_speed,
                vy: dy * params.bolt_speed,
                ticks_left: params.bolt_lifetime_ticks,
            };
            self.next_bolt_id = self.next_bolt_id.wrapping_add(1);
            self.bolts.push(bolt);
        }
    }
}
