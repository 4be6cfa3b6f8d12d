// The client's game state without a browser: prediction and reconciliation, interpolation,
// roster and kill feed, resuming after a lost connection, the round-trip time. Time is passed
// in, so these run on a manual clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Buttons, PlayerFlags } from '../protocol.js';
import { stepBody, tickSeconds } from '../movement.js';
import { Game, MAX_EXTRAPOLATION_MS, MAX_PENDING_INPUTS, UNKNOWN_NAME } from '../game.js';
import { PARAMS } from './fixtures.mjs';

const TICK_MS = 1000 / 30;
const DT = tickSeconds(30);
const ME = 7;
const OTHER = 8;

function welcome(extra = {}) {
  return {
    type: 'Welcome',
    protocol_version: 2,
    request_id: 1,
    player_id: ME,
    resumed: false,
    resume_token: Array(16).fill(1),
    tick_hz: 30,
    params: PARAMS,
    players: [
      { id: ME, name: 'Alice' },
      { id: OTHER, name: 'Bob' },
    ],
    ...extra,
  };
}

/**
 * A game welcomed as player 7 (with player 8 in the roster) that records what it sends; the
 * connection is "up" while `link.up` is true.
 */
function welcomedGame() {
  const sent = [];
  const link = { up: true };
  const game = new Game((message) => {
    if (!link.up) return false;
    sent.push(message);
    return true;
  });
  game.handleMessage(welcome(), 0);
  return { game, sent, link };
}

function player(id, x, y, extra = {}) {
  return { id, x, y, vx: 0, vy: 0, aim: 0, score: 0, last_input_seq: 0, flags: 0, ...extra };
}

function snapshot(tick, players, extra = {}) {
  return { type: 'Snapshot', tick, players, orbs: [], bolts: [], ...extra };
}

test('each fixed step sends one Input with the next seq and predicts it', () => {
  const { game, sent } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 100, 100)]), 0);
  const controls = { buttons: Buttons.RIGHT, aim: 0.5 };
  game.update(0, controls); // first update: one step
  game.update(TICK_MS * 3 + 1, controls); // three more
  const inputs = sent.filter((m) => m.type === 'Input');
  assert.deepEqual(
    inputs.map((m) => [m.seq, m.buttons, m.aim]),
    [1, 2, 3, 4].map((seq) => [seq, Buttons.RIGHT, 0.5]),
  );
  const expected = { x: 100, y: 100, vx: 0, vy: 0 };
  for (let i = 0; i < 4; i++) stepBody(expected, Buttons.RIGHT, PARAMS, DT);
  assert.deepEqual(game.body, expected);
  assert.equal(game.pending.length, 4);
});

test('a snapshot drops acknowledged inputs and replays the rest, exactly', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 100, 100)]), 0);
  const pattern = [Buttons.RIGHT, Buttons.RIGHT | Buttons.DOWN, Buttons.DOWN, 0, Buttons.LEFT];
  let now = 0;
  for (const buttons of pattern) {
    game.update(now, { buttons, aim: null });
    now += TICK_MS;
  }
  assert.equal(game.pending.length, 5);
  const predicted = { ...game.body };

  // The server applied the first three inputs.
  const server = { x: 100, y: 100, vx: 0, vy: 0 };
  for (const buttons of pattern.slice(0, 3)) stepBody(server, buttons, PARAMS, DT);
  game.handleMessage(snapshot(2, [player(ME, server.x, server.y, { ...server, last_input_seq: 3 })]), now);

  assert.deepEqual(game.pending.map((p) => p.seq), [4, 5]);
  assert.deepEqual(game.body, predicted, 'replay lands exactly where the prediction was');
  assert.equal(game.lastCorrection, 0);
});

test('a small misprediction is smoothed on screen, a large one (respawn) snaps', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 500, 500)]), 0);
  game.computeView(10);
  game.handleMessage(snapshot(2, [player(ME, 510, 500)]), 10);
  assert.equal(game.lastCorrection, 10);
  const view = game.computeView(10);
  assert.ok(Math.abs(view.me.x - 500) < 0.5, `drawn where it was, got ${view.me.x}`);
  const later = game.computeView(400);
  assert.ok(Math.abs(later.me.x - 510) < 0.5, `converged after smoothing, got ${later.me.x}`);

  game.handleMessage(snapshot(3, [player(ME, 2500, 1500)]), 420);
  assert.ok(game.lastCorrection > 1000);
  assert.equal(game.computeView(421).me.x, 2500);
});

