/**
 * The long-polling transport (docs/PROTOCOL.md, "Long polling"), for networks that refuse
 * WebSocket: an object with the surface of the browser's WebSocket that `net.js` uses
 * (`readyState`, `binaryType`, `onopen`/`onmessage`/`onclose`/`onerror`, `addEventListener`,
 * `send`, `close`), so that the connection swaps one for the other and the session above does
 * not know which carries it. It carries the same message bytes as the WebSocket.
 *
 * - Open: `POST /poll` (with the page's `?token=`, as the WebSocket upgrade), then `open`.
 * - Down: one long `GET /poll/SID?ack=A&tick=T` at a time, issued again as soon as one answers.
 *   `A` is the last reliable message delivered, `T` the newest snapshot tick the replica applied
 *   (asked of `appliedTick`). Reliable messages reach `onmessage` in order and exactly once (a
 *   repeated one, whose acknowledgement was lost, is skipped); then the snapshot; then the
 *   close, as a WebSocket close event with the server's code and reason.
 * - Up: one `POST /poll/SID` in flight at a time; what is sent meanwhile waits in the
 *   {@link Outbox} and goes in the next batch. Every POST repeats the last few inputs and
 *   everything not yet answered with 204, under their first sequence numbers (the server
 *   applies each number once), so a lost POST or a lost answer costs nothing.
 * - Leave: {@link PollingSocket#leave} sends `DELETE /poll/SID` (`keepalive`, so it survives
 *   the page closing); a plain {@link PollingSocket#close} only stops polling, and the server
 *   ends the session when it sees no GET for its ping timeout.
 * - Hand-over: {@link PollingSocket#handOver} stops requesting so that a WebSocket can take the
 *   session over in place (`Upgrade {sid}`); {@link PollingSocket#release} then gives up the
 *   session and says what that socket must send, or {@link PollingSocket#resume} goes on polling.
 *
 * Failures become close events with extra fields that `net.js` reads: `refusal` ({status,
 * reason, fatal}) when the session could not be opened (the answer says why, so no diagnosis
 * request is needed), `error` when the server sent bytes that do not decode (as a malformed
 * WebSocket message), `nodeUrl` when a 421 says the session lives on another cluster node. A
 * request that fails or times out is retried a few times with the same sequence numbers before
 * the connection counts as lost (1006).
 *
 * It owns the HTTP exchanges and their bounded queue; it never decodes a message (only the
 * framing, in `polling_wire.js`), never touches the DOM, and never throws from a callback of
 * the network: whatever the server sends ends, at worst, in a close event.
 */

import { encodePollUpload, decodePollDownload, parsePollSession, uploadBytes } from './polling_wire.js';

/** Defaults of a {@link PollingSocket}'s settings. */
export const POLLING_DEFAULTS = Object.freeze({
  /** Inputs repeated in every POST, already answered or not, so a lost one costs nothing. */
  repeatedInputs: 3,
  /**
   * Messages waiting for a POST at most; beyond, the oldest waiting input is dropped (a newer
   * one follows within a tick), and when none is an input the transport closes (as a WebSocket
   * whose buffer overflows would).
   */
  maxQueuedMessages: 64,
  /** How much longer than the server's `hold_ms` a GET may take before it is given up, ms. */
  holdMarginMs: 10_000,
  /** How long the opening POST, a message POST or a DELETE may take, ms. */
  requestTimeoutMs: 10_000,
  /**
   * Delays before retrying a request that failed (no answer, a timeout, a 5xx), one per failure
   * in a row; one more failure and the connection counts as lost (1006). A 409 or 429 is
   * retried after the first delay without counting: the server is there, only busy.
   */
  retryDelaysMs: Object.freeze([200, 1000, 3000]),
});

/** The WebSocket's `readyState` values. */
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** `ClientMessage::Input`'s variant index, the first byte of its bytes: the droppable kind. */
const INPUT_VARIANT = 1;
/** Longest text of a refusal kept for the player. */
const MAX_REASON_CHARS = 200;
/** The header of a 421 that names the node holding the session. */
export const NODE_URL_HEADER = 'X-Skirmish-Node-Url';

