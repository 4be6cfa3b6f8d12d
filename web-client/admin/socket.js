/**
 * The operator's socket, `/admin/ws` (docs/ADMIN.md): opens it, authenticates first, hands each
 * server message on as an event, numbers the actions it sends, and reconnects with a growing
 * delay after a close, except after a refusal (4401 wrong token, 4429 too many attempts) which
 * only the operator can answer. Knows nothing of the page. Must never send anything before the
 * `auth`, nor retry a refused token on its own (each try counts against the address's limit).
 */

/** The token was wrong, or the first message was not an `auth` in time. */
export const CLOSE_UNAUTHORIZED = 4401;
/** Too many failed authentications from this address: wait before trying again. */
export const CLOSE_TOO_MANY_ATTEMPTS = 4429;

/** Delays before each reconnection in a row, ms; the last one repeats. */
export const RECONNECT_DELAYS_MS = Object.freeze([1000, 2000, 4000, 8000, 15000, 30000]);

/**
 * @typedef {object} AdminSocketEvents what the socket tells its owner
 * @property {(attempt: number) => void} connecting a socket is being opened (attempt 1, 2, …)
 * @property {(message: any) => void} hello authenticated: the node and its history
 * @property {(message: any) => void} sample
 * @property {(message: any) => void} state
 * @property {(message: any) => void} result the answer to an action
 * @property {(code: number, reason: string) => void} refused 4401 or 4429: no reconnection
 * @property {(code: number, reason: string, retryInMs: number) => void} closed
 *   any other close; the next attempt starts in `retryInMs`
 */

/**
 * The WebSocket URL of this page's server: `ws(s)://<host>/admin/ws`.
 * @param {{protocol: string, host: string}} location
 * @returns {string}
 */
export function adminSocketUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/admin/ws`;
}

export class AdminSocket {
  /**
   * @param {object} options
   * @param {string} options.url
   * @param {string} options.token
   * @param {string} options.operator
   * @param {AdminSocketEvents} options.events
   * @param {typeof WebSocket} [options.WebSocketImpl] a fake one in unit tests
   * @param {(fn: () => void, ms: number) => any} [options.setTimer]
   * @param {(timer: any) => void} [options.clearTimer]
   */
  constructor({ url, token, operator, events, WebSocketImpl = globalThis.WebSocket, setTimer, clearTimer }) {
    this.url = url;
    this.token = token;
    this.operator = operator;
    this.events = events;
    this.WebSocketImpl = WebSocketImpl;
    // Wrapped: a browser's setTimeout called as a method of this object throws "Illegal invocation".
    this.setTimer = setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = clearTimer ?? ((timer) => clearTimeout(timer));
    /** @type {WebSocket | null} the socket of the current attempt */
    this.socket = null;
    /** Whether the server said `hello` on the current socket: actions may go. */
    this.live = false;
    /** Attempts since the last `hello` (the backoff's position). */
    this.attempts = 0;
    /** Set by `stop` and by a refusal: no more attempts. */
    this.stopped = false;
    /** The number of the next action (its `result` carries it back). */
    this.nextActionId = 1;
    this.retryTimer = null;
  }

  /** Opens the first socket. */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes the socket for good (logging out, or a new token). */
  stop() {
    this.stopped = true;
    this.live = false;
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'operator left');
  }

  /**
   * Sends an action (`kick`, `close_room`, `notice`) with a fresh `id`.
   * @param {Record<string, any>} action without `id`
   * @returns {number | null} its id, or null when not live (nothing was sent)
   */
  send(action) {
    if (!this.live || !this.socket) return null;
    const id = this.nextActionId++;
    this.socket.send(JSON.stringify({ ...action, id }));
    return id;
  }

  /** @private */
  open() {
    this.retryTimer = null;
    this.attempts += 1;
    this.live = false;
    this.events.connecting(this.attempts);
    const socket = new this.WebSocketImpl(this.url);
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (socket !== this.socket) return;
      socket.send(JSON.stringify({ type: 'auth', token: this.token, operator: this.operator }));
    });
    socket.addEventListener('message', (event) => {
      if (socket === this.socket) this.receive(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (socket === this.socket) this.closed(event.code, event.reason);
    });
  }

  /**
   * @private
   * @param {unknown} data
   */
  receive(data) {
    if (typeof data !== 'string') return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not ours to crash on: the next sample will come
    }
    switch (message?.type) {
      case 'hello':
        this.live = true;
        this.attempts = 0;
        this.events.hello(message);
        break;
      case 'sample':
        this.events.sample(message);
        break;
      case 'state':
        this.events.state(message);
        break;
      case 'result':
        this.events.result(message);
        break;
      default:
        break; // a newer server's message: ignored
    }
  }

  /**
   * @private
   * @param {number} code
   * @param {string} reason
   */
  closed(code, reason) {
    this.socket = null;
    this.live = false;
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_TOO_MANY_ATTEMPTS) {
      this.stopped = true;
      this.events.refused(code, reason);
      return;
    }
    const delays = RECONNECT_DELAYS_MS;
    const retryInMs = delays[Math.min(this.attempts, delays.length) - 1] ?? delays[0];
    this.events.closed(code, reason, retryInMs);
    this.retryTimer = this.setTimer(() => this.open(), retryInMs);
  }
}
