// The long-polling transport: its framing against the shared vectors (tests/vectors/
// polling_v1.json), the outbox (batches, repeated inputs, retries under the same numbers, the
// bound), the socket over a fake polling server behind a fake fetch (one GET and one POST at a
// time, repeated reliable messages delivered once, 404/409/421, malformed bodies, the close, the
// leave), the connection's WebSocket→polling fallback with a fake WebSocket, and the switch back
// to a WebSocket in place (Upgrade first, then what was queued; polling stopped; late answers
// ignored; no DELETE; a refused Upgrade is a lost session).

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Connection, fallsBackToPolling, transportFrom } from '../net.js';
import { MIN_PROBE_MS, probeIntervalFrom } from '../transport.js';
import { Outbox, POLLING_DEFAULTS, PollingSocket, pollingUrl, sessionUrl } from '../polling.js';
import {
  decodePollDownload,
  decodePollUpload,
  encodePollDownload,
  encodePollUpload,
  parsePollSession,
} from '../polling_wire.js';
import {
  PROTOCOL_VERSION,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
} from '../protocol.js';
import { PARAMS } from './fixtures.mjs';

const VECTORS = JSON.parse(readFileSync(new URL('../../tests/vectors/polling_v1.json', import.meta.url), 'utf8'));
const SID = 'n2.0123456789abcdef0123456789abcdef';
const TOKEN = Array.from({ length: 16 }, (_, i) => i + 1);
/** Retries in milliseconds, so the tests run fast. */
const FAST = { retryDelaysMs: [1, 2, 3], requestTimeoutMs: 1000, holdMarginMs: 1000 };

const fromHex = (hex) => new Uint8Array(Buffer.from(hex, 'hex'));
const toHex = (bytes) => Buffer.from(bytes).toString('hex');
const input = (seq) => encodeClientMessage({ type: 'Input', seq, buttons: 1, aim: 0, ack_tick: 0, view_tick: 0 });
const chat = (text) => encodeClientMessage({ type: 'Chat', request_id: 1, text });

/** Waits until `predicate()` holds, a few milliseconds at a time. */
/** Connections the tests made: each is disconnected after its test, passed or failed, so that
 * no timer of a failed test keeps the runner waiting. */
const connections = [];
afterEach(() => {
  for (const conn of connections.splice(0)) conn.disconnect();
});