/**
 * The polling endpoint beside a WebSocket URL: `ws://h/ws?token=x` → `http://h/poll?token=x`
 * (`wss:` → `https:`; the path's last `/ws` becomes `/poll`).
 * @param {string} socketUrl
 * @returns {string}
 */
export function pollingUrl(socketUrl) {
  const url = new URL(socketUrl);
  url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/?(?:ws)?$/, '/poll');
  url.hash = '';
  return url.href;
}

/**
 * A session's own URL: `/poll/SID` beside the opening URL, without its query (the token is
 * needed only to open).
 * @param {string} openUrl
 * @param {string} sid
 */
export function sessionUrl(openUrl, sid) {
  const url = new URL(openUrl);
  url.pathname = `${url.pathname}/${encodeURIComponent(sid)}`;
  url.search = '';
  return url.href;
}

/**
 * The client messages of one session: those waiting for a POST (not yet numbered), and those
 * numbered and sent but not yet answered, plus the last few inputs, which every POST repeats.
 * Numbers are given when a message first goes into a batch, so dropping a waiting input never
 * leaves a gap (a POST body numbers its messages consecutively).
 */
export class Outbox {
  /** @param {{repeatedInputs: number, maxQueuedMessages: number}} limits */
  constructor({ repeatedInputs, maxQueuedMessages }) {
    this.repeatedInputs = repeatedInputs;
    this.maxQueuedMessages = maxQueuedMessages;
    /** @type {Uint8Array[]} sent by the app, not yet in a batch */
    this.waiting = [];
    /** @type {{seq: number, bytes: Uint8Array, input: boolean, answered: boolean}[]} in seq order */
    this.numbered = [];
    /** The number the next message put in a batch gets (from 1). */
    this.nextSeq = 1;
    /** Waiting inputs dropped because the queue was full. */
    this.droppedInputs = 0;
  }

  /**
   * Queues a message for the next batch. Returns false when the queue is full and holds no
   * input to drop: the caller must close.
   * @param {Uint8Array} bytes
   */
  push(bytes) {
    if (this.waiting.length >= this.maxQueuedMessages) {
      const oldestInput = this.waiting.findIndex(isInput);
      if (oldestInput === -1) return false;
      this.waiting.splice(oldestInput, 1);
      this.droppedInputs++;
    }
    this.waiting.push(bytes);
    return true;
  }

  /** Whether a POST has something to deliver. */
  get pending() {
    return this.waiting.length > 0 || this.hasUnanswered;
  }

  /** Whether a POST was sent and not answered (it may or may not have been applied). */
  get hasUnanswered() {
    return this.numbered.some((m) => !m.answered);
  }

  /**
   * Empties the outbox for another transport: the messages never POSTed, in order, after the
   * inputs of POSTs not answered (inputs carry their own `seq`, so the server ignores one it
   * applied already). Any other unanswered message is dropped and counted: it may have been
   * applied, and sending it again could apply it twice.
   * @returns {{messages: Uint8Array[], dropped: number}}
   */
  drain() {
    const unanswered = this.numbered.filter((m) => !m.answered);
    const messages = [...unanswered.filter((m) => m.input).map((m) => m.bytes), ...this.waiting];
    const dropped = unanswered.filter((m) => !m.input).length;
    this.numbered = [];
    this.waiting = [];
    return { messages, dropped };
  }

