// End-to-end tests of the session layer in headless Chromium against the real server binary:
// chat (and that markup in it stays text), a lost connection that the page recovers from by
// itself with its player resumed, a server that dies and comes back, and a server that wants a
// token. Run with `node --test tests/browser/`; see harness.mjs for the environment.
//
// Console errors fail a test, except those the browser prints because of an outage the test
// causes on purpose (harness.mjs OUTAGE_ERRORS, REFUSED_TOKEN_ERRORS), and only while it lasts.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertHudLayout,
  OUTAGE_ERRORS,
  REFUSED_TOKEN_ERRORS,
  explainFailure,
  holdKey,
  launchBrowser,
  openPlayer,
  screenshot,
  sleep,
  startGame,
  startProxy,
  startServer,
  stateOf,
  typeChat,
  waitForState,
  TEST_ARENA,
} from './harness.mjs';

/** Steer towards the middle of the arena so the ship has room to move. */
const ARENA_MIDDLE_X = Number.parseInt(TEST_ARENA, 10) / 2;

const HOSTILE = '<img src=x onerror=alert(1)><b>bold</b>';
/** How long the network stays cut in the resume test. */
const OUTAGE_MS = 1500;
/** Heartbeat every second, answered within 3 s: the round trip shows up within a few seconds. */
const FAST_HEARTBEAT = ['--ping-interval', '1s', '--ping-timeout', '3s'];

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

/** @param {import('./harness.mjs').Player[]} players */
function assertNoUnexpectedErrors(players) {
  for (const { name, errors } of players) assert.deepEqual(errors, [], `${name}'s page reported errors`);
}

test('chat reaches everyone as text, whispers reach one player, refusals are shown', { timeout: 30_000 }, async (t) => {
  const { browser, server } = await startGame(t, FAST_HEARTBEAT);
  const alice = await openPlayer(browser, server.url, 'Alice');
  const bob = await openPlayer(browser, server.url, 'Bob');
  const players = [alice, bob];
  try {
    for (const { page, name } of players) {
      await waitForState(page, `${name} to play with two players`, (s) => playing(s) && s.players.length === 2);
    }
    const bobId = (await stateOf(bob.page)).playerId;

    // Alice says hello: everyone sees it, her included (the server echoes chat to its sender).
    await typeChat(alice.page, 'hello Bob');
    for (const { page, name } of players) {
      await waitForState(page, `${name} to see Alice's line`, (s) =>
        s.chat.some((l) => l.kind === 'chat' && l.name === 'Alice' && l.text === 'hello Bob'),
      );
    }
    assert.equal((await stateOf(alice.page)).chatOpen, false, 'sending closes the box');

    // Markup in a message is shown as the characters typed, never parsed.
    await typeChat(alice.page, HOSTILE);
    await waitForState(bob.page, 'Bob to receive the markup line', (s) =>
      s.chat.some((l) => l.kind === 'chat' && l.text === HOSTILE),
    );
    const dom = await bob.page.evaluate(() => {
      const log = document.getElementById('chat-log');
      return {
        injected: log.querySelectorAll('b, img, i, script').length,
        tags: [...new Set([...log.querySelectorAll('*')].map((e) => e.tagName))].sort(),
        lines: [...log.querySelectorAll('.line')].map((e) => e.textContent),
      };
    });
    assert.equal(dom.injected, 0, `no element came from the message: ${JSON.stringify(dom)}`);
    assert.deepEqual(dom.tags, ['DIV', 'SPAN']);
    assert.ok(dom.lines.includes(`Alice: ${HOSTILE}`), JSON.stringify(dom.lines));
    assert.ok(
      await bob.page.locator('#chat-log .line', { hasText: HOSTILE }).isVisible(),
      'the literal text is visible on the page',
    );

    // A whisper goes to Bob alone; Alice sees it as "to Bob: …" once the server accepted it.
    await typeChat(alice.page, '/w Bob psst, over here');
    await waitForState(bob.page, 'Bob to get the whisper', (s) =>
      s.chat.some((l) => l.kind === 'whisper-in' && l.name === 'Alice' && l.text === 'psst, over here'),
    );
    await waitForState(alice.page, 'Alice to see her whisper as sent', (s) =>
      s.chat.some((l) => l.kind === 'whisper-out' && l.playerId === bobId && l.text === 'psst, over here'),
    );
    assert.ok(
      !(await stateOf(alice.page)).chat.some((l) => l.kind === 'whisper-in'),
      'the sender gets no copy of a whisper',
    );
    assert.match(await alice.page.locator('#chat-log .whisper-out').last().innerText(), /^to Bob: psst, over here$/);

    // Too fast: the server refuses with an Ack error, which the sender sees. The allowance is a
    // burst of 5 and one line a second, so lines go in whole (not typed key by key) until the
    // refusal shows: a starved machine typing slower than a line a second never trips it.
    const refused = (s) => s.chat.some((l) => l.kind === 'error' && l.text === 'not sent: rate limited: slow down');
    for (let i = 1; i <= 30 && !refused(await stateOf(alice.page)); i++) {
      await alice.page.keyboard.press('Enter');
      await alice.page.locator('#chat-input').waitFor({ state: 'visible' });
      await alice.page.keyboard.insertText(`spam ${i}`);
      await alice.page.keyboard.press('Enter');
    }
    await waitForState(alice.page, 'Alice to be told to slow down', (s) =>
      s.chat.some((l) => l.kind === 'error' && l.text === 'not sent: rate limited: slow down'),
    );
    // A mistake is explained on the spot, and the text stays in the box to fix.
    await typeChat(alice.page, '/w Nobody hi');
    await waitForState(alice.page, 'Alice to be told there is no Nobody', (s) =>
      s.chat.some((l) => l.kind === 'error' && /no player called Nobody/.test(l.text)),
    );
    assert.equal(await alice.page.locator('#chat-input').inputValue(), '/w Nobody hi');
    await alice.page.keyboard.press('Escape');

    // The round trip shown is the one the server's heartbeat measured.
    for (const { page, name } of players) {
      const state = await waitForState(page, `${name} to show the heartbeat's round trip`, (s) => s.pingSource === 'heartbeat');
      assert.ok(state.pingMs > 0 && state.pingMs < 1000, `${name}: ${state.pingMs} ms`);
      assert.match(state.statusText, /^connected as \w+ · room \d+ · \d+ ms$/);
    }
    await screenshot(bob, 'chat-bob.png');
    await screenshot(alice, 'chat-alice.png');
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'chat');
  }
});

