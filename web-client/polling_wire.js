/**
 * The long-polling transport's framing (docs/PROTOCOL.md, "Long polling"): the body of a
 * `GET /poll/SID` answer (reliable messages, the newest snapshot, the close), the body of a
 * `POST /poll/SID` (numbered client messages), and the JSON that opens a session. All integers
 * are big-endian. The messages inside are the WebSocket's bytes, left to `protocol.js`.
 *
 * It owns that byte layout and nothing else: it never fetches, never reads the clock and never
 * looks inside a message. Decoding is hostile-input safe: anything malformed throws a
 * {@link ProtocolError}, and every length is checked against the bytes that remain before the
 * bytes are taken (views into the body: nothing is allocated for a length the body lacks).
 *
 * The snapshot field holds the whole WebSocket message of the snapshot (the variant byte `01`,
 * then the delta frame), so the same `decodeServerMessage` reads it as over a WebSocket.
 */

import { MAX_CLIENT_MESSAGE_BYTES, MAX_SERVER_MESSAGE_BYTES, ProtocolError } from './protocol.js';

/** Bytes of a GET answer with nothing in it: first, count, snapshot length, code, reason length. */
export const EMPTY_DOWNLOAD_BYTES = 4 + 2 + 4 + 2 + 2;
/** Bytes before the first message of a POST body (its `first` sequence number). */
export const UPLOAD_HEADER_BYTES = 4;
/** Bytes of each message's length in a POST body. */
export const UPLOAD_LENGTH_BYTES = 2;
/** Largest message a POST body can frame (its length is a u16). */
export const MAX_UPLOAD_MESSAGE_BYTES = 0xffff;

/** A session id: 32 lowercase hex digits, on a cluster node prefixed by its id and a dot. */
const SESSION_ID = /^(?:[A-Za-z0-9_-]{1,64}\.)?[0-9a-f]{32}$/;
/** The longest hold and body a server may announce before we call its opening malformed. */
const MAX_HOLD_MS = 10 * 60 * 1000;
const MAX_BODY_LIMIT = MAX_SERVER_MESSAGE_BYTES;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

/**
 * What a GET answered.
 * @typedef {object} PollDownload
 * @property {number} first the sequence number of `messages[0]` (from 1)
 * @property {Uint8Array[]} messages reliable `ServerMessage`s, in order (views into the body)
 * @property {Uint8Array | null} snapshot the newest snapshot message, or null when none came
 * @property {number} closeCode 0 while the session lives, else how it ended
 * @property {string} closeReason the close's text ('' while the session lives)
 */

/**
 * What a POST carries.
 * @typedef {object} PollUpload
 * @property {number} first the sequence number of `messages[0]` (from 1)
 * @property {Uint8Array[]} messages `ClientMessage`s, numbered on from `first`
 */

/**
 * The session the server opened (`POST /poll`).
 * @typedef {object} PollSession
 * @property {string} sid
 * @property {number} holdMs how long the server holds a GET with nothing to say
 * @property {number} maxBody the largest POST body it accepts, in bytes
 */

/**
 * Reads the body of a GET answer.
 * @param {ArrayBuffer | ArrayBufferView} body
 * @returns {PollDownload}
 * @throws {ProtocolError} on a truncated, oversized, trailing or otherwise malformed body
 */
export function decodePollDownload(body) {
  const reader = new Reader(asBytes(body));
  const first = reader.u32('first');
  const count = reader.u16('count');
  // Each message needs at least its 4-byte length: a count the body cannot hold is refused
  // before anything is read for it.
  reader.need(count * 4, `${count} messages`);
  const messages = [];
  for (let i = 0; i < count; i++) {
    messages.push(reader.block(reader.u32('a message length'), MAX_SERVER_MESSAGE_BYTES, 'a message'));
  }
  if (count > 0 && first === 0) throw new ProtocolError('reliable messages are numbered from 1');
  if (count > 0 && first + count - 1 > 0xffffffff) {
    throw new ProtocolError('reliable sequence numbers run past 2^32');
  }
  const snapshotBytes = reader.block(reader.u32('the snapshot length'), MAX_SERVER_MESSAGE_BYTES, 'the snapshot');
  const closeCode = reader.u16('the close code');
  const reasonBytes = reader.block(reader.u16('the close reason length'), 0xffff, 'the close reason');
  reader.end();
  let closeReason;
  try {
    closeReason = strictUtf8.decode(reasonBytes);
  } catch {
    throw new ProtocolError('the close reason is not UTF-8');
  }
  if (closeCode === 0 && closeReason !== '') {
    throw new ProtocolError('a close reason without a close code');
  }
  return {
    first,
    messages,
    snapshot: snapshotBytes.length === 0 ? null : snapshotBytes,
    closeCode,
    closeReason,
  };
}

/**
 * Writes the body of a GET answer (the server's side; here for tests and the vectors).
 * @param {{first: number, messages?: Uint8Array[], snapshot?: Uint8Array | null,
 *   closeCode?: number, closeReason?: string}} download
 * @returns {Uint8Array}
 */
