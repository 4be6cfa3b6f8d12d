// The HUD as a player tried it, in headless Chromium against the real server. At a desktop
// window of 800x500 and on phones (390x844 upright, 844x390 on its side, touch), with
// everything up at once (the network overlay open, the chat open with an error line in it, a
// tag in the feed, "Tagged by ..." on screen), no two parts of the HUD overlap and every one is
// inside the window. On a touch screen the CHAT button opens the chat with the focus in its box
// (what brings up a phone's keyboard). The rank and the head count read as English ("you: 1st
// of 2", "1 nearby · 2 in room"), and a tagged player is told who tagged it. See harness.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertHudLayout,
  explainFailure,
  openPlayer,
  screenshot,
  sleep,
  startGame,
  stateOf,
  waitForState,
} from './harness.mjs';

/** A small arena: every ship within a bolt's range (900 units/s for 0.9 s) of every other. */
const SMALL_ARENA = ['--arena', '500x400'];
const DESKTOP = { viewport: { width: 800, height: 500 } };
const DESKTOP_TOUCH = { ...DESKTOP, hasTouch: true };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const PHONE_LANDSCAPE = { ...PHONE, viewport: { width: 844, height: 390 } };
/** A spawned ship cannot be tagged for 2 s (params.rs). */
const SPAWN_PROTECTION_MS = 2000;
/** What the chat refuses to send and shows as an error line instead. */
const BAD_WHISPER = '/w Nobody hello';

/** @param {any} state */
const playing = (state) => state.connected && state.snapshotsReceived > 5 && state.me && state.serverMe;

/**
 * Asserts that the HUD of `player` keeps its parts apart and inside the window, and that the
 * parts `expected` are among them; saves a screenshot.
 * @param {import('./harness.mjs').Player} player
 * @param {string[]} expected
 * @param {string} label
 */
async function assertHudApart(player, expected, label) {
  await screenshot(player, `hud-${label}.png`);
  await assertHudLayout(player.page, expected, label);
}

/**
 * Opens the network overlay and the chat the way this page's player would (keys on a desktop,
 * the HUD's buttons on a touch screen), and types a whisper to nobody: the chat stays open
 * with an error line.
 * @param {import('./harness.mjs').Player} player
 * @param {boolean} touch
 */
async function openEverything(player, touch) {
  const { page, name } = player;
  if (touch) {
    await page.tap('#net-toggle');
    await page.tap('#chat-toggle');
    const focused = await page.evaluate(() => document.activeElement?.id);
    assert.equal(focused, 'chat-input', `${name}: the CHAT button puts the focus in the chat box`);
  } else {
    await page.keyboard.press('KeyN');
    await page.keyboard.press('Enter');
  }
  await waitForState(page, `${name}'s overlay and chat to open`, (s) => s.net.shown && s.chatOpen);
  await page.keyboard.type(BAD_WHISPER);
  await page.keyboard.press('Enter');
  await waitForState(
    page,
    `${name}'s chat to show an error and stay open`,
    (s) => s.chatOpen && s.chat.some((line) => line.kind === 'error' && /no player called Nobody/.test(line.text)),
  );
}

/**
 * Turns the mouse of `shooter` (a desktop page) towards `target` and holds the button until
 * `until()` says the target was tagged.
 * @param {import('./harness.mjs').Player} shooter
 * @param {number} targetId
 * @param {() => Promise<boolean>} until
 */
async function fireAt(shooter, targetId, until) {
  const { page } = shooter;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const state = await stateOf(page);
    const target = state.players.find((p) => p.id === targetId);
    const me = state.me;
    if (target && me) {
      // The camera is on our ship: the middle of the window is where it is drawn.
      const viewport = page.viewportSize();
      const angle = Math.atan2(target.y - me.y, target.x - me.x);
      await page.mouse.move(viewport.width / 2 + Math.cos(angle) * 150, viewport.height / 2 + Math.sin(angle) * 150);
      await page.mouse.down();
      await sleep(350);
      await page.mouse.up();
      if (await until()) return;
    }
    await sleep(50);
  }
  throw new Error('no tag within 15 s of firing');
}

