// The session over a fake WebSocket: join and welcome, the heartbeat, requests and their
// acknowledgements, Socket.IO's events and backoff, resume tokens, and the diagnosis of refused
// upgrades. Delays are shortened through the options, so these run in milliseconds.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Backoff,
  Connection,
  DEFAULT_OPTIONS,
  Emitter,
  RESUME_TOKEN_KEY,
  RequestTimeoutError,
  diagnoseFailedUpgrade,
  diagnosisUrl,
  gameSocketUrl,
  reconnectionAttemptsFrom,
  roomRequestFrom,
} from '../net.js';
import { readFileSync } from 'node:fs';

import { PROTOCOL_VERSION, decodeClientMessage, encodeServerMessage } from '../protocol.js';
import { PARAMS } from './fixtures.mjs';

const TOKEN = Array.from({ length: 16 }, (_, i) => i * 16 + 1);
/** The room a `Welcome` names unless a test says otherwise. */
const ROOM = { id: 1, mode: 'arena', max_players: 64, code: null };
const OTHER_TOKEN = Array.from({ length: 16 }, () => 0xee);
/** The WebSocket URL of the node that served the page, in every test's connection. */
const ENTRY = 'ws://host:8080/ws?token=a%20b';
const EVENTS = [
  'redirect',
  'connect',
  'disconnect',
  'connect_error',
  'reconnect_attempt',
  'reconnect',
  'reconnect_error',
  'reconnect_failed',
];
/** Fast reconnection for tests: a few milliseconds instead of seconds. */
const FAST = { reconnectionDelay: 5, reconnectionDelayMax: 20, randomizationFactor: 0.5 };

/** Stands in for the browser's WebSocket; the test drives its events. */
class FakeSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.instances.push(this);
  }

  send(bytes) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(decodeClientMessage(bytes));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** @param {object} message a server message, encoded here */
  receive(message) {
    const bytes = encodeServerMessage(message);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  receiveRaw(data) {
    this.onmessage?.({ data });
  }

  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The upgrade failed: browsers report only 1006, without opening. */
  refuse() {
    this.serverClose(1006);
  }

  /** Answers the Join this socket sent. */
  welcome({ playerId = 7, resumed = false, token = TOKEN, params = PARAMS, room = ROOM, resumeFailed = null } = {}) {
    const join = this.sent.find((m) => m.type === 'Join');
    assert.ok(join, 'a Join was sent');
    this.receive({
      type: 'Welcome',
      protocol_version: PROTOCOL_VERSION,
      request_id: join.request_id,
      player_id: playerId,
      resumed,
      resume_token: token,
      tick_hz: 30,
      params,
      players: [{ id: playerId, name: 'Alice' }],
      room,
      resume_failed: resumeFailed,
    });
  }
}

const latest = () => FakeSocket.instances.at(-1);

/** A Map-backed stand-in for sessionStorage. */
function memoryStorage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => map.set(key, String(value)),
    map,
  };
}

/**
 * A connection on fake sockets that records its events. `fetchImpl` answers the diagnosis of
 * a refused upgrade.
 */
function connection(t, { settings = {}, storage = memoryStorage(), fetchImpl, room, url = ENTRY } = {}) {
  FakeSocket.instances = [];
  const fetches = [];
  const conn = new Connection(url, {
    name: 'Alice',
    room,
    entryUrl: ENTRY,
    WebSocketImpl: FakeSocket,
    fetchImpl: async (url, init) => {
      fetches.push(url);
      if (!fetchImpl) throw new TypeError('Failed to fetch');
      return fetchImpl(url, init);
    },
    storage,
    settings: { ...FAST, ...settings },
  });
  const events = [];
  for (const name of EVENTS) {
    conn.on(name, (...args) => events.push([name, ...args]));
  }
  const messages = [];
  conn.on('message', (message) => messages.push(message));
  t.after(() => conn.disconnect());
  return { conn, events, messages, fetches, storage };
}

