/**
 * The Skirmish wire format, protocol version 9: the JavaScript twin of `src/protocol/`.
 *
 * Owns the byte layout of every message (bincode 2, standard configuration: little-endian,
 * variable-length integers) and the name and chat rules the server enforces. It never touches a
 * socket, the DOM or the clock. Decoding is hostile-input safe: every malformed input throws a
 * {@link ProtocolError}; a length prefix is checked against the bytes that remain before anything
 * is allocated, so no input can make it allocate more than its own size or loop for long.
 *
 * A message is a plain object: `type` is the Rust variant name and the variant's fields sit next
 * to it with their Rust (snake_case) names, e.g. `{type: 'Chat', request_id: 3, text: 'gg'}`; a
 * variant without fields is just its type (`{type: 'Leave'}`). `PlayerId` and `Tick` are numbers;
 * a fieldless enum (`ErrorCode`, `NoticeKind`) is its variant name as a string; a `bool` is a
 * boolean; an `Option` is its value or `null`; a `ResumeToken` or a `SeatTicket` is an array of 16
 * byte values. An
 * enum with data (`RoomRequest`) is an object like a message: `type` is the variant's name, a
 * struct variant's fields sit next to it (`{type: 'QuickPlay', mode: '', region: ''}`) and a
 * newtype variant's one value is `value` (`{type: 'Code', value: '0123456789'}`).
 *
 * The schemas below mirror `src/protocol/messages.rs` field for field: field order is byte order.
 * One message is not bincode: the snapshot (variant 1), a delta against a state the client holds.
 * {@link decodeServerMessage} returns it as `{type: 'SnapshotFrame', frame}` (the bytes after the
 * variant byte) for a `Replica` (`replica.js`) to apply.
 */

/** The protocol version this client speaks; sent in `Join`. */
export const PROTOCOL_VERSION = 9;

/** Bits of `Input.buttons`. */
export const Buttons = Object.freeze({ UP: 1, DOWN: 2, LEFT: 4, RIGHT: 8, FIRE: 16 });

/** Bits of `PlayerState.flags`. */
export const PlayerFlags = Object.freeze({
  /** Just (re)spawned: cannot be tagged, drawn translucent. */
  PROTECTED: 1,
  /** Connection lost; the player may still resume within the grace window. Drawn dimmed. */
  AWAY: 2,
});

/** Largest client message the server decodes (`MAX_CLIENT_MESSAGE_BYTES`). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;

/** Largest server message a client decodes (`MAX_SERVER_MESSAGE_BYTES`). */
export const MAX_SERVER_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Longest accepted player name, in characters (code points), as the server counts them. */
export const MAX_NAME_CHARS = 16;

/** Longest accepted chat line, in characters (code points), after trimming (`MAX_CHAT_CHARS`). */
export const MAX_CHAT_CHARS = 200;

/** Bytes of a `ResumeToken`: a fixed array, so no length prefix on the wire. */
export const RESUME_TOKEN_BYTES = 16;

/** Bytes of a `SeatTicket` (a `Redirect`'s reserved seat): like a token, 16 raw bytes. */
export const SEAT_TICKET_BYTES = RESUME_TOKEN_BYTES;

/** Variant names of `ErrorCode`, in declaration order (the order is the wire index). */
export const ERROR_CODES = Object.freeze([
  'VersionMismatch',
  'InvalidName',
  'ServerFull',
  'MalformedMessage',
  'UnexpectedMessage',
  'RateLimited',
  'Kicked',
  'PingTimeout',
  'NoSuchRoom',
  'RoomFull',
  'UnknownMode',
  'TooManyRooms',
  'ClusterUnavailable',
]);

/** Variant names of `NoticeKind`, in declaration order. */
export const NOTICE_KINDS = Object.freeze(['Away', 'Back']);

