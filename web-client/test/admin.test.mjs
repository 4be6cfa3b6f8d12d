// The operator page's pure parts under Node: number formats, the connections chart's series,
// the players' order, and the socket's authentication, actions, reconnection delays and
// refusals against a fake WebSocket on a manual timer.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  connectionSeries,
  formatByteRate,
  formatDuration,
  formatMicros,
  formatPerSecond,
  niceCeiling,
  sumReasons,
} from '../admin/format.js';
import { AdminSocket, adminSocketUrl, RECONNECT_DELAYS_MS } from '../admin/socket.js';
import { slowestFirst } from '../admin/tables.js';

test('byte rates, tick times, durations and rates read as people write them', () => {
  assert.equal(formatByteRate(512), '512 B/s');
  assert.equal(formatByteRate(20480), '20.0 KiB/s');
  assert.equal(formatByteRate(1.5 * 1024 * 1024), '1.50 MiB/s');
  assert.equal(formatByteRate(null), '–/s');
  assert.equal(formatMicros(310), '0.31 ms');
  assert.equal(formatMicros(12_500), '12.5 ms');
  assert.equal(formatMicros(140_000), '140 ms');
  assert.equal(formatMicros(null), '–', 'no tick ran');
  assert.equal(formatDuration(42), '42 s');
  assert.equal(formatDuration(185), '3 m 05 s');
  assert.equal(formatDuration(7620), '2 h 07 m');
  assert.equal(formatDuration(3 * 86400 + 4 * 3600), '3 d 04 h');
  assert.equal(formatPerSecond(5, 1000), '5/s');
  assert.equal(formatPerSecond(1, 2000), '0.5/s');
  assert.equal(formatPerSecond(undefined, 1000), '–');
});

test('a chart top is a round number at or above the highest point', () => {
  assert.equal(niceCeiling(0), 0);
  assert.equal(niceCeiling(0.9), 1);
  assert.equal(niceCeiling(1), 1);
  assert.equal(niceCeiling(1.2), 2);
  assert.equal(niceCeiling(3), 5);
  assert.equal(niceCeiling(512_000), 1_000_000);
  assert.equal(niceCeiling(41), 50);
});

test('the connections series: accepted, then each reason seen, per second, zero where absent', () => {
  const samples = [
    { accepted: 3, closed: { leave: 1 }, rejected: {}, refused: {} },
    { accepted: 0, closed: { ping_timeout: 2 }, rejected: { join_timeout: 1 }, refused: { max_connections: 0 } },
  ];
  const series = connectionSeries(samples, 1000);
  assert.deepEqual(
    series.map((s) => [s.label, s.values]),
    [
      ['accepted', [3, 0]],
      ['closed: leave', [1, 0]],
      ['closed: ping_timeout', [0, 2]],
      ['rejected: join_timeout', [0, 1]],
    ],
  );
  assert.equal(sumReasons({ leave: 1, ping_timeout: 2 }), 3);
  assert.equal(sumReasons(undefined), 0);
});

test('the slowest readers come first, in the server order, then the others by id', () => {
  const players = [{ id: 3 }, { id: 12 }, { id: 1 }, { id: 40 }];
  assert.deepEqual(
    slowestFirst(players, [40, 12]).map((p) => p.id),
    [40, 12, 1, 3],
  );
});

/** A WebSocket that records what is sent and lets the test play the server. */
class FakeSocket extends EventTarget {
  /** @type {FakeSocket[]} */
  static made = [];
  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code, reason) {
    this.closedWith = { code, reason };
  }
  open() {
    this.dispatchEvent(new Event('open'));
  }
  /** @param {object} message */
  say(message) {
    const event = new Event('message');
    event.data = JSON.stringify(message);
    this.dispatchEvent(event);
  }
  /** @param {number} code @param {string} [reason] */
  end(code, reason = '') {
    const event = new Event('close');
    event.code = code;
    event.reason = reason;
    this.dispatchEvent(event);
  }
}

/** An AdminSocket on fakes; `timers` holds the delays asked for, `run()` fires the last. */
function fakeAdminSocket() {
  FakeSocket.made = [];
  const log = [];
  const timers = [];
  const events = Object.fromEntries(
    ['connecting', 'hello', 'sample', 'state', 'result', 'refused', 'closed'].map((name) => [name, (...args) => log.push([name, ...args])]),
  );
  const socket = new AdminSocket({
    url: 'ws://host/admin/ws',
    token: 's3cret',
    operator: 'alice',
    events,
    WebSocketImpl: /** @type {any} */ (FakeSocket),
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
  });
  return { socket, log, timers, run: () => timers.at(-1).fn() };
}

test('the socket authenticates first, numbers its actions and hands on what the server says', () => {
  assert.equal(adminSocketUrl({ protocol: 'https:', host: 'a.example:8443' }), 'wss://a.example:8443/admin/ws');
  assert.equal(adminSocketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/admin/ws');
  const { socket, log } = fakeAdminSocket();
  socket.start();
  const ws = FakeSocket.made[0];
  assert.equal(socket.send({ type: 'notice', text: 'early' }), null, 'nothing before hello');
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'auth', token: 's3cret', operator: 'alice' }]);
  ws.say({ type: 'hello', node: 'eu-1', history: [] });
  ws.say({ type: 'sample', t: 1 });
  ws.say({ type: 'mystery' });
  assert.equal(socket.send({ type: 'kick', player: 12, reason: 'abuse' }), 1);
  assert.equal(socket.send({ type: 'notice', text: 'hi' }), 2);
  assert.deepEqual(ws.sent.slice(1), [
    { type: 'kick', player: 12, reason: 'abuse', id: 1 },
    { type: 'notice', text: 'hi', id: 2 },
  ]);
  ws.say({ type: 'result', id: 1, ok: true, message: 'kicked player 12' });
  assert.deepEqual(
    log.map(([name]) => name),
    ['connecting', 'hello', 'sample', 'result'],
  );
});

test('after a close the socket retries later and later; a hello starts the delays over', () => {
  const { socket, log, timers, run } = fakeAdminSocket();
  socket.start();
  FakeSocket.made[0].end(1006);
  run();
  FakeSocket.made[1].end(1006);
  run();
  FakeSocket.made[2].end(1011, 'restart');
  assert.deepEqual(timers.map((t) => t.ms), RECONNECT_DELAYS_MS.slice(0, 3));
  assert.deepEqual(log.filter(([name]) => name === 'closed').at(-1), ['closed', 1011, 'restart', RECONNECT_DELAYS_MS[2]]);
  run();
  const fourth = FakeSocket.made[3];
  fourth.open();
  fourth.say({ type: 'hello', history: [] });
  fourth.end(1006);
  assert.equal(timers.at(-1).ms, RECONNECT_DELAYS_MS[0]);
  socket.stop();
});

test('a refused token or too many attempts stop the socket: no retry', () => {
  for (const code of [4401, 4429]) {
    const { socket, log, timers } = fakeAdminSocket();
    socket.start();
    FakeSocket.made[0].open();
    FakeSocket.made[0].end(code, 'unauthorized');
    assert.deepEqual(log.at(-1), ['refused', code, 'unauthorized']);
    assert.equal(timers.length, 0);
    assert.equal(FakeSocket.made.length, 1);
    assert.equal(socket.send({ type: 'notice', text: 'x' }), null);
  }
});
