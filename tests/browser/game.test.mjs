// End-to-end: the real server binary and two headless Chromium pages playing the real client.
// Run with `node --test tests/browser/` (after `npm ci` in tests/browser); `cargo test` runs it
// through tests/browser.rs. Needs Debian's Chromium at /usr/bin/chromium. The session layer
// (chat, reconnection, resume, tokens) is tested in session.test.mjs; shared pieces are in
// harness.mjs. Screenshots go to target/browser-artifacts/.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  BACKGROUND,
  canvasPixels,
  explainFailure,
  holdKey,
  openPlayer,
  screenshot,
  startGame,
  stateOf,
  unexpectedErrors,
  waitForState,
  TEST_ARENA,
} from './harness.mjs';

/** Steer towards the middle of the arena so the ship has room to move. */
const ARENA_MIDDLE_X = Number.parseInt(TEST_ARENA, 10) / 2;

const HOLD_KEY_MS = 600;

test('two players join, see each other move, and see each other leave', { timeout: 40_000 }, async (t) => {
  const { browser, server } = await startGame(t);
  const alice = await openPlayer(browser, server.url, 'Alice');
  const bob = await openPlayer(browser, server.url, 'Bob');
  const players = [alice, bob];

  try {
    // Both are welcomed, receive snapshots, and see two players.
    for (const { page, name } of players) {
      await waitForState(
        page,
        `${name} to join and see both players`,
        (state) => state.connected && state.snapshotsReceived > 5 && state.me && state.players.length === 2,
      );
    }
    const aliceState = await stateOf(alice.page);
    const bobState = await stateOf(bob.page);
    const aliceId = aliceState.playerId;
    const bobId = bobState.playerId;
    assert.notEqual(aliceId, bobId);
    assert.equal(aliceState.status, 'connected');
    for (const state of [aliceState, bobState]) {
      const names = Object.fromEntries(state.players.map((p) => [p.id, p.name]));
      assert.deepEqual(names, { [aliceId]: 'Alice', [bobId]: 'Bob' });
    }

    // Alice flies towards the middle of the arena for a moment, so no wall stops her.
    const start = aliceState.serverMe;
    const seenByBob = bobState.players.find((p) => p.id === aliceId);
    const key = start.x < ARENA_MIDDLE_X ? 'ArrowRight' : 'ArrowLeft';
    const sign = key === 'ArrowRight' ? 1 : -1;
    await holdKey(alice.page, key, HOLD_KEY_MS);

    const far = 60;
    await waitForState(
      alice.page,
      'Alice to move in her own game (server state and prediction)',
      (state) =>
        state.serverMe && (state.serverMe.x - start.x) * sign > far && (state.me.x - start.x) * sign > far,
    );
    await waitForState(
      bob.page,
      'Bob to see Alice move',
      (state) => state.players.some((p) => p.id === aliceId && (p.x - seenByBob.x) * sign > far),
    );
    // Once she has stopped, prediction and server agree.
    await waitForState(
      alice.page,
      'Alice to come to rest with prediction equal to the server state',
      (state) => state.pendingInputs < 10 && Math.abs(state.me.x - state.serverMe.x) < 0.5,
    );

    // The canvas is drawn: frames counted, pixels that are not background, our ship at the centre.
    for (const { page, name } of players) {
      const state = await stateOf(page);
      assert.ok(state.framesDrawn > 10, `${name} drew ${state.framesDrawn} frames`);
      const pixels = await canvasPixels(page, BACKGROUND);
      assert.ok(pixels.drawn > pixels.sampled * 0.05, `${name}'s canvas is mostly background: ${JSON.stringify(pixels)}`);
      assert.ok(pixels.centreDrawn, `${name}'s ship is not drawn at the centre: ${JSON.stringify(pixels)}`);
      await screenshot({ page, name }, `${name.toLowerCase()}.png`);
    }

    // Bob closes his tab: the page says Leave on its way out, so he disappears from Alice's
    // snapshots and roster at once, not after the resume grace (10 s by default).
    const closedAt = Date.now();
    await bob.page.close();
    await waitForState(
      alice.page,
      'Bob to leave Alice\'s game',
      (state) => !state.players.some((p) => p.id === bobId) && !state.roster.some((p) => p.id === bobId),
    );
    assert.ok(Date.now() - closedAt < 3000, `Bob took ${Date.now() - closedAt} ms to leave`);
    const feed = await stateOf(alice.page);
    assert.ok(
      feed.notices.some((n) => n.kind === 'Left' && n.subject === bobId),
      `Alice's feed says Bob left: ${JSON.stringify(feed.notices)}`,
    );
    assert.ok(!feed.notices.some((n) => n.kind === 'Away'), 'a tab closed is a leave, not a drop');
    const after = await stateOf(alice.page);
    assert.deepEqual(after.players.map((p) => p.name), ['Alice']);
    assert.equal(after.connected, true);
    await screenshot(alice, 'alice-alone.png');

    for (const { name, errors } of players) {
      assert.deepEqual(errors, [], `${name}'s page reported errors`);
    }
  } catch (error) {
    throw await explainFailure(error, players, [server], 'game');
  }
});

test('a console error or an uncaught exception in a page is caught for the test to fail', { timeout: 30_000 }, async (t) => {
  const { browser, server } = await startGame(t);
  const erin = await openPlayer(browser, server.url, 'Erin');
  await waitForState(erin.page, 'Erin to play', (state) => state.connected);
  assert.deepEqual(unexpectedErrors(browser), []);

  await erin.page.evaluate(() => {
    console.error('something broke');
    setTimeout(() => {
      throw new Error('uncaught');
    });
  });
  const deadline = Date.now() + 5000;
  while (erin.errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unexpectedErrors(browser), ['Erin: console error: something broke | page error: uncaught']);
  // Expected here, so the check at the end of this test (which would fail it) is satisfied.
  erin.errors.length = 0;
});
