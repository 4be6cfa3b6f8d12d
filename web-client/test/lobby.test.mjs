// The lobby's pure parts: the `/rooms` body read and checked, rooms described, and the links
// that bring a friend into a private room.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describeRoom, inviteLink, parseRoomList, searchWithRoom } from '../lobby.js';

const line = (id, players, locked = false) => ({
  id,
  mode: 'arena',
  region: 'local',
  players,
  max_players: 64,
  locked,
  tick_hz: 30,
  created: 1_700_000_000_000,
  tick_p99_us: 500,
});

test('open rooms come first, fullest first; locked ones last', () => {
  const rooms = parseRoomList({ rooms: [line(1, 3), line(2, 64, true), line(3, 40), line(4, 3)] });
  assert.deepEqual(
    rooms.map((room) => room.id),
    [3, 1, 4, 2],
  );
  assert.deepEqual(rooms[0], { id: 3, mode: 'arena', players: 40, maxPlayers: 64, locked: false, node: null, url: null });
});

test('lines of the wrong shape are left out, and a body that is not a list is no rooms', () => {
  const hostile = [
    null,
    { ...line(5, 1), id: -1 },
    { ...line(6, 1), id: 1.5 },
    { ...line(7, 1), players: '3' },
    { ...line(8, 1), mode: { toString: () => 'x' } },
    { ...line(9, 1), locked: 'no' },
    line(10, 2),
  ];
  assert.deepEqual(
    parseRoomList({ rooms: hostile }).map((room) => room.id),
    [10],
  );
  for (const body of [null, 42, 'rooms', {}, { rooms: 'all' }]) assert.deepEqual(parseRoomList(body), []);
});

test('a room reads as its id, mode and head count', () => {
  const [open, full] = parseRoomList({ rooms: [line(3, 12), line(4, 64, true)] });
  assert.equal(describeRoom(open), 'Room 3 · arena · 12/64');
  assert.equal(describeRoom(full), 'Room 4 · arena · 64/64 · full');
});

test("on a cluster a room names its node and the node's URL; a bad one leaves the room out", () => {
  const on = (node, id, players, url = `http://127.0.0.1:${8080 + Number(node.slice(1))}`) => ({
    ...line(id, players),
    node,
    url,
  });
  const rooms = parseRoomList({
    rooms: [
      on('n1', 1, 2),
      on('n2', 1, 2),
      on('n3', 2, 5, 'javascript:alert(1)'),
      on('n4', 3, 5, 'http://h:1/path'),
      { ...on('n5', 4, 5), node: 5 },
      { ...on('n6', 5, 5), url: 6 },
      on('n7'.padEnd(100, 'x'), 6, 1, 'https://n7.example'),
    ],
  });
  assert.deepEqual(
    rooms.map((room) => [room.id, room.node?.slice(0, 2)]),
    [[1, 'n1'], [1, 'n2'], [6, 'n7']],
    'two rooms may share an id on two nodes',
  );
  assert.equal(rooms[1].url, 'http://127.0.0.1:8082');
  assert.equal(describeRoom(rooms[1]), 'Room 1 · arena · 2/64 · node n2');
  assert.equal(rooms[2].node.length, 32, 'a long node name is cut');
});

test('an invite carries the code and nothing personal; the address keeps the rest', () => {
  const location = { origin: 'https://play.example', pathname: '/' };
  assert.equal(inviteLink(location, '0Z0Z789ABC'), 'https://play.example/?room=0Z0Z789ABC');
  assert.equal(searchWithRoom('?name=Ann&token=t', '0Z0Z789ABC'), '?name=Ann&token=t&room=0Z0Z789ABC');
  assert.equal(searchWithRoom('?room=OLD&name=Ann', '0Z0Z789ABC'), '?room=0Z0Z789ABC&name=Ann');
});