async function until(predicate, what = 'the condition') {
  const deadline = Date.now() + 2000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// ---------------------------------------------------------------------------------------------
// The framing.

test('GET bodies of the vectors decode to their contents and encode back to their bytes', () => {
  assert.ok(VECTORS.downloads.length >= 4);
  for (const vector of VECTORS.downloads) {
    const decoded = decodePollDownload(fromHex(vector.hex));
    assert.equal(decoded.first, vector.first, vector.name);
    assert.deepEqual(decoded.messages.map(toHex), vector.messages, vector.name);
    assert.equal(decoded.snapshot === null ? null : toHex(decoded.snapshot), vector.snapshot, vector.name);
    assert.equal(decoded.closeCode, vector.close_code, vector.name);
    assert.equal(decoded.closeReason, vector.close_reason, vector.name);
    const encoded = encodePollDownload({
      first: vector.first,
      messages: vector.messages.map(fromHex),
      snapshot: vector.snapshot === null ? null : fromHex(vector.snapshot),
      closeCode: vector.close_code,
      closeReason: vector.close_reason,
    });
    assert.equal(toHex(encoded), vector.hex, vector.name);
    // The messages inside are the WebSocket's: the codec reads them.
    for (const message of decoded.messages) decodeServerMessage(message);
    if (decoded.snapshot) assert.equal(decodeServerMessage(decoded.snapshot).type, 'SnapshotFrame');
  }
});

test('POST bodies of the vectors decode to their contents and encode back to their bytes', () => {
  for (const vector of VECTORS.uploads) {
    const decoded = decodePollUpload(fromHex(vector.hex));
    assert.equal(decoded.first, vector.first, vector.name);
    assert.deepEqual(decoded.messages.map(toHex), vector.messages, vector.name);
    assert.equal(toHex(encodePollUpload(vector.first, vector.messages.map(fromHex))), vector.hex, vector.name);
    for (const message of decoded.messages) decodeClientMessage(message);
  }
});

test('malformed bodies of the vectors are refused with a ProtocolError', () => {
  for (const vector of VECTORS.malformed_downloads) {
    assert.throws(() => decodePollDownload(fromHex(vector.hex)), ProtocolError, vector.name);
  }
  for (const vector of VECTORS.malformed_uploads) {
    assert.throws(() => decodePollUpload(fromHex(vector.hex)), ProtocolError, vector.name);
  }
});

test('every cut of a valid GET body is refused, never thrown as anything else', () => {
  const whole = fromHex(VECTORS.downloads[1].hex);
  for (let n = 0; n < whole.length; n++) {
    assert.throws(() => decodePollDownload(whole.subarray(0, n)), ProtocolError, `${n} bytes`);
  }
});

test('the opening JSON is checked field by field', () => {
  assert.deepEqual(parsePollSession({ sid: SID, hold_ms: 25000, max_body: 16384 }), {
    sid: SID,
    holdMs: 25000,
    maxBody: 16384,
  });
  parsePollSession({ sid: '0123456789abcdef0123456789abcdef', hold_ms: 0, max_body: 7 });
  for (const bad of [
    null,
    {},
    { sid: 'ABC', hold_ms: 25000, max_body: 16384 },
    { sid: '../0123456789abcdef0123456789abcdef', hold_ms: 25000, max_body: 16384 },
    { sid: SID, hold_ms: -1, max_body: 16384 },
    { sid: SID, hold_ms: '25000', max_body: 16384 },
    { sid: SID, hold_ms: 25000, max_body: 3 },
  ]) {
    assert.throws(() => parsePollSession(bad), ProtocolError, JSON.stringify(bad));
  }
});

test('the polling URLs sit beside the WebSocket URL, the token only on the opening one', () => {
  assert.equal(pollingUrl('ws://host:8080/ws?token=a%20b'), 'http://host:8080/poll?token=a%20b');
  assert.equal(pollingUrl('wss://example.com/ws'), 'https://example.com/poll');
  assert.equal(pollingUrl('ws://host/game/ws'), 'http://host/game/poll');
  assert.equal(sessionUrl('http://host:8080/poll?token=x', SID), `http://host:8080/poll/${SID}`);
});

// ---------------------------------------------------------------------------------------------
// The outbox.

test('a batch repeats the last three inputs under their first numbers, then the new messages', () => {
  const outbox = new Outbox(POLLING_DEFAULTS);
  for (let seq = 1; seq <= 4; seq++) outbox.push(input(seq));
  let batch = outbox.nextBatch(16384);
  assert.deepEqual([batch.first, batch.messages.length, batch.through], [1, 4, 4]);
  outbox.answered(batch.through);
  assert.equal(outbox.nextBatch(16384), null, 'nothing new: no POST');
  outbox.push(chat('hi'));
  outbox.push(input(5));
  batch = outbox.nextBatch(16384);
  // Inputs 3 and 4 (numbers 3, 4) again, then the chat (5) and input 5 (6).
  assert.equal(batch.first, 3);
  assert.deepEqual(batch.messages.map((m) => decodeClientMessage(m)).map((m) => m.seq ?? m.type), [3, 4, 'Chat', 5]);
  assert.equal(batch.through, 6);
});

test('a batch that was not answered goes again with the same numbers, newer messages after it', () => {
  const outbox = new Outbox({ ...POLLING_DEFAULTS, repeatedInputs: 0 });
  outbox.push(chat('a'));
  outbox.push(chat('b'));
  const lost = outbox.nextBatch(16384);
  outbox.push(chat('c'));
  const again = outbox.nextBatch(16384);
  assert.equal(again.first, lost.first);
  assert.deepEqual(again.messages.slice(0, 2), lost.messages);
  assert.equal(again.messages.length, 3);
  outbox.answered(again.through);
  assert.equal(outbox.nextBatch(16384), null);
});

test('a full outbox drops its oldest waiting input first, and refuses when none is left to drop', () => {
  const outbox = new Outbox({ repeatedInputs: 3, maxQueuedMessages: 3 });
  outbox.push(input(1));
  outbox.push(chat('x'));
  outbox.push(input(2));
  assert.ok(outbox.push(input(3)));
  assert.equal(outbox.droppedInputs, 1);
  assert.deepEqual(outbox.waiting.map((m) => decodeClientMessage(m).seq ?? 'chat'), ['chat', 2, 3]);
  const full = new Outbox({ repeatedInputs: 3, maxQueuedMessages: 2 });
  assert.ok(full.push(chat('a')));
  assert.ok(full.push(chat('b')));
  assert.equal(full.push(chat('c')), false);
});

test('a batch fits the body limit: repetitions give way first, the rest waits for the next POST', () => {
  const outbox = new Outbox(POLLING_DEFAULTS);
  for (let seq = 1; seq <= 3; seq++) outbox.push(input(seq));
  outbox.answered(outbox.nextBatch(16384).through);
  const size = input(9).length + 2;
  outbox.push(input(4));
  outbox.push(input(5));
  // Room for the header and two messages: the two new ones, no repetition.
  const batch = outbox.nextBatch(4 + 2 * size);
  assert.deepEqual([batch.first, batch.messages.length], [4, 2]);
  outbox.push(input(6));
  outbox.push(input(7));
  outbox.push(input(8));
  const partial = outbox.nextBatch(4 + 2 * size);
  assert.equal(partial.first, 4, 'the unanswered ones first');
  assert.equal(partial.messages.length, 2);
  const tiny = new Outbox(POLLING_DEFAULTS);
  tiny.push(chat('x'));
  assert.ok(tiny.nextBatch(4).error, 'no message fits a body of 4 bytes');
});

// ---------------------------------------------------------------------------------------------
// The socket, over a fake polling server.

/**
 * A scripted polling server behind a fake `fetch`: it opens sessions, holds GETs until the test
 * answers them, records POST bodies, and counts how many of each are in flight at once.
 */
class FakePollServer {
  constructor({ sid = SID, maxBody = 16384 } = {}) {
    this.sid = sid;
    this.maxBody = maxBody;
    this.opens = [];
    this.gets = [];
    this.posts = [];
    this.deletes = [];
    this.getsInFlight = 0;
    this.postsInFlight = 0;
    this.maxGetsInFlight = 0;
    this.maxPostsInFlight = 0;
    /** How the next POSTs are answered: a status, or 'fail' (a network error), then 204. */
    this.postAnswers = [];
    this.openAnswer = null;
    /** A GET answers when the test says, aborted or not (a late answer). */
    this.ignoreAbort = false;
    this.fetch = (url, init) => this.handle(new URL(url), init ?? {});
  }

  async handle(url, init) {
    const method = init.method ?? 'GET';
    assert.equal(init.cache, 'no-store', `${method} ${url.pathname} asks for no caching`);
    if (url.pathname === '/poll' && method === 'POST') {
      this.opens.push(url.href);
      if (this.openAnswer) return this.openAnswer();
      return Response.json({ sid: this.sid, hold_ms: 25000, max_body: this.maxBody });
    }
    assert.equal(url.pathname, `/poll/${this.sid}`);
    if (method === 'DELETE') {
      this.deletes.push(init);
      return new Response(null, { status: 204 });
    }
    if (method === 'POST') return this.post(init);
    return this.get(url, init.signal);
  }

  async post(init) {
    assert.equal(init.headers['Content-Type'], 'application/octet-stream');
    this.postsInFlight++;
    this.maxPostsInFlight = Math.max(this.maxPostsInFlight, this.postsInFlight);
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.postsInFlight--;
    const upload = decodePollUpload(init.body);
    this.posts.push({ first: upload.first, messages: upload.messages.map((m) => decodeClientMessage(m)) });
    const answer = this.postAnswers.shift() ?? 204;
    if (answer === 'fail') throw new TypeError('Failed to fetch');
    if (typeof answer === 'function') return answer();
    return new Response(answer === 204 ? null : 'no', { status: answer });
  }

  get(url, signal) {
    this.getsInFlight++;
    this.maxGetsInFlight = Math.max(this.maxGetsInFlight, this.getsInFlight);
    return new Promise((resolve, reject) => {
      const pending = {
        ack: Number(url.searchParams.get('ack')),
        tick: url.searchParams.has('tick') ? Number(url.searchParams.get('tick')) : null,
        answer: (response) => {
          this.getsInFlight--;
          pending.answered = true;
          resolve(response);
        },
        answered: false,
      };
      signal?.addEventListener('abort', () => {
        if (pending.answered || this.ignoreAbort) return;
        this.getsInFlight--;
        pending.answered = true;
        reject(new DOMException('aborted', 'AbortError'));
      });
      this.gets.push(pending);
    });
  }

  /** The GET waiting now. */
  get waiting() {
    return this.gets.find((g) => !g.answered) ?? null;
  }

  /** Answers the waiting GET with a body (server messages as objects). */
  async answer({ first = 1, messages = [], snapshot = null, closeCode = 0, closeReason = '' } = {}) {
    await until(() => this.waiting !== null, 'a GET');
    const body = encodePollDownload({ first, messages: messages.map((m) => encodeServerMessage(m)), snapshot, closeCode, closeReason });
    this.waiting.answer(new Response(body, { status: 200, headers: { 'Content-Type': 'application/octet-stream' } }));
  }

  /** Answers the waiting GET with a status and a text body. */
  async answerStatus(status, text = '', headers = {}) {
    await until(() => this.waiting !== null, 'a GET');
    this.waiting.answer(new Response(text, { status, headers }));
  }

  /** Answers the waiting GET with raw bytes. */
  async answerRaw(bytes) {
    await until(() => this.waiting !== null, 'a GET');
    this.waiting.answer(new Response(bytes, { status: 200 }));
  }
}

/** A polling socket on a fake server, recording what it delivers. */
function pollingSocket(server, { appliedTick = () => null, settings = {} } = {}) {
  const socket = new PollingSocket('ws://host:8080/ws?token=t%201', {
    fetchImpl: server.fetch,
    appliedTick,
    settings: { ...FAST, ...settings },
  });
  const seen = { opened: false, messages: [], closes: [], errors: [] };
  socket.onopen = () => (seen.opened = true);
  socket.onmessage = (event) => {
    assert.ok(event.data instanceof ArrayBuffer);
    seen.messages.push(decodeServerMessage(event.data));
  };
  socket.onclose = (event) => seen.closes.push(event);
  socket.onerror = (event) => seen.errors.push(event.message);
  return { socket, seen };
}

const pingMessage = (nonce) => ({ type: 'Ping', nonce, rtt_us: 0 });

test('the socket opens with the page token, then holds one GET at a time, reporting ack and tick', async () => {
  const server = new FakePollServer();
  let tick = null;
  const { socket, seen } = pollingSocket(server, { appliedTick: () => tick });
  assert.equal(socket.readyState, PollingSocket.CONNECTING);
  assert.throws(() => socket.send(chat('early')), /not open/);
  await until(() => seen.opened, 'open');
  assert.deepEqual(server.opens, ['http://host:8080/poll?token=t%201']);
  assert.equal(socket.readyState, PollingSocket.OPEN);
  await until(() => server.waiting !== null);
  assert.deepEqual([server.waiting.ack, server.waiting.tick], [0, null]);
  tick = 41;
  await server.answer({ first: 1, messages: [pingMessage(1), pingMessage(2)] });
  await until(() => server.gets.length === 2, 'the next GET');
  assert.deepEqual([server.waiting.ack, server.waiting.tick], [2, 41]);
  await server.answer({ first: 3 });
  await server.answer({ first: 3, messages: [pingMessage(3)] });
  await until(() => server.gets.length === 4);
  assert.equal(server.maxGetsInFlight, 1);
  assert.deepEqual(seen.messages.map((m) => m.nonce), [1, 2, 3]);
  socket.close();
});

test('reliable messages repeated in a later answer are delivered once, in order', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await server.answer({ first: 1, messages: [pingMessage(1), pingMessage(2)] });
  // Our acknowledgement "was lost": the server sends 1 and 2 again, with 3.
  await server.answer({ first: 1, messages: [pingMessage(1), pingMessage(2), pingMessage(3)] });
  await server.answer({ first: 3, messages: [pingMessage(3), pingMessage(4)] });
  await until(() => seen.messages.length === 4);
  assert.deepEqual(seen.messages.map((m) => m.nonce), [1, 2, 3, 4]);
  assert.equal(server.waiting?.ack ?? server.gets.at(-1).ack, 4);
  socket.close();
});