test('the HUD keeps its parts apart at 800x500 and on a phone, with everything up', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t, SMALL_ARENA);
  const alice = await openPlayer(browser, server.url, 'Alice', { context: DESKTOP });
  const bob = await openPlayer(browser, server.url, 'Bob', { context: PHONE });
  const players = [alice, bob];
  try {
    for (const { page, name } of players) {
      await waitForState(page, `${name} to play and see both ships`, (s) => playing(s) && s.players.length === 2);
    }
    const bobId = (await stateOf(bob.page)).playerId;
    const aliceId = (await stateOf(alice.page)).playerId;
    for (const { page, name } of players) {
      const rank = await page.locator('#hud-rank').textContent();
      assert.match(rank, /^you: (1st|2nd) of 2$/, `${name}'s rank`);
      assert.equal(await page.locator('#hud-head-count').textContent(), '1 nearby · 2 in room', name);
    }

    // Bob opens everything on his phone; then Alice tags him.
    await openEverything(bob, true);
    await sleep(SPAWN_PROTECTION_MS);
    await fireAt(alice, bobId, async () => (await stateOf(bob.page)).taggedBy !== null);
    const tagged = await stateOf(bob.page);
    assert.deepEqual([tagged.taggedBy.id, tagged.taggedBy.name], [aliceId, 'Alice']);
    // The HUD is written on the next animation frame after the state changed (a busy machine
    // draws late): wait for it, then check.
    await bob.page
      .waitForFunction(() => document.getElementById('hud-tagged').textContent !== '', null, { timeout: 5_000 })
      .catch(() => {});
    assert.equal(await bob.page.locator('#hud-tagged').textContent(), 'Tagged by Alice');
    await assertHudApart(
      bob,
      ['status', 'feed row', 'scoreboard', 'network overlay', 'tagged notice', 'chat log', 'chat box', 'chat button', 'net button', 'minimap'],
      'phone-390x844',
    );

    // Alice, at 800x500 with a keyboard: the tag in her feed, the network line at the bottom.
    await openEverything(alice, false);
    await assertHudApart(
      alice,
      ['status', 'feed row', 'scoreboard', 'network overlay', 'chat log', 'chat box', 'network line', 'minimap'],
      'desktop-800x500',
    );

    // The tag decided the standings (recomputed twice a second): Alice is first, Bob second.
    await waitForState(alice.page, 'Alice to rank first', (s) => s.rank === 1);
    await waitForState(bob.page, 'Bob to rank second', (s) => s.rank === 2);
    assert.equal(await alice.page.locator('#hud-rank').textContent(), 'you: 1st of 2');
    assert.equal(await bob.page.locator('#hud-rank').textContent(), 'you: 2nd of 2');
  } catch (error) {
    throw await explainFailure(error, players, [server], 'hud');
  }
});

test('the HUD keeps its parts apart on a touch screen of 800x500 and a phone on its side', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t, SMALL_ARENA);
  const carol = await openPlayer(browser, server.url, 'Carol', { context: DESKTOP_TOUCH });
  const dave = await openPlayer(browser, server.url, 'Dave', { context: PHONE_LANDSCAPE });
  const players = [carol, dave];
  try {
    for (const player of players) {
      await waitForState(player.page, `${player.name} to play`, playing);
      await openEverything(player, true);
    }
    await assertHudApart(
      carol,
      ['status', 'scoreboard', 'network overlay', 'chat log', 'chat box', 'chat button', 'net button', 'network line', 'minimap'],
      'touch-800x500',
    );
    await assertHudApart(
      dave,
      ['status', 'scoreboard', 'network overlay', 'chat log', 'chat box', 'chat button', 'net button', 'minimap'],
      'phone-844x390',
    );
    // The CHAT button closes an open chat too, and opens it again.
    await dave.page.tap('#chat-toggle');
    await waitForState(dave.page, 'the CHAT button to close the chat', (s) => !s.chatOpen);
    await dave.page.tap('#chat-toggle');
    await waitForState(dave.page, 'the CHAT button to open the chat again', (s) => s.chatOpen);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'hud-touch');
  }
});
