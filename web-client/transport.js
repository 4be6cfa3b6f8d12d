/**
 * Which transport carries the session: the mode a page asks for, when a WebSocket attempt falls
 * back to long polling, the probes that find out whether a WebSocket opens again while on
 * polling, and the hand-over that moves a live polling session onto such a socket in place
 * (docs/PROTOCOL.md, "Long polling", "Switching to WebSocket in place").
 *
 * `net.js` owns the session (the attempt, its handlers, the replica, the requests); this module
 * only decides and prepares: it never sends a Join, never emits the connection's events, and
 * never touches the DOM. A probe is opened, and closed again unless the connection keeps it.
 */

/**
 * Which transports a connection may use: `auto` (WebSocket first, long polling when it fails),
 * or only one of them.
 * @typedef {'auto' | 'websocket' | 'polling'} TransportMode
 */

/** The WebSocket's `readyState` when open. */
const OPEN = 1;

/** The shortest probe interval a page may ask for (`?probe_ms=`), ms: probes are not free. */
export const MIN_PROBE_MS = 250;

/**
 * The transport mode a page asks for: `?transport=polling` or `?transport=websocket`, else
 * `auto`.
 * @param {string} search
 * @returns {TransportMode}
 */
export function transportFrom(search) {
  const raw = new URLSearchParams(search).get('transport');
  return raw === 'polling' || raw === 'websocket' ? raw : 'auto';
}

/**
 * The probe interval a page asks for (`?probe_ms=500`, for tests): a whole number of ms, at
 * least {@link MIN_PROBE_MS}; null when absent or not a number (the default applies).
 * @param {string} search
 * @returns {number | null}
 */
export function probeIntervalFrom(search) {
  const raw = new URLSearchParams(search).get('probe_ms');
  if (raw === null || !/^\d+$/.test(raw.trim())) return null;
  return Math.max(MIN_PROBE_MS, Number(raw));
}

/**
 * Whether a WebSocket attempt that failed before its Welcome is repeated over long polling at
 * once. Only in `auto` mode, and only when it is the WebSocket that fails: no Welcome in time,
 * or an upgrade that failed while the server answers plain HTTP (426: it would have upgraded, so
 * something on the way refused). Not a refusal of ours (401/403 are final, and polling is
 * refused alike), nor a server that cannot be reached at all (polling cannot reach it either).
 * @param {TransportMode} mode
 * @param {{transport: string, welcomed: boolean}} attempt
 * @param {{kind: 'no-welcome'} | {kind: 'upgrade-failed', status: number, fatal: boolean}} failure
 */
export function fallsBackToPolling(mode, attempt, failure) {
  if (mode !== 'auto' || attempt.transport !== 'websocket' || attempt.welcomed) return false;
  if (failure.kind === 'no-welcome') return true;
  return !failure.fatal && failure.status !== 0;
}

/**
 * While on polling: every `everyMs`, opens a WebSocket (no Join) to see whether one gets
 * through now. One that opens is handed to `opened`, which keeps it or closes it; one that does
 * not open within `openMs` is closed, and probing goes on.
 */
export class WebSocketProbes {
  /**
   * @param {object} options
   * @param {typeof WebSocket} options.WebSocketImpl
   * @param {() => string} options.url where to probe (the node in use)
   * @param {() => boolean} options.wanted whether probing still makes sense (asked each time)
   * @param {(socket: WebSocket) => void} options.opened a probe opened; probing has stopped
   * @param {number} options.everyMs
   * @param {number} options.openMs
   */
  constructor({ WebSocketImpl, url, wanted, opened, everyMs, openMs }) {
    this.WebSocketImpl = WebSocketImpl;
    this.url = url;
    this.wanted = wanted;
    this.opened = opened;
    this.everyMs = everyMs;
    this.openMs = openMs;
    this.timer = 0;
    /** The probe under way, until it opens or is given up. @type {WebSocket | null} */
    this.socket = null;
  }

  /** Starts probing (again), unless it already runs. */
  start() {
    if (this.timer) return;
    this.timer = setInterval(() => this.probe(), this.everyMs);
  }

  /** Stops probing and closes a probe under way. */
  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      try {
        socket.close(1000, 'probe');
      } catch {
        // Already closing.
      }
    }
  }

  /** @private */
  probe() {
    if (!this.wanted()) {
      this.stop();
      return;
    }
    if (this.socket) return;
    const socket = new this.WebSocketImpl(this.url());
    this.socket = socket;
    const timer = setTimeout(() => {
      if (this.socket !== socket) return;
      this.stop();
      this.start();
    }, this.openMs);
    socket.onopen = () => {
      clearTimeout(timer);
      if (this.socket !== socket) return;
      this.socket = null;
      socket.onopen = socket.onclose = null;
      this.stop();
      if (this.wanted()) this.opened(socket);
      else socket.close(1000, 'probe');
    };
    socket.onclose = () => {
      clearTimeout(timer);
      if (this.socket !== socket) return;
      this.socket = null;
    };
    socket.onerror = null;
  }
}

/**
 * The polling surface a hand-over needs (`polling.js`' {@link PollingSocket}).
 * @typedef {object} HandingOver
 * @property {(boundMs: number) => Promise<boolean>} handOver
 * @property {() => {sid: string, ack: number, messages: Uint8Array[], dropped: number}} release
 * @property {() => void} resume
 */

/**
 * Prepares the switch of a live polling session onto the WebSocket `socket`: the polling socket
 * stops requesting (waiting up to `boundMs` for what is in flight, see
 * `PollingSocket#handOver` in polling.js), then, if the WebSocket is still open, gives the session up.
 * The caller then sends `Upgrade {sid}` and `messages` on the socket, in that order, and makes
 * it the session's socket.
 *
 * - `switched`: the polling socket is closed quietly (no DELETE, no close event).
 * - `probe-lost`: the WebSocket closed meanwhile; polling goes on as before.
 * - `ended`: the polling session ended meanwhile (its own close event says how).
 * @param {HandingOver} polling
 * @param {WebSocket} socket
 * @param {number} boundMs
 * @returns {Promise<{kind: 'switched', sid: string, messages: Uint8Array[], dropped: number} | {kind: 'probe-lost'} | {kind: 'ended'}>}
 */
export async function handOverToWebSocket(polling, socket, boundMs) {
  const paused = await polling.handOver(boundMs);
  if (!paused) return { kind: 'ended' };
  if (socket.readyState !== OPEN) {
    polling.resume();
    return { kind: 'probe-lost' };
  }
  return { kind: 'switched', ...polling.release() };
}