  /**
   * The next POST's messages: from the earliest of the unanswered ones and the repeated inputs,
   * then newly numbered waiting ones, as many as fit in `maxBody` bytes (none when
   * `takeWaiting` is false: only what was sent before goes again). Null when nothing is
   * pending; an error when a message cannot fit in any body.
   * @param {number} maxBody
   * @param {{takeWaiting?: boolean}} [options]
   * @returns {{first: number, messages: Uint8Array[], through: number} | {error: string} | null}
   */
  nextBatch(maxBody, { takeWaiting = true } = {}) {
    if (takeWaiting ? !this.pending : !this.hasUnanswered) return null;
    const unanswered = this.firstUnanswered();
    let size = uploadBytes(this.numbered.slice(unanswered).map((m) => m.bytes));
    while (takeWaiting && this.waiting.length > 0 && size + 2 + this.waiting[0].length <= maxBody) {
      const bytes = /** @type {Uint8Array} */ (this.waiting.shift());
      size += 2 + bytes.length;
      this.numbered.push({ seq: this.nextSeq++, bytes, input: isInput(bytes), answered: false });
    }
    if (unanswered === this.numbered.length) {
      return { error: `a client message of ${this.waiting[0].length} bytes does not fit a polling body of ${maxBody}` };
    }
    // The repeated inputs go in front, as far as the body has room: they are a convenience.
    const wanted = this.repeatStart(unanswered);
    let start = unanswered;
    while (start > wanted && size + 2 + this.numbered[start - 1].bytes.length <= maxBody) {
      start--;
      size += 2 + this.numbered[start].bytes.length;
    }
    const batch = this.numbered.slice(start);
    return { first: batch[0].seq, messages: batch.map((m) => m.bytes), through: batch[batch.length - 1].seq };
  }

  /**
   * The server answered 204 to a batch ending at `through`: those are applied. Forgets what no
   * later POST repeats.
   * @param {number} through
   */
  answered(through) {
    for (const message of this.numbered) if (message.seq <= through) message.answered = true;
    const keepFrom = this.repeatStart(this.firstUnanswered());
    this.numbered.splice(0, keepFrom);
  }

  /** The index of the first numbered message not yet answered (the length when none). */
  firstUnanswered() {
    const index = this.numbered.findIndex((m) => !m.answered);
    return index === -1 ? this.numbered.length : index;
  }

  /**
   * Where the next body starts: at `unanswered`, or earlier to repeat the last few inputs.
   * @param {number} unanswered
   */
  repeatStart(unanswered) {
    let start = unanswered;
    let inputs = 0;
    for (let i = this.numbered.length - 1; i >= 0 && inputs < this.repeatedInputs; i--) {
      if (!this.numbered[i].input) continue;
      inputs++;
      start = Math.min(start, i);
    }
    return start;
  }
}

/**
 * @typedef {object} PollingOptions
 * @property {typeof fetch} [fetchImpl] default the global `fetch`
 * @property {() => number | null} [appliedTick] the newest snapshot tick applied, or null
 * @property {Partial<typeof POLLING_DEFAULTS>} [settings]
 */

export class PollingSocket {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  /**
   * Opens a session at once, as `new WebSocket(url)` does.
   * @param {string} url the WebSocket URL the connection would use (`ws://h/ws?token=x`)
   * @param {PollingOptions} [options]
   */
  constructor(url, { fetchImpl = globalThis.fetch?.bind(globalThis), appliedTick = () => null, settings = {} } = {}) {
    this.url = url;
    this.readyState = CONNECTING;
    /** Kept for the WebSocket surface: messages are always ArrayBuffers. */
    this.binaryType = 'arraybuffer';
    /** @type {((event: any) => void) | null} */
    this.onopen = null;
    /** @type {((event: any) => void) | null} */
    this.onmessage = null;
    /** @type {((event: any) => void) | null} */
    this.onclose = null;
    /** @type {((event: any) => void) | null} */
    this.onerror = null;
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    this.fetchImpl = fetchImpl;
    this.appliedTick = appliedTick;
    this.options = { ...POLLING_DEFAULTS, ...settings };
    this.openUrl = pollingUrl(url);
    /** @type {import('./polling_wire.js').PollSession | null} */
    this.session = null;
    this.sessionUrl = '';
    /** The sequence number of the last reliable message delivered: the GET's `ack`. */
    this.lastReliable = 0;
    this.outbox = new Outbox(this.options);
    /** A POST is in flight or waiting to be retried: no other may start. */
    this.posting = false;
    /** A flush is queued for the end of this task, so messages sent together go together. */
    this.flushQueued = false;
    /** Failed requests in a row, per direction. */
    this.failures = { get: 0, post: 0 };
    /**
     * The GET in flight, if any (its answer tells that the server has seen our `ack`); an
     * answer to any other is late and ignored.
     * @type {object | null}
     */
    this.getting = null;
    /** The POST in flight or waiting to be retried, likewise. @type {object | null} */
    this.postingBatch = null;
    /**
     * While a WebSocket is taking the session over: nothing is delivered, no new GET or batch
     * starts, and `done` is called once nothing is in flight (or `timer` gave up waiting).
     * @type {{done: (paused: boolean) => void, timer: any, paused: boolean} | null}
     */
    this.handingOver = null;
    /** @type {Set<AbortController>} every request in flight, aborted when the session ends */
    this.inFlight = new Set();
    /** @type {Map<any, 'get' | 'post'>} retry timers, with the direction each retries */
    this.timers = new Map();
    this.openSession();
  }