/** Why bytes could not become a message, or a message could not become bytes. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas. A field is [name, kind] or [name, kind, detail]: the nested schema of a VEC or STRUCT,
// the variant names of a UNIT_ENUM, or the [kind, detail] of an OPTION's value.

const U8 = 0;
const U16 = 1;
const U32 = 2;
const F32 = 3;
const STRING = 4;
const VEC = 5;
const STRUCT = 6;
const UNIT_ENUM = 7;
/** One byte, 0 or 1; anything else is an error. */
const BOOL = 8;
/** One tag byte, 0 (None) or 1 (Some, then the value); anything else is an error. */
const OPTION = 9;
/** `ResumeToken` or `SeatTicket`: exactly {@link RESUME_TOKEN_BYTES} raw bytes. */
const TOKEN = 10;
/**
 * An enum with data: the variant index (a varint), then the variant's payload. Its detail lists
 * the variants in declaration order as [name, fields] (a struct variant: a schema) or
 * [name, kind] (a newtype variant: the kind of its one value, held in `value`).
 */
const ENUM = 11;

/** Fewest bytes one value of each kind can take: bounds a Vec's length before reading. */
const MIN_BYTES = [1, 1, 1, 4, 1, 1, 0, 1, 1, 1, RESUME_TOKEN_BYTES, 1];

/** @typedef {[string, number, any?]} Field */

/** @type {Field[]} */
const GAME_PARAMS = [
  ['arena_width', F32],
  ['arena_height', F32],
  ['player_radius', F32],
  ['orb_radius', F32],
  ['bolt_radius', F32],
  ['accel', F32],
  ['friction', F32],
  ['max_speed', F32],
  ['bolt_speed', F32],
  ['bolt_lifetime_ticks', U16],
  ['fire_cooldown_ticks', U16],
  ['spawn_protection_ticks', U16],
  ['view_width', F32],
  ['view_height', F32],
];
/** @type {Field[]} */
const PLAYER_INFO = [
  ['id', U32],
  ['name', STRING],
];

/** @type {Field[]} */
const PLAYER_LEFT = [['id', U32]];

/** A tag: `shooter`'s bolt hit `victim` at `tick`. */
const TAGGED = [
  ['tick', U32],
  ['shooter', U32],
  ['victim', U32],
];
/** @type {Field[]} */
const PING = [['nonce', U32]];

/** `RoomRequest` variants in declaration order: which room a `Join` asks for. */
const ROOM_REQUEST = [
  [
    'QuickPlay',
    [
      ['mode', STRING],
      ['region', STRING],
    ],
  ],
  ['Id', U32],
  ['Code', STRING],
  ['CreatePrivate', [['mode', STRING]]],
  // A seat a cluster node reserved in a `Redirect` (since version 9).
  ['Seat', TOKEN],
];

/** `RoomInfo`: the room a `Welcome` placed the player in. */
const ROOM_INFO = [
  ['id', U32],
  ['mode', STRING],
  ['max_players', U16],
  ['code', OPTION, [STRING]],
];

/** `ClientMessage` variants in declaration order: [name, fields]. */
const CLIENT_VARIANTS = [
  [
    'Join',
    [
      ['protocol_version', U16],
      ['request_id', U32],
      ['name', STRING],
      ['resume_token', OPTION, [TOKEN]],
      ['baseline_tick', OPTION, [U32]],
      ['room', ENUM, ROOM_REQUEST],
    ],
  ],
  [
    'Input',
    [
      ['seq', U32],
      ['buttons', U8],
      ['aim', F32],
      ['ack_tick', U32],
      ['view_tick', U32],
    ],
  ],
  ['Ping', PING],
  ['Pong', PING],
  [
    'Chat',
    [
      ['request_id', U32],
      ['text', STRING],
    ],
  ],
  [
    'Whisper',
    [
      ['request_id', U32],
      ['to', U32],
      ['text', STRING],
    ],
  ],
  ['Leave', []],
  ['Resync', []],
  // The first message of a WebSocket that takes over a long-polling session (version 9).
  ['Upgrade', [['sid', STRING], ['ack', U32]]],
];

