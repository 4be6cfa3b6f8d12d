// The traffic meter and the counting WebSocket, on a manual clock with a fake socket.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { TrafficMeter, countingWebSocket, messageSize } from '../traffic.js';

test('rates cover the last second and forget what is older', () => {
  const meter = new TrafficMeter(1000);
  for (let t = 0; t < 1000; t += 100) {
    meter.countIn(500, t);
    meter.countOut(20, t);
  }
  assert.equal(meter.inPerSecond(999), 5000);
  assert.equal(meter.outPerSecond(999), 200);
  assert.equal(meter.inPerSecond(1450), 2500, 'half the window has passed');
  assert.equal(meter.inPerSecond(5000), 0, 'silence');
  assert.deepEqual([meter.totalIn, meter.totalOut], [5000, 200]);
});

test('sizes of every kind of message data', () => {
  assert.equal(messageSize(new ArrayBuffer(7)), 7);
  assert.equal(messageSize(new Uint8Array(5)), 5);
  assert.equal(messageSize('hé'), 3);
  assert.equal(messageSize(null), 0);
});

test('the counting WebSocket counts what goes through it and still delivers it', () => {
  class FakeSocket extends EventTarget {
    constructor(url) {
      super();
      this.url = url;
      this.sent = [];
    }

    send(data) {
      this.sent.push(data);
    }
  }
  const meter = new TrafficMeter();
  let now = 0;
  const Socket = countingWebSocket(/** @type {any} */ (FakeSocket), meter, () => now);
  const socket = new Socket('ws://example/ws');
  let delivered = 0;
  socket.onmessage = () => delivered++;
  socket.addEventListener('message', socket.onmessage);
  socket.send(new Uint8Array(9));
  const message = new Event('message');
  Object.defineProperty(message, 'data', { value: new ArrayBuffer(100) });
  now = 10;
  socket.dispatchEvent(message);
  assert.equal(socket.url, 'ws://example/ws');
  assert.equal(socket.sent.length, 1);
  assert.equal(delivered, 1);
  assert.deepEqual([meter.totalIn, meter.totalOut], [100, 9]);
  assert.equal(meter.inPerSecond(20), 100);
});
