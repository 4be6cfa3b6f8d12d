// A thousand entities in the snapshot: the view is computed into reused objects, and the
// renderer only draws what is on screen. The canvas is a stub that counts calls, so this runs
// under Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Game } from '../game.js';
import { Renderer } from '../render.js';
import { PARAMS } from './fixtures.mjs';

const TICK_MS = 1000 / 30;
const ME = 1;
const SCREEN = { width: 960, height: 640 };

/** A 2D context whose every method only counts its calls. */
function countingContext() {
  const calls = new Map();
  const ctx = new Proxy(
    { measureText: () => ({ width: 40 }), calls },
    {
      get(target, key) {
        if (key in target) return target[key];
        return () => calls.set(key, (calls.get(key) ?? 0) + 1);
      },
      set() {
        return true;
      },
    },
  );
  return { ctx, calls };
}

/** A game welcomed as player 1, with 1000 others spread over the arena and bolts among them. */
function crowdedGame() {
  const game = new Game(() => true);
  game.handleMessage(
    {
      type: 'Welcome',
      protocol_version: 4,
      request_id: 1,
      player_id: ME,
      resumed: false,
      resume_token: Array(16).fill(1),
      tick_hz: 30,
      params: PARAMS,
      players: [{ id: ME, name: 'Me' }],
    },
    0,
  );
  for (let tick = 1; tick <= 4; tick++) {
    const players = [{ id: ME, x: 1500, y: 1000, vx: 0, vy: 0, aim: 0, score: 0, last_input_seq: 0, flags: 0 }];
    const bolts = [];
    for (let i = 0; i < 1000; i++) {
      const x = 20 + ((i * 97) % 2960) + tick;
      const y = 20 + ((i * 61) % 1960);
      players.push({ id: 100 + i, x, y, vx: 0, vy: 0, aim: 0, score: i, last_input_seq: 0, flags: 0 });
      if (i % 2 === 0) bolts.push({ id: i, owner: 100 + i, x: x + 30 + tick * 30, y });
    }
    const orbs = Array.from({ length: 250 }, (_, i) => ({ id: i, x: (i * 131) % 3000, y: (i * 71) % 2000 }));
    game.handleMessage({ type: 'Snapshot', tick, players, orbs, bolts, tags: [] }, tick * TICK_MS);
  }
  return game;
}

test('a thousand ships are computed into the same objects frame after frame', () => {
  const game = crowdedGame();
  const first = game.computeView(5 * TICK_MS);
  assert.equal(first.shipCount, 1000);
  const ships = first.ships.slice();
  const bolts = first.bolts.slice();
  const second = game.computeView(5 * TICK_MS + 16);
  assert.equal(second, first);
  assert.equal(second.ships.length, 1000, 'no new ship objects');
  assert.ok(second.ships.every((ship, i) => ship === ships[i]));
  assert.ok(second.bolts.every((bolt, i) => bolt === bolts[i]));

  const frames = 200;
  const started = performance.now();
  for (let i = 0; i < frames; i++) game.computeView(5 * TICK_MS + 16 * i);
  const perFrame = (performance.now() - started) / frames;
  // A 60 Hz frame has 16 ms; the view of a thousand ships takes a fraction of one.
  assert.ok(perFrame < 4, `computeView took ${perFrame.toFixed(3)} ms per frame`);
});

test('only what is on screen is drawn', () => {
  globalThis.window = { devicePixelRatio: 1, innerWidth: SCREEN.width, innerHeight: SCREEN.height };
  const game = crowdedGame();
  const { ctx, calls } = countingContext();
  const canvas = { clientWidth: SCREEN.width, clientHeight: SCREEN.height, width: 0, height: 0, getContext: () => ctx };
  const renderer = new Renderer(/** @type {any} */ (canvas));
  const hud = {
    status: 'connected',
    statusText: 'connected',
    pingMs: 20,
    snapshotRate: 30,
    showNet: true,
    net: game.netStats(5 * TICK_MS),
    bytesInPerSecond: 0,
    bytesOutPerSecond: 0,
    touch: { used: false },
  };
  const view = game.computeView(5 * TICK_MS);
  renderer.draw(game, view, hud, 5 * TICK_MS);

  // The camera is on our ship at (1500, 1000): the screen shows its size over the zoom.
  const margin = PARAMS.player_radius * 2 + 60;
  const halfW = SCREEN.width / 2 / renderer.zoom;
  const halfH = SCREEN.height / 2 / renderer.zoom;
  let onScreen = 0;
  for (let i = 0; i < view.shipCount; i++) {
    const { x, y } = view.ships[i];
    if (Math.abs(x - 1500) <= halfW + margin && Math.abs(y - 1000) <= halfH + margin) onScreen++;
  }
  assert.equal(renderer.shipsDrawn, onScreen);
  assert.ok(onScreen > 20 && onScreen < 350, `${onScreen} of 1000 ships on screen`);
  // Every canvas call: a few per ship on screen and per batch, not per ship in the snapshot.
  const total = [...calls.values()].reduce((a, b) => a + b, 0);
  assert.ok(total < 30 * onScreen + 1500, `${total} canvas calls: ${JSON.stringify(Object.fromEntries(calls))}`);
  delete globalThis.window;
});
