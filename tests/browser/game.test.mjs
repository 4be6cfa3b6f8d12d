// End-to-end: the real server binary and two headless Chromium pages playing the real client.
// Run with `node --test tests/browser/` (after `npm ci` in tests/browser); `cargo test` runs it
// through tests/browser.rs. Needs Debian's Chromium at /usr/bin/chromium.
//
// Environment: SKIRMISH_BIN (default target/debug/skirmish), CHROMIUM (default /usr/bin/chromium).
// Screenshots go to target/browser-artifacts/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER_BIN = process.env.SKIRMISH_BIN || join(ROOT, 'target/debug/skirmish');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'target/browser-artifacts');

/** The machine has no internet: without these flags Chromium stalls on network lookups. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SERVER_START_MS = 15_000;
/** Any single expectation about the game. */
const PATIENCE_MS = 10_000;
const HOLD_KEY_MS = 600;
/** The canvas's background colour (render.js BACKGROUND). */
const BACKGROUND = [5, 7, 13];

/**
 * Starts the server on an ephemeral port; resolves once it prints its address.
 * @returns {Promise<{url: string, stop: () => Promise<void>, log: () => string}>}
 */
function startServer() {
  const child = spawn(SERVER_BIN, ['--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let stdout = '';
    let settled = false;
    const settle = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        stop();
        reject(error);
      } else {
        resolve(value);
      }
    };
    const timer = setTimeout(() => {
      settle(new Error(`server did not print its address within ${SERVER_START_MS} ms:\n${output}`));
    }, SERVER_START_MS);
    child.once('error', (error) => {
      settle(new Error(`cannot start ${SERVER_BIN}: ${error.message} (run \`cargo build\` first)`));
    });
    child.once('exit', (code, signal) => {
      settle(new Error(`server exited early (${code ?? signal}):\n${stdout}${output}`));
    });
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^skirmish listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/m.exec(stdout);
      if (match) settle(null, { url: match[1], stop, log: () => output });
    });
  });
}

/**
 * Opens the game as `name` in a browser context of its own (pages that share a context share a
 * window, where the one in front can starve the other of animation frames), and records every
 * console error and page error.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {string} name
 */
async function openPlayer(browser, url, name) {
  const context = await browser.newContext({ viewport: { width: 960, height: 640 } });
  context.setDefaultTimeout(PATIENCE_MS);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  await page.goto(`${url}/?name=${encodeURIComponent(name)}`, { timeout: PATIENCE_MS });
  return { page, errors, name };
}

/** @param {import('playwright-core').Page} page */
function stateOf(page) {
  return page.evaluate(() => window.skirmish.state);
}

/**
 * Polls the page's state until `predicate(state)` holds (it runs here, in Node).
 * @param {import('playwright-core').Page} page
 * @param {string} what for the failure message
 * @param {(state: any) => boolean} predicate
 */
async function waitForState(page, what, predicate) {
  const deadline = Date.now() + PATIENCE_MS;
  let state = null;
  while (Date.now() < deadline) {
    state = await stateOf(page);
    if (state && predicate(state)) return state;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${PATIENCE_MS} ms waiting for ${what}; state: ${JSON.stringify(state)}`);
}

/**
 * How much of the canvas is drawn: pixels sampled across it that differ from the background,
 * and the colour at the centre (where our ship is).
 * @param {import('playwright-core').Page} page
 */
function canvasPixels(page, background) {
  return page.evaluate((bg) => {
    const canvas = document.getElementById('game');
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const differs = (i) => Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]) > 24;
    let sampled = 0;
    let drawn = 0;
    for (let i = 0; i < data.length; i += 4 * 101) {
      sampled++;
      if (differs(i)) drawn++;
    }
    const centre = 4 * (Math.floor(canvas.height / 2) * canvas.width + Math.floor(canvas.width / 2));
    return {
      width: canvas.width,
      height: canvas.height,
      sampled,
      drawn,
      centre: [data[centre], data[centre + 1], data[centre + 2]],
      centreDrawn: differs(centre),
    };
  }, background);
}

test('two players join, see each other move, and see each other leave', { timeout: 58_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startServer();
  t.after(() => server.stop());

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    timeout: 20_000,
  });
  t.after(() => browser.close());
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
    const key = start.x < 1500 ? 'ArrowRight' : 'ArrowLeft';
    const sign = key === 'ArrowRight' ? 1 : -1;
    await alice.page.keyboard.down(key);
    await alice.page.waitForTimeout(HOLD_KEY_MS);
    await alice.page.keyboard.up(key);

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
      await page.screenshot({ path: join(ARTIFACTS, `${name.toLowerCase()}.png`), timeout: PATIENCE_MS });
    }

    // Bob leaves: he disappears from Alice's snapshots and roster.
    await bob.page.close();
    await waitForState(
      alice.page,
      'Bob to leave Alice\'s game',
      (state) => !state.players.some((p) => p.id === bobId) && !state.roster.some((p) => p.id === bobId),
    );
    const after = await stateOf(alice.page);
    assert.deepEqual(after.players.map((p) => p.name), ['Alice']);
    assert.equal(after.connected, true);
    await alice.page.screenshot({ path: join(ARTIFACTS, 'alice-alone.png'), timeout: PATIENCE_MS });

    for (const { name, errors } of players) {
      assert.deepEqual(errors, [], `${name}'s page reported errors`);
    }
  } catch (error) {
    for (const { page, name } of players) {
      if (!page.isClosed()) {
        await page.screenshot({ path: join(ARTIFACTS, `${name.toLowerCase()}-failure.png`) }).catch(() => {});
      }
    }
    error.message += `\n--- page errors: ${JSON.stringify(players.map((p) => p.errors))}`;
    error.message += `\n--- server log (tail):\n${server.log().slice(-4000)}`;
    throw error;
  }
});