test('the arena follows the snapshots: prediction stops at the new walls', () => {
  const { game } = welcomedGame();
  assert.equal(game.params.arena_width, PARAMS.arena_width);
  const smaller = { arena_width: 400, arena_height: 300 };
  game.handleMessage(snapshot(1, [player(ME, 380, 100)], smaller), 0);
  assert.deepEqual([game.params.arena_width, game.params.arena_height], [400, 300]);
  assert.equal(game.params.max_speed, PARAMS.max_speed, 'the other rules stay');
  for (let i = 0; i < 10; i++) game.update(i * TICK_MS, { buttons: Buttons.RIGHT, aim: 0 });
  assert.equal(game.body.x, 400 - PARAMS.player_radius);
  // A snapshot that does not say (an older server) leaves it as it is.
  game.handleMessage(snapshot(2, [player(ME, 100, 100)]), TICK_MS);
  assert.equal(game.params.arena_width, 400);
});

test('pending inputs are capped, dropping the oldest', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 100, 100)]), 0);
  for (let i = 0; i < 100; i++) game.update(i * TICK_MS, { buttons: 0, aim: 0 });
  assert.equal(game.pending.length, MAX_PENDING_INPUTS);
  assert.equal(game.pending.at(-1).seq, game.seq);
  assert.equal(game.pending[0].seq, game.seq - MAX_PENDING_INPUTS + 1);
});

test('a long pause runs a few catch-up steps, not hundreds', () => {
  const { game, sent } = welcomedGame();
  game.update(0, { buttons: 0, aim: 0 });
  const before = sent.length;
  game.update(60_000, { buttons: 0, aim: 0 });
  assert.ok(sent.length - before <= 6, `sent ${sent.length - before}`);
});

test('without a pointer the ship faces the direction it is steered', () => {
  const { game, sent } = welcomedGame();
  game.update(0, { buttons: Buttons.DOWN, aim: null });
  assert.equal(sent.at(-1).aim, Math.PI / 2);
  game.update(TICK_MS, { buttons: 0, aim: null });
  assert.equal(sent.at(-1).aim, Math.PI / 2, 'keeps its aim when nothing is held');
});

test('remote ships are interpolated between the bracketing snapshots', () => {
  const { game } = welcomedGame();
  // Snapshots arrive on time, one per tick: other player moves 10 units per tick.
  for (let tick = 10; tick <= 20; tick++) {
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), player(OTHER, tick * 10, 300)]), tick * TICK_MS);
  }
  const now = 20 * TICK_MS;
  const view = game.computeView(now);
  assert.equal(view.shipCount, 1);
  const ship = view.ships[0];
  assert.equal(ship.id, OTHER);
  // No jitter: drawn the minimum, two snapshot intervals in the past: tick 18 → x = 180.
  assert.ok(Math.abs(ship.x - 180) < 1e-6, `x = ${ship.x}`);
  assert.equal(ship.y, 300);
});

test('a gap is bridged by brief extrapolation, then ships hold still', () => {
  const { game } = welcomedGame();
  for (let tick = 10; tick <= 20; tick++) {
    const other = player(OTHER, tick * 10, 300, { vx: 300 });
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), other]), tick * TICK_MS);
  }
  const at = (ticks) => game.computeView((20 + ticks) * TICK_MS).ships[0].x;
  assert.ok(at(4) > 200, 'moves past the newest snapshot');
  assert.equal(at(20), at(40), 'extrapolation is capped');
});

test('each input carries the newest snapshot tick and the tick others are drawn at', () => {
  const { game, sent } = welcomedGame();
  for (let tick = 10; tick <= 20; tick++) {
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), player(OTHER, tick * 10, 300)]), tick * TICK_MS);
  }
  const now = 20 * TICK_MS;
  game.computeView(now);
  game.update(now, { buttons: 0, aim: 0 });
  const input = sent.filter((m) => m.type === 'Input').at(-1);
  assert.equal(input.ack_tick, 20);
  // On time and steady: others are drawn two ticks behind the newest snapshot.
  assert.equal(input.view_tick, 18);
  assert.equal(game.computeView(now).ships[0].x, 180, 'the tick sent is the tick drawn');
});

