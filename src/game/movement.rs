//! How a player's ship moves in one tick: the single specification of movement that the server
//! simulates and the browser client replays for prediction (`web-client/movement.js` mirrors it
//! operation for operation in `Math.fround` arithmetic; shared vectors keep them identical).
//! Every operation is an IEEE-754 single-precision operation, in exactly this order.

use crate::protocol::{GameParams, buttons};

/// 1/√2 rounded to f32: scales a diagonal direction to unit length.
pub const DIAGONAL: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Position and velocity of a moving body, in arena units and units per second.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Body {
    pub x: f32,
    pub y: f32,
    pub vx: f32,
    pub vy: f32,
}

/// The fixed timestep for a tick rate, as both sides compute it.
pub fn tick_seconds(tick_hz: u16) -> f32 {
    1.0f32 / tick_hz as f32
}

/// Advances `body` by one tick of `dt` seconds with the held `pressed` buttons.
pub fn step_body(body: &mut Body, pressed: u8, params: &GameParams, dt: f32) {
    let (mut ax, mut ay) = direction(pressed);
    if ax != 0.0 && ay != 0.0 {
        ax *= DIAGONAL;
        ay *= DIAGONAL;
    }
    body.vx += ax * params.accel * dt;
    body.vy += ay * params.accel * dt;

    let damping = (1.0f32 - params.friction * dt).max(0.0);
    body.vx *= damping;
    body.vy *= damping;

    let speed_squared = body.vx * body.vx + body.vy * body.vy;
    if speed_squared > params.max_speed * params.max_speed {
        let scale = params.max_speed / speed_squared.sqrt();
        body.vx *= scale;
        body.vy *= scale;
    }

    body.x += body.vx * dt;
    body.y += body.vy * dt;
    keep_inside_arena(body, params);
}

/// Unit steps from the direction buttons: +x is right, +y is down (screen coordinates).
fn direction(pressed: u8) -> (f32, f32) {
    let axis = |negative: u8, positive: u8| -> f32 {
        let mut value = 0.0;
        if pressed & positive != 0 {
            value += 1.0;
        }
        if pressed & negative != 0 {
            value -= 1.0;
        }
        value
    };
    (
        axis(buttons::LEFT, buttons::RIGHT),
        axis(buttons::UP, buttons::DOWN),
    )
}

/// Walls stop the ship: it is placed against the wall and loses the velocity into it.
pub fn keep_inside_arena(body: &mut Body, params: &GameParams) {
    let r = params.player_radius;
    let (max_x, max_y) = (params.arena_width - r, params.arena_height - r);
    if body.x < r {
        body.x = r;
        body.vx = 0.0;
    } else if body.x > max_x {
        body.x = max_x;
        body.vx = 0.0;
    }
    if body.y < r {
        body.y = r;
        body.vy = 0.0;
    } else if body.y > max_y {
        body.y = max_y;
        body.vy = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::params::default_params;

    #[test]
    fn holding_right_accelerates_to_max_speed_and_no_further() {
        let params = default_params(30);
        let dt = tick_seconds(30);
        let mut body = Body {
            x: 100.0,
            y: 100.0,
            vx: 0.0,
            vy: 0.0,
        };
        step_body(&mut body, buttons::RIGHT, &params, dt);
        assert!(body.vx > 0.0 && body.vy == 0.0 && body.x > 100.0);
        for _ in 0..120 {
            step_body(&mut body, buttons::RIGHT, &params, dt);
        }
        let speed = (body.vx * body.vx + body.vy * body.vy).sqrt();
        assert!(speed <= params.max_speed * 1.0001, "speed {speed}");
    }

    #[test]
    fn diagonal_is_not_faster_than_straight() {
        let params = default_params(30);
        let dt = tick_seconds(30);
        let mut straight = Body {
            x: 500.0,
            y: 500.0,
            ..Body::default()
        };
        let mut diagonal = straight;
        step_body(&mut straight, buttons::DOWN, &params, dt);
        step_body(&mut diagonal, buttons::DOWN | buttons::RIGHT, &params, dt);
        let s = straight.vy;
        let d = (diagonal.vx * diagonal.vx + diagonal.vy * diagonal.vy).sqrt();
        assert!((s - d).abs() < 1e-3, "straight {s} diagonal {d}");
    }

    #[test]
    fn opposite_buttons_cancel_and_friction_stops_the_ship() {
        let params = default_params(30);
        let dt = tick_seconds(30);
        let mut body = Body {
            x: 500.0,
            y: 500.0,
            vx: 200.0,
            vy: 0.0,
        };
        for _ in 0..300 {
            step_body(&mut body, buttons::LEFT | buttons::RIGHT, &params, dt);
        }
        assert!(body.vx.abs() < 0.01);
    }

    #[test]
    fn walls_stop_the_ship_inside_the_arena() {
        let params = default_params(30);
        let dt = tick_seconds(30);
        let mut body = Body {
            x: 20.0,
            y: 20.0,
            vx: -400.0,
            vy: -400.0,
        };
        step_body(&mut body, buttons::UP | buttons::LEFT, &params, dt);
        assert_eq!(
            (body.x, body.y),
            (params.player_radius, params.player_radius)
        );
        assert_eq!((body.vx, body.vy), (0.0, 0.0));
    }
}
