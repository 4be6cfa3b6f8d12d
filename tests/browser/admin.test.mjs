// The operator's page (/admin, docs/ADMIN.md) end to end in headless Chromium against the real
// server binary: with `--admin-token` and the crate's swarm of bots playing, the page signs in
// from the address's `#token=` (and takes it out of the address), goes live, and its numbers,
// tables and charts move; a reload stays signed in. A wrong token is refused with 4401 and the
// form; the HTTP API answers 401 without the right bearer; without `--admin-token` nothing
// under /admin exists. From the page, a notice reaches a player's chat, a kick shows its reason
// on the kicked player's page (which does not come back), and closing a room closes its
// players with the reason. Screenshot: target/browser-artifacts/admin.png.
//
// Environment, besides harness.mjs's: SWARM_BIN (default: `swarm` beside SKIRMISH_BIN).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

import { formatMicros } from '../../web-client/admin/format.js';

import {
  ARTIFACTS,
  PATIENCE_MS,
  SERVER_BIN,
  explainFailure,
  openPage,
  openPlayer,
  sleep,
  startGame,
  startServer,
  unexpectedErrors,
  waitForState,
} from './harness.mjs';

const SWARM_BIN = process.env.SWARM_BIN || join(dirname(SERVER_BIN), 'swarm');
/** The charts' background (charts.js CHART_BACKGROUND, #0a1120). */
const CHART_BACKGROUND = [10, 17, 32];
const BOTS = 5;
/** A desktop window wide enough for the page's four charts in a row. */
const WIDE = { viewport: { width: 1280, height: 900 } };

/** A fresh secret per run, as an operator would make one. */
const newToken = () => randomBytes(16).toString('hex');

/**
 * Runs the crate's bot swarm against `server` for a bounded time; stopped when test `t` ends.
 * @param {import('node:test').TestContext} t
 * @param {import('./harness.mjs').Server} server
 * @param {{bots: number, seconds: number}} size
 */
function startSwarm(t, server, { bots, seconds }) {
  const args = ['--url', `ws://127.0.0.1:${server.port}/ws`, '--bots', String(bots), '--duration', `${seconds}s`, '--ramp', '50'];
  const child = spawn(SWARM_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output = (output + chunk).slice(-4000);
  });
  child.once('error', (error) => {
    output += `cannot start ${SWARM_BIN}: ${error.message} (run \`cargo build --bins\` first)`;
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { log: () => output };
}

/**
 * Opens the operator's page of `server`, with `fragment` (e.g. `#token=...`).
 * @param {import('playwright-core').Browser} browser
 * @param {import('./harness.mjs').Server} server
 * @param {string} fragment
 * @param {string} [name]
 */
function openAdmin(browser, server, fragment, name = 'Admin') {
  return openPage(browser, `${server.url}/admin${fragment}`, name, { context: WIDE });
}

/**
 * Polls the operator page's test hook until `predicate` holds.
 * @param {import('playwright-core').Page} page
 * @param {string} what
 * @param {(state: any) => boolean} predicate
 * @param {number} [patience]
 */
async function waitForAdmin(page, what, predicate, patience = PATIENCE_MS) {
  const deadline = Date.now() + patience;
  let state = null;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => window.skirmishAdmin?.state ?? null);
    if (state && predicate(state)) return state;
    await sleep(100);
  }
  const shown = state ? { ...state, lastSample: state.lastSample, charts: undefined } : state;
  throw new Error(`timed out after ${patience} ms waiting for ${what}; admin state: ${JSON.stringify(shown)}`);
}

/** Pixels sampled across a chart's canvas that differ from its background (runs in the page). */
function chartPixelsDrawn([selector, background]) {
  const canvas = /** @type {HTMLCanvasElement} */ (document.querySelector(selector));
  const { data } = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4 * 7) {
    const off = Math.abs(data[i] - background[0]) + Math.abs(data[i + 1] - background[1]) + Math.abs(data[i + 2] - background[2]);
    if (off > 40) drawn++;
  }
  return { drawn, width: canvas.width, cssWidth: canvas.clientWidth };
}

/** @param {any} state */
const live = (state) => state.status === 'live';
/** @param {any} state */
const playing = (state) => state.connected && state.status === 'connected' && state.snapshotsReceived > 3;