  /** @param {string} type @param {Function} listener */
  addEventListener(type, listener) {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  /** @param {string} type @param {Function} listener */
  removeEventListener(type, listener) {
    this.listeners.get(type)?.delete(listener);
  }

  /**
   * Queues a client message for the next POST. Throws while connecting, as a WebSocket does;
   * after the close it is dropped.
   * @param {ArrayBuffer | ArrayBufferView} data
   */
  send(data) {
    if (this.readyState === CONNECTING) throw new Error('InvalidStateError: the polling session is not open yet');
    if (this.readyState !== OPEN) return;
    const bytes = copyBytes(data);
    if (!this.outbox.push(bytes)) {
      this.fail('too many messages waiting to be sent');
      return;
    }
    if (this.flushQueued || this.posting) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /**
   * Stops polling, as closing a WebSocket: the close event follows (asynchronously). The server
   * keeps the session until its ping timeout.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    this.readyState = CLOSING;
    this.stopRequests();
    this.endHandOver();
    setTimeout(() => this.finish(code, reason, { wasClean: true }), 0);
  }

  /** Leaves for good: `DELETE /poll/SID` (the player is removed at once), then closes. */
  leave() {
    if (this.session !== null && this.readyState === OPEN) {
      // keepalive: the request outlives the page when this runs on `pagehide`.
      this.fetchImpl?.(this.sessionUrl, { method: 'DELETE', cache: 'no-store', keepalive: true }).catch(() => {});
    }
    this.close(1000, 'leave');
  }

  /**
   * Stops requesting, so that a WebSocket can take this session over with `Upgrade {sid}`
   * (docs/PROTOCOL.md, "Switching to WebSocket in place"). Resolves true once nothing is in
   * flight (the session is then paused: open, sends queue, nothing is requested or delivered)
   * and false when the session is not open or ended meanwhile (its close event says how).
   *
   * - Down: the GET in flight is waited for, not aborted at once, so that the server has seen
   *   our latest `ack` (it sends on the socket every reliable message not acknowledged, and
   *   would repeat ones we have); a GET waiting to be retried is sent now for the same reason.
   *   What that answer carries is not delivered: the server still counts it as not fetched and
   *   sends it on the socket first. An answer that ends the session is delivered as usual.
   * - Up: a POST in flight is waited for, its retries too, but no new batch starts: what the
   *   server answered is applied and never sent again (see {@link Outbox#drain} for the rest).
   *
   * After `boundMs` whatever is still in flight is aborted (a late answer is ignored).
   * @param {number} boundMs
   * @returns {Promise<boolean>}
   */
  handOver(boundMs) {
    if (this.readyState !== OPEN || this.session === null || this.handingOver) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stopRequests();
        this.getting = null;
        this.postingBatch = null;
        this.posting = false;
        this.checkHandOver();
      }, boundMs);
      this.handingOver = { done: resolve, timer, paused: false };
      if (!this.getting) {
        for (const [retry, direction] of this.timers) {
          if (direction !== 'get') continue;
          clearTimeout(retry);
          this.timers.delete(retry);
        }
        this.poll();
      }
      this.checkHandOver();
    });
  }

  /**
   * Gives the paused session up to the WebSocket that took it over: closes without a close
   * event and without a DELETE (that would remove the player), and returns the session id and
   * what the socket must send after its `Upgrade` ({@link Outbox#drain}).
   * @returns {{sid: string, ack: number, messages: Uint8Array[], dropped: number}}
   */
  release() {
    if (!this.handingOver?.paused || this.session === null) throw new Error('release() before handOver() resolved true');
    this.handingOver = null;
    this.readyState = CLOSED;
    this.stopRequests();
    return { sid: this.session.sid, ack: this.lastReliable, ...this.outbox.drain() };
  }

  /** Goes on polling after a hand-over that did not happen (the WebSocket went away). */
  resume() {
    if (!this.handingOver) return;
    clearTimeout(this.handingOver.timer);
    this.handingOver = null;
    if (this.readyState !== OPEN) return;
    this.poll();
    this.flush();
  }

  /**
   * Ends a hand-over once nothing is in flight any more.
   * @private
   */
  checkHandOver() {
    const handOver = this.handingOver;
    if (!handOver || handOver.paused || this.getting || this.posting || this.readyState !== OPEN) return;
    clearTimeout(handOver.timer);
    handOver.paused = true;
    handOver.done(true);
  }

  /** @private */
  async openSession() {
    let answer;
    try {
      answer = await this.request(this.openUrl, { method: 'POST' }, this.options.requestTimeoutMs, 'text');
    } catch {
      this.refused(0, 'cannot reach the server');
      return;
    }
    if (this.readyState !== CONNECTING) return;
    if (answer.status !== 200) {
      this.refused(answer.status, answer.text ? `HTTP ${answer.status}: ${answer.text}` : `HTTP ${answer.status}`);
      return;
    }
    let session;
    try {
      session = parsePollSession(JSON.parse(answer.text));
    } catch (error) {
      this.refused(answer.status, `malformed polling session: ${error.message}`);
      return;
    }
    this.session = session;
    this.sessionUrl = sessionUrl(this.openUrl, session.sid);
    this.readyState = OPEN;
    this.dispatch('open', { type: 'open' });
    if (this.readyState !== OPEN) return;
    this.poll();
    this.flush();
  }

  /**
   * One long GET; the next starts as soon as this one is handled.
   * @private
   */
  async poll() {
    if (this.readyState !== OPEN || this.session === null || this.handingOver?.paused || this.getting) return;
    const tick = this.appliedTick();
    const query = `ack=${this.lastReliable}${tick === null || tick === undefined ? '' : `&tick=${tick >>> 0}`}`;
    const timeout = this.session.holdMs + this.options.holdMarginMs;
    const get = {};
    this.getting = get;
    let answer;
    try {
      answer = await this.request(`${this.sessionUrl}?${query}`, { method: 'GET' }, timeout, 'bytes');
    } catch {
      if (this.getting !== get || this.readyState !== OPEN) return; // given up on: ignored
      this.getting = null;
      if (this.handingOver) this.checkHandOver();
      else this.retry('get', () => this.poll());
      return;
    }
    if (this.getting !== get || this.readyState !== OPEN) return; // a late answer: ignored
    this.getting = null;
    if (this.handingOver) {
      this.answeredWhileHandingOver(answer);
      return;
    }
    if (answer.status !== 200) {
      this.refusedInSession(answer, 'get', () => this.poll());
      return;
    }
    this.failures.get = 0;
    this.deliver(/** @type {ArrayBuffer} */ (answer.bytes));
    this.poll();
  }

  /**
   * The answer of the GET a hand-over waited for: not delivered (the socket brings it), unless
   * it ends the session.
   * @private
   * @param {{status: number, bytes: ArrayBuffer | null, text: string, nodeUrl: string | null}} answer
   */
  answeredWhileHandingOver(answer) {
    if (answer.status === 200) {
      let closes = false;
      try {
        closes = decodePollDownload(/** @type {ArrayBuffer} */ (answer.bytes)).closeCode !== 0;
      } catch {
        // Malformed: the socket will bring the same messages, well formed or not.
      }
      if (closes) {
        this.deliver(/** @type {ArrayBuffer} */ (answer.bytes));
        return;
      }
    } else if (answer.status === 404 || answer.status === 410 || answer.status === 421) {
      this.refusedInSession(answer, 'get', () => {});
      return;
    }
    this.checkHandOver();
  }

  /**
   * Sends the next batch, if nothing is in flight and something is pending; while handing
   * over, only a batch that was not answered goes again.
   * @private
   */
  async flush() {
    if (this.readyState !== OPEN || this.session === null || this.posting || this.handingOver?.paused) return;
    const batch = this.outbox.nextBatch(this.session.maxBody, { takeWaiting: this.handingOver === null });
    if (batch === null) {
      this.checkHandOver();
      return;
    }
    if ('error' in batch) {
      this.fail(batch.error);
      return;
    }
    this.posting = true;
    const post = {};
    this.postingBatch = post;
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: encodePollUpload(batch.first, batch.messages),
    };
    let answer;
    try {
      answer = await this.request(this.sessionUrl, init, this.options.requestTimeoutMs, 'none');
    } catch {
      if (this.readyState === OPEN && this.postingBatch === post) this.retry('post', () => this.flush());
      return;
    }
    if (this.readyState !== OPEN || this.postingBatch !== post) return; // given up on: ignored
    if (answer.status !== 204 && answer.status !== 200) {
      this.refusedInSession(answer, 'post', () => this.flush());
      return;
    }
    this.posting = false;
    this.postingBatch = null;
    this.failures.post = 0;
    this.outbox.answered(batch.through);
    this.flush();
  }

  /**
   * Hands a GET answer's messages to the app: the new reliable ones in order, the snapshot,
   * then the close, if the session ended.
   * @private
   * @param {ArrayBuffer} body
   */
  deliver(body) {
    let download;
    try {
      download = decodePollDownload(body);
    } catch (error) {
      this.fail(`malformed polling answer: ${error.message}`);
      return;
    }
    const { first, messages } = download;
    for (let i = 0; i < messages.length; i++) {
      const seq = first + i;
      // Sent again because our acknowledgement had not reached the server: seen already.
      if (seq <= this.lastReliable) continue;
      if (seq !== this.lastReliable + 1) {
        this.fail(`reliable message ${this.lastReliable + 1} is missing (the answer starts at ${first})`);
        return;
      }
      this.lastReliable = seq;
      this.dispatchMessage(messages[i]);
      if (this.readyState !== OPEN) return;
    }
    if (download.snapshot !== null) {
      this.dispatchMessage(download.snapshot);
      if (this.readyState !== OPEN) return;
    }
    if (download.closeCode !== 0) this.finish(download.closeCode, download.closeReason, { wasClean: true });
  }

  /**
   * A GET or POST answered with an error status.
   * @private
   * @param {{status: number, text: string, nodeUrl: string | null}} answer
   * @param {'get' | 'post'} direction
   * @param {() => void} again
   */
  refusedInSession(answer, direction, again) {
    const { status } = answer;
    const said = answer.text ? `HTTP ${status}: ${answer.text}` : `HTTP ${status}`;
    if (status === 404 && direction === 'post') {
      // The session has ended: its GET brings the close code and reason (or a 404 of its own).
      // Posting stops for good (`posting` stays set).
    } else if (status === 404 || status === 410) {
      this.finish(1006, `polling session ended (${said})`, {});
    } else if (status === 421) {
      this.finish(1006, `the polling session lives on another node (${said})`, { nodeUrl: answer.nodeUrl });
    } else if (status === 409 || status === 429) {
      // An overlapping POST (ours, still being handled after a timeout) or a session whose queue
      // is full: send the same again shortly. Not a failure: the server is there and answering.
      this.retryAfter(this.options.retryDelaysMs[0] ?? 0, direction, again);
    } else if (status >= 500) {
      this.retry(direction, again);
    } else {
      this.fail(`polling refused (${said})`);
    }
  }

  /**
   * Retries a failed request after the next delay, or counts the connection lost.
   * @private
   * @param {'get' | 'post'} direction
   * @param {() => void} again
   */
  retry(direction, again) {
    const failures = this.failures[direction]++;
    const delays = this.options.retryDelaysMs;
    if (failures >= delays.length) {
      this.finish(1006, '', {});
      return;
    }
    this.retryAfter(delays[failures], direction, again);
  }

  /**
   * @private
   * @param {number} delayMs
   * @param {'get' | 'post'} direction
   * @param {() => void} again
   */
  retryAfter(delayMs, direction, again) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (direction === 'post') this.posting = false;
      again();
    }, delayMs);
    this.timers.set(timer, direction);
  }

  /**
   * A fetch with `cache: 'no-store'`, aborted after `timeoutMs` or when the session ends; the
   * body is read within the same time.
   * @private
   * @param {string} url
   * @param {RequestInit} init
   * @param {number} timeoutMs
   * @param {'bytes' | 'text' | 'none'} read what the caller needs of a 2xx body
   * @returns {Promise<{status: number, bytes: ArrayBuffer | null, text: string, nodeUrl: string | null}>}
   */
  async request(url, init, timeoutMs, read) {
    if (typeof this.fetchImpl !== 'function') throw new Error('no fetch');
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    this.inFlight.add(abort);
    try {
      const response = await this.fetchImpl(url, { ...init, cache: 'no-store', signal: abort.signal });
      const ok = response.status >= 200 && response.status < 300;
      const bytes = ok && read === 'bytes' ? await response.arrayBuffer() : null;
      const text = !ok || read === 'text' ? await response.text() : '';
      return {
        status: response.status,
        bytes,
        text: ok ? text : text.trim().slice(0, MAX_REASON_CHARS),
        nodeUrl: response.headers?.get?.(NODE_URL_HEADER) ?? null,
      };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(abort);
    }
  }

  /**
   * The session could not be opened; `reason` is the server's when it gave one.
   * @private
   * @param {number} status 0 when no answer came
   * @param {string} reason
   */
  refused(status, reason) {
    this.finish(1006, '', { refusal: { status, reason, fatal: status === 401 || status === 403 } });
  }

  /**
   * Ends the session on bytes or rules broken: an `error`, then a close carrying the reason.
   * @private
   * @param {string} reason
   */
  fail(reason) {
    if (this.readyState === CLOSED) return;
    this.dispatch('error', { type: 'error', message: reason });
    this.finish(1006, '', { error: reason });
  }

  /**
   * @private
   * @param {number} code
   * @param {string} reason
   * @param {{wasClean?: boolean, error?: string, refusal?: object, nodeUrl?: string | null}} details
   */
  finish(code, reason, details) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.stopRequests();
    this.endHandOver();
    this.dispatch('close', { type: 'close', code, reason, wasClean: false, ...details });
  }

  /**
   * A hand-over under way or paused cannot happen: the session is closing.
   * @private
   */
  endHandOver() {
    const handOver = this.handingOver;
    if (!handOver) return;
    this.handingOver = null;
    clearTimeout(handOver.timer);
    if (!handOver.paused) handOver.done(false);
  }

  /** @private */
  stopRequests() {
    for (const timer of this.timers.keys()) clearTimeout(timer);
    this.timers.clear();
    for (const abort of this.inFlight) abort.abort();
    this.inFlight.clear();
  }

  /**
   * @private
   * @param {Uint8Array} bytes
   */
  dispatchMessage(bytes) {
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    this.dispatch('message', { type: 'message', data });
  }

  /**
   * Calls the `on…` handler, then the listeners; one that throws is reported, not propagated
   * (as a browser does with event handlers).
   * @private
   * @param {string} type
   * @param {object} event
   */
  dispatch(type, event) {
    const handler = /** @type {any} */ (this)[`on${type}`];
    const listeners = [...(this.listeners.get(type) ?? [])];
    for (const listener of typeof handler === 'function' ? [handler, ...listeners] : listeners) {
      try {
        listener.call(this, event);
      } catch (error) {
        if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
        else console.error(error);
      }
    }
  }
}

/** @param {Uint8Array} bytes */
function isInput(bytes) {
  return bytes.length > 0 && bytes[0] === INPUT_VARIANT;
}

/**
 * A copy of what the app sent (it may reuse its buffer).
 * @param {ArrayBuffer | ArrayBufferView} data
 */
function copyBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw new TypeError('the polling transport sends binary messages only');
}
