/**
 * The client's copy of the world, rebuilt from delta snapshots (protocol version 8): the
 * JavaScript twin of `src/protocol/snapshot/` (the format and `snapshot/replica.rs`).
 *
 * Owns the snapshot frame format (quantized entities in interest cells, per-entity change
 * masks, LEB128 varints, the state checksum), a ring of the states this client has rebuilt
 * (the baselines the server encodes against), and the conversion of a state into the
 * `Snapshot` object the game draws. It never touches a socket, the DOM or the clock. Every
 * malformed frame throws a {@link ProtocolError}; a frame against a baseline we do not hold, or
 * whose checksum disagrees, throws a {@link ReplicaError} with `resync` set: ask the server for
 * a full snapshot (`{type: 'Resync'}`).
 *
 * Entities are immutable plain objects shared between states: a tick that changes nothing in a
 * cell copies references, not entities.
 */

import { ProtocolError } from './protocol.js';

/** Steps per arena unit of a quantized position (1/4 unit). */
export const POSITION_SCALE = 4;
/** Side of an interest cell, in arena units. */
export const CELL_SIZE = 256;
/**
 * The interest-cell grid: fixed whatever the arena's size (which changes during a game), so a
 * cell's index never changes. It covers the largest arena, {@link MAX_ARENA_SIDE} square.
 */
export const CELL_GRID = Object.freeze({ cols: 128, rows: 128 });
/** The largest side an arena may have, in units. */
export const MAX_ARENA_SIDE = 128 * CELL_SIZE;
/** Ticks of states kept; the server never encodes against an older baseline. */
export const BASELINE_RING = 64;
/** Longest scoreboard a frame may carry. */
const SCOREBOARD_SIZE = 10;
/** Most tags one frame may list (a bound for hostile input). */
const MAX_TAGS = 4096;

export const Kind = Object.freeze({ PLAYER: 0, ORB: 1, BOLT: 2 });
const OP_UPDATE = 0;
const OP_UPSERT = 1;
const OP_REMOVE = 2;
const CHANGE_POSITION = 1;
const CHANGE_AIM = 2;
const CHANGE_SCORE = 4;
const CHANGE_FLAGS = 8;
const FLAG_OWN = 1;
const FLAG_SCOREBOARD = 2;
const FLAG_TAGS = 4;
const FLAG_ARENA = 8;
const FLAG_RANK = 16;

/** A frame that is well formed but cannot be applied here: ask for a full snapshot. */
export class ReplicaError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ReplicaError';
    this.resync = true;
  }
}

/**
 * @typedef {object} Entity
 * @property {number} cell
 * @property {number} kind
 * @property {number} id
 * @property {number} key kind * 2^32 + id: the order within a cell
 * @property {number[]} f six int32 fields (player: x, y, aim, score, flags; orb: x, y;
 *   bolt: x0, y0, vx, vy, owner, t0)
 */

/** @returns {Entity} */
function entity(cell, kind, id, f) {
  return { cell, kind, id, key: kind * 4294967296 + id, f };
}

/**
 * FNV-1a over kind, id and fields as 32-bit words, exactly as the server computes it.
 * @param {Entity} e
 */
export function entityHash(e) {
  let h = 0x811c9dc5 | 0;
  h = Math.imul(h ^ e.kind, 0x01000193);
  h = Math.imul(h ^ e.id, 0x01000193);
  const f = e.f;
  for (let i = 0; i < 6; i++) h = Math.imul(h ^ f[i], 0x01000193);
  return h >>> 0;
}

