/**
 * The session with the server: one WebSocket at a time to the game's endpoint, the join and its
 * resume token, the heartbeat, requests answered by acknowledgements, and automatic
 * reconnection with Socket.IO's backoff. What happens is reported as events, under Socket.IO's
 * names, so that anyone who knows Socket.IO knows what to expect:
 *
 * - `connect` (welcome): a session is established: the server answered our `Join` with a
 *   `Welcome` (`welcome.resumed` says whether we got our player back).
 * - `disconnect` (reason, details): an established session ended. `reason` is Socket.IO's:
 *   `'io server disconnect'` (kicked: no automatic reconnection), `'io client disconnect'`
 *   ({@link Connection#disconnect}), `'ping timeout'`, `'transport close'`, `'transport error'`
 *   or `'parse error'`; `details` is `{code, description}` with the close code and a sentence
 *   for people (the server's own explanation when it sent one).
 * - `connect_error` (error): an attempt failed before a session was established. `error.message`
 *   is the reason: the server's, when it gave one (an `Error` message, or the HTTP body of a
 *   refused upgrade, which browsers hide from WebSocket code and which is fetched separately).
 *   `error.fatal` is true when retrying cannot help (refused token or origin, wrong protocol
 *   version, invalid name): then no reconnection follows.
 * - `reconnect_attempt` (attempt): reconnection attempt number `attempt` (from 1) starts now.
 * - `reconnect` (attempt): the session is back after `attempt` attempts (fired before `connect`).
 * - `reconnect_error` (error): a reconnection attempt failed (after its `connect_error`).
 * - `reconnect_failed` (): `reconnectionAttempts` attempts failed; the connection gives up.
 * - `message` (message): every decoded server message, `Welcome` (before `connect`) and the
 *   heartbeat's `Ping` (already answered) included; not `Redirect`, which is followed.
 * - `redirect` (url): a cluster node sent us to another node; the same Join goes to `url` now.
 * - `transport` (name, why): the session goes over `name` now or from the next attempt on
 *   (`'polling'` after a fallback, `'websocket'` after a switch in place), because of `why`.
 *
 * **Transports.** Each attempt goes over a WebSocket or over HTTP long polling
 * (`polling.js`, a stand-in with the WebSocket's surface, so everything below is the same for
 * both: the join, the resume token, the heartbeat, the backoff, redirects; `transport.js`
 * decides which). In `auto` mode (the page's default; `?transport=websocket|polling` forces
 * one, see {@link transportFrom}) an attempt starts on a WebSocket and falls back to polling for
 * the same join at once when no `Welcome` comes within `websocketWelcomeMs`, or when the upgrade
 * fails although the server is there (see {@link fallsBackToPolling}); later attempts stay on
 * polling. While on polling, a WebSocket probe (no Join) runs every `websocketProbeMs`. When one
 * opens during a welcomed polling session, the session switches onto it in place: the polling
 * socket stops requesting (see `PollingSocket#handOver`), the probe sends `Upgrade {sid}` and
 * then what was queued and not yet POSTed, and becomes the attempt's socket; nothing else
 * changes (player, replica, resume token, pending requests), and `transport` says
 * `'websocket'`. If that socket closes before the server sent anything on it (the session had
 * ended: 1008), it is a lost session as any other, and attempts stay on polling. A probe that
 * opens while no session is established sends the next attempt over WebSocket instead.
 *
 * In a cluster, a node may answer the Join with a `Redirect`: the connection follows it at once
 * (up to {@link MAX_REDIRECTS} in a row, claiming the seat ticket it carries), so the player just
 * ends up playing on that node. A lost session comes back to the node it was on; when that node
 * cannot be reached, the next attempt starts over at the entry node (the page's own) with the
 * same resume token, which then joins afresh and says why in `Welcome.resume_failed`. While the
 * cluster's directory is down (`ClusterUnavailable`), joining is retried with the backoff, a few
 * times ({@link DEFAULT_OPTIONS}' `clusterRetries`). `route.js` decides where each attempt goes.
 *
 * Snapshots arrive as delta frames against a state we hold: the connection keeps the
 * {@link Replica} that rebuilds them (across a resume, so the first frame after it can be a
 * delta too), emits each as a whole `Snapshot` message, and asks for a full one (`Resync`) when
 * a frame cannot be applied. Beyond that it owns nothing of the game, and it never touches the
 * DOM (the page passes in its `sessionStorage`, `fetch` and `window` to use). It counts the
 * bytes it receives and sends (`bytesReceived`, `bytesSent`) for the network overlay.
 */

import {
  PROTOCOL_VERSION,
  RESUME_TOKEN_BYTES,
  decodeServerMessage,
  encodeClientMessage,
  quickPlay,
  validateRoomCode,
} from './protocol.js';
import { PollingSocket } from './polling.js';
import { Replica } from './replica.js';
import { MAX_REDIRECTS, NodeRoute } from './route.js';
import { WebSocketProbes, fallsBackToPolling, handOverToWebSocket, probeIntervalFrom, transportFrom } from './transport.js';

export { MAX_REDIRECTS, fallsBackToPolling, probeIntervalFrom, transportFrom };
/** @typedef {import('./transport.js').TransportMode} TransportMode */

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
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
        else console.error(error);
      }
    }
  }
}

/**
 * Socket.IO's reconnection delays (its `Backoff`): `min * 2^attempt`, moved by up to
 * `jitter * delay` up or down at random, then capped at `max`.
 */