test('a page that loses its network reconnects by itself and gets its player back', { timeout: 40_000 }, async (t) => {
  const { browser, server } = await startGame(t, ['--resume-grace', '20s']);
  const proxy = await startProxy(server.port);
  t.after(() => proxy.stop());
  const alice = await openPlayer(browser, proxy.url, 'Alice');
  const bob = await openPlayer(browser, server.url, 'Bob');
  const players = [alice, bob];
  try {
    for (const { page, name } of players) {
      await waitForState(page, `${name} to play with two players`, (s) => playing(s) && s.players.length === 2);
    }
    await flyABit(alice);
    // At rest, so that the ship stays exactly where it is while away (it moves only by inputs,
    // and after the resume its inputs would carry on any glide left).
    const moved = await waitForState(alice.page, 'Alice to come to rest', (s) => s.serverMe.speed < 1);
    const aliceId = moved.playerId;
    assert.equal(moved.resumed, false);

    // The network between Alice and the server goes away (the server itself runs on).
    alice.allowed = OUTAGE_ERRORS;
    const cutAt = Date.now();
    await proxy.cut();
    const lost = await waitForState(alice.page, 'Alice to show she is reconnecting', (s) =>
      s.status === 'reconnecting' && /^reconnecting/.test(s.statusText),
    );
    assert.equal(lost.connected, false);
    assert.equal(lost.playerId, aliceId, 'the world stays on screen while reconnecting');
    await waitForState(bob.page, 'Bob to see Alice away', (s) =>
      s.players.some((p) => p.id === aliceId && p.away) &&
      s.notices.some((n) => n.kind === 'Away' && n.subject === aliceId),
    );
    await screenshot(alice, 'resume-alice-reconnecting.png');
    // The banner that says so has a place of its own in the HUD.
    await assertHudLayout(alice.page, ['status', 'connection banner', 'scoreboard', 'chat log'], 'reconnecting');
    await screenshot(bob, 'resume-bob-sees-away.png');
    const away = await stateOf(bob.page);
    const shipWhileAway = away.players.find((p) => p.id === aliceId);

    // The network comes back on the same address; the page finds it by itself.
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
    await proxy.restore();
    const back = await waitForState(alice.page, 'Alice to reconnect and resume', (s) => playing(s) && s.resumed === true);
    alice.allowed = null;
    t.diagnostic(`outage errors let through: ${JSON.stringify(alice.expected)}`);
    assert.equal(back.playerId, aliceId, 'the same player');
    assert.ok(back.events.includes('reconnect'), JSON.stringify(back.events));
    assert.equal(back.events.at(-1), 'connect');
    const offset = Math.hypot(back.serverMe.x - shipWhileAway.x, back.serverMe.y - shipWhileAway.y);
    assert.ok(offset < 1, `the ship is where it was left (${offset} units away)`);
    assert.ok(back.serverMe.score >= moved.serverMe.score, 'the score is kept');

    await waitForState(bob.page, 'Bob to see Alice back', (s) => {
      const kinds = s.notices.filter((n) => n.subject === aliceId).map((n) => n.kind);
      return kinds.join() === 'Joined,Away,Back' || kinds.join() === 'Away,Back'
        ? s.players.some((p) => p.id === aliceId && !p.away)
        : false;
    });
    // Her inputs count again: the numbering went on above what the server had applied.
    const after = await flyABit(alice);
    assert.ok(after.inputsSent > moved.inputsSent);
    await screenshot(alice, 'resume-alice-back.png');
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'resume');
  }
});