/** Read position over one frame. */
class FrameReader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  /** @param {string} what */
  u8(what) {
    if (this.pos >= this.bytes.length) throw new ProtocolError(`truncated snapshot: ${what}`);
    return this.bytes[this.pos++];
  }

  /** @param {string} what */
  u32le(what) {
    if (this.pos + 4 > this.bytes.length) throw new ProtocolError(`truncated snapshot: ${what}`);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  /** @param {string} what */
  f32le(what) {
    if (this.pos + 4 > this.bytes.length) throw new ProtocolError(`truncated snapshot: ${what}`);
    const value = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return value;
  }

  /**
   * A LEB128 varint; values above 2^53 lose precision but are refused by every caller.
   * @param {string} what
   */
  varint(what) {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new ProtocolError('malformed snapshot: varint longer than 10 bytes');
  }

  /** @param {string} what */
  u32(what) {
    const value = this.varint(what);
    if (value > 0xffffffff) throw new ProtocolError('malformed snapshot: value above u32');
    return value;
  }

  /** A zigzag varint that must fit an int32. @param {string} what */
  i32(what) {
    const raw = this.varint(what);
    const value = raw % 2 === 1 ? -(raw + 1) / 2 : raw / 2;
    if (value < -2147483648 || value > 2147483647) {
      throw new ProtocolError('malformed snapshot: value beyond i32');
    }
    return value;
  }
}

/**
 * One rebuilt state.
 * @typedef {object} ReplicaState
 * @property {number} tick
 * @property {{col0: number, row0: number, col1: number, row1: number}} view
 * @property {Entity[]} entities sorted by cell, then key
 * @property {any} own our player in full precision, or null
 * @property {number} rank our place in the room by score (1 for the best, the scoreboard's
 *   order), out of `playerCount`
 * @property {Array<[number, number]>} scoreboard [id, score], best first
 * @property {number} playerCount players in the room
 * @property {number} serverTickUs
 * @property {{width: number, height: number}} arena the arena's size, in units
 * @property {number} checksum
 */

export class Replica {
  constructor() {
    /** @type {(ReplicaState | null)[]} by tick % BASELINE_RING */
    this.ring = new Array(BASELINE_RING).fill(null);
    /** @type {number | null} */
    this.latestTick = null;
    /** Tags listed by the newest frame applied: [tick, shooter, victim]. */
    this.tags = [];
    /** The header of the newest frame applied. */
    this.lastHeader = null;
  }

  /** Forgets every state: the next frame must be a full one. */
  clear() {
    this.ring.fill(null);
    this.latestTick = null;
  }

  /** @param {number} tick */
  stateAt(tick) {
    const state = this.ring[tick % BASELINE_RING];
    return state && state.tick === tick ? state : null;
  }

  latest() {
    return this.latestTick === null ? null : this.stateAt(this.latestTick);
  }

  /**
   * Applies one frame (the message's bytes after its variant byte) and returns the state.
   * Nothing held changes when it throws.
   * @param {Uint8Array} frame
   * @returns {ReplicaState}
   */
  apply(frame) {
    const r = new FrameReader(frame);
    const header = readHeader(r);
    const { tick, view } = header;
    if (header.baselineAge >= BASELINE_RING) {
      throw new ProtocolError('malformed snapshot: baseline older than the ring');
    }
    const grid = CELL_GRID;
    if (!(view.col0 <= view.col1 && view.row0 <= view.row1 && view.col1 < grid.cols && view.row1 < grid.rows)) {
      throw new ProtocolError('malformed snapshot: view outside the cell grid');
    }
    if (header.arena === null && header.baselineAge === 0) {
      throw new ProtocolError('malformed snapshot: a full snapshot without the arena');
    }
    let base = null;
    if (header.baselineAge > 0) {
      const at = (tick - header.baselineAge) >>> 0;
      base = this.stateAt(at);
      if (!base) throw new ReplicaError(`snapshot ${tick} is a delta against tick ${at}, which we do not hold`);
    }
    const occupant = this.ring[tick % BASELINE_RING];
    if (occupant && ((tick - occupant.tick) | 0) < 0) {
      // More than the ring's length late: keep the newer state that holds its place.
      throw new ReplicaError(`snapshot ${tick} arrived after ${occupant.tick}, which holds its place`);
    }
    const arena = header.arena ?? base.arena;
    const own = header.flags & FLAG_OWN ? readOwn(r) : null;
    let rank = base ? base.rank : 0;
    if (header.flags & FLAG_RANK) rank = readRank(r, header.playerCount);
    else if (!base) throw new ProtocolError('malformed snapshot: a full snapshot without the rank');
    let scoreboard = base ? base.scoreboard : [];
    if (header.flags & FLAG_SCOREBOARD) scoreboard = readScoreboard(r);
    const tags = header.flags & FLAG_TAGS ? readTags(r, tick) : [];
    const entities = applyCells(r, view, base, grid, tick);
    if (r.pos !== frame.length) throw new ProtocolError('malformed snapshot: bytes after the last cell');
    let checksum = 0;
    for (let i = 0; i < entities.length; i++) checksum = (checksum + entityHash(entities[i])) >>> 0;
    if (checksum !== header.checksum) {
      throw new ReplicaError(
        `snapshot ${tick}: state checksum ${checksum.toString(16)} differs from the server's ${header.checksum.toString(16)}`,
      );
    }
    /** @type {ReplicaState} */
    const state = {
      tick,
      view,
      entities,
      own,
      rank,
      scoreboard,
      playerCount: header.playerCount,
      serverTickUs: header.serverTickUs,
      arena,
      checksum,
    };
    this.ring[tick % BASELINE_RING] = state;
    this.tags = tags;
    this.lastHeader = header;
    if (this.latestTick === null || ((tick - this.latestTick) | 0) > 0) this.latestTick = tick;
    return state;
  }

