// The lobby end to end in headless Chromium against the real server binary: a player creates a
// private room from the name screen and the page's address becomes its link; a friend opens
// that link and lands in the same room, and the two see each other and chat; a third player in
// quick play sees neither, and the lobby lists only the public room, which a fourth joins from
// the list. Run with `node --test tests/browser/`; see harness.mjs for the environment.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertHudLayout,
  explainFailure,
  openPlayer,
  startGame,
  typeChat,
  unexpectedErrors,
  waitForState,
} from './harness.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** @param {any} state */
const playing = (state) => state.connected && state.status === 'connected' && state.room && state.snapshotsReceived > 3;

/**
 * Opens the name screen (no `name` in the address), types `name` and presses `button`.
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {string} name
 * @param {string} button a selector
 * @param {string} [query] e.g. `&room=CODE`
 */
async function fromTheLobby(browser, url, name, button, query = '') {
  const player = await openPlayer(browser, url, name, { join: false, query });
  await player.page.locator('#name-input').fill(name);
  await player.page.locator(button).click();
  return player;
}

test('a private room by its link, apart from quick play; the lobby lists public rooms', { timeout: 60_000 }, async (t) => {
  const { browser, server } = await startGame(t);
  /** @type {import('./harness.mjs').Player[]} */
  const players = [];
  try {
    const host = await fromTheLobby(browser, server.url, 'Hana', '#play-private');
    players.push(host);
    const hosted = await waitForState(host.page, 'Hana in her private room', playing);
    const code = hosted.room.code;
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{10}$/);
    assert.match(hosted.statusText, /private room/);
    assert.equal(new URL(host.page.url()).searchParams.get('room'), code, 'the address is the link');
    assert.equal(await host.page.locator('#invite').isVisible(), true);
    await assertHudLayout(host.page, ['status', 'scoreboard', 'invite button'], 'in a private room');

    // The friend opens the link on a phone: the name screen says where it leads.
    const friend = await openPlayer(browser, server.url, 'Femi', { join: false, query: `&room=${code}`, context: PHONE });
    players.push(friend);
    await friend.page.locator('#room-invite').waitFor({ state: 'visible' });
    assert.match(await friend.page.locator('#room-invite').textContent(), new RegExp(code));
    assert.equal(await friend.page.locator('#play-private').isVisible(), false);
    await friend.page.locator('#name-input').fill('Femi');
    await friend.page.locator('#play-quick').click();
    const befriended = await waitForState(friend.page, 'Femi in the private room', playing);
    assert.deepEqual(befriended.room, hosted.room);
    await assertHudLayout(friend.page, ['status', 'chat button', 'net button', 'invite button'], 'a phone in a private room');
    for (const [player, other] of [
      [host, 'Femi'],
      [friend, 'Hana'],
    ]) {
      await waitForState(player.page, `${player.name} to see ${other}`, (s) =>
        s.players.some((p) => p.name === other),
      );
    }
    await typeChat(host.page, 'just us two');
    await waitForState(friend.page, 'the host line in the friend feed', (s) =>
      s.chat.some((line) => line.text === 'just us two' && line.name === 'Hana'),
    );

    // A stranger's lobby does not list the private room; quick play puts it elsewhere.
    const stranger = await openPlayer(browser, server.url, 'Sami', { join: false });
    players.push(stranger);
    const lobby = await waitForState(stranger.page, 'the lobby to load', (s) => s.lobbyShown);
    assert.deepEqual(lobby.lobby, [], 'no public room yet, and the private one is not listed');
    assert.equal(await stranger.page.locator('#room-list-empty').isVisible(), true);
    await stranger.page.locator('#name-input').fill('Sami');
    await stranger.page.locator('#play-quick').click();
    const met = await waitForState(stranger.page, 'Sami in quick play', playing);
    assert.notEqual(met.room.id, hosted.room.id);
    assert.equal(met.room.code, null);
    assert.match(met.statusText, new RegExp(`room ${met.room.id}`));
    assert.equal(await stranger.page.locator('#invite').isVisible(), false);

    // A fourth sees the public room in the list, with its head count, and joins it from there.
    const joiner = await openPlayer(browser, server.url, 'Jo', { join: false });
    players.push(joiner);
    await waitForState(joiner.page, 'the public room listed', (s) =>
      s.lobby.length === 1 && s.lobby[0].id === met.room.id && s.lobby[0].players === 1,
    );
    await joiner.page.locator('#name-input').fill('Jo');
    await joiner.page.locator(`#room-list button[data-room="${met.room.id}"]`).click();
    const joined = await waitForState(joiner.page, 'Jo in the listed room', playing);
    assert.equal(joined.room.id, met.room.id);

    // Nothing crossed between the rooms: rosters, ships and chat are each room's own.
    await waitForState(stranger.page, 'Sami to see Jo', (s) => s.players.some((p) => p.name === 'Jo'));
    for (const outsider of [stranger, joiner]) {
      const state = await waitForState(outsider.page, `${outsider.name} state`, (s) => s.snapshotsReceived > 10);
      const names = [...state.roster.map((p) => p.name), ...state.players.map((p) => p.name)];
      assert.ok(!names.includes('Hana') && !names.includes('Femi'), `${outsider.name} saw ${names}`);
      assert.ok(!state.chat.some((line) => line.text === 'just us two'), `${outsider.name} heard the private chat`);
    }
    const hostNow = await waitForState(host.page, 'host state', (s) => s.snapshotsReceived > 10);
    const hostSees = [...hostNow.roster.map((p) => p.name), ...hostNow.players.map((p) => p.name)];
    assert.ok(!hostSees.includes('Sami') && !hostSees.includes('Jo'), `Hana saw ${hostSees}`);
    assert.deepEqual(unexpectedErrors(browser), []);
  } catch (error) {
    throw await explainFailure(error, players, [server], 'lobby');
  }
});

test('a link to a room that is gone says so and offers quick play', { timeout: 30_000 }, async (t) => {
  const { browser, server } = await startGame(t);
  const allowed = [/the server responded with a status of 4\d\d/];
  const lost = await openPlayer(browser, server.url, 'Lost', { query: '&room=0000000000', allowed });
  try {
    const refused = await waitForState(lost.page, 'the refusal on the name screen', (s) => s.lobbyShown && s.status === 'idle');
    assert.equal(refused.room, null);
    assert.match(await lost.page.locator('#name-error').textContent(), /no such room/);
    assert.equal(new URL(lost.page.url()).searchParams.get('room'), null, 'the dead link is dropped');
    await lost.page.locator('#play-quick').click();
    const playingNow = await waitForState(lost.page, 'quick play after the refusal', playing);
    assert.equal(playingNow.room.code, null);
    assert.deepEqual(unexpectedErrors(browser), []);
  } catch (error) {
    throw await explainFailure(error, [lost], [server], 'lobby-gone');
  }
});
