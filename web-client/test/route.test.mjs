// Where the connection goes in a cluster: a node's WebSocket URL built from the server's `url`
// field (and from nothing else), the overlay's node label, and the route's redirect count,
// seat ticket and fallback to the entry node.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MAX_REDIRECTS, NodeRoute, nodeLabel, nodeSocketUrl } from '../route.js';

const ENTRY = 'ws://127.0.0.1:8081/ws?token=a%20b';
const TICKET = Array.from({ length: 16 }, (_, i) => i);

test("a node's socket URL: its origin, over ws or wss, with the path and query in use", () => {
  assert.deepEqual(nodeSocketUrl('http://127.0.0.1:8082', ENTRY), {
    ok: true,
    url: 'ws://127.0.0.1:8082/ws?token=a%20b',
  });
  assert.deepEqual(nodeSocketUrl('https://eu1.example.com/', 'wss://a/game'), {
    ok: true,
    url: 'wss://eu1.example.com/game',
  });
  assert.deepEqual(nodeSocketUrl('http://[::1]:9000', 'ws://h/ws'), { ok: true, url: 'ws://[::1]:9000/ws' });
  assert.equal(nodeSocketUrl('HTTP://Node2.Example:80', 'ws://h/ws').url, 'ws://node2.example/ws');
});

test('anything but a bare http(s) origin is refused, never thrown, and quoted briefly', () => {
  const bad = [
    'javascript:alert(1)',
    'data:text/html,hi',
    'ws://n2:1',
    'wss://n2:1',
    'file:///etc/passwd',
    'http://n2:1/path',
    'http://n2:1/?q=1',
    'http://n2:1/#x',
    'http://user@n2:1',
    'http://user:pw@n2:1',
    'n2:8082',
    '//n2:8082',
    'http://',
    '',
    null,
    undefined,
    42,
    { toString: () => 'http://n2:1' },
    `http://${'a'.repeat(5000)}.example/x`,
  ];
  for (const url of bad) {
    const result = nodeSocketUrl(url, ENTRY);
    assert.equal(result.ok, false, String(url).slice(0, 40));
    assert.match(result.error, /bad node address/);
    assert.ok(result.error.length < 140, 'a hostile address is not echoed at length');
  }
  assert.equal(nodeSocketUrl('http://n2:1', 'not a url').ok, false);
});

test('the overlay names a node by its host and port', () => {
  assert.equal(nodeLabel('ws://127.0.0.1:8082/ws?token=x'), '127.0.0.1:8082');
  assert.equal(nodeLabel('wss://eu1.example.com/ws'), 'eu1.example.com');
  assert.equal(nodeLabel('garbage'), '');
});

test('a route follows redirects with their tickets, at most MAX_REDIRECTS in a row', () => {
  assert.equal(MAX_REDIRECTS, 3);
  const route = new NodeRoute(ENTRY);
  const quick = { type: 'QuickPlay', mode: '', region: '' };
  assert.equal(route.away, false);
  assert.deepEqual(route.roomFor(quick), quick);
  for (let hop = 1; hop <= MAX_REDIRECTS; hop++) {
    const followed = route.follow({ url: `http://n${hop}:1`, ticket: hop === 2 ? null : TICKET });
    assert.deepEqual(followed, { ok: true, url: `ws://n${hop}:1/ws?token=a%20b` });
    assert.equal(route.url, followed.url);
  }
  assert.equal(route.away, true);
  assert.deepEqual(route.roomFor(quick), { type: 'Seat', value: TICKET });
  const refused = route.follow({ url: 'http://n4:1', ticket: null });
  assert.equal(refused.ok, false);
  assert.equal(refused.fatal, false, 'a loop may be over on the next try');
  assert.equal(route.url, 'ws://n3:1/ws?token=a%20b', 'not followed');
  const bad = new NodeRoute(ENTRY).follow({ url: 'javascript:void 0', ticket: null });
  assert.equal(bad.fatal, true, 'a bad address will be bad again');
});

test('a Welcome keeps the node and drops the ticket; a failure goes back to the entry', () => {
  const route = new NodeRoute(ENTRY);
  route.follow({ url: 'http://n2:1', ticket: TICKET });
  route.settled();
  assert.equal(route.url, 'ws://n2:1/ws?token=a%20b');
  assert.equal(route.ticket, null);
  assert.equal(route.redirects, 0);
  const code = { type: 'Code', value: '0Z0Z789ABC' };
  assert.deepEqual(route.failed(code), code, 'a code is the cluster\'s: asked for again');
  assert.equal(route.url, ENTRY);
  assert.equal(route.away, false);
  assert.deepEqual(route.failed({ type: 'Id', value: 3 }), { type: 'Id', value: 3 }, 'at the entry an id stays');

  const listed = new NodeRoute(ENTRY, 'ws://n2:1/ws');
  assert.equal(listed.away, true);
  assert.deepEqual(listed.failed({ type: 'Id', value: 3 }), { type: 'QuickPlay', mode: '', region: '' });
});