  /**
   * A state as the `Snapshot` object the game draws: positions in arena units, bolts where they
   * are at the state's tick, our player (`me`) in full precision.
   * @param {ReplicaState} state
   * @param {number} me
   * @param {number} tickHz
   */
  snapshot(state, me, tickHz) {
    const players = [];
    const orbs = [];
    const bolts = [];
    for (const e of state.entities) {
      const f = e.f;
      if (e.kind === Kind.PLAYER) {
        if (e.id === me && state.own) {
          players.push({ id: me, ...state.own });
        } else {
          players.push({
            id: e.id,
            x: f[0] / POSITION_SCALE,
            y: f[1] / POSITION_SCALE,
            vx: 0,
            vy: 0,
            aim: angleRadians(f[2]),
            score: f[3] >>> 0,
            last_input_seq: 0,
            flags: f[4],
          });
        }
      } else if (e.kind === Kind.ORB) {
        orbs.push({ id: e.id, x: f[0] / POSITION_SCALE, y: f[1] / POSITION_SCALE });
      } else {
        const age = ((state.tick - (f[5] >>> 0)) | 0) / tickHz;
        const vx = f[2] / POSITION_SCALE;
        const vy = f[3] / POSITION_SCALE;
        bolts.push({
          id: e.id,
          owner: f[4] >>> 0,
          x: f[0] / POSITION_SCALE + vx * age,
          y: f[1] / POSITION_SCALE + vy * age,
          vx,
          vy,
        });
      }
    }
    return {
      type: 'Snapshot',
      tick: state.tick,
      arena_width: state.arena.width,
      arena_height: state.arena.height,
      players,
      orbs,
      bolts,
      tags: this.tags.map(([tick, shooter, victim]) => ({ tick, shooter, victim })),
      scoreboard: state.scoreboard.map(([id, score]) => ({ id, score })),
      rank: state.rank,
      player_count: state.playerCount,
      server_tick_us: state.serverTickUs,
    };
  }
}

/** A byte angle (256 steps per turn) in radians, in (-π, π]. @param {number} steps */
export function angleRadians(steps) {
  const s = ((steps % 256) + 256) % 256;
  return ((s > 128 ? s - 256 : s) * 2 * Math.PI) / 256;
}

