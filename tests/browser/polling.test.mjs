// End-to-end tests of HTTP long polling in headless Chromium against the real server binary: a
// page behind a proxy that refuses WebSocket upgrades (as some middleboxes do) falls back to
// polling by itself and still plays (snapshots flow, its ship moves), chats with a WebSocket
// player, and resumes its player after the proxy drops every connection; and a page that
// forces polling with `?transport=polling` plays without a single WebSocket or console error;
// and, once the proxy lets WebSocket through, a polling page switches to it in place (same
// player, nothing lost or repeated in chat, the other player sees no leave or away).
// Run with `node --test tests/browser/`; see harness.mjs for the environment.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  OUTAGE_ERRORS,
  TEST_ARENA,
  explainFailure,
  holdKey,
  openPlayer,
  sleep,
  startGame,
  startProxy,
  stateOf,
  typeChat,
  waitForState,
} from './harness.mjs';

const ARENA_MIDDLE_X = Number.parseInt(TEST_ARENA, 10) / 2;
/** Heartbeat every second, answered within 3 s: a polling session without GETs ends in 3 s. */
const FAST_HEARTBEAT = ['--ping-interval', '1s', '--ping-timeout', '3s'];
/**
 * Long enough for both sides to give the polling session up (the server after its 3 s ping
 * timeout, the page after its GET retries, about 4 s), so that coming back is a resume.
 */
const OUTAGE_MS = 6000;

/**
 * What the browser prints while the proxy refuses the WebSocket: the failed WebSocket, and the
 * 426 of the request that asks the server why (it would have upgraded: something on the way
 * refused, so the page falls back to polling).
 */
const WEBSOCKET_REFUSED = [
  /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed: /,
  /^Failed to load resource: the server responded with a status of 426 \(Upgrade Required\)$/,
];
/**
 * And from the cut on: requests that cannot connect, those in flight when it came (reset, or
 * "socket not connected" when Chromium had picked a pooled socket the cut had just closed; the
 * browser may report them only after the network is back), and the ended session's 404.
 */
const POLLING_OUTAGE = [
  ...WEBSOCKET_REFUSED,
  ...OUTAGE_ERRORS,
  /^Failed to load resource: net::ERR_(CONNECTION_RESET|EMPTY_RESPONSE|SOCKET_NOT_CONNECTED)$/,
  /^Failed to load resource: the server responded with a status of 404 \(Not Found\)$/,
];

/** @param {any} state */
const playing = (state) =>
  state.connected && state.status === 'connected' && state.snapshotsReceived > 3 && state.me && state.serverMe;

/**
 * Steers a page's ship towards the middle for a moment and waits until the server has moved it.
 * @param {import('./harness.mjs').Player} player
 */
async function flyABit(player) {
  const start = (await waitForState(player.page, `${player.name} to be placed`, (s) => s.serverMe)).serverMe;
  const key = start.x < ARENA_MIDDLE_X ? 'ArrowRight' : 'ArrowLeft';
  const sign = key === 'ArrowRight' ? 1 : -1;
  await holdKey(player.page, key, 400);
  return waitForState(
    player.page,
    `${player.name}'s ship to move on the server`,
    (s) => s.serverMe && (s.serverMe.x - start.x) * sign > 40 && s.pendingInputs < 10,
  );
}

/**
 * The network overlay's lines, once it shows the transport.
 * @param {import('./harness.mjs').Player} player
 */
async function overlayLines(player) {
  await player.page.keyboard.press('KeyN');
  await waitForState(player.page, `${player.name}'s network overlay to open`, (s) => s.net.shown);
  await player.page.locator('#hud-net .line', { hasText: /^transport / }).waitFor({ state: 'visible' });
  return player.page.locator('#hud-net .line').allInnerTexts();
}

/**
 * Says `text` from `from` and waits until `to` shows it.
 * @param {import('./harness.mjs').Player} from
 * @param {import('./harness.mjs').Player} to
 * @param {string} text
 */
async function chatAcross(from, to, text) {
  await typeChat(from.page, text);
  await waitForState(to.page, `${to.name} to see ${from.name}'s line`, (s) =>
    s.chat.some((l) => l.kind === 'chat' && l.name === from.name && l.text === text),
  );
}

/** @param {import('./harness.mjs').Player[]} players */
function assertNoUnexpectedErrors(players) {
  for (const { name, errors } of players) assert.deepEqual(errors, [], `${name}'s page reported errors`);
}

