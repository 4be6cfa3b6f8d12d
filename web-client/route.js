/**
 * Which cluster node the connection talks to next: the entry node (the one that served the
 * page), the node it plays on now, the redirects followed in a row, and the one-time seat ticket
 * a `Redirect` handed over. The WebSocket URL of another node is built only from the server's
 * `url` field parsed with `new URL` (an `http:` or `https:` origin, nothing else), keeping the
 * path and query (`/ws?token=...`) of the URL in use.
 *
 * The long-polling transport uses the same WebSocket URLs (it derives its HTTP endpoint from
 * them), so a polling session's node is validated by the same rules.
 *
 * It owns that routing state and nothing else: it never opens a socket, never reads the page's
 * `location` and never throws on what a server sent (a bad address is an error value).
 */

import { quickPlay } from './protocol.js';

/** Redirects followed in a row before a join gives up (a loop between nodes), as `src/client.rs`. */
export const MAX_REDIRECTS = 3;

/** Longest part of a bad node address quoted back in an error. */
const MAX_QUOTED_CHARS = 80;

/**
 * The WebSocket URL on the node whose public URL is `nodeUrl` (`http://h:p` → `ws://h:p`,
 * `https://h` → `wss://h`), with the path and query of `template` (e.g. `ws://a:1/ws?token=x`).
 * @param {unknown} nodeUrl what the server sent
 * @param {string} template the WebSocket URL in use
 * @returns {{ok: true, url: string} | {ok: false, error: string}}
 */
export function nodeSocketUrl(nodeUrl, template) {
  const quoted = JSON.stringify(String(nodeUrl).slice(0, MAX_QUOTED_CHARS));
  const refused = { ok: /** @type {false} */ (false), error: `the server named a bad node address ${quoted}` };
  if (typeof nodeUrl !== 'string') return refused;
  let node;
  let current;
  try {
    node = new URL(nodeUrl);
    current = new URL(template);
  } catch {
    return refused;
  }
  if (node.protocol !== 'http:' && node.protocol !== 'https:') return refused;
  if (node.username || node.password || node.search || node.hash || node.pathname !== '/') {
    return refused;
  }
  const scheme = node.protocol === 'https:' ? 'wss:' : 'ws:';
  return { ok: true, url: `${scheme}//${node.host}${current.pathname}${current.search}` };
}

/**
 * Whether `value` is a node's public URL that {@link nodeSocketUrl} accepts.
 * @param {unknown} value
 */
export function isNodeUrl(value) {
  return nodeSocketUrl(value, 'ws://node.invalid/ws').ok;
}

/**
 * How the network overlay names a node: the host (and port) of its WebSocket URL.
 * @param {string} socketUrl
 */
export function nodeLabel(socketUrl) {
  try {
    return new URL(socketUrl).host;
  } catch {
    return '';
  }
}

/**
 * @typedef {{url: unknown, ticket: number[] | null}} Redirect the server's `Redirect` message
 * @typedef {Record<string, any> & {type: string}} RoomRequest
 */

export class NodeRoute {
  /**
   * @param {string} entryUrl the WebSocket URL of the node that served the page
   * @param {string} [startUrl] where to connect first (a listed room's node), default the entry
   */
  constructor(entryUrl, startUrl = entryUrl) {
    /** Where to start over when the node we were sent to cannot be reached. */
    this.entryUrl = entryUrl;
    /** Where the next attempt connects: the node we play on, or were sent to. */
    this.url = startUrl;
    /** Redirects followed since the last Welcome or failed attempt. */
    this.redirects = 0;
    /** @type {number[] | null} the seat the last Redirect reserved, claimed by the next Join */
    this.ticket = null;
  }

  /** Whether the next attempt goes to another node than the page's own. */
  get away() {
    return this.url !== this.entryUrl;
  }

  /**
   * The room the next Join asks for: the reserved seat when a Redirect gave one, else `room`.
   * @param {RoomRequest} room
   * @returns {RoomRequest}
   */
  roomFor(room) {
    return this.ticket === null ? room : { type: 'Seat', value: this.ticket };
  }

  /**
   * Follows a Redirect: the next attempt goes to its node, with its ticket (if any).
   * @param {Redirect} redirect
   * @returns {{ok: true, url: string} | {ok: false, error: string, fatal: boolean}}
   */
  follow(redirect) {
    if (this.redirects >= MAX_REDIRECTS) {
      return { ok: false, error: `sent on more than ${MAX_REDIRECTS} times in a row`, fatal: false };
    }
    const target = nodeSocketUrl(redirect.url, this.url);
    // A node that names a bad address will name it again: retrying cannot help.
    if (!target.ok) return { ...target, fatal: true };
    this.redirects++;
    this.url = target.url;
    this.ticket = redirect.ticket;
    return target;
  }

  /**
   * A node answered that our session lives on another node (a polling request's 421, whose
   * header names it): the next attempt goes there. A bad address changes nothing.
   * @param {unknown} nodeUrl
   * @returns {{ok: true, url: string} | {ok: false, error: string}}
   */
  relocate(nodeUrl) {
    const target = nodeSocketUrl(nodeUrl, this.url);
    if (target.ok) {
      this.url = target.url;
      this.ticket = null;
    }
    return target;
  }

  /** A Welcome: the node we are on is where we come back to. */
  settled() {
    this.redirects = 0;
    this.ticket = null;
  }

  /**
   * An attempt failed before its Welcome. Away from the entry node, the next attempt starts over
   * there (with the same resume token): a room asked for by id is that node's, so it becomes
   * quick play.
   * @param {RoomRequest} room the room the connection asks for
   * @returns {RoomRequest} the room to ask for next
   */
  failed(room) {
    this.redirects = 0;
    this.ticket = null;
    if (!this.away) return room;
    this.url = this.entryUrl;
    return room.type === 'Id' ? quickPlay() : room;
  }
}