test('the live page: numbers, tables and charts move while bots play', { timeout: 45_000 }, async (t) => {
  const token = newToken();
  const { browser, server } = await startGame(t, ['--admin-token', token]);
  const swarm = startSwarm(t, server, { bots: BOTS, seconds: 30 });
  /** @type {import('./harness.mjs').Player[]} */
  const pages = [];
  try {
    const admin = await openAdmin(browser, server, `#token=${token}`);
    pages.push(admin);
    await waitForAdmin(admin.page, 'the page to go live', live);
    assert.equal(new URL(admin.page.url()).hash, '', 'the token left the address');
    assert.equal(await admin.page.locator('#login').isVisible(), false);

    const busy = await waitForAdmin(
      admin.page,
      `the ${BOTS} bots in the numbers and the table`,
      (s) => s.lastSample?.players >= BOTS && s.players.length >= BOTS && s.lastSample.bytes_out > 0,
      15_000,
    );
    const next = await waitForAdmin(admin.page, 'another sample', (s) => s.samplesReceived > busy.samplesReceived && s.lastSample.t > busy.lastSample.t);
    assert.ok(next.lastSample.bytes_out > 0, 'bytes go out in every second while bots play');
    assert.ok(next.rooms.length >= 1 && next.nodes.length >= 1, 'a room and this node are listed');
    assert.ok(next.nodes.some((n) => n.me), 'this node is marked');
    await waitForAdmin(admin.page, 'bytes out to change between samples', (s) => s.lastSample.bytes_out !== busy.lastSample.bytes_out, 5000);
    assert.match(await admin.page.locator('#tile-bytes-out').textContent(), /^\d+(\.\d+)? (B|KiB|MiB)\/s$/);
    assert.ok(Number(await admin.page.locator('#tile-players').textContent()) >= BOTS, 'the players tile counts the bots');
    const rows = await admin.page.locator('#players-table tbody tr').count();
    assert.ok(rows >= BOTS, `${rows} rows in the players table`);

    for (const chart of ['#chart-bandwidth', '#chart-players']) {
      const pixels = await admin.page.evaluate(chartPixelsDrawn, [chart, CHART_BACKGROUND]);
      assert.ok(pixels.drawn > 20, `${chart} draws lines: ${JSON.stringify(pixels)}`);
      assert.equal(pixels.width, Math.round(pixels.cssWidth), `${chart} drawn at the device's pixels`);
    }
    const { charts } = await waitForAdmin(admin.page, 'the charts', (s) => s.charts.bandwidth.points > 1);
    assert.ok(charts.bandwidth.top > 0 && charts.players.top >= BOTS, JSON.stringify(charts));
    // A few more seconds of history, so the screenshot's charts have lines to show.
    await waitForAdmin(admin.page, 'a few seconds of history', (s) => s.samplesShown >= 8, 12_000);
    await admin.page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true, timeout: PATIENCE_MS });

    // A reload stays signed in: the token is in this tab's sessionStorage, not the address.
    await admin.page.reload();
    await waitForAdmin(admin.page, 'the reloaded page to go live', (s) => live(s) && s.samplesReceived > 0);
  } catch (error) {
    const explained = await explainFailure(error, pages, [server], 'admin-live');
    explained.message += `\n--- swarm (tail): ${swarm.log()}`;
    throw explained;
  }
  assert.deepEqual(unexpectedErrors(browser), []);
});

