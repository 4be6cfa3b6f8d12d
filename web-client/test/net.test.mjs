// The connection's events and reconnection backoff, over a fake WebSocket.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Connection, Emitter, gameSocketUrl } from '../net.js';
import { decodeClientMessage, encodeServerMessage } from '../protocol.js';

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
    this.sent.push(bytes);
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(data) {
    this.onmessage?.({ data });
  }

  serverClose(code, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function record(connection) {
  const events = [];
  for (const name of ['connect', 'disconnect', 'connect_error', 'message']) {
    connection.on(name, (...args) => events.push([name, ...args]));
  }
  return events;
}

test('the socket URL follows the page: ws for http, wss for https', () => {
  assert.equal(gameSocketUrl(new URL('http://127.0.0.1:8080/?name=A')), 'ws://127.0.0.1:8080/ws');
  assert.equal(gameSocketUrl(new URL('https://example.test/')), 'wss://example.test/ws');
});

test('connect, send, receive and disconnect are reported as events', (t) => {
  FakeSocket.instances = [];
  const connection = new Connection('ws://host/ws', { WebSocketImpl: FakeSocket });
  t.after(() => connection.stop());
  const events = record(connection);
  connection.start();
  const socket = FakeSocket.instances[0];
  assert.equal(socket.binaryType, 'arraybuffer');
  assert.equal(connection.send({ type: 'Ping', nonce: 1 }), false, 'nothing is sent before open');

  socket.open();
  assert.equal(connection.send({ type: 'Ping', nonce: 2 }), true);
  assert.deepEqual(decodeClientMessage(socket.sent[0]), { type: 'Ping', nonce: 2 });

  const pong = encodeServerMessage({ type: 'Pong', nonce: 2 });
  socket.receive(pong.buffer.slice(pong.byteOffset, pong.byteOffset + pong.byteLength));
  socket.serverClose(1000, 'server shutting down');

  assert.deepEqual(events.slice(0, 2), [['connect'], ['message', { type: 'Pong', nonce: 2 }]]);
  const [name, reason, retryInMs] = events[2];
  assert.equal(name, 'disconnect');
  assert.equal(reason, 'server shutting down');
  assert.ok(retryInMs >= 800 && retryInMs <= 1200, `first retry after ~1 s, got ${retryInMs}`);
});

test('failed attempts back off from 1 s, doubling up to 5 s, until reset', (t) => {
  FakeSocket.instances = [];
  const connection = new Connection('ws://host/ws', { WebSocketImpl: FakeSocket });
  t.after(() => connection.stop());
  const events = record(connection);
  connection.start();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    connection.open(); // what the retry timer does; the test does not wait for it
    FakeSocket.instances.at(-1).serverClose(1006);
    delays.push(events.at(-1)[2]);
  }
  assert.ok(events.every(([name]) => name === 'connect_error'));
  assert.equal(events[0][1], 'connection lost');
  const bases = [1000, 2000, 4000, 5000, 5000, 5000];
  delays.forEach((delay, i) => {
    assert.ok(delay >= bases[i] * 0.8 && delay <= Math.min(5000, bases[i] * 1.2), `${i}: ${delay}`);
  });
  connection.resetBackoff();
  connection.open();
  FakeSocket.instances.at(-1).serverClose(1006);
  assert.ok(events.at(-1)[2] <= 1200);
});

test('an undecodable message drops the connection with a clear reason', (t) => {
  FakeSocket.instances = [];
  const connection = new Connection('ws://host/ws', { WebSocketImpl: FakeSocket });
  t.after(() => connection.stop());
  const events = record(connection);
  connection.start();
  const socket = FakeSocket.instances[0];
  socket.open();
  socket.receive(new Uint8Array([0x05, 0x05, 0x05]).buffer);
  assert.equal(socket.closedWith.code, 4000);
  const [name, reason] = events.at(-1);
  assert.equal(name, 'disconnect');
  assert.match(reason, /undecodable message from server: .*unexpected byte/);
});

test('stop ends everything: no events, no retries', () => {
  FakeSocket.instances = [];
  const connection = new Connection('ws://host/ws', { WebSocketImpl: FakeSocket });
  const events = record(connection);
  connection.start();
  const socket = FakeSocket.instances[0];
  socket.open();
  connection.stop();
  assert.equal(socket.closedWith.code, 1000);
  assert.equal(connection.retryAt, 0);
  assert.deepEqual(events, [['connect']]);
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
  emitter.on('x', (value) => seen.push(value));
  emitter.emit('x', 1);
  assert.deepEqual(seen, [1]);
  assert.deepEqual(reported, ['listener bug']);
});