test('extrapolation takes motion from positions (others may be sent without velocity)', () => {
  const { game } = welcomedGame();
  for (let tick = 10; tick <= 20; tick++) {
    const other = player(OTHER, tick * 10, 300, { vx: 0, vy: 0, last_input_seq: 0 });
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), other]), tick * TICK_MS);
  }
  const at = (ms) => game.computeView(20 * TICK_MS + ms).ships[0].x;
  assert.ok(at(0) < 200, 'still interpolating behind the newest snapshot');
  assert.ok(at(100) > 200, `moves on past the newest snapshot: ${at(100)}`);
  // The render clock runs two ticks behind: at most MAX_EXTRAPOLATION_MS past tick 20.
  const held = at(1000);
  assert.ok(held > 200 && held <= 200 + 10 * (MAX_EXTRAPOLATION_MS / TICK_MS) + 1e-9, `held at ${held}`);
  assert.equal(at(2000), held, 'then holds still');
});

test('after a long gap ships jump to where the next snapshot puts them instead of sliding', () => {
  const { game } = welcomedGame();
  for (let tick = 10; tick <= 20; tick++) {
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), player(OTHER, tick * 10, 300)]), tick * TICK_MS);
  }
  const xs = [];
  for (let ms = 20 * TICK_MS; ms < 60 * TICK_MS; ms += 1000 / 60) {
    if (ms >= 50 * TICK_MS && game.latestRawTick < 50) {
      // One second later the connection is back: the other ship is far away now.
      game.handleMessage(snapshot(50, [player(ME, 100, 100), player(OTHER, 2000, 300)]), ms);
    }
    xs.push(game.computeView(ms).ships[0].x);
  }
  const held = Math.max(...xs.filter((x) => x < 1000));
  assert.ok(held < 250, `held after a brief extrapolation: ${held}`);
  assert.ok(xs.every((x) => x <= held || x === 2000), `no sliding: ${xs.map(Math.round).join(' ')}`);
  assert.equal(xs.at(-1), 2000);
});

test('a teleport between two snapshots does not slide across the arena', () => {
  const { game } = welcomedGame();
  for (let tick = 10; tick <= 20; tick++) {
    const x = tick < 18 ? 100 : 2800;
    game.handleMessage(snapshot(tick, [player(ME, 100, 100), player(OTHER, x, 300)]), tick * TICK_MS);
  }
  const xs = [];
  for (let t = 17; t <= 21; t += 0.25) xs.push(game.computeView((t + 2.5) * TICK_MS).ships[0].x);
  assert.ok(xs.every((x) => x === 100 || x === 2800), xs.join(' '));
});

test('stale or duplicate snapshots are ignored', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(5, [player(ME, 100, 100)]), 0);
  game.handleMessage(snapshot(5, [player(ME, 900, 900)]), 1);
  game.handleMessage(snapshot(4, [player(ME, 900, 900)]), 2);
  assert.equal(game.snapshotsReceived, 1);
  assert.equal(game.serverMe.x, 100);
});

test('snapshot ticks wrap around u32 without breaking the order', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(0xffffffff, [player(ME, 100, 100)]), 0);
  game.handleMessage(snapshot(0, [player(ME, 100, 100)]), TICK_MS);
  assert.equal(game.snapshotsReceived, 2);
  assert.equal(game.snapshots[1].tick - game.snapshots[0].tick, 1);
});

test('the roster follows joins and leaves, and unknown ids show a placeholder', () => {
  const { game } = welcomedGame();
  const NEW = 12;
  game.handleMessage(snapshot(1, [player(ME, 1, 1), player(NEW, 2, 2, { score: 3 })]), 0);
  assert.equal(game.nameOf(NEW), UNKNOWN_NAME);
  assert.deepEqual(game.testState().players.map((p) => p.name), ['Alice', UNKNOWN_NAME]);
  game.handleMessage({ type: 'PlayerJoined', id: NEW, name: 'Carol' }, 0);
  assert.equal(game.nameOf(NEW), 'Carol');
  game.handleMessage({ type: 'PlayerLeft', id: OTHER }, 0);
  assert.deepEqual(game.testState().roster.map((p) => p.name), ['Alice', 'Carol']);
  assert.deepEqual(game.scoreboard.map((p) => p.id), [NEW, ME]);
});