/** Resolves when `conn` emits `event` (rejects after a second). */
function next(conn, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within 1 s`)), 1000);
    const off = conn.on(event, (...args) => {
      off();
      clearTimeout(timer);
      resolve(args);
    });
  });
}

const names = (events) => events.map(([name]) => name);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function response(status, body) {
  return { status, text: async () => body };
}

// -------------------------------------------------------------------------------------------
// URLs and options.

test('the socket URL follows the page and passes on its token', () => {
  assert.equal(gameSocketUrl(new URL('http://127.0.0.1:8080/?name=A')), 'ws://127.0.0.1:8080/ws');
  assert.equal(gameSocketUrl(new URL('https://example.test/')), 'wss://example.test/ws');
  assert.equal(
    gameSocketUrl(new URL('http://h:1/?name=Alice&token=abc')),
    'ws://h:1/ws?token=abc',
  );
  assert.equal(
    gameSocketUrl(new URL('http://h/?token=a%20b%26c%3D')),
    'ws://h/ws?token=a%20b%26c%3D',
    'a token is decoded from the page query and encoded again, never spliced in raw',
  );
  assert.equal(gameSocketUrl(new URL('http://h/'), '/game'), 'ws://h/game');
  assert.equal(diagnosisUrl('ws://h:1/ws?token=abc'), 'http://h:1/ws?token=abc');
  assert.equal(diagnosisUrl('wss://h/ws'), 'https://h/ws');
});

test('the room comes from the page query: a valid ?room= code, else quick play', () => {
  const quick = { type: 'QuickPlay', mode: '', region: '' };
  assert.deepEqual(roomRequestFrom(''), { ok: true, room: quick });
  assert.deepEqual(roomRequestFrom('?name=A'), { ok: true, room: quick });
  assert.deepEqual(roomRequestFrom('?room=%200z0z789abc%20&name=A'), {
    ok: true,
    room: { type: 'Code', value: '0Z0Z789ABC' },
  });
  assert.deepEqual(roomRequestFrom('?room=0123'), { ok: false, error: 'room code must be 10 characters' });
  assert.equal(roomRequestFrom('?room=0123456789I').ok, false);
  assert.equal(roomRequestFrom('?room=').ok, false);
});

test('the Join asks for the room given; a private room is joined again by its code', (t) => {
  const { conn } = connection(t, { room: { type: 'CreatePrivate', mode: '' } });
  conn.connect();
  let socket = latest();
  socket.open();
  assert.deepEqual(socket.sent[0].room, { type: 'CreatePrivate', mode: '' });
  const room = { id: 9, mode: 'arena', max_players: 8, code: '0Z0Z789ABC' };
  socket.welcome({ room });
  assert.deepEqual(conn.roomInfo, room);
  socket.serverClose(1006);
  return new Promise((resolve) => setTimeout(resolve, 50)).then(() => {
    socket = latest();
    socket.open();
    const join = socket.sent.find((m) => m.type === 'Join');
    assert.deepEqual(join.room, { type: 'Code', value: '0Z0Z789ABC' });
  });
});

test('reconnectionAttempts comes from the page query, Infinity unless a whole number', () => {
  assert.equal(reconnectionAttemptsFrom('?reconnectionAttempts=3'), 3);
  assert.equal(reconnectionAttemptsFrom('?name=A&reconnectionAttempts=0'), 0);
  assert.equal(reconnectionAttemptsFrom(''), Infinity);
  for (const bad of ['-1', '2.5', 'many', '', '1e3']) {
    assert.equal(reconnectionAttemptsFrom(`?reconnectionAttempts=${bad}`), Infinity, bad);
  }
});

test("defaults are Socket.IO's: 1 s to 5 s, randomisation 0.5, attempts without end", () => {
  assert.equal(DEFAULT_OPTIONS.reconnection, true);
  assert.equal(DEFAULT_OPTIONS.reconnectionDelay, 1000);
  assert.equal(DEFAULT_OPTIONS.reconnectionDelayMax, 5000);
  assert.equal(DEFAULT_OPTIONS.randomizationFactor, 0.5);
  assert.equal(DEFAULT_OPTIONS.reconnectionAttempts, Infinity);
});

// -------------------------------------------------------------------------------------------
// Backoff.

test("the backoff schedule is Socket.IO's, exactly, for given random numbers", () => {
  const schedule = (rand, n = 6) => {
    const backoff = new Backoff({ min: 1000, max: 5000, jitter: 0.5, random: () => rand });
    return Array.from({ length: n }, () => backoff.duration());
  };
  // rand 0: no deviation.
  assert.deepEqual(schedule(0), [1000, 2000, 4000, 5000, 5000, 5000]);
  // rand 0.15: deviation 7.5 % up (floor(1.5) is odd).
  assert.deepEqual(schedule(0.15), [1075, 2150, 4300, 5000, 5000, 5000]);
  // rand 0.8: deviation 40 % down (floor(8) is even); the cap applies after the jitter.
  assert.deepEqual(schedule(0.8), [600, 1200, 2400, 4800, 5000, 5000]);
  // rand 0.99: almost 50 % up.
  assert.deepEqual(schedule(0.99), [1495, 2990, 5000, 5000, 5000, 5000]);
});

test('every delay stays within its jitter band and under the cap; reset starts over', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const backoff = new Backoff({ random });
  for (let run = 0; run < 200; run++) {
    backoff.reset();
    for (let attempt = 0; attempt < 8; attempt++) {
      const base = 1000 * 2 ** attempt;
      const delay = backoff.duration();
      assert.ok(delay >= Math.min(5000, base * 0.5), `attempt ${attempt}: ${delay}`);
      assert.ok(delay <= Math.min(5000, base * 1.5), `attempt ${attempt}: ${delay}`);
      assert.equal(backoff.attempts, attempt + 1);
    }
  }
  const none = new Backoff({ jitter: 0 });
  assert.deepEqual([none.duration(), none.duration()], [1000, 2000]);
});

// -------------------------------------------------------------------------------------------
// Joining, the heartbeat, requests.

test('connect sends Join with a request id; the Welcome establishes the session', (t) => {
  const { conn, events, messages, storage } = connection(t);
  conn.connect();
  const socket = latest();
  assert.equal(socket.url, 'ws://host:8080/ws?token=a%20b');
  assert.equal(socket.binaryType, 'arraybuffer');
  assert.equal(conn.send({ type: 'Ping', nonce: 1 }), false, 'nothing is sent before the welcome');
  socket.open();
  const [join] = socket.sent;
  assert.deepEqual(join, {
    type: 'Join',
    protocol_version: PROTOCOL_VERSION,
    request_id: join.request_id,
    name: 'Alice',
    resume_token: null,
    baseline_tick: null,
    room: { type: 'QuickPlay', mode: '', region: '' },
  });
  assert.ok(join.request_id > 0);
  assert.deepEqual(events, [], 'no connect before the welcome');

  socket.welcome();
  assert.deepEqual(names(events), ['connect']);
  assert.equal(events[0][1].player_id, 7);
  assert.equal(messages[0].type, 'Welcome', 'the game sees the Welcome as a message too');
  assert.equal(conn.connected, true);
  assert.equal(conn.playerId, 7);
  assert.deepEqual(conn.resumeToken, TOKEN);
  assert.equal(storage.map.get(RESUME_TOKEN_KEY), Buffer.from(TOKEN).toString('hex'));
  assert.equal(conn.send({ type: 'Input', seq: 1, buttons: 0, aim: 0, ack_tick: 0, view_tick: 0 }), true);
  assert.equal(socket.sent.at(-1).type, 'Input');
});

test("the server's heartbeat Ping is answered at once with its nonce", (t) => {
  const { conn, messages } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  socket.receive({ type: 'Ping', nonce: 70000, rtt_us: 1250 });
  assert.deepEqual(socket.sent.at(-1), { type: 'Pong', nonce: 70000 });
  // Passed on after answering, for the game to show rtt_us.
  assert.deepEqual(messages.at(-1), { type: 'Ping', nonce: 70000, rtt_us: 1250 });
});

test('a request resolves with the Ack that echoes its id, refusals included', async (t) => {
  const { conn } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  const first = conn.request({ type: 'Chat', text: 'hello' });
  const second = conn.request({ type: 'Whisper', to: 3, text: 'psst' });
  const [chat, whisper] = socket.sent.slice(-2);
  assert.equal(chat.type, 'Chat');
  assert.equal(whisper.type, 'Whisper');
  assert.notEqual(chat.request_id, whisper.request_id);
  // Answers may come in any order; an Ack for an unknown id is ignored.
  socket.receive({ type: 'Ack', request_id: 999_999, error: null });
  socket.receive({ type: 'Ack', request_id: whisper.request_id, error: 'player #3 is not connected' });
  socket.receive({ type: 'Ack', request_id: chat.request_id, error: null });
  assert.deepEqual(await first, { type: 'Ack', request_id: chat.request_id, error: null });
  assert.equal((await second).error, 'player #3 is not connected');
  assert.equal(conn.requests.size, 0);
});

test('a request without an answer is rejected after its timeout, and a late Ack is ignored', async (t) => {
  const { conn } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  const started = performance.now();
  const pending = conn.request({ type: 'Chat', text: 'anyone?' }, 30);
  await assert.rejects(pending, (error) => {
    assert.ok(error instanceof RequestTimeoutError);
    assert.equal(error.message, 'no answer to Chat within 0.03 s');
    return true;
  });
  assert.ok(performance.now() - started >= 25);
  assert.equal(conn.requests.size, 0, 'a timed-out request is forgotten');
  socket.receive({ type: 'Ack', request_id: socket.sent.at(-1).request_id, error: null });
});

test('requests fail at once when not connected, and when the connection drops', async (t) => {
  const { conn } = connection(t);
  await assert.rejects(conn.request({ type: 'Chat', text: 'early' }), /not connected/);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  const pending = conn.request({ type: 'Chat', text: 'hello' }, 10_000);
  socket.serverClose(1006);
  await assert.rejects(pending, /disconnected/);
});

// -------------------------------------------------------------------------------------------
// Losing the connection, reconnecting, resuming.

test('a dropped session reconnects by itself and resumes with its token', async (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const first = latest();
  first.open();
  first.welcome();
  first.serverClose(1006);
  assert.deepEqual(events.at(-1), [
    'disconnect',
    'transport close',
    { code: 1006, description: 'connection lost' },
  ]);
  assert.equal(conn.connected, false);
  assert.equal(conn.reconnecting, true);
  assert.equal(conn.attempts, 1);
  assert.ok(conn.nextAttemptAt > 0, 'the next attempt is scheduled');

  const [attempt] = await next(conn, 'reconnect_attempt');
  assert.equal(attempt, 1);
  const second = latest();
  assert.notEqual(second, first);
  second.open();
  const join = second.sent[0];
  assert.deepEqual(join.resume_token, TOKEN, 'the Join presents the token of the last Welcome');
  second.welcome({ resumed: true });
  assert.deepEqual(names(events), ['connect', 'disconnect', 'reconnect_attempt', 'reconnect', 'connect']);
  assert.deepEqual(events[3], ['reconnect', 1]);
  assert.equal(conn.resumed, true);
  assert.equal(conn.attempts, 0, 'a session resets the backoff');
});

test('snapshot frames are rebuilt into Snapshots; one that cannot be applied asks for a full one', async (t) => {
  const vectors = JSON.parse(
    readFileSync(new URL('../../tests/vectors/protocol_v9.json', import.meta.url), 'utf8'),
  );
  const sequence = vectors.snapshot_sequence;
  const frame = (i) => Uint8Array.from(sequence.frames[i].hex.match(/../g), (b) => parseInt(b, 16)).buffer;
  const params = { ...PARAMS, arena_width: 2000, arena_height: 1500 };
  const { conn, messages } = connection(t);
  conn.connect();
  const first = latest();
  first.open();
  first.welcome({ playerId: sequence.me, params });
  for (const i of [0, 1, 2]) first.receiveRaw(frame(i));
  const snapshots = messages.filter((m) => m.type === 'Snapshot');
  assert.deepEqual(snapshots.map((s) => s.tick), [10, 11, 12]);
  const me = snapshots[2].players.find((p) => p.id === sequence.me);
  assert.equal(me.last_input_seq, sequence.frames[2].state.own.last_input_seq);
  assert.equal(conn.bytesReceived > 0, true);

  // Frame 4 is a delta against tick 13, which never arrived.
  first.receiveRaw(frame(4));
  assert.equal(messages.filter((m) => m.type === 'Snapshot').length, 3, 'nothing emitted');
  assert.deepEqual(first.sent.at(-1), { type: 'Resync' });
  assert.equal(conn.resyncs, 1);
  assert.equal(conn.connected, true, 'a resync is not a reason to drop the connection');

  // A resume names the newest state held, so the server can send a delta against it.
  first.serverClose(1006);
  await next(conn, 'reconnect_attempt');
  const second = latest();
  second.open();
  assert.equal(second.sent[0].baseline_tick, 12);
  second.welcome({ playerId: sequence.me, params, resumed: true });
  second.receiveRaw(frame(3));
  assert.equal(messages.filter((m) => m.type === 'Snapshot').at(-1).tick, 13, 'the delta applies');
});

test('failed attempts follow the backoff, then give up after reconnectionAttempts', async (t) => {
  const { conn, events, fetches } = connection(t, { settings: { reconnectionAttempts: 2 } });
  conn.connect();
  latest().refuse();
  await next(conn, 'reconnect_attempt');
  latest().refuse();
  await next(conn, 'reconnect_attempt');
  latest().refuse();
  await next(conn, 'reconnect_failed');
  assert.deepEqual(names(events), [
    'connect_error',
    'reconnect_attempt',
    'connect_error',
    'reconnect_error',
    'reconnect_attempt',
    'connect_error',
    'reconnect_error',
    'reconnect_failed',
  ]);
  assert.deepEqual(
    events.filter(([name]) => name === 'reconnect_attempt').map(([, n]) => n),
    [1, 2],
  );
  const error = events[0][1];
  assert.equal(error.message, 'cannot reach the server');
  assert.equal(error.fatal, false);
  assert.deepEqual(fetches, Array(3).fill('http://host:8080/ws?token=a%20b'));
  assert.equal(conn.active, false);
  await sleep(40);
  assert.equal(FakeSocket.instances.length, 3, 'nothing more after giving up');
});

test("a refused upgrade is explained by the server's HTTP answer; 401 and 403 are final", async (t) => {
  for (const [status, body, expected] of [
    [401, 'missing token\n', 'missing token'],
    [403, 'origin not allowed\n', 'origin not allowed'],
  ]) {
    const { conn, events } = connection(t, { fetchImpl: async () => response(status, body) });
    conn.connect();
    latest().refuse();
    const [error] = await next(conn, 'connect_error');
    assert.equal(error.message, expected);
    assert.equal(error.status, status);
    assert.equal(error.fatal, true);
    await sleep(40);
    assert.equal(FakeSocket.instances.length, 1, 'no retry: it cannot help');
    assert.equal(conn.active, false);
    assert.deepEqual(names(events), ['connect_error']);
  }
});

test('the diagnosis tells a refusal from a failure and bounds what it reads', async () => {
  const url = 'ws://h/ws';
  const answer = (status, body) => async () => response(status, body);
  assert.deepEqual(await diagnoseFailedUpgrade(url, answer(426, 'upgrade'), 100), {
    reason: 'connection failed',
    status: 426,
    fatal: false,
  });
  assert.deepEqual(await diagnoseFailedUpgrade(url, answer(503, 'busy\n'), 100), {
    reason: 'HTTP 503: busy',
    status: 503,
    fatal: false,
  });
  const long = await diagnoseFailedUpgrade(url, answer(401, 'x'.repeat(10_000)), 100);
  assert.equal(long.reason.length, 200);
  const hanging = (_, init) =>
    new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  const started = performance.now();
  assert.deepEqual(await diagnoseFailedUpgrade(url, hanging, 30), {
    reason: 'cannot reach the server',
    status: 0,
    fatal: false,
  });
  assert.ok(performance.now() - started < 500, 'a hanging diagnosis is cut short');
  assert.equal((await diagnoseFailedUpgrade(url, undefined, 10)).reason, 'cannot reach the server');
});

test("a server Error before the welcome is the connect_error's reason; only some are final", async (t) => {
  const cases = [
    ['ServerFull', 'server full: 2000 players at most', 1013, false],
    ['InvalidName', 'invalid name: name is empty', 4001, true],
    ['VersionMismatch', 'protocol version mismatch: server speaks version 3', 4000, true],
    ['NoSuchRoom', 'no such room', 4006, true],
    ['RoomFull', 'room full', 4007, false],
    ['UnknownMode', 'unknown mode: "duel" is not played here', 4008, true],
    ['TooManyRooms', 'too many rooms', 4009, false],
  ];
  for (const [code, message, closeCode, fatal] of cases) {
    const { conn, events } = connection(t);
    conn.connect();
    const socket = latest();
    socket.open();
    socket.receive({ type: 'Error', code, message });
    socket.serverClose(closeCode, 'bye');
    const [name, error] = events[0];
    assert.equal(name, 'connect_error');
    assert.equal(error.message, message);
    assert.equal(error.fatal, fatal, code);
    assert.equal(error.serverError.code, code);
    assert.equal(conn.active, !fatal, code);
  }
});

test('no Welcome within the join timeout: the attempt is abandoned and retried', async (t) => {
  const { conn, events } = connection(t, { settings: { joinTimeoutMs: 20 } });
  conn.connect();
  const socket = latest();
  socket.open();
  const [error] = await next(conn, 'connect_error');
  assert.equal(error.message, 'no answer to Join within 0.02 s');
  assert.equal(socket.closedWith.code, 1000);
  await next(conn, 'reconnect_attempt');
  assert.deepEqual(names(events).slice(0, 2), ['connect_error', 'reconnect_attempt']);
});

test('kicked: disconnect is "io server disconnect" with the reason, and no reconnection', async (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  socket.receive({ type: 'Error', code: 'Kicked', message: 'kicked: cheating' });
  socket.serverClose(4005, 'kicked');
  assert.deepEqual(events.at(-1), [
    'disconnect',
    'io server disconnect',
    { code: 4005, description: 'kicked: cheating' },
  ]);
  assert.equal(conn.active, false);
  await sleep(40);
  assert.equal(FakeSocket.instances.length, 1);
});

test('a ping timeout close is reported as such and reconnects', async (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  socket.serverClose(4004, 'ping timeout');
  assert.deepEqual(events.at(-1), ['disconnect', 'ping timeout', { code: 4004, description: 'ping timeout' }]);
  await next(conn, 'reconnect_attempt');
});

test('silence from the server drops the connection even if the socket looks open', async (t) => {
  const { conn, events } = connection(t, { settings: { silenceTimeoutMs: 40 } });
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  await next(conn, 'disconnect');
  const [, reason, details] = events.find(([name]) => name === 'disconnect');
  assert.equal(reason, 'ping timeout');
  assert.match(details.description, /^no message from the server for \d+ s$/);
  assert.equal(socket.closedWith.code, 1000);
});

test('an undecodable message drops the connection with a clear reason', (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  socket.receiveRaw(new Uint8Array([0x05, 0x05, 0x05]).buffer);
  assert.equal(socket.closedWith.code, 4000);
  const [name, reason, details] = events.at(-1);
  assert.equal(name, 'disconnect');
  assert.equal(reason, 'parse error');
  assert.match(details.description, /undecodable message from server: .*unexpected byte/);
  socket.receiveRaw('text');
  assert.equal(events.length, 2, 'a dropped socket is not heard from again');
});

test('disconnect says Leave, closes normally and stops for good', async (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  conn.disconnect();
  assert.deepEqual(socket.sent.at(-1), { type: 'Leave' });
  assert.deepEqual(socket.closedWith, { code: 1000, reason: 'leave' });
  assert.deepEqual(events.at(-1), [
    'disconnect',
    'io client disconnect',
    { code: 1000, description: 'left the game' },
  ]);
  socket.serverClose(1000);
  await sleep(40);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(conn.active, false);
});

test('pagehide sends Leave; a page restored from the back/forward cache connects again', (t) => {
  const { conn } = connection(t);
  const listeners = {};
  conn.bindPageLifecycle({ addEventListener: (name, fn) => (listeners[name] = fn) });
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  listeners.pagehide({ persisted: true });
  assert.deepEqual(socket.sent.at(-1), { type: 'Leave' });
  listeners.pageshow({ persisted: true });
  assert.equal(FakeSocket.instances.length, 2);
  assert.equal(conn.active, true);
});

test('a token kept in sessionStorage is presented by the first Join after a reload', (t) => {
  const hex = Buffer.from(OTHER_TOKEN).toString('hex');
  const { conn } = connection(t, { storage: memoryStorage({ [RESUME_TOKEN_KEY]: hex }) });
  conn.connect();
  latest().open();
  assert.deepEqual(latest().sent[0].resume_token, OTHER_TOKEN);
  for (const junk of ['', 'zz', hex.slice(2), `${hex}00`, hex.toUpperCase()]) {
    const { conn: other } = connection(t, { storage: memoryStorage({ [RESUME_TOKEN_KEY]: junk }) });
    assert.equal(other.resumeToken, null, `ignored: ${JSON.stringify(junk)}`);
  }
  const broken = {
    getItem() {
      throw new Error('storage disabled');
    },
    setItem() {
      throw new Error('storage disabled');
    },
  };
  const { conn: noStorage } = connection(t, { storage: broken });
  noStorage.connect();
  latest().open();
  latest().welcome();
  assert.equal(noStorage.connected, true, 'storage failures do not get in the way');
});

test('one failing listener does not stop the others, and its error is reported', (t) => {
  const reported = [];
  globalThis.reportError = (error) => reported.push(error.message);
  t.after(() => delete globalThis.reportError);
  const emitter = new Emitter();
  const seen = [];
  emitter.on('x', () => {
    throw new Error('listener bug');
  });
  const off = emitter.on('x', (value) => seen.push(value));
  emitter.emit('x', 1);
  off();
  emitter.emit('x', 2);
  assert.deepEqual(seen, [1]);
  assert.deepEqual(reported, ['listener bug', 'listener bug']);
});

// -------------------------------------------------------------------------------------------
// Cluster nodes: redirects, coming back to the node we played on, the directory unavailable.

const TICKET = Array.from({ length: 16 }, (_, i) => 0xc0 + i);
const QUICK = { type: 'QuickPlay', mode: '', region: '' };

test('a Redirect with a ticket sends the same Join to that node, claiming the seat', (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const entry = latest();
  entry.open();
  entry.receive({ type: 'Redirect', url: 'http://127.0.0.1:8082', ticket: TICKET });
  assert.deepEqual(entry.closedWith, { code: 1000, reason: 'redirected' }, 'the old socket is let go');
  const node = latest();
  assert.notEqual(node, entry);
  assert.equal(node.url, 'ws://127.0.0.1:8082/ws?token=a%20b', 'same path and query, new origin');
  assert.equal(conn.url, node.url);
  node.open();
  const join = node.sent[0];
  assert.equal(join.type, 'Join');
  assert.equal(join.name, 'Alice');
  assert.deepEqual(join.room, { type: 'Seat', value: TICKET });
  // The server's own close of the old socket (4010, "play on another node") changes nothing.
  entry.serverClose(4010, 'play on another node');
  node.welcome();
  assert.deepEqual(events, [['redirect', node.url], ['connect', events[1][1]]]);
  assert.equal(conn.connected, true);
  assert.equal(conn.route.redirects, 0, 'a Welcome starts the count again');
  assert.equal(conn.route.ticket, null, 'a ticket is claimed once');
});

test('a Redirect without a ticket (to resume) sends the same Join, same token, same room', (t) => {
  const hex = Buffer.from(OTHER_TOKEN).toString('hex');
  const { conn, events } = connection(t, {
    storage: memoryStorage({ [RESUME_TOKEN_KEY]: hex }),
    url: 'wss://eu.example.test/ws',
  });
  conn.connect();
  latest().open();
  latest().receive({ type: 'Redirect', url: 'https://eu2.example.test', ticket: null });
  const node = latest();
  assert.equal(node.url, 'wss://eu2.example.test/ws', 'https becomes wss');
  node.open();
  assert.deepEqual(node.sent[0].resume_token, OTHER_TOKEN);
  assert.deepEqual(node.sent[0].room, QUICK);
  node.welcome({ resumed: true, token: OTHER_TOKEN });
  assert.deepEqual(names(events), ['redirect', 'connect']);
  assert.equal(conn.resumed, true);
});

test('at most 3 redirects in a row; the 4th fails the attempt, which starts over at the entry', async (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  for (let hop = 1; hop <= 3; hop++) {
    latest().open();
    latest().receive({ type: 'Redirect', url: `http://node${hop}:1`, ticket: TICKET });
    assert.equal(latest().url, `ws://node${hop}:1/ws?token=a%20b`);
  }
  latest().open();
  assert.deepEqual(latest().sent[0].room, { type: 'Seat', value: TICKET });
  const sockets = FakeSocket.instances.length;
  latest().receive({ type: 'Redirect', url: 'http://node4:1', ticket: TICKET });
  assert.equal(FakeSocket.instances.length, sockets, 'the 4th is not followed');
  const [name, error] = events.at(-1);
  assert.equal(name, 'connect_error');
  assert.match(error.message, /more than 3 times in a row/);
  assert.equal(error.fatal, false);
  await next(conn, 'reconnect_attempt');
  const again = latest();
  assert.equal(again.url, ENTRY, 'the next attempt goes to the entry node');
  again.open();
  assert.deepEqual(again.sent[0].room, QUICK, 'asking for the room first asked for, not a seat');
  again.receive({ type: 'Redirect', url: 'http://node1:1', ticket: null });
  assert.equal(latest().url, 'ws://node1:1/ws?token=a%20b', 'a failed attempt starts the count again');
});

