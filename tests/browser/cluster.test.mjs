// The cluster in headless Chromium: a real `redis-server` on a free port and two server
// processes joined to it (n1, n2). A page served by n2 quick-plays there first, so n2 holds the
// only public room; n1's lobby lists that room with its node, and a player joins it from the
// list (on n2). A page served by n1 then quick-plays: n1 answers with a Redirect, the page
// follows it without a reload, plays on n2 with the others (snapshots flow, the overlay names
// n2). Then n2 is killed: that page cannot come back to n2, falls back to n1 with its resume
// token, and n1 places it in a new room and says why its ship is gone.
//
// Needs `redis-server` (Debian's package); without it the test is skipped with a message,
// unless SKIRMISH_REQUIRE_REDIS is set, which makes it a failure. See harness.mjs for the rest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

import {
  OUTAGE_ERRORS,
  assertHudLayout,
  explainFailure,
  launchBrowser,
  openPlayer,
  sleep,
  startServer,
  waitForState,
} from './harness.mjs';

/** A short lease, so a killed node leaves the cluster within a couple of seconds. */
const LEASE = '1s';
const REDIS_START_MS = 10_000;

/** @param {any} state */
const playing = (state) =>
  state.connected && state.status === 'connected' && state.room && state.snapshotsReceived > 3;

/** Why the cluster test cannot run here, or null when `redis-server` is installed. */
function redisMissing() {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error ? 'redis-server is not installed (apt-get install redis-server)' : null;
}

/** A free TCP port on 127.0.0.1 (free when asked: redis-server binds it right after). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */
async function waitForListener(port) {
  const deadline = Date.now() + REDIS_START_MS;
  while (Date.now() < deadline) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await sleep(50);
  }
  throw new Error(`redis-server did not listen on ${port} within ${REDIS_START_MS} ms`);
}

/**
 * A fresh, empty `redis-server` on a free port, killed when the test ends.
 * @param {import('node:test').TestContext} t
 */
async function startRedis(t) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  await waitForListener(port);
  return `redis://127.0.0.1:${port}`;
}

/**
 * A node joined to the cluster at `redisUrl`, stopped when the test ends.
 * @param {import('node:test').TestContext} t
 * @param {string} redisUrl
 * @param {string} id
 */
async function startNode(t, redisUrl, id) {
  const node = await startServer(['--redis-url', redisUrl, '--node-id', id, '--cluster-lease', LEASE]);
  t.after(() => node.stop());
  return node;
}

/** The host of a server's URL, as the overlay and the test hook name a node. */
const hostOf = (/** @type {{url: string}} */ server) => new URL(server.url).host;