export class Backoff {
  /**
   * @param {{min?: number, max?: number, jitter?: number, random?: () => number}} [options]
   *   milliseconds, and the randomisation factor (0 to 1); `random` for tests
   */
  constructor({ min = 1000, max = 5000, jitter = 0.5, random = Math.random } = {}) {
    this.min = min;
    this.max = max;
    this.jitter = jitter > 0 && jitter <= 1 ? jitter : 0;
    this.random = random;
    /** Delays handed out since the last {@link reset}. */
    this.attempts = 0;
  }

  /** The delay before the next attempt, in ms; counts the attempt. */
  duration() {
    let ms = this.min * 2 ** this.attempts++;
    if (this.jitter) {
      const rand = this.random();
      const deviation = Math.floor(rand * this.jitter * ms);
      // As Socket.IO does: one random number picks both the size and the sign of the deviation.
      ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
    }
    return Math.min(ms, this.max) | 0;
  }

  reset() {
    this.attempts = 0;
  }
}

/** Defaults of {@link Connection}'s options; the first four are Socket.IO's. */
export const DEFAULT_OPTIONS = Object.freeze({
  /** Whether to reconnect by itself after a drop or a failed attempt. */
  reconnection: true,
  /** Failed reconnection attempts in a row before giving up (`reconnect_failed`). */
  reconnectionAttempts: Infinity,
  /** First reconnection delay, ms; doubles per attempt up to the maximum. */
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  /** Each delay moves by up to this fraction of itself, so clients do not return in step. */
  randomizationFactor: 0.5,
  /** How long to wait for the `Welcome` after the socket opens before trying again, ms. */
  joinTimeoutMs: 10_000,
  /** Default time a {@link Connection#request} waits for its answer, ms. */
  ackTimeoutMs: 5000,
  /** How long the diagnosis of a failed upgrade may take before it is given up, ms. */
  diagnosisTimeoutMs: 3000,
  /**
   * The server sends a snapshot every tick; this long without any message means the connection
   * is dead even if the browser has not noticed (a half-open TCP connection), ms.
   */
  silenceTimeoutMs: 10_000,
  /**
   * Joins refused in a row because the cluster's directory is unavailable before giving up
   * (a fatal `connect_error` with the server's message); each waits for the backoff's delay.
   */
  clusterRetries: 5,
  /**
   * In `auto` mode, how long a WebSocket attempt may take to bring a `Welcome` before the same
   * join goes over long polling instead, ms (from the socket's creation); also how long a
   * WebSocket probe may take to open.
   */
  websocketWelcomeMs: 4000,
  /** While on polling in `auto` mode, how often to probe whether a WebSocket opens again, ms. */
  websocketProbeMs: 30_000,
  /**
   * How long a switch to WebSocket in place waits for the polling requests in flight (the GET
   * that confirms our acknowledgement, a POST's answer) before it aborts them, ms.
   */
  switchMs: 2000,
});

/** `sessionStorage` key of the resume token (hex), so that a reload within the grace resumes. */
export const RESUME_TOKEN_KEY = 'skirmish.resumeToken';

/** Server error codes after which retrying cannot help. */
const FATAL_ERROR_CODES = new Set(['VersionMismatch', 'InvalidName', 'NoSuchRoom', 'UnknownMode']);
/** Close codes of ours (docs/PROTOCOL.md) with their Socket.IO disconnect reason. */
const CLOSE_PING_TIMEOUT = 4004;
const CLOSE_KICKED = 4005;
/** Longest HTTP body of a refused upgrade shown to the player. */
const MAX_REASON_CHARS = 200;

/**
 * The WebSocket URL of the game on the host that served this page. A `token` in the page's own
 * query (`/?name=Alice&token=abc`) is passed on (`/ws?token=abc`): browsers cannot set headers
 * on a WebSocket, so that is where the server looks for it.
 * @param {Location | URL} location
 * @param {string} [path]
 * @returns {string}
 */
export function gameSocketUrl(location, path = '/ws') {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = new URLSearchParams(location.search).get('token');
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  return `${scheme}//${location.host}${path}${query}`;
}

/**
 * The same URL over HTTP(S): a plain GET there answers 401/403 with the reason if the upgrade
 * would be refused, 426 if it would be allowed.
 * @param {string} socketUrl
 */
export function diagnosisUrl(socketUrl) {
  return socketUrl.replace(/^ws(s?):/i, 'http$1:');
}

/**
 * Reads `reconnectionAttempts` from a page query (`?reconnectionAttempts=5`): a whole number
 * of at least 0, else Infinity.
 * @param {string} search
 */
export function reconnectionAttemptsFrom(search) {
  const raw = new URLSearchParams(search).get('reconnectionAttempts');
  if (raw === null || !/^\d+$/.test(raw.trim())) return Infinity;
  return Number(raw);
}

/**
 * The room a page asks for: `Code` for a private room's link (`?room=0Z0Z789ABC`, checked as the
 * server checks codes), else quick play in the default mode, any region.
 * @param {string} search
 * @returns {{ok: true, room: Record<string, any> & {type: string}} | {ok: false, error: string}}
 */
export function roomRequestFrom(search) {
  const raw = new URLSearchParams(search).get('room');
  if (raw === null) return { ok: true, room: quickPlay() };
  const checked = validateRoomCode(raw);
  if (!checked.ok) return checked;
  return { ok: true, room: { type: 'Code', value: checked.code } };
}