/** `ServerMessage` variants in declaration order: [name, fields]. */
const SERVER_VARIANTS = [
  [
    'Welcome',
    [
      ['protocol_version', U16],
      ['request_id', U32],
      ['player_id', U32],
      ['resumed', BOOL],
      ['resume_token', TOKEN],
      ['tick_hz', U16],
      ['params', STRUCT, GAME_PARAMS],
      ['players', VEC, PLAYER_INFO],
      ['room', STRUCT, ROOM_INFO],
      // Why the join's resume token gave no player back (since version 9).
      ['resume_failed', OPTION, [STRING]],
    ],
  ],
  // Not bincode: see `SNAPSHOT_VARIANT` and `replica.js`.
  ['Snapshot', null],
  ['PlayerJoined', PLAYER_INFO],
  ['PlayerLeft', [['id', U32]]],
  // Not sent since version 3 (tags travel in `Snapshot.tags`); kept so indices stay stable.
  ['Tagged', TAGGED],
  ['Pong', PING],
  [
    'Error',
    [
      ['code', UNIT_ENUM, ERROR_CODES],
      ['message', STRING],
    ],
  ],
  [
    'Ping',
    [
      ['nonce', U32],
      ['rtt_us', U32],
    ],
  ],
  [
    'Chat',
    [
      ['from', U32],
      ['text', STRING],
      ['whisper', BOOL],
    ],
  ],
  [
    'Notice',
    [
      ['subject', U32],
      ['kind', UNIT_ENUM, NOTICE_KINDS],
    ],
  ],
  [
    'Ack',
    [
      ['request_id', U32],
      ['error', OPTION, [STRING]],
    ],
  ],
  [
    'Roster',
    [
      ['joined', VEC, PLAYER_INFO],
      ['left', VEC, PLAYER_LEFT],
    ],
  ],
  // "Play on another node" (since version 9): `url` is the node's public http(s) URL.
  [
    'Redirect',
    [
      ['url', STRING],
      ['ticket', OPTION, [TOKEN]],
    ],
  ],
  // A line from the operator to every player (since version 9): shown as text, like chat.
  ['Announcement', [['text', STRING]]],
];

/** @param {Field[]} schema */
function minStructBytes(schema) {
  let total = 0;
  for (const [, kind, inner] of schema) {
    total += kind === STRUCT ? minStructBytes(inner) : MIN_BYTES[kind];
  }
  return total;
}

/** Smallest encoding of one element of each Vec schema, computed once. */
const MIN_ELEMENT_BYTES = new Map([PLAYER_INFO, PLAYER_LEFT].map((s) => [s, minStructBytes(s)]));

/** Variant index of the server's `Snapshot`: the first byte of every snapshot frame. */
export const SNAPSHOT_VARIANT = 1;

/** @param {Array<[string, Field[]]>} variants */
function indexVariants(variants) {
  return new Map(variants.map(([name, fields], index) => [name, { index, fields }]));
}
const CLIENT_VARIANT_INDEX = indexVariants(CLIENT_VARIANTS);
const SERVER_VARIANT_INDEX = indexVariants(SERVER_VARIANTS);

// ---------------------------------------------------------------------------------------------
// Decoding.

/** Varint markers (bincode): the next 2, 4, 8 or 16 bytes hold the value. */
const MARKER_U16 = 251;
const MARKER_U32 = 252;
const MARKER_U64 = 253;
/** What each marker from 251 announces, for error messages (255 is reserved). */
const VARINT_WIDTHS = ['u16', 'u32', 'u64', 'u128', 'reserved'];

// ignoreBOM keeps a leading U+FEFF in the text: stripping it would make decoding lossy.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

/** Read position over one message; one per decode, so a decode allocates one DataView. */
class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  get remaining() {
    return this.bytes.length - this.pos;
  }

  /**
   * @param {number} n bytes about to be read
   * @param {string} what for the error message
   */
  need(n, what) {
    if (this.bytes.length - this.pos < n) {
      throw new ProtocolError(
        `truncated message: ${what} needs ${n} byte(s) at offset ${this.pos}, ` +
          `only ${this.remaining} left`,
      );
    }
  }
}

/**
 * @param {Reader} r
 * @param {number} widest the widest marker this integer type accepts
 * @param {string} what
 * @returns {number}
 */
function readVarint(r, widest, what) {
  r.need(1, what);
  const first = r.bytes[r.pos];
  if (first < MARKER_U16) {
    r.pos += 1;
    return first;
  }
  if (first > widest) {
    throw new ProtocolError(
      `invalid integer type for ${what}: ${VARINT_WIDTHS[first - MARKER_U16]} marker ${first} ` +
        `at offset ${r.pos}`,
    );
  }
  r.pos += 1;
  let value;
  if (first === MARKER_U16) {
    r.need(2, what);
    value = r.view.getUint16(r.pos, true);
    r.pos += 2;
  } else if (first === MARKER_U32) {
    r.need(4, what);
    value = r.view.getUint32(r.pos, true);
    r.pos += 4;
  } else {
    r.need(8, what);
    const low = r.view.getUint32(r.pos, true);
    const high = r.view.getUint32(r.pos + 4, true);
    r.pos += 8;
    // Only lengths are u64 here; anything past 2^53 cannot fit in memory, let alone the input.
    value = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + low;
  }
  return value;
}