test('a Redirect to anything but an http(s) origin is refused with an error and followed nowhere', (t) => {
  const bad = [
    'javascript:alert(1)',
    'ws://evil:1',
    'file:///etc/passwd',
    'http://h:1/elsewhere',
    'http://user:pw@h:1',
    'http://h:1/?x=1',
    'not a url',
    '',
  ];
  for (const url of bad) {
    const { conn, events } = connection(t);
    conn.connect();
    latest().open();
    latest().receive({ type: 'Redirect', url, ticket: TICKET });
    assert.equal(FakeSocket.instances.length, 1, `no new socket for ${url}`);
    const [name, error] = events.at(-1);
    assert.equal(name, 'connect_error', url);
    assert.match(error.message, /bad node address/, url);
    assert.equal(error.fatal, true, url);
    assert.equal(conn.active, false, url);
  }
});

test('a Redirect after the Welcome is a protocol error', (t) => {
  const { conn, events } = connection(t);
  conn.connect();
  const socket = latest();
  socket.open();
  socket.welcome();
  socket.receive({ type: 'Redirect', url: 'http://other:1', ticket: null });
  assert.equal(socket.closedWith.code, 4000);
  assert.equal(events.at(-1)[0], 'disconnect');
  assert.match(events.at(-1)[2].description, /Redirect after the Welcome/);
  assert.notEqual(latest().url, 'ws://other:1/ws?token=a%20b');
});