test('behind a proxy that refuses WebSocket, a page plays, chats and resumes over long polling', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t, [...FAST_HEARTBEAT, '--resume-grace', '20s']);
  const proxy = await startProxy(server.port, { refuseWebSocket: true });
  t.after(() => proxy.stop());
  const alice = await openPlayer(browser, proxy.url, 'Alice', { allowed: WEBSOCKET_REFUSED });
  const bob = await openPlayer(browser, server.url, 'Bob');
  const players = [alice, bob];
  try {
    const joined = await waitForState(alice.page, 'Alice to play over polling with Bob', (s) =>
      playing(s) && s.players.length === 2 && s.transport === 'polling',
    );
    assert.ok(alice.expected.length > 0, 'the WebSocket was tried first, and refused');
    await waitForState(bob.page, 'Bob to play over WebSocket with Alice', (s) =>
      playing(s) && s.players.length === 2 && s.transport === 'websocket',
    );
    const lines = await overlayLines(alice);
    assert.ok(lines.includes('transport polling'), JSON.stringify(lines));

    // Snapshots flow and inputs go up: the ship moves on the server, and Bob sees it.
    const snapshotsBefore = (await stateOf(alice.page)).snapshotsReceived;
    const moved = await flyABit(alice);
    assert.ok(moved.snapshotsReceived > snapshotsBefore + 10, 'snapshots keep coming');
    await waitForState(bob.page, 'Bob to see Alice move', (s) => {
      const seen = s.players.find((p) => p.id === joined.playerId);
      return seen && Math.abs(seen.x - moved.serverMe.x) < 60;
    });

    // Chat both ways between a polling and a WebSocket player.
    await chatAcross(alice, bob, 'hello from behind the proxy');
    await chatAcross(bob, alice, 'loud and clear');

    // At rest, then the proxy drops every connection and refuses new ones for a while.
    const rested = await waitForState(alice.page, 'Alice to come to rest', (s) => s.serverMe.speed < 1);
    alice.allowed = POLLING_OUTAGE;
    await proxy.cut();
    await waitForState(alice.page, 'Alice to show she is reconnecting', (s) => s.status === 'reconnecting', 15_000);
    await waitForState(bob.page, 'Bob to see Alice away', (s) => s.players.some((p) => p.id === joined.playerId && p.away));
    await sleep(OUTAGE_MS / 2);
    await proxy.restore();
    const back = await waitForState(
      alice.page,
      'Alice to reconnect over polling and resume',
      (s) => playing(s) && s.resumed === true,
      20_000,
    );
    t.diagnostic(`errors let through: ${JSON.stringify(alice.expected)}`);
    assert.equal(back.playerId, joined.playerId, 'the same player');
    assert.equal(back.transport, 'polling');
    assert.ok(back.events.includes('reconnect'), JSON.stringify(back.events));
    const offset = Math.hypot(back.serverMe.x - rested.serverMe.x, back.serverMe.y - rested.serverMe.y);
    assert.ok(offset < 1, `the ship is where it was left (${offset} units away)`);
    await waitForState(bob.page, 'Bob to see Alice back', (s) => s.players.some((p) => p.id === joined.playerId && !p.away));
    // Her inputs count again, and chat works on the new session.
    await flyABit(alice);
    await chatAcross(alice, bob, 'back again');
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'polling-fallback');
  }
});

test('?transport=polling plays over long polling from the start, without a console error', { timeout: 30_000 }, async (t) => {
  const { browser, server } = await startGame(t, FAST_HEARTBEAT);
  const alice = await openPlayer(browser, server.url, 'Alice', { query: '&transport=polling' });
  const bob = await openPlayer(browser, server.url, 'Bob', { query: '&transport=websocket' });
  const players = [alice, bob];
  try {
    const state = await waitForState(alice.page, 'Alice to play over polling', (s) =>
      playing(s) && s.players.length === 2 && s.transport === 'polling',
    );
    assert.ok(!state.events.includes('connect_error'), JSON.stringify(state.events));
    await waitForState(bob.page, 'Bob to play over WebSocket', (s) => playing(s) && s.transport === 'websocket');
    // The heartbeat is answered over polling: the server measures a round trip.
    await waitForState(alice.page, 'a round trip measured over polling', (s) => s.pingMs !== null);
    await flyABit(alice);
    await chatAcross(alice, bob, 'polling on purpose');
    await chatAcross(bob, alice, 'websocket on purpose');
    const lines = await overlayLines(alice);
    assert.ok(lines.includes('transport polling'), JSON.stringify(lines));
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'polling-forced');
  }
});

