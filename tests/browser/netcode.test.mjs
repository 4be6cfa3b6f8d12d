// The netcode in a real browser over a slow link, and the game on a phone. Two players connect
// through a proxy that delays every chunk 50 ms each way plus up to 20 ms of jitter: the flying
// player's prediction must agree with the server once reconciled, the watching player must see
// her move smoothly, and the network overlay must report what it measures. On a phone-sized
// touch screen, the name screen must fit, the chat keep clear of the ship, and a drag on the left
// half fly the ship. Screenshots of both layouts go to target/browser-artifacts/. See harness.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  explainFailure,
  holdKey,
  openPlayer,
  screenshot,
  sleep,
  startGame,
  startProxy,
  stateOf,
  waitForState,
} from './harness.mjs';

/** One-way delay and jitter added by the proxy. */
const LATENCY = { delayMs: 50, jitterMs: 20 };
/** The bundled game's top speed (units per second): params.rs `max_speed`. */
const MAX_SPEED = 420;

/** @param {any} state */
const playing = (state) => state.connected && state.snapshotsReceived > 10 && state.me && state.serverMe;

/**
 * The largest jump of a traced ship between two frames beyond what its top speed explains
 * (arena units), over frames where it was drawn, and how far it went in all.
 * @param {{t: number, x: number | null, y: number | null}[]} frames
 */
function smoothness(frames) {
  let worstExcess = 0;
  let worst = null;
  let minX = Infinity;
  let maxX = -Infinity;
  for (let i = 1; i < frames.length; i++) {
    const [a, b] = [frames[i - 1], frames[i]];
    if (a.x === null || b.x === null) continue;
    minX = Math.min(minX, b.x);
    maxX = Math.max(maxX, b.x);
    const moved = Math.hypot(b.x - a.x, b.y - a.y);
    // The render clock may run 6% fast; allow a quarter more, plus a little.
    const allowed = MAX_SPEED * 1.25 * ((b.t - a.t) / 1000) + 2;
    if (moved - allowed > worstExcess) {
      worstExcess = moved - allowed;
      worst = { moved, ms: b.t - a.t };
    }
  }
  return { worstExcess, worst, travelled: maxX - minX };
}

test('over a slow, jittery link prediction agrees with the server and others move smoothly', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t, ['--ping-interval', '1s', '--ping-timeout', '5s']);
  const proxy = await startProxy(server.port, LATENCY);
  t.after(() => proxy.stop());
  const alice = await openPlayer(browser, proxy.url, 'Alice');
  const bob = await openPlayer(browser, proxy.url, 'Bob');
  const players = [alice, bob];

  try {
    for (const { page, name } of players) {
      await waitForState(page, `${name} to play through the proxy`, (s) => playing(s) && s.players.length === 2);
    }
    const aliceState = await stateOf(alice.page);
    const aliceId = aliceState.playerId;
    await bob.page.evaluate((id) => window.skirmish.traceShip(id), aliceId);

    // Alice flies towards the middle and back, with the network overlay on.
    await alice.page.keyboard.press('KeyN');
    const start = aliceState.serverMe;
    const [away, back] = start.x < aliceState.arena.width / 2 ? ['ArrowRight', 'ArrowLeft'] : ['ArrowLeft', 'ArrowRight'];
    const sign = away === 'ArrowRight' ? 1 : -1;
    await holdKey(alice.page, away, 900);
    await holdKey(alice.page, back, 400);
    await waitForState(alice.page, 'Alice to have moved on the server', (s) => (s.serverMe.x - start.x) * sign > 80);

    // Reconciled: once the server has applied every input, prediction and server agree, and no
    // correction along the way was more than rounding (each input is one exact step).
    const rested = await waitForState(
      alice.page,
      'Alice to come to rest with prediction equal to the server state',
      (s) => s.pendingInputs < 12 && s.serverMe.speed < 1 && Math.hypot(s.me.x - s.serverMe.x, s.me.y - s.serverMe.y) < 0.5,
    );
    // Unless the server lost some of Alice's steps: when a starved machine stalls its tick loop
    // long enough, it skips ticks and drops the oldest of a full input queue, and the client
    // rightly corrects for the steps it predicted and the server never took.
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const stepsLost = ['skirmish_inputs_dropped_total', 'skirmish_ticks_dropped_total']
      .map((name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN));
    assert.ok(stepsLost.every(Number.isFinite), `metrics: ${stepsLost}`);
    if (stepsLost.every((n) => n === 0)) {
      assert.ok(rested.largestSmoothedCorrection < 1, `a correction of ${rested.largestSmoothedCorrection} units`);
    } else {
      t.diagnostic(`server lost steps (inputs, ticks dropped: ${stepsLost}); correction ${rested.largestSmoothedCorrection}`);
    }

    // The overlay measured the link: a round trip over the added 100 ms, snapshots, bytes both
    // ways, and an interpolation delay of at least two snapshot intervals.
    const { net } = await waitForState(alice.page, 'the heartbeat to report a round trip', (s) => s.net.pingMs !== null);
    assert.equal(net.shown, true);
    assert.ok(net.pingMs >= 90 && net.pingMs < 1000, `ping ${net.pingMs} ms`);
    assert.ok(net.snapshotRate >= 10, `${net.snapshotRate} snapshots/s`);
    assert.ok(net.bytesInPerSecond > 1000 && net.bytesOutPerSecond > 100, JSON.stringify(net));
    assert.ok(net.delayMs >= 2 * (1000 / 30) - 5 && net.delayMs <= 400, `delay ${net.delayMs} ms`);
    await screenshot(alice, 'netcode-desktop-overlay.png');

    // Bob saw Alice go and come back, and never jump.
    const frames = await bob.page.evaluate(() => window.skirmish.traced);
    const { worstExcess, worst, travelled } = smoothness(frames);
    assert.ok(frames.length > 60, `${frames.length} frames traced`);
    assert.ok(travelled > 80, `Bob saw Alice travel ${travelled} units`);
    assert.ok(worstExcess < 12, `Alice jumped on Bob's screen: ${JSON.stringify(worst)} (${worstExcess} units too far)`);
    await screenshot(bob, 'netcode-desktop.png');
  } catch (error) {
    throw await explainFailure(error, players, [server], 'netcode');
  }
});