test('a lost session comes back to its node; if that node is gone, to the entry with the token', async (t) => {
  const { conn, events, fetches } = connection(t);
  conn.connect();
  latest().open();
  latest().receive({ type: 'Redirect', url: 'http://n2:8082', ticket: TICKET });
  const node = latest();
  node.open();
  node.welcome();
  node.serverClose(1006);
  await next(conn, 'reconnect_attempt');
  const back = latest();
  assert.equal(back.url, 'ws://n2:8082/ws?token=a%20b', 'resuming goes to the node we played on');
  back.refuse(); // the node cannot be reached any more
  assert.equal(names(events).at(-1), 'reconnect_attempt', 'the failure is still being diagnosed');
  const [error] = await next(conn, 'connect_error');
  assert.equal(error.message, 'cannot reach the server');
  assert.deepEqual(fetches, ['http://n2:8082/ws?token=a%20b'], 'the diagnosis asks the node that failed');
  await next(conn, 'reconnect_attempt');
  const entry = latest();
  assert.equal(entry.url, ENTRY, 'then the entry node is tried');
  entry.open();
  assert.deepEqual(entry.sent[0].resume_token, TOKEN, 'the same token, for the entry to judge');
  assert.deepEqual(entry.sent[0].room, QUICK, 'the seat ticket was used up');
  const why = 'no player to resume: the node that held your player has left the cluster';
  entry.welcome({ resumed: false, resumeFailed: why, playerId: 9 });
  assert.equal(conn.resumeFailed, why);
  assert.equal(events.at(-1)[0], 'connect');
  assert.equal(events.at(-1)[1].resume_failed, why, 'the page hears why');
});