test('a page follows a Redirect to the node with the room, and the lobby lists it', { timeout: 60_000 }, async (t) => {
  const missing = redisMissing();
  if (missing !== null) {
    assert.ok(!process.env.SKIRMISH_REQUIRE_REDIS, `${missing}, and SKIRMISH_REQUIRE_REDIS says this test must run`);
    console.warn(`SKIPPED: the browser cluster test: ${missing}`);
    t.skip(missing);
    return;
  }
  const browser = await launchBrowser(t);
  const redisUrl = await startRedis(t);
  const n1 = await startNode(t, redisUrl, 'n1');
  const n2 = await startNode(t, redisUrl, 'n2');
  /** @type {import('./harness.mjs').Player[]} */
  const players = [];
  try {
    // Bea quick-plays on n2, where both nodes are empty: n2 opens the room itself.
    const bea = await openPlayer(browser, n2.url, 'Bea');
    players.push(bea);
    const beaIn = await waitForState(bea.page, 'Bea playing on n2', playing);
    assert.equal(beaIn.node, hostOf(n2));
    assert.ok(!beaIn.events.includes('redirect'), `Bea was not sent anywhere: ${beaIn.events}`);

    // n1's lobby lists n2's room with its node; Cal joins it from the list, on n2.
    const cal = await openPlayer(browser, n1.url, 'Cal', { join: false });
    players.push(cal);
    const lobby = await waitForState(cal.page, "n2's room in n1's lobby", (s) =>
      s.lobby.length === 1 && s.lobby[0].node === 'n2' && s.lobby[0].players === 1,
    );
    assert.equal(lobby.lobby[0].id, beaIn.room.id);
    assert.equal(lobby.lobby[0].url, n2.url);
    const row = cal.page.locator('#room-list li', { hasText: 'node n2' });
    assert.match(await row.textContent(), new RegExp(`Room ${beaIn.room.id} · arena · 1/\\d+ · node n2`));
    await cal.page.locator('#name-input').fill('Cal');
    await cal.page.locator(`#room-list button[data-room="${beaIn.room.id}"][data-node="n2"]`).click();
    const calIn = await waitForState(cal.page, 'Cal in the listed room', playing);
    assert.equal(calIn.node, hostOf(n2), 'a listed room is joined on its node');
    assert.equal(calIn.room.id, beaIn.room.id);

    // Ann quick-plays on a page n1 served: n1 sends her to n2's room, the fullest with space.
    const ann = await openPlayer(browser, n1.url, 'Ann');
    players.push(ann);
    const annIn = await waitForState(ann.page, 'Ann playing after the redirect', playing);
    assert.ok(annIn.events.includes('redirect'), `the page followed a redirect: ${annIn.events}`);
    assert.equal(annIn.socketUrl, `ws://${hostOf(n2)}/ws`, 'the WebSocket it ends on is n2\'s');
    assert.equal(new URL(ann.page.url()).host, hostOf(n1), 'no navigation: the page is still n1\'s');
    assert.equal(annIn.room.id, beaIn.room.id, 'the room Bea is in');
    assert.deepEqual(annIn.events.filter((e) => e === 'connect_error'), [], 'the 4010 close is no error');
    const met = await waitForState(ann.page, 'Ann to see Bea and Cal', (s) =>
      ['Bea', 'Cal'].every((name) => s.players.some((p) => p.name === name)),
    );
    const later = await waitForState(ann.page, 'snapshots to keep flowing', (s) =>
      s.snapshotsReceived > met.snapshotsReceived + 20,
    );
    assert.ok(later.connected);
    await waitForState(bea.page, 'Bea to see Ann', (s) => s.players.some((p) => p.name === 'Ann'));

    // The network overlay names the node Ann plays on, and keeps clear of the rest of the HUD.
    await ann.page.keyboard.press('n');
    await ann.page.locator('#hud-net').waitFor({ state: 'visible' });
    await waitForState(ann.page, 'the overlay to fill', (s) => s.net.shown);
    const overlay = await ann.page.locator('#hud-net').textContent();
    assert.match(overlay, new RegExp(`node ${hostOf(n2).replace(/\./g, '\\.')}`));
    await assertHudLayout(ann.page, ['status', 'network overlay', 'scoreboard'], 'overlay on n2');

    // n2 goes down. Bea's and Cal's pages were n2's own: let them go first. Ann cannot come
    // back to n2, falls back to n1 with her token, and is told her ship is gone.
    await bea.page.context().close();
    await cal.page.context().close();
    players.splice(0, 2);
    ann.allowed = OUTAGE_ERRORS;
    await n2.kill();
    const afresh = await waitForState(
      ann.page,
      'Ann playing again on n1, told why',
      (s) => playing(s) && s.node === hostOf(n1),
      20_000,
    );
    ann.allowed = null;
    assert.equal(afresh.socketUrl, `ws://${hostOf(n1)}/ws`);
    const told = afresh.chat.find((line) => line.kind === 'system' && /as a new player: /.test(line.text));
    assert.ok(told, `the reason is shown: ${JSON.stringify(afresh.chat)}`);
    assert.match(told.text, /no player to resume/, "the server's reason, not the generic line");
  } catch (error) {
    throw await explainFailure(error, players, [n1, n2], 'cluster');
  }
});
