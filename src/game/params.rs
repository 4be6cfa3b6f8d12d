//! The rules of the bundled game as numbers, derived from the tick rate so that a game at 20 Hz
//! and one at 60 Hz play the same in seconds. Sent to clients in the welcome.

use crate::protocol::GameParams;

/// Seconds a bolt flies before it fades.
const BOLT_LIFETIME_SECONDS: f32 = 0.9;
/// Seconds between two shots of one player.
const FIRE_COOLDOWN_SECONDS: f32 = 0.3;
/// Seconds a (re)spawned player cannot be tagged.
const SPAWN_PROTECTION_SECONDS: f32 = 2.0;

/// Points for tagging another player, on top of half the victim's score.
pub const TAG_BONUS: u32 = 5;
/// Points for collecting an orb.
pub const ORB_VALUE: u32 = 1;

/// The most a client shows (it zooms in on larger screens), matching the interest area in
/// `protocol::snapshot` minus its margin.
pub const VIEW_WIDTH: f32 = 1600.0;
pub const VIEW_HEIGHT: f32 = 1000.0;

pub fn default_params(tick_hz: u16) -> GameParams {
    GameParams {
        arena_width: 3000.0,
        arena_height: 2000.0,
        player_radius: 18.0,
        orb_radius: 8.0,
        bolt_radius: 5.0,
        accel: 1800.0,
        friction: 3.0,
        max_speed: 420.0,
        bolt_speed: 900.0,
        bolt_lifetime_ticks: seconds_to_ticks(BOLT_LIFETIME_SECONDS, tick_hz),
        fire_cooldown_ticks: seconds_to_ticks(FIRE_COOLDOWN_SECONDS, tick_hz),
        spawn_protection_ticks: seconds_to_ticks(SPAWN_PROTECTION_SECONDS, tick_hz),
        view_width: VIEW_WIDTH,
        view_height: VIEW_HEIGHT,
    }
}

fn seconds_to_ticks(seconds: f32, tick_hz: u16) -> u16 {
    (seconds * tick_hz as f32)
        .round()
        .clamp(1.0, u16::MAX as f32) as u16
}
