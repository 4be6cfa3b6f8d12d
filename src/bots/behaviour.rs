//! How a bot plays: which buttons it holds and where it aims, given what it last saw. Pure and
//! seeded, so a swarm run can be repeated.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::protocol::{Tick, buttons};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Drift in a random direction, changing it every second or two, firing now and then.
    Wander,
    /// Steer toward the nearest other player and fire at it.
    Chase,
    /// Join and only read: no inputs at all.
    Idle,
    /// Wander, and say a line in chat every five seconds.
    Chat,
}

/// Inputs between two chat lines of a `chat` bot (five seconds at 30 Hz).
const INPUTS_PER_CHAT_LINE: u32 = 150;

/// What chatting bots say, in turn.
const CHAT_LINES: [&str; 4] = [
    "gg",
    "anyone near the middle?",
    "<b>not bold</b>",
    "nice shot",
];

/// What a bot knows when it decides: its own position and the nearest other player's.
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    pub me: Option<(f32, f32)>,
    pub nearest_other: Option<(f32, f32)>,
    /// The newest snapshot's tick (the bot's acknowledgement in its inputs).
    pub tick: Tick,
}

/// A bot's decision-making state.
pub struct Pilot {
    behaviour: Behaviour,
    rng: Xoshiro256PlusPlus,
    held: u8,
    aim: f32,
    /// Inputs left before the wanderer picks a new direction.
    steps_until_turn: u32,
    /// Inputs decided so far (paces chat lines).
    inputs: u32,
}

/// The controls for one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Controls {
    pub buttons: u8,
    pub aim: f32,
}

const DIRECTIONS: [u8; 8] = [
    buttons::UP,
    buttons::UP | buttons::RIGHT,
    buttons::RIGHT,
    buttons::DOWN | buttons::RIGHT,
    buttons::DOWN,
    buttons::DOWN | buttons::LEFT,
    buttons::LEFT,
    buttons::UP | buttons::LEFT,
];

impl Pilot {
    pub fn new(behaviour: Behaviour, seed: u64) -> Pilot {
        Pilot {
            behaviour,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            held: 0,
            aim: 0.0,
            steps_until_turn: 0,
            inputs: 0,
        }
    }

    /// A line to say in chat now, for `chat` bots, at most every [`INPUTS_PER_CHAT_LINE`]
    /// inputs. Call once per input.
    pub fn chat_line(&mut self) -> Option<&'static str> {
        self.inputs = self.inputs.wrapping_add(1);
        let due =
            self.behaviour == Behaviour::Chat && self.inputs.is_multiple_of(INPUTS_PER_CHAT_LINE);
        due.then(|| CHAT_LINES[(self.inputs / INPUTS_PER_CHAT_LINE) as usize % CHAT_LINES.len()])
    }

    pub fn sends_inputs(&self) -> bool {
        self.behaviour != Behaviour::Idle
    }

    /// Decides the next input.
    pub fn next_controls(&mut self, view: &View) -> Controls {
        match self.behaviour {
            Behaviour::Idle => Controls {
                buttons: 0,
                aim: 0.0,
            },
            Behaviour::Wander | Behaviour::Chat => self.wander(),
            Behaviour::Chase => match (view.me, view.nearest_other) {
                (Some(me), Some(target)) => self.chase(me, target),
                _ => self.wander(),
            },
        }
    }

    fn wander(&mut self) -> Controls {
        if self.steps_until_turn == 0 {
            self.held = DIRECTIONS[self.rng.random_range(0..DIRECTIONS.len())];
            self.aim = self
                .rng
                .random_range(-std::f32::consts::PI..std::f32::consts::PI);
            self.steps_until_turn = self.rng.random_range(30..60);
        }
        self.steps_until_turn -= 1;
        let fire = if self.rng.random_range(0..20) == 0 {
            buttons::FIRE
        } else {
            0
        };
        Controls {
            buttons: self.held | fire,
            aim: self.aim,
        }
    }

    fn chase(&mut self, me: (f32, f32), target: (f32, f32)) -> Controls {
        let (dx, dy) = (target.0 - me.0, target.1 - me.1);
        let mut pressed = 0;
        if dx > 10.0 {
            pressed |= buttons::RIGHT;
        } else if dx < -10.0 {
            pressed |= buttons::LEFT;
        }
        if dy > 10.0 {
            pressed |= buttons::DOWN;
        } else if dy < -10.0 {
            pressed |= buttons::UP;
        }
        let close = dx * dx + dy * dy < 400.0 * 400.0;
        if close && self.rng.random_range(0..4) == 0 {
            pressed |= buttons::FIRE;
        }
        Controls {
            buttons: pressed,
            aim: dy.atan2(dx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chasers_steer_and_aim_at_their_target() {
        let mut pilot = Pilot::new(Behaviour::Chase, 1);
        let view = View {
            me: Some((100.0, 100.0)),
            nearest_other: Some((300.0, 100.0)),
            ..View::default()
        };
        let controls = pilot.next_controls(&view);
        assert_eq!(controls.buttons & !buttons::FIRE, buttons::RIGHT);
        assert!(controls.aim.abs() < 1e-6);
    }

    #[test]
    fn chatters_speak_every_five_seconds_and_others_never() {
        let mut chatter = Pilot::new(Behaviour::Chat, 1);
        let lines = (0..600).filter_map(|_| chatter.chat_line()).count();
        assert_eq!(lines, 4);
        let mut wanderer = Pilot::new(Behaviour::Wander, 1);
        assert!((0..600).all(|_| wanderer.chat_line().is_none()));
    }

    #[test]
    fn idlers_do_nothing_and_wanderers_are_reproducible() {
        assert!(!Pilot::new(Behaviour::Idle, 1).sends_inputs());
        let run = |seed| {
            let mut pilot = Pilot::new(Behaviour::Wander, seed);
            (0..100)
                .map(|_| pilot.next_controls(&View::default()).buttons)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert!(run(5).iter().any(|b| b & buttons::FIRE != 0));
    }
}