test('a snapshot follows the reliable messages of its answer, as a WebSocket snapshot message', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await server.answer({ first: 1, messages: [pingMessage(9)], snapshot: fromHex(VECTORS.downloads[2].snapshot) });
  await until(() => seen.messages.length === 2);
  assert.deepEqual(seen.messages.map((m) => m.type), ['Ping', 'SnapshotFrame']);
  socket.close();
});

test('one POST at a time: what is sent meanwhile goes in one batch, repeating the last inputs', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await until(() => seen.opened);
  socket.send(input(1));
  await until(() => server.postsInFlight === 1, 'the first POST');
  for (let seq = 2; seq <= 5; seq++) socket.send(input(seq));
  await until(() => server.posts.length === 2, 'the second POST');
  assert.equal(server.maxPostsInFlight, 1);
  assert.deepEqual(server.posts[0], { first: 1, messages: [decodeClientMessage(input(1))] });
  // The last three inputs (3, 4, 5) are all in the batch already: it starts at its first new
  // message, and input 1 is not repeated.
  assert.equal(server.posts[1].first, 2);
  assert.deepEqual(server.posts[1].messages.map((m) => m.seq), [2, 3, 4, 5]);
  socket.send(chat('gg'));
  await until(() => server.posts.length === 3);
  assert.equal(server.posts[2].first, 3, 'inputs 3, 4 and 5 repeated under their numbers');
  assert.deepEqual(server.posts[2].messages.map((m) => m.seq ?? m.type), [3, 4, 5, 'Chat']);
  socket.close();
});

