/**
 * How a ship moves in one tick: an operation-for-operation mirror of `src/game/movement.rs`, so
 * the client predicts its own ship exactly as the server simulates it.
 *
 * Every arithmetic result is rounded to single precision with `Math.fround`, in the same order as
 * the Rust code, which makes the result bit-identical to the server's f32 arithmetic (double
 * rounding is harmless for one +, -, *, / or sqrt). `tests/vectors/movement_v1.json` pins this.
 * Pure: no DOM, no clock, no allocation per step. Change it only together with the Rust file.
 */

import { Buttons } from './protocol.js';

const f32 = Math.fround;

/** 1/sqrt(2) rounded to f32: scales a diagonal direction to unit length. */
export const DIAGONAL = f32(Math.SQRT1_2);

/**
 * @typedef {object} Body Position (arena units) and velocity (units per second), f32 values.
 * @property {number} x
 * @property {number} y
 * @property {number} vx
 * @property {number} vy
 */

/**
 * @typedef {object} MovementParams The `GameParams` fields movement reads.
 * @property {number} arena_width
 * @property {number} arena_height
 * @property {number} player_radius
 * @property {number} accel
 * @property {number} friction
 * @property {number} max_speed
 */

/**
 * The fixed timestep for a tick rate, as both sides compute it (`1.0f32 / tick_hz as f32`).
 * @param {number} tickHz
 * @returns {number}
 */
export function tickSeconds(tickHz) {
  return f32(1 / tickHz);
}

/**
 * Advances `body` in place by one tick of `dt` seconds with the held `pressed` buttons.
 * @param {Body} body
 * @param {number} pressed a set of {@link Buttons} bits
 * @param {MovementParams} params
 * @param {number} dt seconds, from {@link tickSeconds}
 */
export function stepBody(body, pressed, params, dt) {
  let ax = axis(pressed, Buttons.LEFT, Buttons.RIGHT);
  let ay = axis(pressed, Buttons.UP, Buttons.DOWN);
  if (ax !== 0 && ay !== 0) {
    ax = f32(ax * DIAGONAL);
    ay = f32(ay * DIAGONAL);
  }
  const accel = f32(params.accel);
  body.vx = f32(body.vx + f32(f32(ax * accel) * dt));
  body.vy = f32(body.vy + f32(f32(ay * accel) * dt));

  const damping = Math.max(f32(1 - f32(f32(params.friction) * dt)), 0);
  body.vx = f32(body.vx * damping);
  body.vy = f32(body.vy * damping);

  const maxSpeed = f32(params.max_speed);
  const speedSquared = f32(f32(body.vx * body.vx) + f32(body.vy * body.vy));
  if (speedSquared > f32(maxSpeed * maxSpeed)) {
    const scale = f32(maxSpeed / f32(Math.sqrt(speedSquared)));
    body.vx = f32(body.vx * scale);
    body.vy = f32(body.vy * scale);
  }

  body.x = f32(body.x + f32(body.vx * dt));
  body.y = f32(body.y + f32(body.vy * dt));
  keepInsideArena(body, params);
}

/**
 * A unit step along one axis from two opposite buttons (both held cancel out).
 * @param {number} pressed
 * @param {number} negative
 * @param {number} positive
 */
function axis(pressed, negative, positive) {
  let value = 0;
  if (pressed & positive) value += 1;
  if (pressed & negative) value -= 1;
  return value;
}

/**
 * Walls stop the ship: it is placed against the wall and loses the velocity into it.
 * @param {Body} body
 * @param {MovementParams} params
 */
function keepInsideArena(body, params) {
  const r = f32(params.player_radius);
  const maxX = f32(f32(params.arena_width) - r);
  const maxY = f32(f32(params.arena_height) - r);
  if (body.x < r) {
    body.x = r;
    body.vx = 0;
  } else if (body.x > maxX) {
    body.x = maxX;
    body.vx = 0;
  }
  if (body.y < r) {
    body.y = r;
    body.vy = 0;
  } else if (body.y > maxY) {
    body.y = maxY;
    body.vy = 0;
  }
}