/**
 * Why a socket failed to open, asked of the server over plain HTTP.
 * @param {string} socketUrl
 * @param {typeof fetch | undefined} fetchImpl
 * @param {number} timeoutMs
 * @returns {Promise<{reason: string, status: number, fatal: boolean}>}
 */
export async function diagnoseFailedUpgrade(socketUrl, fetchImpl, timeoutMs) {
  if (typeof fetchImpl !== 'function') {
    return { reason: 'cannot reach the server', status: 0, fatal: false };
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetchImpl(diagnosisUrl(socketUrl), {
      cache: 'no-store',
      credentials: 'same-origin',
      signal: abort.signal,
    });
    const status = response.status;
    if (status === 426) {
      // The server would have upgraded: whatever failed was on the way, not a refusal.
      return { reason: 'connection failed', status, fatal: false };
    }
    const body = (await response.text()).trim().slice(0, MAX_REASON_CHARS);
    if (status === 401 || status === 403) {
      return { reason: body || `refused (HTTP ${status})`, status, fatal: true };
    }
    return { reason: body ? `HTTP ${status}: ${body}` : `HTTP ${status}`, status, fatal: false };
  } catch {
    return { reason: 'cannot reach the server', status: 0, fatal: false };
  } finally {
    clearTimeout(timer);
  }
}

/** A request that got no answer in time. */
export class RequestTimeoutError extends Error {
  /** @param {string} type @param {number} ms */
  constructor(type, ms) {
    super(`no answer to ${type} within ${ms / 1000} s`);
    this.name = 'RequestTimeoutError';
  }
}

/**
 * @param {number[] | Uint8Array} token
 * @returns {string}
 */