test('the scoreboard keeps the top ten and our own row below them', () => {
  const { game } = welcomedGame();
  const players = [player(ME, 1, 1, { score: 0 })];
  for (let id = 100; id < 120; id++) players.push(player(id, 1, 1, { score: id }));
  game.handleMessage(snapshot(1, players), 0);
  assert.equal(game.scoreboard.length, 11);
  assert.equal(game.scoreboard[0].id, 119);
  assert.equal(game.scoreboard[10].id, ME);
  assert.equal(game.myRank, 21);
});

test('our rank and the head count come from the server; the nearby count leaves us out', () => {
  const { game } = welcomedGame();
  const others = [player(OTHER, 5, 5, { score: 50 }), player(9, 6, 6, { score: 40 })];
  const top = [{ id: OTHER, score: 50 }, { id: 9, score: 40 }];
  game.handleMessage(snapshot(1, [player(ME, 1, 1, { score: 2 }), ...others], { scoreboard: top, rank: 23, player_count: 41 }), 0);
  assert.equal(game.myRank, 23, 'the rank the server sent, not our place among the rows it listed');
  assert.equal(game.playersInRoom, 41);
  assert.equal(game.nearby, 2);
  assert.deepEqual(game.scoreboard.map((p) => p.id), [OTHER, 9, ME], 'our row below the top rows');
});

test('being tagged remembers by whom, with the name at the time', () => {
  const { game } = welcomedGame();
  assert.equal(game.taggedBy, null);
  game.handleMessage({ type: 'Tagged', tick: 3, shooter: ME, victim: OTHER }, 50);
  assert.equal(game.taggedBy, null, 'tagging someone else is not being tagged');
  game.handleMessage(snapshot(4, [player(ME, 1, 1)], { tags: [{ tick: 4, shooter: OTHER, victim: ME }] }), 80);
  assert.deepEqual(game.taggedBy, { id: OTHER, name: 'Bob', at: 80 });
  assert.equal(game.taggedAt, 80);
  game.handleMessage({ type: 'PlayerLeft', id: OTHER }, 90);
  assert.equal(game.taggedBy.name, 'Bob', 'a name kept after its player left');
  game.handleMessage(snapshot(5, [player(ME, 1, 1)], { tags: [{ tick: 5, shooter: 99, victim: ME }] }), 120);
  assert.deepEqual(game.taggedBy, { id: 99, name: '#99', at: 120 }, 'an id not yet named');
});

test('tags go to the kill feed with the names at the time, and Pong measures the ping', () => {
  const { game, sent } = welcomedGame();
  game.handleMessage({ type: 'Tagged', tick: 3, shooter: ME, victim: OTHER }, 50);
  assert.deepEqual(
    game.killFeed.map((e) => [e.shooter, e.victim]),
    [['Alice', 'Bob']],
  );
  game.update(1000, { buttons: 0, aim: 0 });
  const ping = sent.find((m) => m.type === 'Ping');
  assert.ok(ping);
  game.handleMessage({ type: 'Pong', nonce: ping.nonce + 1 }, 1010);
  assert.equal(game.pingMs, null, 'a pong for another nonce is ignored');
  game.handleMessage({ type: 'Pong', nonce: ping.nonce }, 1042);
  assert.equal(game.pingMs, 42);
});

test('a Welcome that is not a resume (a new player) starts from a clean slate', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 100, 100)]), 0);
  game.update(0, { buttons: Buttons.UP, aim: 0 });
  game.handleMessage(welcome({ player_id: 99, tick_hz: 20, players: [] }), 100);
  assert.equal(game.playerId, 99);
  assert.equal(game.resumed, false);
  assert.equal(game.tickMs, 50);
  assert.equal(game.seq, 0);
  assert.equal(game.pending.length, 0);
  assert.equal(game.snapshots.length, 0);
  assert.equal(game.hasBody, false);
});