test('access: a wrong token is refused, the API wants the bearer, no token means no /admin', { timeout: 30_000 }, async (t) => {
  const token = newToken();
  const { browser, server } = await startGame(t, ['--admin-token', token]);
  /** @type {import('./harness.mjs').Player[]} */
  const pages = [];
  try {
    for (const path of ['/admin', '/admin/admin.js', '/admin/admin.css']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, `${path} with --admin-token`);
    }
    const api = `${server.url}/admin/api/state`;
    assert.equal((await fetch(api)).status, 401, 'no bearer');
    assert.equal((await fetch(api, { headers: { Authorization: 'Bearer wrong' } })).status, 401, 'a wrong bearer');
    const right = await fetch(api, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(right.status, 200);
    const state = await right.json();
    assert.equal(state.type, 'state');
    assert.ok(Array.isArray(state.rooms) && Array.isArray(state.players) && Array.isArray(state.nodes));

    // Without a token the page only shows its form.
    const bare = await openAdmin(browser, server, '', 'Bare');
    pages.push(bare);
    const unsigned = await waitForAdmin(bare.page, 'the form', (s) => s.status === 'login');
    assert.equal(unsigned.closeCode, null, 'no socket was opened');
    assert.equal(await bare.page.locator('#login-form').isVisible(), true);
    assert.equal(await bare.page.locator('#live').isVisible(), false);

    // A wrong token typed in the form: 4401, said, and the form again.
    await bare.page.locator('#login-operator').fill('eve');
    await bare.page.locator('#login-token').fill('not-the-token');
    await bare.page.locator('#login-submit').click();
    await waitForAdmin(bare.page, 'the typed token refused', (s) => s.status === 'login' && s.closeCode === 4401);
    assert.equal(await bare.page.locator('#login-error').textContent(), 'wrong token');

    // A wrong token in the address likewise, and it does not try again on its own.
    const wrong = await openAdmin(browser, server, '#token=wrong', 'Wrong');
    pages.push(wrong);
    const refused = await waitForAdmin(wrong.page, 'the token refused', (s) => s.closeCode === 4401);
    assert.equal(refused.status, 'login');
    assert.equal(refused.samplesReceived, 0);
    assert.equal(new URL(wrong.page.url()).hash, '');
    assert.equal(await wrong.page.locator('#login-error').isVisible(), true);
    assert.equal(await wrong.page.evaluate(() => sessionStorage.length), 0, 'a refused token is forgotten');

    // A server without --admin-token has no /admin at all.
    const closed = await startServer();
    t.after(() => closed.stop());
    for (const path of ['/admin', '/admin/', '/admin/admin.js', '/admin/admin.css', '/admin/api/state', '/admin/ws']) {
      const response = await fetch(`${closed.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(response.status, 404, `${path} without --admin-token`);
    }
  } catch (error) {
    throw await explainFailure(error, pages, [server], 'admin-access');
  }
  assert.deepEqual(unexpectedErrors(browser), []);
});

test('from the page: a notice reaches the players, a kick and a closed room say why', { timeout: 45_000 }, async (t) => {
  const token = newToken();
  const { browser, server } = await startGame(t, ['--admin-token', token]);
  /** @type {import('./harness.mjs').Player[]} */
  const pages = [];
  try {
    const mallory = await openPlayer(browser, server.url, 'Mallory');
    const nina = await openPlayer(browser, server.url, 'Nina');
    pages.push(mallory, nina);
    const admin = await openAdmin(browser, server, `#token=${token}&operator=tester`);
    pages.push(admin);
    for (const player of [mallory, nina]) await waitForState(player.page, `${player.name} playing`, playing);
    const listed = await waitForAdmin(admin.page, 'both players listed', (s) =>
      live(s) && ['Mallory', 'Nina'].every((name) => s.players.some((p) => p.name === name)),
    );
    assert.equal(listed.operator, 'tester');

    // A notice: an announcement line in every player's chat.
    await admin.page.locator('#notice-text').fill('Server restarts in 5 minutes');
    await admin.page.locator('#notice-submit').click();
    await waitForAdmin(admin.page, 'the notice answered', (s) => s.results.length === 1);
    const [noticed] = (await admin.page.evaluate(() => window.skirmishAdmin.state)).results;
    assert.equal(noticed.ok, true, JSON.stringify(noticed));
    for (const player of [mallory, nina]) {
      await waitForState(player.page, `the notice in ${player.name}'s chat`, (s) =>
        s.chat.some((line) => line.text.includes('Server restarts in 5 minutes')),
      );
    }

    // A kick: the reason row in the page, the result in the log, the reason on her page.
    const malloryRow = admin.page.locator('#players-table tbody tr', { hasText: 'Mallory' });
    await malloryRow.locator('button.kick').click();
    await admin.page.locator('#action-form').waitFor({ state: 'visible' });
    assert.match(await admin.page.locator('#action-title').textContent(), /Mallory/);
    await admin.page.locator('#action-reason').fill('testing the kick');
    await admin.page.locator('#action-submit').click();
    const kicked = await waitForAdmin(admin.page, 'the kick answered', (s) => s.results.length === 2);
    assert.equal(kicked.results[1].ok, true, JSON.stringify(kicked.results[1]));
    assert.equal(await admin.page.locator('#action-log li.ok').count(), 2);
    const gone = await waitForState(mallory.page, 'Mallory told she was kicked', (s) => !s.connected && s.reason.includes('testing the kick'));
    assert.equal(gone.status, 'removed', 'a kicked page does not reconnect');
    assert.match(await mallory.page.locator('body').innerText(), /testing the kick/);
    await waitForAdmin(admin.page, 'Mallory gone from the table', (s) => !s.players.some((p) => p.name === 'Mallory'));
    await sleep(1500);
    const still = await waitForState(mallory.page, 'Mallory still out', () => true);
    assert.equal(still.connected, false);
    assert.equal(still.status, 'removed');

    // Closing Nina's room: she is closed with the reason.
    const ninaRoom = (await admin.page.evaluate(() => window.skirmishAdmin.state)).players.find((p) => p.name === 'Nina').room;
    await admin.page.locator(`#rooms-table tbody tr[data-key="${ninaRoom}"] button.close-room`).click();
    await admin.page.locator('#action-reason').fill('maintenance');
    await admin.page.locator('#action-reason').press('Enter');
    const closedRoom = await waitForAdmin(admin.page, 'the close answered', (s) => s.results.length === 3);
    assert.equal(closedRoom.results[2].ok, true, JSON.stringify(closedRoom.results[2]));
    await waitForState(nina.page, 'Nina told her room closed', (s) => !s.connected && s.reason.includes('room closed: maintenance'));
  } catch (error) {
    throw await explainFailure(error, pages, [server], 'admin-actions');
  }
  assert.deepEqual(unexpectedErrors(browser), []);
});

/**
 * A sample as the server sends it, `secondsAgo` before `now`; every tenth has no tick.
 * @param {number} now
 * @param {number} secondsAgo
 */
function scriptedSample(now, secondsAgo) {
  const i = 300 - secondsAgo;
  const ticked = i % 10 !== 0;
  return {
    t: now - secondsAgo * 1000,
    players: 40 + (i % 5),
    away: i % 2,
    rooms: 2,
    connections: 44,
    tick_p50_us: ticked ? 300 + (i % 7) * 20 : null,
    tick_p99_us: ticked ? 900 + (i % 11) * 40 : null,
    bytes_in: 20_480,
    bytes_out: 512_000 + i * 100,
    accepted: i % 3,
    closed: i % 4 === 0 ? { ping_timeout: 1 } : { leave: 1 },
    rejected: {},
    refused: {},
    rate_limited: 2,
    snapshots_skipped: 7,
  };
}

/** A `state` with a name that would be markup if it were ever parsed as HTML. */
const SCRIPTED_STATE = {
  type: 'state',
  rooms: [{ id: 3, mode: 'arena', private: true, code: 'ABCDEFGHJK', players: 2, max_players: 64, tick_us: 420, tick_p99_us: 900, snapshot_bytes: 310, age_s: 125 }],
  players: [
    { id: 12, name: 'Alice', room: 3, transport: 'websocket', rtt_ms: 31.5, skipped: 0, connected_s: 64, peer: '127.0.0.1:40012' },
    { id: 40, name: '<img src=x onerror=alert(1)>', room: 3, transport: 'polling', rtt_ms: null, skipped: 9, connected_s: 3, peer: '127.0.0.1:40013' },
  ],
  slowest: [40],
  nodes: [{ id: 'eu-1', url: 'ws://10.0.0.1:8080/ws', players: 2, rooms: 1, region: '', me: true }],
};

test('the page against a scripted socket: gaps, HiDPI, names as text, reasons checked, retries and 4429', { timeout: 30_000 }, async (t) => {
  const token = newToken();
  const { browser, server } = await startGame(t, ['--admin-token', token]);
  /** What the scripted server received, and its current socket. */
  const received = [];
  /** @type {any} */
  let current = null;
  let connections = 0;
  /** @param {import('playwright-core').Page} page */
  const script = (page) =>
    page.routeWebSocket(/\/admin\/ws$/, (ws) => {
      connections += 1;
      current = ws;
      const refuse = connections > 1; // the second socket is refused as if attempts ran out
      ws.onMessage((text) => {
        const message = JSON.parse(String(text));
        received.push(message);
        if (message.type === 'auth' && refuse) {
          ws.close({ code: 4429, reason: 'too many attempts' });
        } else if (message.type === 'auth') {
          const now = Date.now();
          const history = Array.from({ length: 300 }, (_, k) => scriptedSample(now, 300 - k));
          ws.send(JSON.stringify({ type: 'hello', node: 'eu-1', cluster: false, version: '0.1.0', protocol: 9, interval_ms: 1000, history }));
          ws.send(JSON.stringify(SCRIPTED_STATE));
        } else {
          ws.send(JSON.stringify({ type: 'result', id: message.id, ok: false, error: 'no such room' }));
        }
      });
    });
  /** @type {import('./harness.mjs').Player[]} */
  const pages = [];
  try {
    const admin = await openPage(browser, `${server.url}/admin#token=${token}`, 'Scripted', {
      context: { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 2 },
      prepare: script,
    });
    pages.push(admin);
    const shown = await waitForAdmin(admin.page, 'the scripted hello and state', (s) => live(s) && s.statesReceived === 1);
    assert.deepEqual(received[0], { type: 'auth', token, operator: shown.operator }, 'auth first, nothing else before it');
    assert.equal(shown.samplesReceived, 300);

    // Gaps where no tick ran; drawn at twice the CSS pixels.
    const tick = shown.charts.tick;
    assert.ok(tick.points > 0 && tick.points < 2 * 300, `the null ticks are gaps: ${JSON.stringify(tick)}`);
    const pixels = await admin.page.evaluate(chartPixelsDrawn, ['#chart-tick', CHART_BACKGROUND]);
    assert.equal(pixels.width, 2 * Math.round(pixels.cssWidth), `HiDPI: ${JSON.stringify(pixels)}`);
    assert.equal(await admin.page.locator('#tile-tick-p50').textContent(), formatMicros(shown.lastSample.tick_p50_us));
    await admin.page.setViewportSize({ width: 700, height: 900 });
    await waitForAdmin(admin.page, 'the charts redrawn at the new size', (s) => s.charts.tick.width !== tick.width && s.charts.tick.points === tick.points);

    // A player's name is text, and the slowest reader comes first, marked.
    const first = admin.page.locator('#players-table tbody tr').first();
    assert.equal(await first.getAttribute('class'), 'slow');
    assert.equal(await first.locator('td').nth(1).textContent(), '<img src=x onerror=alert(1)>');
    assert.equal(await admin.page.locator('main img').count(), 0);

    // An empty reason is caught in the page; the server's error shows red in the log.
    await admin.page.locator('#rooms-table button.close-room').click();
    await admin.page.locator('#action-submit').click();
    assert.match(await admin.page.locator('#action-error').textContent(), /empty/);
    assert.equal(received.length, 1, 'nothing sent');
    await admin.page.locator('#action-reason').fill('maintenance');
    await admin.page.locator('#action-submit').click();
    const failed = await waitForAdmin(admin.page, 'the error result', (s) => s.results.length === 1);
    assert.deepEqual({ ...failed.results[0], action: undefined }, { id: 1, ok: false, text: 'no such room', action: undefined });
    assert.deepEqual(received[1], { type: 'close_room', room: 3, reason: 'maintenance', id: 1 });
    assert.match(await admin.page.locator('#action-log li.error').textContent(), /no such room/);

    // A lost socket: said, and retried; the retry refused with 4429: the form, no more tries.
    current.close({ code: 1011, reason: 'restart' });
    const lost = await waitForAdmin(admin.page, 'the loss told', (s) => s.status === 'closed');
    assert.match(lost.statusText, /reconnecting in \d+ s/);
    const limited = await waitForAdmin(admin.page, 'the retry refused', (s) => s.closeCode === 4429);
    assert.equal(limited.status, 'login');
    assert.match(await admin.page.locator('#login-error').textContent(), /too many attempts/);
    await sleep(1500);
    assert.equal(connections, 2, 'no retry after 4429');
  } catch (error) {
    throw await explainFailure(error, pages, [server], 'admin-scripted');
  }
  assert.deepEqual(unexpectedErrors(browser), []);
});