function tokenToHex(token) {
  return Array.from(token, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * @param {string | null} text
 * @returns {number[] | null}
 */
function tokenFromHex(text) {
  if (typeof text !== 'string' || !/^[0-9a-f]+$/.test(text)) return null;
  if (text.length !== RESUME_TOKEN_BYTES * 2) return null;
  const token = [];
  for (let i = 0; i < text.length; i += 2) token.push(parseInt(text.slice(i, i + 2), 16));
  return token;
}

/**
 * One socket's story, so that events of an old socket can never be mistaken for the current
 * one's.
 * @typedef {object} Attempt
 * @property {WebSocket} socket a WebSocket, or a `PollingSocket` standing in for one
 * @property {'websocket' | 'polling'} transport which of the two
 * @property {string} url where it connected (the diagnosis of a failed upgrade asks there)
 * @property {boolean} seat its Join claimed a seat a Redirect reserved
 * @property {boolean} opened the socket opened (the upgrade was accepted)
 * @property {boolean} welcomed the server answered our Join
 * @property {{code: string, message: string} | null} serverError the server's `Error`, which
 *   explains the close that follows it
 * @property {{status: number, reason: string, fatal: boolean} | null} refusal why a polling
 *   session could not be opened (its answer says, so no diagnosis is asked for)
 * @property {number} lastMessageAt performance.now() of the last message received
 * @property {boolean} upgrading switched from polling in place, and nothing has come on the
 *   WebSocket yet: a close now means the server refused the `Upgrade`
 */

export class Connection extends Emitter {
  /**
   * @param {string} url the WebSocket URL to connect to first, e.g. from {@link gameSocketUrl}
   * @param {object} options
   * @param {string} options.name the player's name, already validated
   * @param {string} [options.entryUrl] the WebSocket URL of the node that served the page, where
   *   attempts start over when another node cannot be reached (default: `url`)
   * @param {Record<string, any> & {type: string}} [options.room] the `RoomRequest` every Join
   *   sends (default: quick play), e.g. from {@link roomRequestFrom}
   * @param {typeof WebSocket} [options.WebSocketImpl] a WebSocket class (tests inject one)
   * @param {typeof PollingSocket} [options.PollingImpl] the long-polling stand-in for it
   * @param {TransportMode} [options.transport] default `websocket`; the page passes
   *   {@link transportFrom}'s answer (`auto` unless its URL says otherwise)
   * @param {typeof fetch} [options.fetchImpl] to diagnose failed upgrades
   * @param {Storage | null} [options.storage] where the resume token survives a reload
   * @param {() => number} [options.random] for the backoff's jitter
   * @param {Partial<typeof DEFAULT_OPTIONS>} [options.settings] overrides of DEFAULT_OPTIONS
   */
  constructor(
    url,
    {
      name,
      room = quickPlay(),
      entryUrl = url,
      WebSocketImpl,
      PollingImpl = PollingSocket,
      transport = 'websocket',
      fetchImpl,
      storage = null,
      random,
      settings = {},
    },
  ) {
    super();
    /** Which node each attempt connects to, and the seat ticket it claims. */
    this.route = new NodeRoute(entryUrl, url);
    this.name = name;
    /** The room asked for; once welcomed, `roomInfo` says which room we got. */
    this.room = room;
    /** @type {{id: number, mode: string, max_players: number, code: string | null} | null} */
    this.roomInfo = null;
    this.options = { ...DEFAULT_OPTIONS, ...settings };
    this.WebSocketImpl = WebSocketImpl ?? globalThis.WebSocket;
    this.PollingImpl = PollingImpl;
    /** Which transports may be used. */
    this.transportMode = transport;
    /** @type {'websocket' | 'polling'} the transport of the next attempt */
    this.nextTransport = transport === 'polling' ? 'polling' : 'websocket';
    /** In `auto` mode, a WebSocket attempt without a Welcome in time falls back when this fires. */
    this.welcomeTimer = 0;
    /** While on polling in `auto` mode: whether a WebSocket opens again. */
    this.probes = new WebSocketProbes({
      WebSocketImpl: this.WebSocketImpl,
      url: () => this.route.url,
      wanted: () => this.active && this.nextTransport === 'polling',
      opened: (socket) => this.probeOpened(socket),
      everyMs: this.options.websocketProbeMs,
      openMs: this.options.websocketWelcomeMs,
    });
    /** A probe the polling session is being handed over to, until it is the attempt's socket. */
    this.switching = /** @type {WebSocket | null} */ (null);
    this.fetchImpl = fetchImpl ?? globalThis.fetch?.bind(globalThis);
    this.storage = storage;
    this.backoff = new Backoff({
      min: this.options.reconnectionDelay,
      max: this.options.reconnectionDelayMax,
      jitter: this.options.randomizationFactor,
      random,
    });
    /** @type {Attempt | null} the socket in use, from creation to close */
    this.attempt = null;
    /** Between {@link connect} and {@link disconnect} or giving up (Socket.IO's `active`). */
    this.active = false;
    /** A session is established on the current socket (welcomed). */
    this.connected = false;
    /** In a series of reconnection attempts (after a drop or a failed first attempt). */
    this.reconnecting = false;
    /** performance.now() at which the next attempt starts, or 0 if none is waiting. */
    this.nextAttemptAt = 0;
    this.retryTimer = 0;
    this.watchdog = 0;
    /** The failed attempt whose cause is being asked of the server, if any. */
    this.diagnosing = /** @type {Attempt | null} */ (null);
    /** Our player, from the last Welcome (kept while reconnecting). */
    this.playerId = /** @type {number | null} */ (null);
    /** Whether the last Welcome gave back the player we had. */
    this.resumed = false;
    /** @type {string | null} why the last Welcome's resume token gave no player back */
    this.resumeFailed = null;
    /** Joins refused in a row because the cluster's directory is unavailable. */
    this.clusterRefusals = 0;
    /** @type {number[] | null} from the last Welcome: presented when joining again */
    this.resumeToken = this.loadToken();
    this.nextRequestId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, type: string}>} */
    this.requests = new Map();
    /** The world as we hold it, rebuilt from snapshot frames; made by the first Welcome. */
    this.replica = /** @type {Replica | null} */ (null);
    this.tickHz = 30;
    /** Payload bytes received and sent over every socket so far. */
    this.bytesReceived = 0;
    this.bytesSent = 0;
    /** Full snapshots asked for because a frame could not be applied. */
    this.resyncs = 0;
  }

  /** The WebSocket URL of the node in use, or the next attempt's. */
  get url() {
    return this.route.url;
  }

  /** The transport of the attempt under way, else of the next one: `websocket` or `polling`. */
  get transport() {
    return this.attempt?.transport ?? this.nextTransport;
  }

  /** Starts connecting (Socket.IO: `socket.connect()`); reconnects by itself from then on. */
  connect() {
    if (this.active) return;
    this.active = true;
    this.reconnecting = false;
    this.backoff.reset();
    this.open();
  }

  /**
   * Leaves for good: tells the server (`Leave`: the player is removed at once, no resume), closes
   * the socket, stops reconnecting. Emits `disconnect` ('io client disconnect') if a session
   * was established.
   * @param {string} [description]
   */
  disconnect(description = 'left the game') {
    const attempt = this.attempt;
    const wasConnected = this.connected;
    this.active = false;
    this.reconnecting = false;
    this.diagnosing = null;
    this.stopTimers();
    this.stopProbes();
    this.attempt = null;
    this.connected = false;
    // A switch under way was abandoned just above: the polling session is still ours.
    if (attempt?.transport === 'polling') {
      detach(attempt.socket);
      // DELETE: the polling counterpart of Leave and the close frame together.
      /** @type {PollingSocket} */ (/** @type {unknown} */ (attempt.socket)).leave();
    } else if (attempt) {
      detach(attempt.socket);
      if (attempt.socket.readyState === 1) {
        try {
          // Once our Join is out, the server may be admitting us: Leave follows it in order.
          if (attempt.opened) attempt.socket.send(encodeClientMessage({ type: 'Leave' }));
          attempt.socket.close(1000, 'leave');
        } catch {
          // Already closing: the server sees the connection end either way.
        }
      } else {
        closeQuietly(attempt.socket);
      }
    }
    this.failRequests('disconnected');
    if (wasConnected) this.emit('disconnect', 'io client disconnect', { code: 1000, description });
  }

  /**
   * Sends `Leave` on `pagehide`, so closing the tab removes the ship at once; if the page comes
   * back from the back/forward cache, connects again.
   * @param {Pick<Window, 'addEventListener'>} target
   */
  bindPageLifecycle(target) {
    let wasActive = false;
    target.addEventListener('pagehide', () => {
      wasActive = this.active;
      if (wasActive) this.disconnect('page closed');
    });
    target.addEventListener('pageshow', (/** @type {PageTransitionEvent} */ event) => {
      if (event.persisted && wasActive) this.connect();
    });
  }

  /** The number of the reconnection attempt under way or waiting (from 1), 0 when none. */
  get attempts() {
    return this.backoff.attempts;
  }

  /** Whether a session is established and its socket open. */
  get isOpen() {
    return this.connected && this.attempt !== null && this.attempt.socket.readyState === 1;
  }

  /**
   * Encodes and sends a client message if a session is established.
   * @param {{type: string} & Record<string, any>} message
   * @returns {boolean} whether it was handed to the socket
   */
  send(message) {
    if (!this.isOpen) return false;
    this.sendBytes(this.attempt, encodeClientMessage(message));
    return true;
  }

  /**
   * @private
   * @param {Attempt} attempt
   * @param {Uint8Array} bytes
   */
  sendBytes(attempt, bytes) {
    this.bytesSent += bytes.length;
    attempt.socket.send(bytes);
  }

  /**
   * Sends a request and resolves with the server's answer to it: the `Ack` (whose `error` says
   * whether it was refused) or, for a `Join`, the `Welcome`. The message gets a fresh
   * `request_id`. Rejects at once when not connected, with a {@link RequestTimeoutError} after
   * `timeoutMs`, and when the connection drops before the answer.
   * @param {{type: string} & Record<string, any>} message
   * @param {number} [timeoutMs]
   * @returns {Promise<any>}
   */
  request(message, timeoutMs = this.options.ackTimeoutMs) {
    const joining = message.type === 'Join';
    const attempt = this.attempt;
    const ready = joining ? attempt !== null && attempt.socket.readyState === 1 : this.isOpen;
    if (!ready) return Promise.reject(new Error('not connected'));
    const requestId = this.nextRequestId;
    this.nextRequestId = this.nextRequestId >= 0xffffffff ? 1 : this.nextRequestId + 1;
    let bytes;
    try {
      bytes = encodeClientMessage({ ...message, request_id: requestId });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(requestId);
        reject(new RequestTimeoutError(message.type, timeoutMs));
      }, timeoutMs);
      this.requests.set(requestId, { resolve, reject, timer, type: joining ? 'Welcome' : 'Ack' });
      this.sendBytes(attempt, bytes);
    });
  }

  /** @private */
  open() {
    this.stopTimers();
    this.nextAttemptAt = 0;
    const url = this.route.url;
    /** @type {Attempt} */
    const attempt = {
      socket: /** @type {any} */ (null),
      transport: this.nextTransport,
      url,
      seat: false,
      opened: false,
      welcomed: false,
      serverError: null,
      refusal: null,
      lastMessageAt: performance.now(),
      upgrading: false,
    };
    const socket = attempt.transport === 'polling' ? this.openPolling(attempt) : new this.WebSocketImpl(url);
    socket.binaryType = 'arraybuffer';
    attempt.socket = socket;
    this.attempt = attempt;
    socket.onopen = () => this.opened(attempt);
    socket.onmessage = (event) => this.received(attempt, event.data);
    socket.onclose = (event) => this.socketClosed(attempt, event);
    // An error is always followed by a close event, which is where we act.
    socket.onerror = null;
    if (this.transportMode === 'auto' && attempt.transport === 'websocket') {
      this.welcomeTimer = setTimeout(() => this.noWelcome(attempt), this.options.websocketWelcomeMs);
    }
  }

  /**
   * A polling session for this attempt; its GETs report the newest tick our replica applied
   * in this session (none before its Welcome, so no baseline of an older session is claimed).
   * @private
   * @param {Attempt} attempt
   * @returns {WebSocket}
   */
  openPolling(attempt) {
    const appliedTick = () => (attempt.welcomed && this.replica ? this.replica.latestTick : null);
    const socket = new this.PollingImpl(attempt.url, { fetchImpl: this.fetchImpl, appliedTick });
    return /** @type {WebSocket} */ (/** @type {unknown} */ (socket));
  }

  /**
   * The WebSocket brought no Welcome in time (`auto` mode): the same join goes over polling.
   * @private
   * @param {Attempt} attempt
   */
  noWelcome(attempt) {
    if (attempt !== this.attempt || !fallsBackToPolling(this.transportMode, attempt, { kind: 'no-welcome' })) return;
    detach(attempt.socket);
    closeQuietly(attempt.socket, 1000, 'switching to polling');
    this.attempt = null;
    this.connected = false;
    this.stopTimers();
    this.failRequests('switching to polling');
    const seconds = this.options.websocketWelcomeMs / 1000;
    this.fallBack(`no Welcome over WebSocket within ${seconds} s`);
  }

  /**
   * From now on attempts go over long polling; this one starts at once (it is not a failed
   * attempt: no backoff, no `connect_error`).
   * @private
   * @param {string} why
   */
  fallBack(why) {
    this.nextTransport = 'polling';
    this.emit('transport', 'polling', why);
    this.startProbes();
    if (this.active && this.attempt === null) this.open();
  }

  /** @private */
  startProbes() {
    if (this.transportMode === 'auto') this.probes.start();
  }

  /** @private */
  stopProbes() {
    this.probes.stop();
    if (this.switching) {
      detach(this.switching);
      closeQuietly(this.switching, 1000, 'probe');
      this.switching = null;
    }
  }

  /**
   * A WebSocket probe opened. A welcomed polling session switches onto it in place (see the
   * file's opening comment); otherwise it is closed, and the next attempt goes over WebSocket.
   * @private
   * @param {WebSocket} socket
   */
  async probeOpened(socket) {
    const attempt = this.attempt;
    if (attempt === null || attempt.transport !== 'polling' || !attempt.welcomed) {
      closeQuietly(socket, 1000, 'probe');
      this.nextTransport = 'websocket';
      return;
    }
    this.switching = socket;
    // A probe that closes while the polling requests settle is seen afterwards (readyState).
    socket.onclose = socket.onerror = socket.onmessage = null;
    const polling = /** @type {PollingSocket} */ (/** @type {unknown} */ (attempt.socket));
    const outcome = await handOverToWebSocket(polling, socket, this.options.switchMs);
    if (this.switching !== socket) return; // disconnected meanwhile: the probe is closed
    this.switching = null;
    if (outcome.kind !== 'switched' || attempt !== this.attempt || !this.active) {
      closeQuietly(socket, 1000, 'probe');
      // Polling goes on (or its session ended and reconnects over polling): probe again later.
      if (this.active) this.startProbes();
      return;
    }
    detach(attempt.socket);
    socket.binaryType = 'arraybuffer';
    attempt.socket = socket;
    attempt.transport = 'websocket';
    attempt.upgrading = true;
    attempt.lastMessageAt = performance.now();
    socket.onmessage = (event) => this.received(attempt, event.data);
    socket.onclose = (event) => this.socketClosed(attempt, event);
    this.nextTransport = 'websocket';
    this.sendBytes(attempt, encodeClientMessage({ type: 'Upgrade', sid: outcome.sid, ack: outcome.ack }));
    for (const bytes of outcome.messages) this.sendBytes(attempt, bytes);
    this.emit('transport', 'websocket', 'switched in place');
  }

  /**
   * @private
   * @param {Attempt} attempt
   */
  opened(attempt) {
    if (attempt !== this.attempt) return;
    attempt.opened = true;
    attempt.lastMessageAt = performance.now();
    const every = Math.min(1000, Math.max(10, this.options.silenceTimeoutMs / 4));
    this.watchdog = setInterval(() => this.checkSilence(attempt), every);
    const room = this.route.roomFor(this.room);
    attempt.seat = room.type === 'Seat';
    const join = {
      type: 'Join',
      protocol_version: PROTOCOL_VERSION,
      name: this.name,
      resume_token: this.resumeToken,
      // The newest state we hold: if the server still has it, resuming costs one delta.
      baseline_tick: this.resumeToken && this.replica ? this.replica.latestTick : null,
      room,
    };
    this.request(join, this.options.joinTimeoutMs).catch((error) => {
      if (attempt === this.attempt && !attempt.welcomed) this.drop(attempt, error.message, 1000);
    });
  }

  /**
   * @private
   * @param {Attempt} attempt
   * @param {unknown} data
   */
  received(attempt, data) {
    if (attempt !== this.attempt) return;
    attempt.lastMessageAt = performance.now();
    attempt.upgrading = false;
    if (!(data instanceof ArrayBuffer)) {
      this.drop(attempt, 'server sent a text message', 4000);
      return;
    }
    this.bytesReceived += data.byteLength;
    let message;
    try {
      message = decodeServerMessage(data);
      if (message.type === 'SnapshotFrame') {
        message = this.rebuildSnapshot(attempt, message.frame);
        if (message === null) return;
      }
    } catch (error) {
      this.drop(attempt, `undecodable message from server: ${error.message}`, 4000);
      return;
    }
    switch (message.type) {
      case 'Ping':
        // The heartbeat: answered before anything else, or the server closes us.
        this.sendBytes(attempt, encodeClientMessage({ type: 'Pong', nonce: message.nonce }));
        break;
      case 'Ack':
        this.answer(message.request_id, 'Ack', message);
        break;
      case 'Error':
        attempt.serverError = { code: message.code, message: message.message };
        break;
      case 'Welcome':
        this.welcomed(attempt, message);
        return;
      case 'Redirect':
        this.redirected(attempt, message);
        return;
      default:
        break;
    }
    this.emit('message', message);
  }

  /**
   * Applies a snapshot frame to the replica: the whole `Snapshot` it now describes, or null
   * when it could not be applied and a full one has been asked for. Throws on a malformed one.
   * @private
   * @param {Attempt} attempt
   * @param {Uint8Array} frame
   */
  rebuildSnapshot(attempt, frame) {
    if (!this.replica || !attempt.welcomed) throw new Error('a snapshot before the Welcome');
    let state;
    try {
      state = this.replica.apply(frame);
    } catch (error) {
      if (!error.resync) throw error;
      this.resyncs++;
      this.sendBytes(attempt, encodeClientMessage({ type: 'Resync' }));
      return null;
    }
    return this.replica.snapshot(state, this.playerId, this.tickHz);
  }

  /**
   * Another node serves this join: close this socket (the server closes it too, with 4010) and
   * send the same Join there at once, or fail the attempt when the redirect cannot be followed.
   * @private
   * @param {Attempt} attempt
   * @param {{url: string, ticket: number[] | null}} redirect
   */
  redirected(attempt, redirect) {
    if (attempt.welcomed) {
      this.drop(attempt, 'server sent a Redirect after the Welcome', 4000);
      return;
    }
    const next = this.route.follow(redirect);
    detach(attempt.socket);
    closeQuietly(attempt.socket, 1000, 'redirected');
    this.attempt = null;
    this.stopTimers();
    this.failRequests('redirected');
    if (!next.ok) {
      this.failedAttempt(connectError(next.error, { code: 4010, fatal: next.fatal }));
      return;
    }
    this.emit('redirect', next.url);
    if (this.active && this.attempt === null) this.open();
  }

  /**
   * @private
   * @param {Attempt} attempt
   * @param {any} welcome
   */
  welcomed(attempt, welcome) {
    if (attempt.welcomed) {
      this.drop(attempt, 'server sent a second Welcome', 4000);
      return;
    }
    attempt.welcomed = true;
    clearTimeout(this.welcomeTimer);
    // A resumed player keeps the state we hold (the server may send a delta against it).
    const keep = welcome.resumed && this.replica !== null && this.playerId === welcome.player_id;
    if (!keep) this.replica = new Replica();
    this.tickHz = welcome.tick_hz;
    this.connected = true;
    this.playerId = welcome.player_id;
    this.roomInfo = welcome.room;
    // A private room is joined again by its code, never opened anew on a reconnection.
    if (welcome.room.code !== null) this.room = { type: 'Code', value: welcome.room.code };
    this.resumed = welcome.resumed;
    this.resumeFailed = welcome.resume_failed ?? null;
    this.route.settled();
    this.clusterRefusals = 0;
    this.resumeToken = welcome.resume_token;
    this.saveToken(welcome.resume_token);
    const wasReconnecting = this.reconnecting;
    const attempts = this.backoff.attempts;
    this.reconnecting = false;
    this.backoff.reset();
    this.answer(welcome.request_id, 'Welcome', welcome);
    this.emit('message', welcome);
    if (wasReconnecting) this.emit('reconnect', attempts);
    this.emit('connect', welcome);
  }

  /**
   * @private
   * @param {number} requestId
   * @param {string} type
   * @param {any} message
   */
  answer(requestId, type, message) {
    const request = this.requests.get(requestId);
    if (!request || request.type !== type) return;
    this.requests.delete(requestId);
    clearTimeout(request.timer);
    request.resolve(message);
  }

  /**
   * @private
   * @param {string} why
   */
  failRequests(why) {
    const requests = [...this.requests.values()];
    this.requests.clear();
    for (const request of requests) {
      clearTimeout(request.timer);
      request.reject(new Error(why));
    }
  }

  /**
   * Closes a socket that broke the protocol or went silent, as if the server had closed it.
   * @private
   * @param {Attempt} attempt
   * @param {string} reason
   * @param {number} code sent in our close frame
   */
  drop(attempt, reason, code) {
    detach(attempt.socket);
    closeQuietly(attempt.socket, code, code === 4000 ? 'protocol error' : '');
    this.closed(attempt, 1006, '', reason);
  }

  /**
   * @private
   * @param {Attempt} attempt
   */
  checkSilence(attempt) {
    if (attempt !== this.attempt) return;
    const silent = performance.now() - attempt.lastMessageAt;
    if (silent > this.options.silenceTimeoutMs) {
      this.drop(attempt, `no message from the server for ${Math.round(silent / 1000)} s`, 1000);
    }
  }

  /**
   * A socket's close event. A polling session's says more: why it could not be opened, the
   * bytes that broke it, or the node that holds it (a 421), where the next attempt goes.
   * @private
   * @param {Attempt} attempt
   * @param {{code: number, reason?: string, error?: string, refusal?: any, nodeUrl?: string | null}} event
   */
  socketClosed(attempt, event) {
    if (attempt !== this.attempt) return;
    if (attempt.upgrading) {
      // The server refused the Upgrade (the polling session had ended) or the socket broke at
      // once: the session is lost, and attempts stay on polling, probing again.
      this.nextTransport = 'polling';
      this.emit('transport', 'polling', `the switch to WebSocket failed (${event.reason || describeCloseCode(event.code)})`);
      this.startProbes();
    }
    attempt.refusal = event.refusal ?? null;
    if (typeof event.nodeUrl === 'string') this.route.relocate(event.nodeUrl);
    this.closed(attempt, event.code, event.reason ?? '', event.error ?? '');
  }

  /**
   * The end of a socket, whichever way it came.
   * @private
   * @param {Attempt} attempt
   * @param {number} code
   * @param {string} closeReason the close frame's text
   * @param {string} clientReason set when we closed it ourselves, and why
   */
  closed(attempt, code, closeReason, clientReason) {
    if (attempt !== this.attempt) return;
    this.attempt = null;
    this.connected = false;
    this.stopTimers();
    this.failRequests('disconnected');
    if (!this.active) return;
    const description =
      attempt.serverError?.message || clientReason || closeReason || describeCloseCode(code);

    if (attempt.welcomed) {
      const reason = disconnectReason(code, attempt.serverError, clientReason);
      this.emit('disconnect', reason, { code, description });
      if (reason === 'io server disconnect') {
        // Kicked: Socket.IO does not reconnect after the server closed the session on purpose.
        this.active = false;
      } else {
        this.reconnect();
      }
      return;
    }
    if (attempt.opened) {
      const fatal = this.isFinalRefusal(attempt);
      this.failedAttempt(connectError(description, { code, fatal, serverError: attempt.serverError }));
      return;
    }
    if (attempt.refusal !== null) {
      const { reason, status, fatal } = attempt.refusal;
      this.failedAttempt(connectError(reason, { code, status, fatal }));
      return;
    }
    // The upgrade failed, and the browser will not say why (always 1006): ask the server.
    this.diagnosing = attempt;
    diagnoseFailedUpgrade(attempt.url, this.fetchImpl, this.options.diagnosisTimeoutMs).then(
      ({ reason, status, fatal }) => {
        // Meanwhile the page may have disconnected (and perhaps connected again).
        if (this.diagnosing !== attempt) return;
        this.diagnosing = null;
        if (fallsBackToPolling(this.transportMode, attempt, { kind: 'upgrade-failed', status, fatal })) {
          this.fallBack(`the WebSocket upgrade failed (${reason})`);
          return;
        }
        this.failedAttempt(connectError(reason, { code, status, fatal }));
      },
    );
  }

  /**
   * Whether the server's refusal of this opened attempt's Join is final. A refused seat ticket
   * is not (the join starts over at the entry node); a cluster directory that stays unavailable
   * becomes final after `clusterRetries` refusals in a row.
   * @private
   * @param {Attempt} attempt
   */
  isFinalRefusal(attempt) {
    const code = attempt.serverError?.code ?? null;
    if (code === 'ClusterUnavailable') {
      this.clusterRefusals++;
      return this.clusterRefusals > this.options.clusterRetries;
    }
    this.clusterRefusals = 0;
    return code !== null && FATAL_ERROR_CODES.has(code) && !attempt.seat;
  }

  /**
   * An attempt failed before its Welcome: the route decides where the next one goes.
   * @private
   * @param {Error & {fatal: boolean}} error
   */
  failedAttempt(error) {
    this.room = this.route.failed(this.room);
    this.failed(error);
  }

  /**
   * A failed attempt: report it, then retry later or give up.
   * @private
   * @param {Error & {fatal: boolean}} error
   */
  failed(error) {
    this.emit('connect_error', error);
    if (this.reconnecting) this.emit('reconnect_error', error);
    if (!this.active) return; // a listener disconnected
    if (error.fatal) {
      this.active = false;
      this.reconnecting = false;
      return;
    }
    this.reconnect();
  }

  /**
   * Schedules the next attempt with the backoff's delay, or gives up.
   * @private
   */
  reconnect() {
    if (!this.options.reconnection) {
      this.active = false;
      return;
    }
    if (this.backoff.attempts >= this.options.reconnectionAttempts) {
      this.active = false;
      this.reconnecting = false;
      this.backoff.reset();
      this.emit('reconnect_failed');
      return;
    }
    const delay = this.backoff.duration();
    const attempt = this.backoff.attempts;
    this.reconnecting = true;
    this.nextAttemptAt = performance.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.nextAttemptAt = 0;
      if (!this.active) return;
      this.emit('reconnect_attempt', attempt);
      if (this.active && this.attempt === null) this.open();
    }, delay);
  }

  /** @private */
  stopTimers() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.welcomeTimer);
    clearInterval(this.watchdog);
    this.retryTimer = 0;
    this.welcomeTimer = 0;
    this.watchdog = 0;
    this.nextAttemptAt = 0;
  }

  /**
   * @private
   * @returns {number[] | null}
   */
  loadToken() {
    try {
      return tokenFromHex(this.storage?.getItem(RESUME_TOKEN_KEY) ?? null);
    } catch {
      return null; // Storage may be disabled; resuming after a reload is only a convenience.
    }
  }

  /**
   * @private
   * @param {number[]} token
   */
  saveToken(token) {
    try {
      this.storage?.setItem(RESUME_TOKEN_KEY, tokenToHex(token));
    } catch {
      // As above.
    }
  }
}