test('a lost POST is retried with the same numbers; a 409 is retried too', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server, { settings: { repeatedInputs: 0 } });
  await until(() => seen.opened);
  server.postAnswers.push('fail', 409, 'fail');
  socket.send(chat('one'));
  await until(() => server.posts.length === 1);
  socket.send(chat('two'));
  await until(() => server.posts.length === 4, 'three retries and the answered POST');
  assert.deepEqual(server.posts.map((p) => p.first), [1, 1, 1, 1]);
  assert.deepEqual(server.posts.at(-1).messages.map((m) => m.text), ['one', 'two']);
  assert.equal(server.maxPostsInFlight, 1);
  assert.equal(socket.readyState, PollingSocket.OPEN);
  socket.close();
});

test('POSTs failing again and again end the session as a lost connection (1006)', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await until(() => seen.opened);
  server.postAnswers.push('fail', 'fail', 'fail', 'fail');
  socket.send(chat('lost'));
  await until(() => seen.closes.length === 1);
  assert.equal(seen.closes[0].code, 1006);
  assert.equal(seen.closes[0].error, undefined);
  assert.equal(server.getsInFlight, 0, 'the waiting GET was aborted');
});

test('the close at the end of an answer closes the socket with its code and reason', async () => {
  const server = new FakePollServer();
  const { seen } = pollingSocket(server);
  await server.answer({
    first: 1,
    messages: [{ type: 'Error', code: 'Kicked', message: 'kicked by the operator' }],
    closeCode: 4005,
    closeReason: 'kicked',
  });
  await until(() => seen.closes.length === 1);
  assert.equal(seen.messages[0].type, 'Error');
  assert.deepEqual([seen.closes[0].code, seen.closes[0].reason, seen.closes[0].wasClean], [4005, 'kicked', true]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(server.gets.length, 1, 'no GET after the close');
});

test('a 404 to a GET ends the session; a 404 to a POST waits for the GET to bring the close', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await until(() => seen.opened);
  server.postAnswers.push(404);
  socket.send(chat('late'));
  await until(() => server.posts.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(socket.readyState, PollingSocket.OPEN, 'the close comes with the GET');
  socket.send(chat('after'));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(server.posts.length, 1, 'no POST to an ended session');
  await server.answer({ first: 1, closeCode: 4004, closeReason: 'ping timeout' });
  await until(() => seen.closes.length === 1);
  assert.equal(seen.closes[0].code, 4004);

  const second = new FakePollServer();
  const other = pollingSocket(second);
  await second.answerStatus(404, 'unknown or ended session');
  await until(() => other.seen.closes.length === 1);
  assert.equal(other.seen.closes[0].code, 1006);
  assert.match(other.seen.closes[0].reason, /HTTP 404: unknown or ended session/);
});

test('a 421 closes with the node that holds the session', async () => {
  const server = new FakePollServer();
  const { seen } = pollingSocket(server);
  await server.answerStatus(421, 'the session lives on node n2', { 'X-Skirmish-Node-Url': 'http://10.0.0.2:8082' });
  await until(() => seen.closes.length === 1);
  assert.equal(seen.closes[0].code, 1006);
  assert.equal(seen.closes[0].nodeUrl, 'http://10.0.0.2:8082');
});

test('malformed answers close the socket with an error, never a throw', async () => {
  const bodies = [
    new Uint8Array([0, 0]),
    encodePollDownload({ first: 1, messages: [new Uint8Array([0xff])] }).subarray(0, 9),
    // Message 2 when 1 was never delivered: a gap.
    encodePollDownload({ first: 2, messages: [encodeServerMessage(pingMessage(1))] }),
  ];
  for (const body of bodies) {
    const server = new FakePollServer();
    const { seen } = pollingSocket(server);
    await server.answerRaw(body);
    await until(() => seen.closes.length === 1);
    assert.equal(seen.closes[0].code, 1006);
    assert.match(seen.closes[0].error, /malformed polling answer|missing/);
    assert.equal(seen.errors.length, 1);
  }
});

test('an opening refused says why, and whether retrying can help', async () => {
  for (const [status, fatal] of [
    [401, true],
    [403, true],
    [503, false],
  ]) {
    const server = new FakePollServer();
    server.openAnswer = () => new Response('too many sessions', { status });
    const { seen } = pollingSocket(server);
    await until(() => seen.closes.length === 1);
    assert.equal(seen.opened, false);
    assert.deepEqual(seen.closes[0].refusal, { status, reason: `HTTP ${status}: too many sessions`, fatal });
  }
  const unreachable = new PollingSocket('ws://host/ws', {
    fetchImpl: async () => {
      throw new TypeError('Failed to fetch');
    },
  });
  const closes = [];
  unreachable.onclose = (event) => closes.push(event);
  await until(() => closes.length === 1);
  assert.deepEqual(closes[0].refusal, { status: 0, reason: 'cannot reach the server', fatal: false });
});

test('leave sends DELETE with keepalive and stops polling', async () => {
  const server = new FakePollServer();
  const { socket, seen } = pollingSocket(server);
  await until(() => server.waiting !== null);
  socket.leave();
  await until(() => seen.closes.length === 1);
  assert.equal(server.deletes.length, 1);
  assert.equal(server.deletes[0].keepalive, true);
  assert.equal(server.getsInFlight, 0);
});

// ---------------------------------------------------------------------------------------------
// The connection's choice of transport.

test('the page query picks the transport mode', () => {
  assert.equal(transportFrom(''), 'auto');
  assert.equal(transportFrom('?transport=polling'), 'polling');
  assert.equal(transportFrom('?name=a&transport=websocket'), 'websocket');
  assert.equal(transportFrom('?transport=carrier-pigeon'), 'auto');
  // And, for tests, how often to probe for a WebSocket while on polling: bounded below.
  assert.equal(probeIntervalFrom(''), null);
  assert.equal(probeIntervalFrom('?probe_ms=500'), 500);
  assert.equal(probeIntervalFrom('?probe_ms=1'), MIN_PROBE_MS);
  assert.equal(probeIntervalFrom('?probe_ms=soon'), null);
});

test('the fallback decision: only in auto mode, only when the WebSocket itself failed', () => {
  const ws = { transport: 'websocket', welcomed: false };
  assert.equal(fallsBackToPolling('auto', ws, { kind: 'no-welcome' }), true);
  assert.equal(fallsBackToPolling('auto', ws, { kind: 'upgrade-failed', status: 426, fatal: false }), true);
  assert.equal(fallsBackToPolling('auto', ws, { kind: 'upgrade-failed', status: 502, fatal: false }), true);
  assert.equal(fallsBackToPolling('auto', ws, { kind: 'upgrade-failed', status: 401, fatal: true }), false);
  assert.equal(fallsBackToPolling('auto', ws, { kind: 'upgrade-failed', status: 0, fatal: false }), false);
  assert.equal(fallsBackToPolling('websocket', ws, { kind: 'no-welcome' }), false);
  assert.equal(fallsBackToPolling('auto', { ...ws, welcomed: true }, { kind: 'no-welcome' }), false);
  assert.equal(fallsBackToPolling('auto', { ...ws, transport: 'polling' }, { kind: 'no-welcome' }), false);
});

/** A WebSocket that the test opens, refuses or leaves hanging. */
class FakeSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.instances.push(this);
  }
  send(bytes) {
    this.sent.push(decodeClientMessage(bytes));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  refuse() {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
  /** A server message arrives on the socket. */
  receive(message) {
    const bytes = encodeServerMessage(message);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  /** The server closes the socket. */
  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/**
 * A connection whose WebSocket is fake and whose fetch answers both the diagnosis of a failed
 * upgrade (426: the server would have upgraded) and the fake polling server.
 */
function fallbackConnection({ transport = 'auto', settings = {}, server = new FakePollServer() } = {}) {
  FakeSocket.instances = [];
  const diagnoses = [];
  const fetchImpl = (url, init) => {
    if (new URL(url).pathname === '/ws') {
      diagnoses.push(url);
      return Promise.resolve(new Response('upgrade required', { status: 426 }));
    }
    return server.fetch(url, init);
  };
  const PollingImpl = class extends PollingSocket {
    constructor(url, options) {
      super(url, { ...options, settings: FAST });
    }
  };
  const conn = new Connection('ws://host:8080/ws?token=x', {
    name: 'Alice',
    WebSocketImpl: FakeSocket,
    PollingImpl,
    fetchImpl,
    transport,
    settings: { reconnectionDelay: 1, reconnectionDelayMax: 5, websocketWelcomeMs: 30, ...settings },
  });
  const events = [];
  for (const event of ['connect', 'disconnect', 'connect_error', 'transport', 'reconnect']) {
    conn.on(event, (...args) => events.push([event, ...args]));
  }
  connections.push(conn);
  return { conn, server, events, diagnoses };
}

/** Answers the Join the connection POSTed with a Welcome, through the waiting GET. */
async function welcomeOverPolling(server, { first = 1, resumed = false } = {}) {
  await until(() => server.posts.some((p) => p.messages.some((m) => m.type === 'Join')), 'a Join POST');
  const join = server.posts.flatMap((p) => p.messages).findLast((m) => m.type === 'Join');
  await server.answer({
    first,
    messages: [
      {
        type: 'Welcome',
        protocol_version: PROTOCOL_VERSION,
        request_id: join.request_id,
        player_id: 7,
        resumed,
        resume_token: TOKEN,
        tick_hz: 30,
        params: PARAMS,
        players: [{ id: 7, name: 'Alice' }],
        room: { id: 1, mode: 'arena', max_players: 64, code: null },
        resume_failed: null,
      },
    ],
  });
  return join;
}

test('a refused upgrade falls back to polling for the same join, shown as the transport', async () => {
  const { conn, server, events, diagnoses } = fallbackConnection();
  conn.connect();
  assert.equal(conn.transport, 'websocket');
  FakeSocket.instances[0].refuse();
  await until(() => server.opens.length === 1, 'the polling session');
  assert.equal(diagnoses.length, 1, 'the server was asked first: 426, it would have upgraded');
  assert.equal(server.opens[0], 'http://host:8080/poll?token=x');
  await welcomeOverPolling(server);
  await until(() => conn.isOpen);
  assert.equal(conn.transport, 'polling');
  assert.deepEqual(events.map((e) => e[0]), ['transport', 'connect']);
  assert.ok(conn.send({ type: 'Input', seq: 1, buttons: 0, aim: 0, ack_tick: 0, view_tick: 0 }));
  await until(() => server.posts.some((p) => p.messages.some((m) => m.type === 'Input')));
  conn.disconnect();
  await until(() => server.deletes.length === 1, 'the DELETE of a deliberate leave');
});

test('a WebSocket that opens but brings no Welcome in time falls back to polling', async () => {
  const { conn, server, events } = fallbackConnection();
  conn.connect();
  FakeSocket.instances[0].open();
  assert.equal(FakeSocket.instances[0].sent[0].type, 'Join');
  await until(() => server.opens.length === 1, 'the polling session');
  assert.equal(FakeSocket.instances[0].readyState, 3, 'the silent WebSocket was closed');
  assert.match(events[0][2], /no Welcome over WebSocket/);
  await welcomeOverPolling(server);
  await until(() => conn.isOpen);
  conn.disconnect();
});

test('?transport=websocket never falls back; ?transport=polling never tries a WebSocket', async () => {
  const ws = fallbackConnection({ transport: 'websocket' });
  ws.conn.connect();
  FakeSocket.instances[0].refuse();
  await until(() => ws.events.some((e) => e[0] === 'connect_error'));
  assert.equal(ws.server.opens.length, 0);
  ws.conn.disconnect();

  const polling = fallbackConnection({ transport: 'polling' });
  polling.conn.connect();
  assert.equal(FakeSocket.instances.length, 0);
  await welcomeOverPolling(polling.server);
  await until(() => polling.conn.isOpen);
  assert.equal(polling.conn.transport, 'polling');
  polling.conn.disconnect();
});

test('a lost polling session comes back over polling with the resume token', async () => {
  const { conn, server, events } = fallbackConnection({ transport: 'polling' });
  conn.connect();
  await welcomeOverPolling(server);
  await until(() => conn.isOpen);
  await server.answerStatus(404, 'unknown or ended session');
  await until(() => server.opens.length === 2, 'a second session');
  await until(() => server.posts.flatMap((p) => p.messages).filter((m) => m.type === 'Join').length === 2);
  const join = server.posts.flatMap((p) => p.messages).findLast((m) => m.type === 'Join');
  assert.deepEqual(join.resume_token, TOKEN);
  // The new session numbers its messages from 1 again.
  await welcomeOverPolling(server, { resumed: true });
  await until(() => conn.isOpen);
  assert.deepEqual(events.map((e) => e[0]), ['connect', 'disconnect', 'reconnect', 'connect']);
  assert.equal(events[1][1], 'transport close');
  conn.disconnect();
});

test('a 421 sends the next attempt to the node that holds the session', async () => {
  const { conn, server } = fallbackConnection({ transport: 'polling' });
  conn.connect();
  await welcomeOverPolling(server);
  await until(() => conn.isOpen);
  await server.answerStatus(421, 'on node n2', { 'X-Skirmish-Node-Url': 'http://other:9000' });
  await until(() => conn.url === 'ws://other:9000/ws?token=x', 'the route moved');
  conn.disconnect();
});

test('a malformed polling answer drops the session as a parse error, then reconnects', async () => {
  const { conn, server, events } = fallbackConnection({ transport: 'polling' });
  conn.connect();
  await welcomeOverPolling(server);
  await until(() => conn.isOpen);
  await server.answerRaw(new Uint8Array([1, 2, 3]));
  await until(() => events.some((e) => e[0] === 'disconnect'));
  const [, reason, details] = events.find((e) => e[0] === 'disconnect');
  assert.equal(reason, 'parse error');
  assert.match(details.description, /malformed polling answer/);
  await until(() => server.opens.length === 2, 'reconnecting');
  conn.disconnect();
});

// ---------------------------------------------------------------------------------------------
// The switch from polling to WebSocket in place (docs/PROTOCOL.md, "Switching to WebSocket in
// place").

/** A promise and its resolver, for answers the test gives when it wants. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

const inputMessage = (seq) => ({ type: 'Input', seq, buttons: 1, aim: 0, ack_tick: 0, view_tick: 0 });
const chatLine = (text) => ({ type: 'Chat', from: 3, text, whisper: false });

/**
 * A connection that fell back to polling and was welcomed there, probing every 10 ms; resolves
 * once the probe after the fallback exists (not opened yet).
 */
async function onPollingWithProbe(settings = {}) {
  const setup = fallbackConnection({ settings: { websocketProbeMs: 10, ...settings } });
  setup.conn.connect();
  FakeSocket.instances[0].refuse();
  await welcomeOverPolling(setup.server);
  await until(() => setup.conn.isOpen);
  await until(() => FakeSocket.instances.length === 2, 'a probe');
  const messages = [];
  setup.conn.on('message', (m) => messages.push(m));
  return { ...setup, probe: FakeSocket.instances[1], messages };
}

test('a probe that opens takes the polling session over in place: Upgrade, then what was queued', async () => {
  const { conn, server, events, probe, messages } = await onPollingWithProbe();
  const player = conn.playerId;
  // An input goes up and its POST is not answered yet; a chat line is sent meanwhile (queued).
  const posted = deferred();
  server.postAnswers.push(() => posted.promise);
  conn.send(inputMessage(1));
  await until(() => server.postsInFlight === 0 && server.posts.length === 2, 'the input POST');
  const chat = conn.request({ type: 'Chat', text: 'sent around the switch' });
  probe.open();
  assert.deepEqual(probe.sent, [], 'nothing goes on the socket while polling requests are in flight');
  assert.equal(probe.readyState, 1, 'the probe is kept');
  // The GET in flight is waited for (the server then has our ack), but what it brings is not
  // delivered: the server counts it as not fetched and sends it on the socket.
  await server.answer({ first: 2, messages: [chatLine('fetched by the last GET')] });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(probe.sent, [], 'the POST in flight is still waited for');
  posted.resolve(new Response(null, { status: 204 }));
  await until(() => probe.sent.length === 2, 'the Upgrade and the queued message');
  // The Upgrade carries the last reliable message received over polling: the socket starts
  // after it, so nothing comes twice (the ignored GET's message was not received).
  assert.deepEqual(probe.sent[0], { type: 'Upgrade', sid: SID, ack: 1 });
  assert.equal(probe.sent[1].type, 'Chat');
  assert.equal(probe.sent[1].text, 'sent around the switch');
  assert.equal(conn.transport, 'websocket');
  assert.deepEqual(events.at(-1), ['transport', 'websocket', 'switched in place']);
  // Polling has stopped: no GET waits, nothing more is requested, and no DELETE (the player stays).
  const requests = server.gets.length + server.posts.length;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(server.waiting, null);
  assert.equal(server.gets.length + server.posts.length, requests);
  assert.deepEqual(server.deletes, []);
  assert.ok(!messages.some((m) => m.type === 'Chat'), 'the ignored answer was not delivered');

  // The session goes on over the socket: the unfetched message first, the chat's Ack answers the
  // request made on polling, the heartbeat is answered there, new input goes there.
  probe.receive(chatLine('fetched by the last GET'));
  probe.receive({ type: 'Ack', request_id: probe.sent[1].request_id, error: null });
  assert.deepEqual(await chat, { type: 'Ack', request_id: probe.sent[1].request_id, error: null });
  probe.receive({ type: 'Ping', nonce: 9, rtt_us: 0 });
  assert.deepEqual(probe.sent.at(-1), { type: 'Pong', nonce: 9 });
  assert.ok(conn.send(inputMessage(2)));
  assert.equal(probe.sent.at(-1).type, 'Input');
  assert.equal(messages.filter((m) => m.type === 'Chat').length, 1, 'delivered once');
  assert.equal(conn.playerId, player);
  assert.ok(conn.connected && conn.isOpen);
  assert.ok(!events.some((e) => e[0] === 'disconnect'), JSON.stringify(events));
  // Leaving now is a WebSocket's Leave, not a DELETE.
  conn.disconnect();
  assert.equal(probe.sent.at(-1).type, 'Leave');
  assert.deepEqual(server.deletes, []);
});

test('the switch waits a bounded time: late answers are ignored, an unanswered chat is not sent twice', async () => {
  const { conn, server, probe, messages } = await onPollingWithProbe({ switchMs: 40 });
  // The GET in flight will not answer within the bound, and neither will this POST.
  server.ignoreAbort = true;
  const getInFlight = server.waiting;
  const posted = deferred();
  server.postAnswers.push(() => posted.promise);
  conn.send(inputMessage(1));
  const chat = conn.request({ type: 'Chat', text: 'posted, no answer' }, 200);
  await until(() => server.posts.length === 2, 'the POST');
  conn.send(inputMessage(2)); // queued behind the POST in flight
  probe.open();
  await until(() => probe.sent.length > 0, 'the Upgrade after the bound');
  // The POST's input goes again (the server applies each input seq once), its chat does not (it
  // may have been applied); the queued input follows.
  assert.deepEqual(
    probe.sent.map((m) => m.type + (m.seq ?? '')),
    ['Upgrade', 'Input1', 'Input2'],
  );
  // The answers come late, after the switch: ignored, nothing delivered, nothing requested.
  getInFlight.answer(
    new Response(encodePollDownload({ first: 2, messages: [encodeServerMessage(chatLine('late'))], snapshot: null, closeCode: 0, closeReason: '' }), { status: 200 }),
  );
  posted.resolve(new Response(null, { status: 204 }));
  const requests = server.gets.length + server.posts.length;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(server.gets.length + server.posts.length, requests);
  assert.ok(!messages.some((m) => m.type === 'Chat'), 'the late answer was ignored');
  assert.equal(conn.transport, 'websocket');
  // The dropped chat's request is not answered: it times out, as any request without an Ack.
  await assert.rejects(chat, /timed out|no answer|Chat/i);
  conn.disconnect();
  assert.deepEqual(server.deletes, []);
});

test('a probe closed right after the Upgrade (1008: the session ended) is a lost session, resumed over polling', async () => {
  const { conn, server, events, probe } = await onPollingWithProbe();
  probe.open();
  await server.answer({ first: 2 });
  await until(() => probe.sent.length === 1, 'the Upgrade');
  probe.serverClose(1008, 'unexpected message');
  const [, name, why] = events.find((e) => e[0] === 'transport' && e[1] === 'polling' && events.indexOf(e) > 0);
  assert.equal(name, 'polling');
  assert.match(why, /switch to WebSocket failed \(unexpected message\)/);
  await until(() => events.some((e) => e[0] === 'disconnect'));
  // The next attempt goes over polling, with the resume token, as after any lost session.
  await until(() => server.opens.length === 2, 'a new polling session');
  await until(() => server.posts.flatMap((p) => p.messages).filter((m) => m.type === 'Join').length === 2);
  const join = server.posts.flatMap((p) => p.messages).findLast((m) => m.type === 'Join');
  assert.deepEqual(join.resume_token, TOKEN);
  await welcomeOverPolling(server, { first: 1, resumed: true });
  await until(() => conn.isOpen);
  assert.equal(conn.transport, 'polling');
  assert.deepEqual(server.deletes, []);
  // And it probes again.
  await until(() => FakeSocket.instances.length > 2, 'another probe');
  conn.disconnect();
});

test('a probe that closes while the polling requests settle leaves the session on polling', async () => {
  const { conn, server, probe, messages } = await onPollingWithProbe();
  probe.open();
  probe.close(); // gone before the GET in flight answered
  await server.answer({ first: 2, messages: [chatLine('not lost')] });
  // Polling goes on: the next GET acknowledges nothing new, so the message comes again.
  await until(() => server.waiting !== null, 'polling again');
  assert.equal(server.waiting.ack, 1);
  await server.answer({ first: 2, messages: [chatLine('not lost')] });
  await until(() => messages.some((m) => m.type === 'Chat'));
  assert.deepEqual(probe.sent, []);
  assert.equal(conn.transport, 'polling');
  await until(() => FakeSocket.instances.length > 2, 'another probe');
  conn.disconnect();
});

test('a probe that opens while no session is established sends the next attempt over WebSocket', async () => {
  const { conn, server, probe } = await onPollingWithProbe({ reconnectionDelay: 100, reconnectionDelayMax: 100 });
  await server.answerStatus(404);
  await until(() => !conn.connected);
  probe.open();
  assert.equal(probe.readyState, 3, 'closed at once');
  assert.deepEqual(probe.sent, [], 'a probe sends no Join');
  assert.equal(conn.transport, 'websocket');
  await until(() => FakeSocket.instances.length === 3, 'the next attempt over WebSocket');
  FakeSocket.instances[2].open();
  assert.equal(FakeSocket.instances[2].sent[0].type, 'Join');
  conn.disconnect();
});
