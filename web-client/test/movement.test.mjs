// The JS movement step against the shared movement vectors (bit-exact), plus the properties the
// Rust unit tests check. Run with `node --test web-client/test/`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Buttons } from '../protocol.js';
import { DIAGONAL, stepBody, tickSeconds } from '../movement.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../tests/vectors/movement_v1.json', import.meta.url), 'utf8'),
);

/** GameParams from the vectors, floats rounded to the f32 values the server holds. */
const params = Object.fromEntries(
  Object.entries(vectors.params).map(([key, value]) => [key, Math.fround(value)]),
);
const dt = tickSeconds(vectors.tick_hz);
const f32 = Math.fround;

test('the movement vectors have cases', () => {
  assert.ok(vectors.cases.length > 0);
  assert.equal(vectors.tick_hz, 30);
});

for (const movementCase of vectors.cases) {
  test(`movement vector "${movementCase.name}" is reproduced bit for bit`, () => {
    const { start, inputs, expected } = movementCase;
    assert.equal(inputs.length, expected.length, 'one expected state per input');
    const body = { x: f32(start.x), y: f32(start.y), vx: f32(start.vx), vy: f32(start.vy) };
    inputs.forEach((buttons, step) => {
      stepBody(body, buttons, params, dt);
      const want = expected[step].map(f32);
      const got = [body.x, body.y, body.vx, body.vy];
      assert.ok(
        got.every((value, k) => value === want[k]),
        `step ${step} (buttons ${buttons}): got ${got.join(', ')}, want ${want.join(', ')}`,
      );
    });
  });
}

test('every value the step produces is an f32', () => {
  const body = { x: 1234.567, y: 89.1, vx: 13.7, vy: -211.3 };
  for (const key of Object.keys(body)) body[key] = f32(body[key]);
  for (let step = 0; step < 200; step++) {
    stepBody(body, (step * 7) % 32, params, dt);
    for (const [key, value] of Object.entries(body)) {
      assert.equal(f32(value), value, `${key} at step ${step}`);
    }
  }
});

test('dt and the diagonal factor are the f32 values Rust uses', () => {
  assert.equal(dt, f32(1 / 30));
  assert.equal(DIAGONAL, 0.7071067690849304); // std::f32::consts::FRAC_1_SQRT_2
});

test('holding right accelerates to max speed and no further', () => {
  const body = { x: 100, y: 100, vx: 0, vy: 0 };
  stepBody(body, Buttons.RIGHT, params, dt);
  assert.ok(body.vx > 0 && body.vy === 0 && body.x > 100);
  for (let i = 0; i < 120; i++) stepBody(body, Buttons.RIGHT, params, dt);
  assert.ok(Math.hypot(body.vx, body.vy) <= params.max_speed * 1.0001);
});

test('diagonal is not faster than straight', () => {
  const straight = { x: 500, y: 500, vx: 0, vy: 0 };
  const diagonal = { ...straight };
  stepBody(straight, Buttons.DOWN, params, dt);
  stepBody(diagonal, Buttons.DOWN | Buttons.RIGHT, params, dt);
  assert.ok(Math.abs(straight.vy - Math.hypot(diagonal.vx, diagonal.vy)) < 1e-3);
});

test('opposite buttons cancel and friction stops the ship', () => {
  const body = { x: 500, y: 500, vx: 200, vy: 0 };
  for (let i = 0; i < 300; i++) stepBody(body, Buttons.LEFT | Buttons.RIGHT, params, dt);
  assert.ok(Math.abs(body.vx) < 0.01);
});

test('walls stop the ship inside the arena', () => {
  const body = { x: 20, y: 20, vx: -400, vy: -400 };
  stepBody(body, Buttons.UP | Buttons.LEFT, params, dt);
  assert.deepEqual(body, { x: params.player_radius, y: params.player_radius, vx: 0, vy: 0 });
  const far = { x: 2990, y: 1990, vx: 400, vy: 400 };
  stepBody(far, Buttons.DOWN | Buttons.RIGHT, params, dt);
  assert.deepEqual(far, {
    x: params.arena_width - params.player_radius,
    y: params.arena_height - params.player_radius,
    vx: 0,
    vy: 0,
  });
});

test('the fire bit and unknown bits do not move the ship', () => {
  const a = { x: 300, y: 300, vx: 50, vy: -20 };
  const b = { ...a };
  stepBody(a, 0, params, dt);
  stepBody(b, Buttons.FIRE | 0xe0, params, dt);
  assert.deepEqual(a, b);
});