test('once the proxy lets WebSocket through, a polling page switches to it in place', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t, FAST_HEARTBEAT);
  const proxy = await startProxy(server.port, { refuseWebSocket: true });
  t.after(() => proxy.stop());
  // Probes every half second: each refused one is a failed WebSocket in the console.
  const alice = await openPlayer(browser, proxy.url, 'Alice', { query: '&probe_ms=500', allowed: WEBSOCKET_REFUSED });
  const bob = await openPlayer(browser, server.url, 'Bob');
  const players = [alice, bob];
  try {
    const before = await waitForState(alice.page, 'Alice to play over polling with Bob', (s) =>
      playing(s) && s.players.length === 2 && s.transport === 'polling',
    );
    await waitForState(bob.page, 'Bob to play with Alice', (s) => playing(s) && s.players.length === 2);
    await overlayLines(alice);
    await chatAcross(alice, bob, 'on polling');
    await sleep(1200); // a probe or two refused meanwhile: still polling
    assert.equal((await stateOf(alice.page)).transport, 'polling');

    // Bob watches Alice the whole time: she must never look away or gone.
    let watching = true;
    const sawAway = [];
    const watch = (async () => {
      while (watching) {
        const s = await stateOf(bob.page);
        if (s.players.some((p) => p.id === before.playerId && p.away)) sawAway.push(s.tick ?? true);
        await sleep(50);
      }
    })();

    // Both chat while the network starts letting WebSocket through and Alice's page switches:
    // her first line goes over polling, her last over the new socket (probes every 0.5 s).
    const aliceLines = [1, 2, 3, 4, 5].map((n) => `a${n} around the switch`);
    const bobLines = [1, 2, 3, 4, 5].map((n) => `b${n} around the switch`);
    /** Alice's transport after each of her lines. */
    const carriedBy = [];
    const say = async (player, lines) => {
      for (const line of lines) {
        await typeChat(player.page, line);
        if (player === alice) carriedBy.push((await stateOf(alice.page)).transport);
        if (line === lines[0] && player === alice) proxy.refuseWebSocket(false);
        await sleep(300);
      }
    };
    await Promise.all([say(alice, aliceLines), say(bob, bobLines)]);
    t.diagnostic(`Alice's lines went over: ${carriedBy.join(', ')}`);
    assert.equal(carriedBy[0], 'polling');
    assert.equal(carriedBy.at(-1), 'websocket');
    const switched = await waitForState(alice.page, 'Alice to switch to WebSocket', (s) => s.transport === 'websocket');
    t.diagnostic(`events: ${JSON.stringify(switched.events)}`);
    assert.equal(switched.playerId, before.playerId, 'the same player');
    assert.ok(switched.connected && switched.status === 'connected');
    const sinceSwitch = switched.events.slice(switched.events.lastIndexOf('transport'));
    assert.ok(!sinceSwitch.includes('disconnect') && !sinceSwitch.includes('reconnect'), JSON.stringify(switched.events));
    assert.ok(!switched.events.includes('disconnect'), JSON.stringify(switched.events));
    await alice.page.locator('#hud-net .line', { hasText: /^transport websocket$/ }).waitFor({ state: 'visible' });

    // Nothing lost, nothing twice, either way.
    const once = (state, from, text) =>
      state.chat.filter((l) => l.kind === 'chat' && l.name === from && l.text === text).length === 1;
    await waitForState(bob.page, "Bob to see each of Alice's lines once", (s) => aliceLines.every((text) => once(s, 'Alice', text)));
    await waitForState(alice.page, "Alice to see each of Bob's lines once", (s) => bobLines.every((text) => once(s, 'Bob', text)));
    for (const player of players) {
      const s = await stateOf(player.page);
      for (const text of [...aliceLines, ...bobLines]) {
        const from = text.startsWith('a') ? 'Alice' : 'Bob';
        assert.ok(once(s, from, text), `${player.name} shows "${text}" once: ${JSON.stringify(s.chat)}`);
      }
    }

    // Snapshots keep flowing over the socket, and inputs go up it.
    const snapshotsBefore = (await stateOf(alice.page)).snapshotsReceived;
    const moved = await flyABit(alice);
    assert.ok(moved.snapshotsReceived > snapshotsBefore + 10, 'snapshots keep coming');
    assert.equal(moved.transport, 'websocket');
    await chatAcross(bob, alice, 'over the new socket');

    watching = false;
    await watch;
    assert.deepEqual(sawAway, [], 'Bob never saw Alice away');
    const bobState = await stateOf(bob.page);
    const aboutAlice = bobState.notices.filter((n) => n.subject === before.playerId && n.kind !== 'Joined');
    assert.deepEqual(aboutAlice, [], 'no leave, away or back for Alice');
    assert.equal(bobState.players.filter((p) => p.id === before.playerId).length, 1);
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'polling-switch');
  }
});