/**
 * A length prefix, checked against what remains so that hostile input cannot make us allocate.
 * @param {Reader} r
 * @param {number} minElementBytes
 * @param {string} what
 */
function readLength(r, minElementBytes, what) {
  const length = readVarint(r, MARKER_U64, `length of ${what}`);
  if (length * minElementBytes > r.remaining) {
    throw new ProtocolError(
      `length of ${what} is ${length}, more than the ${r.remaining} byte(s) left could hold`,
    );
  }
  return length;
}

/**
 * Reads `schema`'s fields into `target` in order (a plain loop: this runs for every field of
 * every snapshot, so no closures and no iterator objects).
 * @param {Reader} r
 * @param {Field[]} schema
 * @param {Record<string, any>} target
 * @returns {Record<string, any>}
 */
function readFields(r, schema, target) {
  for (let i = 0; i < schema.length; i++) {
    const field = schema[i];
    target[field[0]] = readValue(r, field[1], field[2], field[0]);
  }
  return target;
}

/**
 * Reads one value of `kind`.
 * @param {Reader} r
 * @param {number} kind
 * @param {any} detail the nested schema, variant names or option payload of `kind`
 * @param {string} name the field, for error messages
 * @returns {any}
 */
function readValue(r, kind, detail, name) {
  let value;
  switch (kind) {
    case U8:
      r.need(1, name);
      value = r.bytes[r.pos];
      r.pos += 1;
      break;
    case U16:
      value = readVarint(r, MARKER_U16, name);
      break;
    case U32:
      value = readVarint(r, MARKER_U32, name);
      break;
    case F32:
      r.need(4, name);
      value = r.view.getFloat32(r.pos, true);
      r.pos += 4;
      break;
    case STRING: {
      const length = readLength(r, 1, name);
      const raw = r.bytes.subarray(r.pos, r.pos + length);
      try {
        value = UTF8.decode(raw);
      } catch {
        throw new ProtocolError(`field ${name} is not valid UTF-8`);
      }
      r.pos += length;
      break;
    }
    case VEC: {
      const length = readLength(r, MIN_ELEMENT_BYTES.get(detail), name);
      value = new Array(length);
      for (let k = 0; k < length; k++) value[k] = readFields(r, detail, {});
      break;
    }
    case STRUCT:
      value = readFields(r, detail, {});
      break;
    case UNIT_ENUM: {
      const index = readVarint(r, MARKER_U32, name);
      if (index >= detail.length) {
        throw new ProtocolError(`unknown ${name} variant ${index}`);
      }
      value = detail[index];
      break;
    }
    case BOOL:
    case OPTION: {
      r.need(1, name);
      const tag = r.bytes[r.pos];
      if (tag > 1) {
        const what = kind === BOOL ? 'bool' : 'option tag';
        throw new ProtocolError(`invalid ${what} ${tag} for ${name} at offset ${r.pos}`);
      }
      r.pos += 1;
      if (kind === BOOL) value = tag === 1;
      else value = tag === 0 ? null : readValue(r, detail[0], detail[1], name);
      break;
    }
    case TOKEN:
      r.need(RESUME_TOKEN_BYTES, name);
      value = Array.from(r.bytes.subarray(r.pos, r.pos + RESUME_TOKEN_BYTES));
      r.pos += RESUME_TOKEN_BYTES;
      break;
    case ENUM: {
      const index = readVarint(r, MARKER_U32, name);
      if (index >= detail.length) {
        throw new ProtocolError(`unknown ${name} variant ${index}`);
      }
      const [type, payload] = detail[index];
      value = { type };
      if (Array.isArray(payload)) readFields(r, payload, value);
      else value.value = readValue(r, payload, undefined, name);
      break;
    }
    default:
      throw new Error(`bug: unknown field kind ${kind}`);
  }
  return value;
}

/**
 * @param {ArrayBuffer | ArrayBufferView} input
 * @returns {Uint8Array}
 */
function asBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  throw new TypeError('expected an ArrayBuffer or a typed array');
}

/**
 * @param {ArrayBuffer | ArrayBufferView} input
 * @param {Array<[string, Field[]]>} variants
 * @param {number} limit
 * @param {string} side
 */
function decodeMessage(input, variants, limit, side) {
  const bytes = asBytes(input);
  if (bytes.length > limit) {
    throw new ProtocolError(`${side} message of ${bytes.length} bytes exceeds the limit of ${limit}`);
  }
  const r = new Reader(bytes);
  const index = readVarint(r, MARKER_U32, `${side} message variant`);
  if (index >= variants.length) {
    throw new ProtocolError(`unknown ${side} message variant ${index}`);
  }
  const [type, fields] = variants[index];
  const message = readFields(r, fields, { type });
  if (r.pos !== bytes.length) {
    throw new ProtocolError(`${bytes.length - r.pos} unexpected byte(s) after the ${type} message`);
  }
  return message;
}

/**
 * Decodes one binary WebSocket message from the server.
 * @param {ArrayBuffer | ArrayBufferView} bytes exactly one message
 * @returns {Record<string, any> & {type: string}}
 * @throws {ProtocolError} on truncated, oversized, trailing or otherwise malformed input
 */
export function decodeServerMessage(bytes) {
  const view = asBytes(bytes);
  if (view.length > 0 && view[0] === SNAPSHOT_VARIANT) {
    if (view.length > MAX_SERVER_MESSAGE_BYTES) {
      throw new ProtocolError(`server message of ${view.length} bytes exceeds the limit`);
    }
    return { type: 'SnapshotFrame', frame: view.subarray(1) };
  }
  return decodeMessage(view, SERVER_VARIANTS, MAX_SERVER_MESSAGE_BYTES, 'server');
}

/**
 * Decodes one client message, refusing what the server refuses (including a non-finite aim).
 * @param {ArrayBuffer | ArrayBufferView} bytes exactly one message
 * @returns {Record<string, any> & {type: string}}
 * @throws {ProtocolError}
 */
export function decodeClientMessage(bytes) {
  const message = decodeMessage(bytes, CLIENT_VARIANTS, MAX_CLIENT_MESSAGE_BYTES, 'client');
  if (message.type === 'Input' && !Number.isFinite(message.aim)) {
    throw new ProtocolError('field aim is not a finite number');
  }
  return message;
}

// ---------------------------------------------------------------------------------------------
// Encoding. Not a hot path (inputs are a few bytes), so clarity and validation come first.

class Writer {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.view = new DataView(this.bytes.buffer);
    this.pos = 0;
  }

  /** @param {number} n */
  reserve(n) {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.pos));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** @param {number} byte */
  u8(byte) {
    this.reserve(1);
    this.bytes[this.pos++] = byte;
  }

  /** Shortest varint form of a non-negative integer below 2^53. @param {number} value */
  varint(value) {
    if (value < MARKER_U16) {
      this.u8(value);
    } else if (value <= 0xffff) {
      this.u8(MARKER_U16);
      this.reserve(2);
      this.view.setUint16(this.pos, value, true);
      this.pos += 2;
    } else if (value <= 0xffffffff) {
      this.u8(MARKER_U32);
      this.reserve(4);
      this.view.setUint32(this.pos, value, true);
      this.pos += 4;
    } else {
      this.u8(MARKER_U64);
      this.reserve(8);
      this.view.setUint32(this.pos, value % 0x100000000, true);
      this.view.setUint32(this.pos + 4, Math.floor(value / 0x100000000), true);
      this.pos += 8;
    }
  }

  /** @param {Uint8Array} raw */
  raw(raw) {
    this.reserve(raw.length);
    this.bytes.set(raw, this.pos);
    this.pos += raw.length;
  }

  finish() {
    return this.bytes.slice(0, this.pos);
  }
}

/**
 * @param {any} value
 * @param {number} max
 * @param {string} name
 */
function checkInteger(value, max, name) {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ProtocolError(`field ${name} must be an integer in 0..=${max}, got ${value}`);
  }
  return value;
}

/**
 * @param {Writer} w
 * @param {Field[]} schema
 * @param {Record<string, any>} source
 */