/** @param {FrameReader} r */
function readHeader(r) {
  const header = {
    tick: r.u32('tick'),
    baselineAge: r.u32('baseline age'),
    flags: r.u8('flags'),
    view: { col0: r.u32('view'), row0: r.u32('view'), col1: r.u32('view'), row1: r.u32('view') },
    checksum: r.u32le('checksum'),
    playerCount: r.u32('player count'),
    serverTickUs: r.u32('server tick duration'),
    /** @type {{width: number, height: number} | null} */
    arena: null,
  };
  if (header.flags & FLAG_ARENA) {
    const side = () => {
      const value = r.u32('arena size');
      if (value === 0 || value > MAX_ARENA_SIDE) throw new ProtocolError('malformed snapshot: arena size out of bounds');
      return value;
    };
    header.arena = { width: side(), height: side() };
  }
  return header;
}

/** @param {FrameReader} r */
function readOwn(r) {
  return {
    x: r.f32le('own x'),
    y: r.f32le('own y'),
    vx: r.f32le('own vx'),
    vy: r.f32le('own vy'),
    aim: r.f32le('own aim'),
    last_input_seq: r.u32('own last input'),
    score: r.u32('own score'),
    flags: r.u8('own flags'),
  };
}

/**
 * Our rank: a place among the room's players.
 * @param {FrameReader} r
 * @param {number} playerCount
 */
function readRank(r, playerCount) {
  const rank = r.u32('rank');
  if (rank === 0 || rank > playerCount) {
    throw new ProtocolError("malformed snapshot: rank outside the room's head count");
  }
  return rank;
}

/** @param {FrameReader} r */
function readScoreboard(r) {
  const count = r.u32('scoreboard');
  if (count > SCOREBOARD_SIZE) throw new ProtocolError('malformed snapshot: scoreboard too long');
  const rows = [];
  for (let i = 0; i < count; i++) rows.push([r.u32('scoreboard id'), r.u32('scoreboard score')]);
  return rows;
}

/** @param {FrameReader} r @param {number} tick */
function readTags(r, tick) {
  const count = r.u32('tags');
  if (count > MAX_TAGS) throw new ProtocolError('malformed snapshot: too many tags');
  const tags = [];
  for (let i = 0; i < count; i++) {
    const age = r.u32('tag age');
    tags.push([(tick - age) >>> 0, r.u32('tag shooter'), r.u32('tag victim')]);
  }
  return tags;
}

/**
 * The baseline's entities still in view, with each listed cell's entries merged in.
 * @param {FrameReader} r
 * @param {any} view
 * @param {ReplicaState | null} base
 * @param {{cols: number, rows: number}} grid
 * @param {number} tick
 */
function applyCells(r, view, base, grid, tick) {
  const inView = (cell) => {
    const col = cell % grid.cols;
    const row = Math.floor(cell / grid.cols);
    return col >= view.col0 && col <= view.col1 && row >= view.row0 && row <= view.row1;
  };
  const baseView = base ? base.view : null;
  const heldInBase = (cell) => {
    if (!baseView) return false;
    const col = cell % grid.cols;
    const row = Math.floor(cell / grid.cols);
    return col >= baseView.col0 && col <= baseView.col1 && row >= baseView.row0 && row <= baseView.row1;
  };
  const old = base ? base.entities : [];
  const out = [];
  let at = 0;
  const cells = r.u32('cell count');
  let previousCell = -1;
  for (let i = 0; i < cells; i++) {
    const gap = r.u32('cell');
    const cell = previousCell < 0 ? gap : previousCell + gap + 1;
    if (cell >= grid.cols * grid.rows || !inView(cell)) {
      throw new ProtocolError('malformed snapshot: cell outside the view');
    }
    previousCell = cell;
    while (at < old.length && old[at].cell < cell) {
      if (inView(old[at].cell)) out.push(old[at]);
      at++;
    }
    const start = at;
    while (at < old.length && old[at].cell === cell) at++;
    const held = heldInBase(cell) ? old.slice(start, at) : [];
    mergeCell(r, tick, cell, held, out);
  }
  for (; at < old.length; at++) if (inView(old[at].cell)) out.push(old[at]);
  return out;
}

/**
 * @param {FrameReader} r
 * @param {number} tick
 * @param {number} cell
 * @param {Entity[]} old sorted by key
 * @param {Entity[]} out
 */