export function encodePollDownload({ first, messages = [], snapshot = null, closeCode = 0, closeReason = '' }) {
  const reason = utf8.encode(closeReason);
  const snap = snapshot ?? new Uint8Array(0);
  const writer = new Writer(
    EMPTY_DOWNLOAD_BYTES + messages.reduce((sum, m) => sum + 4 + m.length, 0) + snap.length + reason.length,
  );
  writer.u32(first);
  writer.u16(checkedCount(messages.length, 0xffff, 'messages'));
  for (const message of messages) writer.u32(message.length).bytes(message);
  writer.u32(snap.length).bytes(snap);
  writer.u16(closeCode);
  writer.u16(checkedCount(reason.length, 0xffff, 'bytes of close reason')).bytes(reason);
  return writer.done();
}

/**
 * Writes the body of a POST: `first`, then each message as its u16 length and its bytes.
 * @param {number} first the sequence number of `messages[0]` (from 1)
 * @param {Uint8Array[]} messages
 * @returns {Uint8Array}
 * @throws {ProtocolError} when a message is too long to frame
 */
export function encodePollUpload(first, messages) {
  const writer = new Writer(uploadBytes(messages));
  writer.u32(first);
  for (const message of messages) {
    writer.u16(checkedCount(message.length, MAX_UPLOAD_MESSAGE_BYTES, 'bytes in one message')).bytes(message);
  }
  return writer.done();
}

/**
 * The size of the POST body that would carry `messages`.
 * @param {Uint8Array[]} messages
 */
export function uploadBytes(messages) {
  return UPLOAD_HEADER_BYTES + messages.reduce((sum, m) => sum + UPLOAD_LENGTH_BYTES + m.length, 0);
}

/**
 * Reads the body of a POST (the server's side; here for tests and the vectors).
 * @param {ArrayBuffer | ArrayBufferView} body
 * @returns {PollUpload}
 * @throws {ProtocolError}
 */
export function decodePollUpload(body) {
  const reader = new Reader(asBytes(body));
  const first = reader.u32('first');
  const messages = [];
  while (!reader.atEnd()) {
    const message = reader.block(reader.u16('a message length'), MAX_CLIENT_MESSAGE_BYTES, 'a message');
    if (message.length === 0) throw new ProtocolError(`message ${messages.length} is empty`);
    messages.push(message);
  }
  if (messages.length > 0 && first === 0) throw new ProtocolError('client messages are numbered from 1');
  return { first, messages };
}

/**
 * Reads the JSON answer of `POST /poll`.
 * @param {unknown} json the parsed body
 * @returns {PollSession}
 * @throws {ProtocolError} when a field is missing or out of range
 */
export function parsePollSession(json) {
  const fields = /** @type {Record<string, unknown>} */ (json ?? {});
  const { sid, hold_ms: holdMs, max_body: maxBody } = fields;
  if (typeof sid !== 'string' || !SESSION_ID.test(sid)) {
    throw new ProtocolError('the polling session id is malformed');
  }
  if (!Number.isInteger(holdMs) || /** @type {number} */ (holdMs) < 0 || /** @type {number} */ (holdMs) > MAX_HOLD_MS) {
    throw new ProtocolError('the polling hold_ms is malformed');
  }
  const smallest = UPLOAD_HEADER_BYTES + UPLOAD_LENGTH_BYTES + 1;
  if (!Number.isInteger(maxBody) || /** @type {number} */ (maxBody) < smallest || /** @type {number} */ (maxBody) > MAX_BODY_LIMIT) {
    throw new ProtocolError('the polling max_body is malformed');
  }
  return { sid, holdMs: /** @type {number} */ (holdMs), maxBody: /** @type {number} */ (maxBody) };
}

/**
 * @param {number} n
 * @param {number} limit
 * @param {string} what
 */
function checkedCount(n, limit, what) {
  if (n > limit) throw new ProtocolError(`${n} ${what} do not fit the polling frame (at most ${limit})`);
  return n;
}

/** @param {ArrayBuffer | ArrayBufferView} input */
function asBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new ProtocolError('expected the bytes of a polling body');
}

/** Big-endian reads that refuse to run past the end. */
class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  /** @param {number} n @param {string} what */
  need(n, what) {
    if (n > this.bytes.length - this.at) throw new ProtocolError(`polling body truncated in ${what}`);
  }

  /** @param {string} what */
  u16(what) {
    this.need(2, what);
    const value = this.view.getUint16(this.at);
    this.at += 2;
    return value;
  }

  /** @param {string} what */
  u32(what) {
    this.need(4, what);
    const value = this.view.getUint32(this.at);
    this.at += 4;
    return value;
  }

  /**
   * The next `n` bytes, as a view.
   * @param {number} n @param {number} limit @param {string} what
   */
  block(n, limit, what) {
    if (n > limit) throw new ProtocolError(`${what} of ${n} bytes exceeds the limit`);
    this.need(n, what);
    const block = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return block;
  }

  atEnd() {
    return this.at === this.bytes.length;
  }

  end() {
    if (!this.atEnd()) throw new ProtocolError(`${this.bytes.length - this.at} trailing bytes after the polling body`);
  }
}

/** Big-endian writes into a buffer of the size computed beforehand. */
class Writer {
  /** @param {number} size */
  constructor(size) {
    this.out = new Uint8Array(size);
    this.view = new DataView(this.out.buffer);
    this.at = 0;
  }

  /** @param {number} value */
  u16(value) {
    this.view.setUint16(this.at, value);
    this.at += 2;
    return this;
  }

  /** @param {number} value */
  u32(value) {
    this.view.setUint32(this.at, value);
    this.at += 4;
    return this;
  }

  /** @param {Uint8Array} bytes */
  bytes(bytes) {
    this.out.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }

  done() {
    return this.out;
  }
}