function writeFields(w, schema, source) {
  if (source === null || typeof source !== 'object') {
    throw new ProtocolError(`expected an object with fields ${schema.map((f) => f[0]).join(', ')}`);
  }
  for (const [name, kind, detail] of schema) writeValue(w, kind, detail, source[name], name);
}

/**
 * Writes one value of `kind`, refusing anything that does not fit it exactly.
 * @param {Writer} w
 * @param {number} kind
 * @param {any} detail
 * @param {any} value
 * @param {string} name
 */
function writeValue(w, kind, detail, value, name) {
  switch (kind) {
    case U8:
      w.u8(checkInteger(value, 0xff, name));
      break;
    case U16:
      w.varint(checkInteger(value, 0xffff, name));
      break;
    case U32:
      w.varint(checkInteger(value, 0xffffffff, name));
      break;
    case F32:
      if (typeof value !== 'number') {
        throw new ProtocolError(`field ${name} must be a number, got ${typeof value}`);
      }
      w.reserve(4);
      w.view.setFloat32(w.pos, value, true);
      w.pos += 4;
      break;
    case STRING: {
      if (typeof value !== 'string') {
        throw new ProtocolError(`field ${name} must be a string, got ${typeof value}`);
      }
      const raw = UTF8_ENCODER.encode(value);
      w.varint(raw.length);
      w.raw(raw);
      break;
    }
    case VEC:
      if (!Array.isArray(value)) {
        throw new ProtocolError(`field ${name} must be an array`);
      }
      w.varint(value.length);
      for (const element of value) writeFields(w, detail, element);
      break;
    case STRUCT:
      writeFields(w, detail, value);
      break;
    case UNIT_ENUM: {
      const index = detail.indexOf(value);
      if (index < 0) {
        throw new ProtocolError(`field ${name} must be one of ${detail.join(', ')}, got ${value}`);
      }
      w.varint(index);
      break;
    }
    case BOOL:
      if (typeof value !== 'boolean') {
        throw new ProtocolError(`field ${name} must be a boolean, got ${typeof value}`);
      }
      w.u8(value ? 1 : 0);
      break;
    case OPTION:
      // `undefined` (a field left out) is None too, so callers need not spell out `null`.
      if (value === null || value === undefined) {
        w.u8(0);
      } else {
        w.u8(1);
        writeValue(w, detail[0], detail[1], value, name);
      }
      break;
    case TOKEN: {
      const isBytes = value instanceof Uint8Array || Array.isArray(value);
      if (!isBytes || value.length !== RESUME_TOKEN_BYTES) {
        throw new ProtocolError(`field ${name} must hold exactly ${RESUME_TOKEN_BYTES} bytes`);
      }
      for (let i = 0; i < RESUME_TOKEN_BYTES; i++) w.u8(checkInteger(value[i], 0xff, name));
      break;
    }
    case ENUM: {
      const index = value ? detail.findIndex(([type]) => type === value.type) : -1;
      if (index < 0) {
        const names = detail.map(([type]) => type).join(', ');
        throw new ProtocolError(`field ${name} must be one of ${names}, got ${value && value.type}`);
      }
      w.varint(index);
      const payload = detail[index][1];
      if (Array.isArray(payload)) writeFields(w, payload, value);
      else writeValue(w, payload, undefined, value.value, name);
      break;
    }
    default:
      throw new Error(`bug: unknown field kind ${kind}`);
  }
}

/**
 * @param {{type: string}} message
 * @param {Map<string, {index: number, fields: Field[]}>} variants
 * @param {string} side
 */
function encodeMessage(message, variants, side) {
  const variant = message && variants.get(message.type);
  if (!variant) {
    throw new ProtocolError(`unknown ${side} message type ${message && message.type}`);
  }
  if (variant.fields === null) {
    throw new ProtocolError('snapshots are delta frames encoded by the server, not messages');
  }
  const w = new Writer();
  w.varint(variant.index);
  writeFields(w, variant.fields, message);
  return w.finish();
}

/**
 * Encodes a message for the server. Refuses a non-finite aim, which the server would answer by
 * closing the connection.
 * @param {{type: 'Join' | 'Input' | 'Ping' | 'Pong' | 'Chat' | 'Whisper' | 'Leave' | 'Resync' | 'Upgrade'} &
 *   Record<string, any>} message
 * @returns {Uint8Array}
 * @throws {ProtocolError} on an unknown type or a field of the wrong type or range
 */