/**
 * @param {string} message
 * @param {{code: number, fatal: boolean, status?: number, serverError?: any}} details
 * @returns {Error & {fatal: boolean, code: number, status: number}}
 */
function connectError(message, { code, fatal, status = 0, serverError = null }) {
  const error = /** @type {any} */ (new Error(message));
  error.fatal = fatal;
  error.code = code;
  error.status = status;
  error.serverError = serverError;
  return error;
}

/**
 * Socket.IO's name for why an established session ended.
 * @param {number} code
 * @param {{code: string} | null} serverError
 * @param {string} clientReason
 */
function disconnectReason(code, serverError, clientReason) {
  if (code === CLOSE_KICKED || serverError?.code === 'Kicked') return 'io server disconnect';
  if (code === CLOSE_PING_TIMEOUT || serverError?.code === 'PingTimeout') return 'ping timeout';
  if (clientReason.startsWith('no message from the server')) return 'ping timeout';
  if (clientReason) return 'parse error';
  if (code === 1000 || code === 1001 || code === 1006) return 'transport close';
  return 'transport error';
}

/**
 * Human-readable text for a close code without a reason.
 * @param {number} code
 */
function describeCloseCode(code) {
  if (code === 1000) return 'connection closed';
  if (code === 1001) return 'server going away';
  if (code === 1006) return 'connection lost';
  return `connection closed (code ${code})`;
}

/** @param {WebSocket} socket */
function detach(socket) {
  socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
}

/**
 * @param {WebSocket} socket
 * @param {number} [code]
 * @param {string} [reason]
 */
function closeQuietly(socket, code = 1000, reason = '') {
  try {
    socket.close(code, reason);
  } catch {
    // Already closing.
  }
}
