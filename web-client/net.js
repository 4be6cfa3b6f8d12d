/**
 * The connection to the server: one WebSocket at a time to `/ws` on the page's host, binary
 * messages through `protocol.js`, and automatic reconnection with capped, jittered backoff.
 *
 * It reports what happens as events and knows nothing of the game: it never inspects a message
 * beyond decoding it, and it never decides to give up on its own (the caller calls `stop()`).
 *
 * Events:
 * - `connect` (): the socket opened; send `Join` now.
 * - `message` (message): a decoded server message.
 * - `disconnect` (reason, retryInMs): an open connection closed; the next attempt starts in
 *   `retryInMs` milliseconds.
 * - `connect_error` (reason, retryInMs): an attempt failed before opening; retried the same way.
 * After `stop()` nothing more is emitted.
 */

import { decodeServerMessage, encodeClientMessage } from './protocol.js';

/**
 * A minimal event emitter: `on`, `off`, `emit`. A listener that throws is reported (the browser's
 * `reportError`, else `console.error`) and the other listeners still run.
 */
export class Emitter {
  constructor() {
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
  }

  /**
   * @param {string} event
   * @param {Function} listener
   * @returns {() => void} removes the listener
   */
  on(event, listener) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /**
   * @param {string} event
   * @param {Function} listener
   */
  off(event, listener) {
    this.listeners.get(event)?.delete(listener);
  }

  /**
   * @param {string} event
   * @param {...any} args
   */
  emit(event, ...args) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(...args);
      } catch (error) {
        if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
        else console.error(error);
      }
    }
  }
}

/** First reconnection delay; doubles per failed attempt up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 5000;
/** Each delay is scaled by a random factor in [1 - JITTER, 1 + JITTER] so clients spread out. */
const JITTER = 0.2;

/**
 * The WebSocket URL of the game on the host that served this page.
 * @param {Location | URL} location
 * @returns {string}
 */
export function gameSocketUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

/**
 * Human-readable reason for a close event.
 * @param {CloseEvent} event
 */
function describeClose(event) {
  if (event.reason) return event.reason;
  if (event.code === 1000) return 'connection closed';
  if (event.code === 1001) return 'server going away';
  if (event.code === 1006) return 'connection lost';
  return `connection closed (code ${event.code})`;
}

export class Connection extends Emitter {
  /**
   * @param {string} url e.g. from {@link gameSocketUrl}
   * @param {{WebSocketImpl?: typeof WebSocket}} [options] a WebSocket class (tests inject one)
   */
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.WebSocketImpl = options.WebSocketImpl ?? globalThis.WebSocket;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** Failed attempts since the last {@link resetBackoff}: sets the next delay. */
    this.attempts = 0;
    /** performance.now() at which the next attempt starts, or 0 if none is scheduled. */
    this.retryAt = 0;
    this.retryTimer = 0;
    this.stopped = true;
  }

  /** Starts connecting (and reconnecting after each close until {@link stop}). */
  start() {
    this.stopped = false;
    this.open();
  }

  /**
   * Closes for good: no more events, no more retries.
   * @param {string} [reason]
   */
  stop(reason = 'client stopped') {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryAt = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(1000, reason);
      } catch {
        // Already closing: nothing to do.
      }
    }
  }

  /** The session is established (e.g. welcomed): the next failure retries after the first delay. */
  resetBackoff() {
    this.attempts = 0;
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === 1;
  }

  /**
   * Encodes and sends a client message if the socket is open.
   * @param {{type: string} & Record<string, any>} message
   * @returns {boolean} whether it was handed to the socket
   */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(encodeClientMessage(message));
    return true;
  }

  /** @private */
  open() {
    clearTimeout(this.retryTimer);
    this.retryAt = 0;
    let opened = false;
    const socket = new this.WebSocketImpl(this.url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.emit('connect');
    };
    socket.onmessage = (event) => {
      if (!(event.data instanceof ArrayBuffer)) {
        this.drop(socket, 'server sent a text message');
        return;
      }
      let message;
      try {
        message = decodeServerMessage(event.data);
      } catch (error) {
        this.drop(socket, `undecodable message from server: ${error.message}`);
        return;
      }
      this.emit('message', message);
    };
    socket.onclose = (event) => this.closed(socket, opened, describeClose(event));
    // An error is always followed by a close event, which carries the reason.
    socket.onerror = null;
  }

  /**
   * Gives up on a socket that broke the protocol.
   * @private
   * @param {WebSocket} socket
   * @param {string} reason
   */
  drop(socket, reason) {
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(4000, 'protocol error');
    } catch {
      // Already closing.
    }
    this.closed(socket, true, reason);
  }

  /**
   * @private
   * @param {WebSocket} socket
   * @param {boolean} opened
   * @param {string} reason
   */
  closed(socket, opened, reason) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (this.stopped) return;
    const base = FIRST_RETRY_MS * 2 ** this.attempts;
    const jittered = base * (1 - JITTER + 2 * JITTER * Math.random());
    const delay = Math.round(Math.min(MAX_RETRY_MS, jittered));
    this.attempts = Math.min(this.attempts + 1, 16);
    this.retryAt = performance.now() + delay;
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
    this.emit(opened ? 'disconnect' : 'connect_error', reason, delay);
  }
}
