/**
 * The lobby on the name screen: the public rooms the server lists at `GET /rooms` (read, checked
 * and described here), kept fresh while the screen shows, each with a button to join it by id;
 * and the link that brings friends into a private room (`/?room=CODE`). On a cluster node the
 * list is the whole cluster's: each room names its node and the node's public URL, where it is
 * joined (a room's id is only unique on its node).
 *
 * It owns the list's data and its DOM rows and nothing else: it never opens a connection (the
 * page does, with the room request a row's button hands it) and never trusts what the server
 * sent beyond its shape (every field is checked, every string is set as text).
 */

import { isNodeUrl } from './route.js';

/** How often the list is fetched again while the lobby is shown. */
export const REFRESH_MS = 2000;
/** Rows shown at most; the server lists every public room. */
export const MAX_ROWS = 20;
/** Longest node name shown; a longer one is cut (it is a label, not an address). */
const MAX_NODE_CHARS = 32;

/**
 * @typedef {object} ListedRoom
 * @property {number} id
 * @property {string} mode
 * @property {number} players
 * @property {number} maxPlayers
 * @property {boolean} locked
 * @property {string | null} node the cluster node running it (null without a cluster)
 * @property {string | null} url that node's public URL, where to join it (null: this server)
 */

/**
 * The public rooms in a `/rooms` body, those with a well-formed line only, open rooms first
 * (fullest first: where quick play would go), then locked ones.
 * @param {unknown} body the parsed JSON
 * @returns {ListedRoom[]}
 */
export function parseRoomList(body) {
  const rooms = /** @type {any} */ (body)?.rooms;
  if (!Array.isArray(rooms)) return [];
  /** @type {ListedRoom[]} */
  const parsed = [];
  for (const room of rooms) {
    const whole = (/** @type {unknown} */ value) => Number.isSafeInteger(value) && /** @type {number} */ (value) >= 0;
    if (!room || !whole(room.id) || !whole(room.players) || !whole(room.max_players)) continue;
    if (typeof room.mode !== 'string' || typeof room.locked !== 'boolean') continue;
    const node = room.node ?? null;
    const url = room.url ?? null;
    if (node !== null && typeof node !== 'string') continue;
    // A room on a node whose address is not a bare http(s) origin cannot be joined safely.
    if (url !== null && !isNodeUrl(url)) continue;
    parsed.push({
      id: room.id,
      mode: room.mode,
      players: room.players,
      maxPlayers: room.max_players,
      locked: room.locked,
      node: node === null ? null : node.slice(0, MAX_NODE_CHARS),
      url,
    });
  }
  return parsed.sort(
    (a, b) =>
      Number(a.locked) - Number(b.locked) ||
      b.players - a.players ||
      a.id - b.id ||
      (a.node ?? '').localeCompare(b.node ?? ''),
  );
}

/**
 * How a room reads in the list, e.g. "Room 3 · arena · 12/64", on a cluster
 * "Room 3 · arena · 12/64 · node n2".
 * @param {ListedRoom} room
 */
export function describeRoom(room) {
  const full = room.locked ? ' · full' : '';
  const node = room.node ? ` · node ${room.node}` : '';
  return `Room ${room.id} · ${room.mode} · ${room.players}/${room.maxPlayers}${full}${node}`;
}

/**
 * The link that brings a friend into a private room: this page's address with `room=CODE`
 * and nothing personal (no name, no token).
 * @param {{origin: string, pathname: string}} location
 * @param {string} code
 */
export function inviteLink(location, code) {
  return `${location.origin}${location.pathname}?room=${encodeURIComponent(code)}`;
}

/**
 * The address to show once in a private room, so a reload or a copied address bar comes back
 * to it: `search` with `room` set to `code`, the rest (name, token) kept.
 * @param {string} search
 * @param {string} code
 */
export function searchWithRoom(search, code) {
  const params = new URLSearchParams(search);
  params.set('room', code);
  return `?${params}`;
}

/** The list of open rooms on the name screen, refreshed while it shows. */
export class RoomList {
  /**
   * @param {{list: HTMLElement, empty: HTMLElement}} elements
   * @param {(room: ListedRoom) => void} onJoin called when a row's button is pressed (the page
   *   joins the room by id on its node: `room.url`, else this server)
   * @param {typeof fetch} fetchImpl
   */
  constructor(elements, onJoin, fetchImpl) {
    this.elements = elements;
    this.onJoin = onJoin;
    this.fetchImpl = fetchImpl;
    /** @type {ListedRoom[]} the rooms shown now (test hook) */
    this.rooms = [];
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
  }

  /** Fetches the list now and every {@link REFRESH_MS} until {@link stop}. */
  start() {
    if (this.timer !== null) return;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  stop() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      const response = await this.fetchImpl('/rooms', { cache: 'no-store' });
      if (!response.ok) return;
      this.show(parseRoomList(await response.json()));
    } catch {
      // The server is away or not ours: keep what was shown; the next refresh tries again.
    }
  }

  /** @param {ListedRoom[]} rooms */
  show(rooms) {
    this.rooms = rooms;
    const rows = rooms.slice(0, MAX_ROWS).map((room) => this.row(room));
    this.elements.list.replaceChildren(...rows);
    this.elements.empty.hidden = rooms.length > 0;
  }

  /** @param {ListedRoom} room */
  row(room) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = describeRoom(room);
    const join = document.createElement('button');
    join.type = 'button';
    join.textContent = 'Join';
    join.dataset.room = String(room.id);
    if (room.node !== null) join.dataset.node = room.node;
    join.disabled = room.locked;
    join.addEventListener('click', () => this.onJoin(room));
    item.append(label, join);
    return item;
  }
}
