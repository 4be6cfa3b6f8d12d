// The JavaScript replica against the shared snapshot vectors: the frames the Rust server's
// encoder produced for a scripted world, and the state the Rust replica rebuilt from each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { ProtocolError, SNAPSHOT_VARIANT, decodeServerMessage } from '../protocol.js';
import { Kind, POSITION_SCALE, Replica, ReplicaError, entityHash } from '../replica.js';

const VECTORS_URL = new URL('../../tests/vectors/protocol_v9.json', import.meta.url);
const vectors = JSON.parse(readFileSync(VECTORS_URL, 'utf8'));
const sequence = vectors.snapshot_sequence;

/** @param {string} hex */
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

/** The frame bytes of a whole snapshot message, through the message decoder. */
function frameOf(hex) {
  const message = decodeServerMessage(fromHex(hex));
  assert.equal(message.type, 'SnapshotFrame');
  return message.frame;
}

const newReplica = () => new Replica();

/** The state as the Rust test writes it. */
function stateJson(state) {
  const v = state.view;
  return {
    tick: state.tick,
    view: [v.col0, v.row0, v.col1, v.row1],
    arena: [state.arena.width, state.arena.height],
    checksum: state.checksum,
    player_count: state.playerCount,
    rank: state.rank,
    server_tick_us: state.serverTickUs,
    scoreboard: state.scoreboard,
    entities: state.entities.map((e) => [e.cell, e.kind, e.id, e.f]),
  };
}

test('the vectors hold a sequence of full and delta frames', () => {
  assert.equal(SNAPSHOT_VARIANT, 1);
  const frames = sequence.frames;
  assert.ok(frames.length >= 5);
  assert.equal(frames[0].baseline, null, 'the first frame is a full one');
  assert.ok(frames.slice(1).every((f) => f.baseline !== null), 'the others are deltas');
});

test('applying each frame rebuilds exactly the state the Rust replica rebuilt', () => {
  const replica = newReplica();
  for (const frame of sequence.frames) {
    const state = replica.apply(frameOf(frame.hex));
    const { own, ...expected } = frame.state;
    assert.deepStrictEqual(stateJson(state), expected, `tick ${frame.state.tick}`);
    for (const [field, value] of Object.entries(own)) {
      const want = typeof value === 'number' && !Number.isInteger(value) ? Math.fround(value) : value;
      assert.equal(state.own[field], want, `own ${field} at tick ${frame.state.tick}`);
    }
    assert.deepStrictEqual(replica.tags, frame.tags);
    assert.equal(replica.latestTick, frame.state.tick);
  }
});

test('every prefix of a frame is refused, and refusing changes nothing held', () => {
  const replica = newReplica();
  for (const frame of sequence.frames) {
    const bytes = frameOf(frame.hex);
    const before = replica.latestTick;
    for (let end = 0; end < bytes.length; end++) {
      assert.throws(() => replica.apply(bytes.subarray(0, end)), (e) => e instanceof ProtocolError || e instanceof ReplicaError);
      assert.equal(replica.latestTick, before);
    }
    replica.apply(bytes);
  }
});

for (const vector of vectors.malformed_snapshot_frames) {
  test(`malformed snapshot frame "${vector.name}" is refused`, () => {
    assert.throws(
      () => newReplica().apply(fromHex(vector.hex)),
      (e) => e instanceof ProtocolError || e instanceof ReplicaError,
    );
  });
}

test('a delta against a state not held asks for a full snapshot', () => {
  const replica = newReplica();
  const delta = frameOf(sequence.frames[1].hex);
  assert.throws(() => replica.apply(delta), (e) => e instanceof ReplicaError && e.resync === true);
});

test('a corrupted field is caught by the checksum, not applied', () => {
  const replica = newReplica();
  const full = Uint8Array.from(frameOf(sequence.frames[0].hex));
  // Flip the low bit of the last byte: the last entity's last field.
  full[full.length - 1] ^= 1;
  assert.throws(() => replica.apply(full), (e) => e instanceof ReplicaError || e instanceof ProtocolError);
  assert.equal(replica.latestTick, null);
});

test('the snapshot view of a state: units, our own player exact, bolts extrapolated', () => {
  const replica = newReplica();
  let state = null;
  for (const frame of sequence.frames.slice(0, 2)) state = replica.apply(frameOf(frame.hex));
  const snapshot = replica.snapshot(state, sequence.me, sequence.tick_hz);
  assert.equal(snapshot.type, 'Snapshot');
  const me = snapshot.players.find((p) => p.id === sequence.me);
  assert.equal(me.x, state.own.x);
  assert.equal(me.last_input_seq, state.own.last_input_seq);
  const other = snapshot.players.find((p) => p.id !== sequence.me);
  const entity = state.entities.find((e) => e.kind === Kind.PLAYER && e.id === other.id);
  assert.equal(other.x, entity.f[0] / POSITION_SCALE);
  assert.equal(other.last_input_seq, 0);
  for (const bolt of snapshot.bolts) {
    assert.ok(Number.isFinite(bolt.x) && Number.isFinite(bolt.vx));
  }
  assert.ok(snapshot.scoreboard.length > 0);
  assert.deepStrictEqual([snapshot.arena_width, snapshot.arena_height], [2000, 1500]);
});

test("the arena's size comes in full frames and in deltas when it changed", () => {
  const replica = newReplica();
  const arenas = sequence.frames.map((frame) => {
    const state = replica.apply(frameOf(frame.hex));
    return [replica.lastHeader.arena !== null, state.arena.width, state.arena.height];
  });
  assert.deepStrictEqual(arenas, [
    [true, 2000, 1500],
    [false, 2000, 1500],
    [false, 2000, 1500],
    [false, 2000, 1500],
    [true, 2400, 1500],
    [true, 2400, 1500],
  ]);
});

test('our rank comes in full frames and in deltas when it changed since the baseline', () => {
  const replica = newReplica();
  const ranks = sequence.frames.map((frame) => {
    const state = replica.apply(frameOf(frame.hex));
    return [(replica.lastHeader.flags & 16) !== 0, state.rank, state.playerCount];
  });
  // Player 1 is third of three until the standings are recomputed at tick 15 (after its tag
  // at tick 12): the delta of tick 15 against tick 13 says so; the others inherit the rank.
  assert.deepStrictEqual(ranks, [
    [true, 3, 3],
    [false, 3, 3],
    [false, 3, 3],
    [false, 3, 3],
    [false, 3, 3],
    [true, 2, 3],
  ]);
  const snapshot = replica.snapshot(replica.latest(), sequence.me, sequence.tick_hz);
  assert.equal(snapshot.rank, 2);
  assert.equal(snapshot.player_count, 3);
});

test('the frame the malformed ones depart from applies', () => {
  const state = newReplica().apply(fromHex(vectors.empty_snapshot_frame));
  assert.deepStrictEqual([state.rank, state.playerCount, state.arena], [1, 1, { width: 2000, height: 1500 }]);
});

test('entity hashes are 32-bit FNV-1a, as the server computes them', () => {
  // Kind 0, id 0, all fields 0: FNV-1a of eight zero words.
  let h = 0x811c9dc5;
  for (let i = 0; i < 8; i++) h = Math.imul(h, 0x01000193);
  assert.equal(entityHash({ kind: 0, id: 0, f: [0, 0, 0, 0, 0, 0] }), h >>> 0);
});
