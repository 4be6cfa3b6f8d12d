/**
 * The operator page's tables (rooms, players, nodes): one row per server record, kept by its
 * id from one `state` to the next so that buttons stay put under the pointer while the numbers
 * change. Cells are written with `textContent` only: names and codes come from players. Must
 * never use innerHTML, nor act on a click itself (a button calls back with its row's record).
 */

import { formatBytes, formatDuration, formatMicros, formatMillis } from './format.js';

/**
 * @template T
 * @typedef {object} Column
 * @property {string} title
 * @property {(record: T) => string} text
 * @property {boolean} [numeric] aligned right
 */

/**
 * @template T
 * @typedef {object} RowAction
 * @property {string} label the button's text
 * @property {string} className
 * @property {(record: T) => void} onClick
 */

/** @template T */
export class KeyedTable {
  /**
   * @param {HTMLTableElement} table
   * @param {HTMLElement} empty shown instead of the table when there is no row
   * @param {object} options
   * @param {Column<T>[]} options.columns
   * @param {RowAction<T>[]} [options.actions]
   * @param {(record: T) => string} options.keyOf
   */
  constructor(table, empty, { columns, actions = [], keyOf }) {
    this.table = table;
    this.empty = empty;
    this.columns = columns;
    this.actions = actions;
    this.keyOf = keyOf;
    this.body = table.tBodies[0] ?? table.createTBody();
    /** @type {Map<string, {row: HTMLTableRowElement, record: T}>} */
    this.rows = new Map();
    this.writeHead();
  }

  /** @private */
  writeHead() {
    const head = this.table.tHead ?? this.table.createTHead();
    const row = document.createElement('tr');
    for (const column of this.columns) {
      const th = document.createElement('th');
      th.textContent = column.title;
      if (column.numeric) th.className = 'num';
      row.append(th);
    }
    if (this.actions.length > 0) row.append(document.createElement('th'));
    head.replaceChildren(row);
  }

  /**
   * Shows `records` in this order; `classOf` names a row's extra class (e.g. `slow`).
   * @param {T[]} records
   * @param {(record: T) => string} [classOf]
   */
  update(records, classOf = () => '') {
    const seen = new Set();
    const ordered = records.map((record) => {
      const key = this.keyOf(record);
      seen.add(key);
      let entry = this.rows.get(key);
      if (!entry) {
        entry = { row: this.createRow(key), record };
        this.rows.set(key, entry);
      }
      entry.record = record;
      this.fillRow(entry.row, record, classOf(record));
      return entry.row;
    });
    for (const [key, { row }] of this.rows) {
      if (!seen.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    const current = [...this.body.children];
    if (current.length !== ordered.length || ordered.some((row, i) => current[i] !== row)) {
      this.body.append(...ordered);
    }
    this.table.hidden = records.length === 0;
    this.empty.hidden = records.length > 0;
  }

  /**
   * @private
   * @param {string} key
   */
  createRow(key) {
    const row = document.createElement('tr');
    row.dataset.key = key;
    for (const column of this.columns) {
      const cell = document.createElement('td');
      if (column.numeric) cell.className = 'num';
      row.append(cell);
    }
    if (this.actions.length > 0) {
      const cell = document.createElement('td');
      cell.className = 'actions';
      for (const action of this.actions) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = `small ${action.className}`;
        button.textContent = action.label;
        button.addEventListener('click', () => {
          const entry = this.rows.get(key);
          if (entry) action.onClick(entry.record);
        });
        cell.append(button);
      }
      row.append(cell);
    }
    return row;
  }

  /**
   * @private
   * @param {HTMLTableRowElement} row
   * @param {T} record
   * @param {string} extraClass
   */
  fillRow(row, record, extraClass) {
    this.columns.forEach((column, i) => {
      const text = column.text(record);
      const cell = row.cells[i];
      if (cell.textContent !== text) cell.textContent = text;
    });
    if (row.className !== extraClass) row.className = extraClass;
  }
}

/** @param {unknown} value */
const text = (value) => (value === null || value === undefined || value === '' ? '–' : String(value));

/**
 * The rooms table's columns.
 * @type {Column<any>[]}
 */
export const ROOM_COLUMNS = [
  { title: 'id', text: (r) => text(r.id), numeric: true },
  { title: 'mode', text: (r) => text(r.mode) },
  { title: 'access', text: (r) => (r.private ? `private ${r.code ?? ''}`.trim() : 'public') },
  { title: 'players', text: (r) => `${text(r.players)}/${text(r.max_players)}`, numeric: true },
  { title: 'tick', text: (r) => formatMicros(r.tick_us), numeric: true },
  { title: 'tick p99', text: (r) => formatMicros(r.tick_p99_us), numeric: true },
  { title: 'snapshot', text: (r) => formatBytes(r.snapshot_bytes), numeric: true },
  { title: 'age', text: (r) => formatDuration(r.age_s), numeric: true },
];

/**
 * The players table's columns.
 * @type {Column<any>[]}
 */
export const PLAYER_COLUMNS = [
  { title: 'id', text: (p) => text(p.id), numeric: true },
  { title: 'name', text: (p) => text(p.name) },
  { title: 'room', text: (p) => text(p.room), numeric: true },
  { title: 'transport', text: (p) => text(p.transport) },
  { title: 'rtt', text: (p) => formatMillis(p.rtt_ms), numeric: true },
  { title: 'skipped', text: (p) => text(p.skipped), numeric: true },
  { title: 'connected', text: (p) => formatDuration(p.connected_s), numeric: true },
  { title: 'peer', text: (p) => text(p.peer) },
];

/**
 * The nodes table's columns.
 * @type {Column<any>[]}
 */
export const NODE_COLUMNS = [
  { title: 'node', text: (n) => (n.me ? `${text(n.id)} (this one)` : text(n.id)) },
  { title: 'url', text: (n) => text(n.url) },
  { title: 'region', text: (n) => text(n.region) },
  { title: 'players', text: (n) => text(n.players), numeric: true },
  { title: 'rooms', text: (n) => text(n.rooms), numeric: true },
];

/**
 * The players in the order the operator wants them: the slowest readers first, in the server's
 * order, then the others by id.
 * @param {any[]} players
 * @param {number[]} slowest
 * @returns {any[]}
 */
export function slowestFirst(players, slowest) {
  const rank = new Map(slowest.map((id, i) => [id, i]));
  return [...players].sort((a, b) => {
    const ra = rank.get(a.id) ?? Infinity;
    const rb = rank.get(b.id) ?? Infinity;
    if (ra !== rb) return ra - rb;
    return a.id - b.id;
  });
}