export function encodeClientMessage(message) {
  if (message && message.type === 'Input' && !Number.isFinite(message.aim)) {
    throw new ProtocolError(`field aim must be a finite number, got ${message.aim}`);
  }
  return encodeMessage(message, CLIENT_VARIANT_INDEX, 'client');
}

/**
 * Encodes a server message (for tests and tools; the browser only decodes these).
 * @param {{type: string} & Record<string, any>} message
 * @returns {Uint8Array}
 * @throws {ProtocolError}
 */
export function encodeServerMessage(message) {
  return encodeMessage(message, SERVER_VARIANT_INDEX, 'server');
}

// ---------------------------------------------------------------------------------------------
// Names and chat: the rules of `src/protocol/name.rs`, checked before sending to show a helpful
// message (the server enforces them anyway).

const NAME_CHARS = /^[\p{Alphabetic}\p{N} ._-]*$/u;
const BAD_NAME_CHAR = /[^\p{Alphabetic}\p{N} ._-]/u;

/**
 * Trims `raw` and checks it as the server will: 1 to {@link MAX_NAME_CHARS} characters, each a
 * letter or digit of any script, a space, `-`, `_` or `.`.
 * @param {string} raw
 * @returns {{ok: true, name: string} | {ok: false, error: string}}
 */
export function validateName(raw) {
  const name = String(raw).trim();
  if (name.length === 0) return { ok: false, error: 'name is empty' };
  if ([...name].length > MAX_NAME_CHARS) {
    return { ok: false, error: `name is longer than ${MAX_NAME_CHARS} characters` };
  }
  if (!NAME_CHARS.test(name)) {
    const bad = BAD_NAME_CHAR.exec(name)[0];
    return {
      ok: false,
      error: `name contains ${JSON.stringify(bad)}; use letters, digits, spaces, '-', '_' or '.'`,
    };
  }
  return { ok: true, name };
}

/** Control characters as Rust's `char::is_control` sees them (Unicode category Cc). */
const CONTROL_CHAR = /\p{Cc}/u;

/**
 * Trims `raw` and checks it as the server will: 1 to {@link MAX_CHAT_CHARS} characters and no
 * control characters. Any other text is allowed, markup included: it must be shown as text.
 * @param {string} raw
 * @returns {{ok: true, text: string} | {ok: false, error: string}}
 */
export function validateChat(raw) {
  const text = String(raw).trim();
  if (text.length === 0) return { ok: false, error: 'message is empty' };
  if ([...text].length > MAX_CHAT_CHARS) {
    return { ok: false, error: `message is longer than ${MAX_CHAT_CHARS} characters` };
  }
  if (CONTROL_CHAR.test(text)) return { ok: false, error: 'message contains a control character' };
  return { ok: true, text };
}

// ---------------------------------------------------------------------------------------------
// Rooms: the rules of `src/protocol/rooms.rs`.

/** Characters of a private room's code: Crockford's base 32 (no I, L, O, U). */
export const ROOM_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Length of a private room's code. */
export const ROOM_CODE_CHARS = 10;

/** Quick play in the default mode, any region: the room a client asks for by default. */
export function quickPlay() {
  return { type: 'QuickPlay', mode: '', region: '' };
}

/**
 * Checks a room code as typed or linked, as the server will: surrounding whitespace trimmed,
 * letters in either case, then exactly {@link ROOM_CODE_CHARS} characters of
 * {@link ROOM_CODE_ALPHABET}.
 * @param {string} raw
 * @returns {{ok: true, code: string} | {ok: false, error: string}}
 */
export function validateRoomCode(raw) {
  // Only ASCII letters are uppercased, as Rust's to_ascii_uppercase does.
  const code = String(raw)
    .trim()
    .replace(/[a-z]/g, (c) => c.toUpperCase());
  for (const c of code) {
    if (!ROOM_CODE_ALPHABET.includes(c)) {
      return {
        ok: false,
        error:
          `room code contains ${JSON.stringify(c)}; ` +
          'codes use digits and capital letters except I, L, O, U',
      };
    }
  }
  if (code.length !== ROOM_CODE_CHARS) {
    return { ok: false, error: `room code must be ${ROOM_CODE_CHARS} characters` };
  }
  return { ok: true, code };
}