test('a page outlives a server crash and plays again on the restarted server', { timeout: 30_000 }, async (t) => {
  const browser = await launchBrowser(t);
  let server = await startServer();
  t.after(() => server.stop());
  const alice = await openPlayer(browser, server.url, 'Alice');
  const servers = [server];
  try {
    await waitForState(alice.page, 'Alice to play', playing);
    await flyABit(alice);

    alice.allowed = OUTAGE_ERRORS;
    await server.kill();
    // Stay down until an attempt has failed: the page then says why, and when it tries next.
    const waiting = await waitForState(alice.page, 'an attempt to fail while the server is down', (s) =>
      s.events.includes('reconnect_error') && s.status === 'reconnecting',
    );
    assert.deepEqual(waiting.events.slice(0, 4), ['connect', 'disconnect', 'reconnect_attempt', 'connect_error']);
    assert.equal(waiting.reason, 'cannot reach the server');
    assert.match(waiting.statusText, /^reconnecting – attempt \d+(…| in \d+ s) \(cannot reach the server\)$/);
    assert.ok(alice.expected.length > 0, 'the failed attempt is what the browser complained about');
    await screenshot(alice, 'restart-alice-reconnecting.png');

    server = await startServer([], server.port);
    servers.push(server);
    const again = await waitForState(alice.page, 'Alice to play on the new server', (s) => playing(s) && s.players.length === 1);
    alice.allowed = null;
    t.diagnostic(`outage errors let through: ${JSON.stringify(alice.expected)}`);
    // The new server never knew her: a new player, not a resume.
    assert.equal(again.resumed, false);
    assert.ok(again.chat.some((l) => l.kind === 'system' && /new player/.test(l.text)), JSON.stringify(again.chat));
    await flyABit(alice);
    await screenshot(alice, 'restart-alice-playing.png');
    assertNoUnexpectedErrors([alice]);
  } catch (error) {
    throw await explainFailure(error, [alice], servers, 'restart');
  }
});

test('a server that wants a token: refused with its reason without one, playing with it', { timeout: 30_000 }, async (t) => {
  const { browser, server } = await startGame(t, ['--auth-token', 'abc']);
  const players = [];
  try {
    const eve = await openPlayer(browser, server.url, 'Eve', { allowed: REFUSED_TOKEN_ERRORS });
    players.push(eve);
    const refused = await waitForState(eve.page, 'Eve to be refused', (s) => s.status === 'error');
    assert.equal(refused.reason, 'missing token');
    assert.equal(refused.statusText, 'cannot connect: missing token');
    await screenshot(eve, 'auth-missing-token.png');
    await sleep(1500); // long enough for a first retry, if there were one
    assert.deepEqual((await stateOf(eve.page)).events, ['connect_error'], 'no retry: a token does not appear by itself');

    const mallory = await openPlayer(browser, server.url, 'Mallory', { query: '&token=guess', allowed: REFUSED_TOKEN_ERRORS });
    players.push(mallory);
    const wrong = await waitForState(mallory.page, 'Mallory to be refused', (s) => s.status === 'error');
    assert.equal(wrong.reason, 'invalid token');

    const ann = await openPlayer(browser, server.url, 'Ann', { query: '&token=abc' });
    players.push(ann);
    await waitForState(ann.page, 'Ann to play', playing);
    await flyABit(ann);
    t.diagnostic(`refusal errors let through: ${JSON.stringify([...eve.expected, ...mallory.expected])}`);
    assert.deepEqual(ann.expected, [], 'a good token connects at the first attempt');
    assertNoUnexpectedErrors(players);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'auth');
  }
});