test('a node that opens but closes before the Welcome also sends the next attempt to the entry', async (t) => {
  const { conn } = connection(t, { url: 'ws://n2:8082/ws', room: { type: 'Id', value: 4 } });
  conn.connect();
  const listed = latest();
  assert.equal(listed.url, 'ws://n2:8082/ws', 'a listed room is joined on its node');
  listed.open();
  assert.deepEqual(listed.sent[0].room, { type: 'Id', value: 4 });
  listed.serverClose(1001, 'going away');
  await next(conn, 'reconnect_attempt');
  assert.equal(latest().url, ENTRY);
  latest().open();
  assert.deepEqual(latest().sent[0].room, QUICK, "another node's room id means nothing at the entry");
});

test('a refused seat ticket is not final: the join starts over at the entry', async (t) => {
  for (const [code, message] of [
    ['NoSuchRoom', 'no such room: wrong node'],
    ['RoomFull', 'room full: seat expired'],
  ]) {
    const { conn, events } = connection(t, { room: { type: 'Code', value: '0Z0Z789ABC' } });
    conn.connect();
    latest().open();
    latest().receive({ type: 'Redirect', url: 'http://n2:1', ticket: TICKET });
    latest().open();
    latest().receive({ type: 'Error', code, message });
    latest().serverClose(code === 'NoSuchRoom' ? 4006 : 4007);
    const [name, error] = events.at(-1);
    assert.equal(name, 'connect_error');
    assert.equal(error.message, message);
    assert.equal(error.fatal, false, code);
    await next(conn, 'reconnect_attempt');
    assert.equal(latest().url, ENTRY, code);
    latest().open();
    assert.deepEqual(latest().sent[0].room, { type: 'Code', value: '0Z0Z789ABC' }, code);
    conn.disconnect();
  }
});