function mergeCell(r, tick, cell, old, out) {
  const entries = r.u32('entry count');
  if (entries === 0) throw new ProtocolError('malformed snapshot: a cell with no entries');
  let at = 0;
  let previous = null;
  for (let i = 0; i < entries; i++) {
    const tag = r.u8('entry');
    const op = tag & 3;
    const kind = (tag >> 2) & 3;
    const mask = tag >> 4;
    if (op > OP_REMOVE) throw new ProtocolError('malformed snapshot: unknown entry operation');
    if (kind > Kind.BOLT) throw new ProtocolError('malformed snapshot: unknown entity kind');
    const idBase = previous && previous.kind === kind ? previous.id : 0;
    const id = (idBase + r.u32('entity id')) >>> 0;
    const key = kind * 4294967296 + id;
    if (previous && previous.key >= key) throw new ProtocolError('malformed snapshot: entries out of order');
    while (at < old.length && old[at].key < key) out.push(old[at++]);
    const existing = at < old.length && old[at].key === key ? old[at++] : null;
    let next = null;
    if (op === OP_REMOVE) {
      if (mask !== 0) throw new ProtocolError('malformed snapshot: a removal with a change mask');
      if (!existing) throw new ProtocolError('malformed snapshot: change to an entity the baseline lacks');
      previous = entity(cell, kind, id, [0, 0, 0, 0, 0, 0]);
      continue;
    }
    if (op === OP_UPSERT) {
      if (mask !== 0) throw new ProtocolError('malformed snapshot: a full entity with a change mask');
      next = entity(cell, kind, id, readFull(r, kind, tick));
    } else {
      if (kind !== Kind.PLAYER || mask === 0) {
        throw new ProtocolError('malformed snapshot: an update that changes nothing');
      }
      const changes = readChanges(r, mask);
      if (!existing) throw new ProtocolError('malformed snapshot: change to an entity the baseline lacks');
      next = entity(cell, kind, id, applyChanges(existing.f, mask, changes));
    }
    out.push(next);
    previous = next;
  }
  while (at < old.length) out.push(old[at++]);
}

/** @param {FrameReader} r @param {number} kind @param {number} tick */
function readFull(r, kind, tick) {
  if (kind === Kind.PLAYER) {
    return [r.i32('player x'), r.i32('player y'), r.u8('player aim'), r.u32('player score') | 0, r.u8('player flags'), 0];
  }
  if (kind === Kind.ORB) return [r.i32('orb x'), r.i32('orb y'), 0, 0, 0, 0];
  const f = [r.i32('bolt x'), r.i32('bolt y'), r.i32('bolt vx'), r.i32('bolt vy'), r.u32('bolt owner') | 0, 0];
  f[5] = ((tick - r.u32('bolt age')) >>> 0) | 0;
  return f;
}

/** @param {FrameReader} r @param {number} mask */
function readChanges(r, mask) {
  const c = [0, 0, 0, 0, 0, 0];
  if (mask & CHANGE_POSITION) {
    c[0] = r.i32('player dx');
    c[1] = r.i32('player dy');
  }
  if (mask & CHANGE_AIM) c[2] = r.u8('player aim');
  if (mask & CHANGE_SCORE) c[3] = r.u32('player score') | 0;
  if (mask & CHANGE_FLAGS) c[4] = r.u8('player flags');
  return c;
}

/** @param {number[]} f @param {number} mask @param {number[]} c */
function applyChanges(f, mask, c) {
  const next = f.slice();
  if (mask & CHANGE_POSITION) {
    next[0] = f[0] + c[0];
    next[1] = f[1] + c[1];
    if (next[0] !== (next[0] | 0) || next[1] !== (next[1] | 0)) {
      throw new ProtocolError('malformed snapshot: position overflow');
    }
  }
  if (mask & CHANGE_AIM) next[2] = c[2];
  if (mask & CHANGE_SCORE) next[3] = c[3];
  if (mask & CHANGE_FLAGS) next[4] = c[4];
  return next;
}