/**
 * Drags a finger on the page with the DevTools protocol (Playwright has taps, not drags).
 * @param {import('playwright-core').CDPSession} cdp
 * @param {'touchStart' | 'touchMove' | 'touchEnd'} type
 * @param {{x: number, y: number} | null} point
 */
function touch(cdp, type, point) {
  return cdp.send('Input.dispatchTouchEvent', { type, touchPoints: point ? [{ ...point, id: 1 }] : [] });
}

test('on a phone: the name screen fits, the HUD keeps to the edges, a drag flies the ship', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t);
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
  const landscape = { ...phone, viewport: { width: 844, height: 390 } };
  const carol = await openPlayer(browser, server.url, 'Carol', { context: phone, join: false });
  const dave = await openPlayer(browser, server.url, 'Dave', { context: landscape, join: false });
  const players = [carol, dave];

  try {
    // The name screen fits both ways round, Play button and all.
    for (const { page, name } of players) {
      await page.locator('#name-input').waitFor({ state: 'visible' });
      const fits = await page.evaluate(() => {
        const form = document.getElementById('name-form').getBoundingClientRect();
        const button = document.querySelector('#name-form button').getBoundingClientRect();
        return form.top >= 0 && form.left >= 0 && form.right <= innerWidth && button.bottom <= innerHeight;
      });
      assert.ok(fits, `${name}'s name screen does not fit`);
      await screenshot({ page, name }, `phone-${name.toLowerCase()}-name-screen.png`);
      await page.fill('#name-input', name);
      await page.tap('#name-form button');
      await waitForState(page, `${name} to play`, playing);
    }

    // Compact HUD: the chat is a strip at the bottom left, clear of the ship in the middle
    // (hud.test.mjs checks that no two parts of the HUD overlap).
    for (const { page, name } of players) {
      const state = await stateOf(page);
      assert.equal(state.layout, 'compact', name);
      const chat = await page.evaluate(() => {
        const box = document.getElementById('chat').getBoundingClientRect();
        return { ...box.toJSON(), vw: innerWidth, vh: innerHeight };
      });
      const clearOfTheShip = chat.right <= chat.vw / 2 - 60 || chat.top >= chat.vh / 2 + 60;
      assert.ok(chat.left < chat.vw * 0.1 && chat.top >= chat.vh * 0.6 && clearOfTheShip, `${name}'s chat: ${JSON.stringify(chat)}`);
    }

    // Carol drags her left thumb towards the middle of the arena and holds it there.
    const page = carol.page;
    const before = await stateOf(page);
    const start = before.serverMe;
    const sign = start.x < before.arena.width / 2 ? 1 : -1;
    const cdp = await page.context().newCDPSession(page);
    const origin = { x: 90, y: 700 };
    await touch(cdp, 'touchStart', origin);
    for (let step = 1; step <= 5; step++) {
      await touch(cdp, 'touchMove', { x: origin.x + sign * 12 * step, y: origin.y });
    }
    await sleep(500);
    await screenshot(carol, 'phone-playing-joystick.png');
    await waitForState(page, 'the drag to fly Carol\'s ship', (s) => (s.serverMe.x - start.x) * sign > 60);
    await touch(cdp, 'touchEnd', null);
    const stopped = await waitForState(page, 'Carol to stop once the thumb is lifted', (s) => s.serverMe.speed < 1);
    assert.ok(Math.abs(stopped.serverMe.y - start.y) < 30, 'a horizontal drag flies horizontally');

    await screenshot(dave, 'phone-landscape.png');
    await screenshot(carol, 'phone-portrait.png');
  } catch (error) {
    throw await explainFailure(error, players, [server], 'phone');
  }
});