test('the cluster directory unavailable (4011): retried with the backoff, a few times, then final', async (t) => {
  const { conn, events } = connection(t, { settings: { clusterRetries: 2 } });
  const message = 'new games cannot be joined just now, try again in a moment';
  conn.connect();
  for (let refusal = 1; refusal <= 3; refusal++) {
    if (refusal > 1) await next(conn, 'reconnect_attempt');
    latest().open();
    latest().receive({ type: 'Error', code: 'ClusterUnavailable', message });
    latest().serverClose(4011, 'cluster directory unavailable');
    const [, error] = events.filter(([name]) => name === 'connect_error').at(-1);
    assert.equal(error.message, message, 'the server\'s words reach the page');
    assert.equal(error.fatal, refusal > 2, `refusal ${refusal}`);
  }
  assert.equal(conn.active, false);
  assert.equal(FakeSocket.instances.length, 3);
});

test('a join the directory refused once and then let in starts the retry count again', async (t) => {
  const { conn } = connection(t, { settings: { clusterRetries: 1 } });
  conn.connect();
  latest().open();
  latest().receive({ type: 'Error', code: 'ClusterUnavailable', message: 'try again' });
  latest().serverClose(4011);
  await next(conn, 'reconnect_attempt');
  latest().open();
  latest().welcome();
  assert.equal(conn.clusterRefusals, 0);
});

test("an operator's Announcement arrives as a message and keeps the session", (t) => {
  const { conn, messages } = connection(t);
  conn.connect();
  latest().open();
  latest().welcome();
  latest().receive({ type: 'Announcement', text: 'restart in 5 min' });
  assert.deepEqual(messages.at(-1), { type: 'Announcement', text: 'restart in 5 min' });
  assert.equal(conn.connected, true);
});