test('a resumed Welcome keeps the ship and continues the input numbering above the server', () => {
  const { game, sent, link } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 100, 100)]), 0);
  let now = 0;
  for (let i = 0; i < 10; i++) {
    game.update(now, { buttons: Buttons.RIGHT, aim: 0 });
    now += TICK_MS + 0.1;
  }
  assert.equal(game.seq, 10);
  game.handleMessage(snapshot(2, [player(ME, 120, 100, { last_input_seq: 6 })]), now);

  // The connection drops: nothing more goes out, the world stays on screen.
  link.up = false;
  game.connectionLost();
  for (let i = 0; i < 5; i++) {
    game.update(now, { buttons: Buttons.RIGHT, aim: 0 });
    now += TICK_MS;
  }
  assert.equal(game.seq, 10, 'no number is used up while nothing can be sent');
  assert.ok(game.computeView(now).me, 'our ship is still drawn');

  // Back, same player: the server applied up to 8 before it marked us away.
  link.up = true;
  const before = sent.length;
  game.handleMessage(welcome({ resumed: true }), now);
  assert.equal(game.resumed, true);
  assert.equal(game.playerId, ME);
  assert.equal(game.hasBody, true, 'the ship is not forgotten');
  assert.deepEqual(game.pending, [], 'inputs the server dropped are not replayed');
  assert.equal(game.update(now, { buttons: 0, aim: 0 }), 0, 'no input before the server says where it is');
  assert.equal(sent.length, before);

  game.handleMessage(snapshot(400, [player(ME, 130, 100, { last_input_seq: 8, score: 12 })]), now);
  for (let i = 0; i < 2; i++) {
    now += TICK_MS + 0.1;
    game.update(now, { buttons: 0, aim: 0 });
  }
  const inputs = sent.slice(before).filter((m) => m.type === 'Input');
  assert.ok(inputs.length > 0);
  assert.equal(inputs[0].seq, 11, 'our own count (10) was ahead of the server (8): continue after it');
  assert.equal(game.testState().serverMe.score, 12);
});

test('a resume after a reload (no local count) continues from the snapshot\'s last_input_seq', () => {
  const sent = [];
  const game = new Game((message) => sent.push(message) > 0);
  game.handleMessage(welcome({ resumed: true }), 0);
  assert.equal(game.update(0, { buttons: 0, aim: 0 }), 0);
  game.handleMessage(snapshot(900, [player(ME, 500, 500, { last_input_seq: 4321 })]), 0);
  game.update(TICK_MS, { buttons: Buttons.UP, aim: 0 });
  assert.deepEqual(sent.filter((m) => m.type === 'Input').map((m) => m.seq), [4322]);
  assert.equal(game.serverMe.x, 500);
});

test('the ping is the heartbeat\'s rtt_us once reported; the probe only fills in before that', () => {
  const { game, sent } = welcomedGame();
  game.update(0, { buttons: 0, aim: 0 });
  const probe = sent.find((m) => m.type === 'Ping');
  assert.ok(probe, 'a probe goes out while the heartbeat has measured nothing');
  game.handleMessage({ type: 'Pong', nonce: probe.nonce }, 30);
  assert.deepEqual([game.pingMs, game.pingSource], [30, 'probe']);

  game.handleMessage({ type: 'Ping', nonce: 1, rtt_us: 0 }, 40);
  assert.deepEqual([game.pingMs, game.pingSource], [30, 'probe'], '0 means not measured yet');
  game.handleMessage({ type: 'Ping', nonce: 2, rtt_us: 12_500 }, 50);
  assert.deepEqual([game.pingMs, game.pingSource], [12.5, 'heartbeat']);

  const probes = sent.filter((m) => m.type === 'Ping').length;
  game.update(10_000, { buttons: 0, aim: 0 });
  assert.equal(sent.filter((m) => m.type === 'Ping').length, probes, 'no more probes');

  game.connectionLost();
  assert.deepEqual([game.pingMs, game.pingSource], [null, null], 'measured afresh after a drop');
});

test('players flagged away are reported as such', () => {
  const { game } = welcomedGame();
  game.handleMessage(snapshot(1, [player(ME, 1, 1), player(OTHER, 2, 2, { flags: PlayerFlags.AWAY })]), 0);
  assert.deepEqual(
    game.testState().players.map((p) => [p.id, p.away]),
    [
      [ME, false],
      [OTHER, true],
    ],
  );
});
