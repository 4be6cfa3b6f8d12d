/**
 * The HUD as elements of the page, over the canvas: the status line, the kill feed, the
 * scoreboard with our rank ("you: 23rd of 41") and the room's head count ("7 nearby · 41 in
 * room"), the network overlay and line, who just tagged us ("Tagged by Alice"), and the banner
 * while our connection is down.
 *
 * It owns those elements' text and visibility, and nothing else: where they go is the
 * stylesheet's (`style.css` lays the HUD out on a grid where every element has an area of its
 * own, so that none covers another at any screen size), the world and the minimap are the
 * canvas's (`render.js`), the chat is `chat.js`'s. It reads the game and never changes it.
 * Names come from other players: they reach the page through `textContent` only, never as
 * HTML. Text is written only when it changed, so a frame where nothing changed touches nothing.
 */

import { PlayerFlags } from './protocol.js';
import { KILL_FEED_MS } from './game.js';
import { playerHue } from './render.js';

/**
 * The screens that get the compact HUD (a phone: fewer scoreboard and feed rows, smaller text,
 * no network line). `style.css` holds the same query; keep the two alike.
 */
export const COMPACT_QUERY = '(max-width: 499.98px), (max-height: 499.98px)';
/** How long "Tagged by …" stays up after we are tagged, the last part of it fading (ms). */
export const TAGGED_NOTICE_MS = 3000;
const TAGGED_FADE_MS = 600;
/** A kill feed row fades out over its last part (ms). */
const FEED_FADE_MS = 800;
/** Title of the banner shown while our own connection is down, by status. */
const BANNER_TITLES = { reconnecting: 'CONNECTION LOST', connecting: 'CONNECTING' };

/**
 * `n` as an English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 101st, 111th.
 * @param {number} n a whole number
 */
export function ordinal(n) {
  const lastTwo = n % 100;
  if (lastTwo >= 11 && lastTwo <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

/**
 * Our place in the room, e.g. "you: 23rd of 41" ("you: – of 41" before it is known).
 * @param {number} rank 1-based, 0 if not known
 * @param {number} playersInRoom
 */
export function rankLine(rank, playersInRoom) {
  return `you: ${rank > 0 ? ordinal(rank) : '–'} of ${playersInRoom}`;
}

/**
 * Who is around, e.g. "7 nearby · 41 in room": other ships near us, everyone in the room.
 * @param {number} nearby
 * @param {number} playersInRoom
 */
export function headCountLine(nearby, playersInRoom) {
  return `${nearby} nearby · ${playersInRoom} in room`;
}

/** @param {string} name */
export function taggedByLine(name) {
  return `Tagged by ${name}`;
}

/**
 * Sets an element's text if it differs.
 * @param {HTMLElement} element
 * @param {string} text
 */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Shows or hides an element if it is not already so.
 * @param {HTMLElement} element
 * @param {boolean} shown
 */
function show(element, shown) {
  if (element.hidden === shown) element.hidden = !shown;
}

/**
 * Sets an element's opacity (two decimals) if it differs.
 * @param {HTMLElement} element
 * @param {number} opacity 0..1
 */
function setOpacity(element, opacity) {
  const value = opacity >= 1 ? '' : opacity.toFixed(2);
  if (element.style.opacity !== value) element.style.opacity = value;
}

/**
 * @param {HTMLElement} span
 * @param {number} id
 */
function colourByPlayer(span, id) {
  span.style.color = `hsl(${playerHue(id)}, 95%, 62%)`;
}

/** One scoreboard row as last written, to tell whether it changed. */
class BoardRow {
  /** @param {Document} doc */
  constructor(doc) {
    this.element = doc.createElement('li');
    this.rank = doc.createElement('span');
    this.rank.className = 'rank';
    this.name = doc.createElement('span');
    this.name.className = 'name';
    this.score = doc.createElement('span');
    this.score.className = 'score';
    this.element.append(this.rank, this.name, this.score);
    this.id = -1;
  }

  /**
   * @param {number} rank
   * @param {number} id
   * @param {string} name
   * @param {number} score
   * @param {boolean} away
   * @param {boolean} mine
   * @param {boolean} below the top rows (our own row, further down)
   */
  write(rank, id, name, score, away, mine, below) {
    setText(this.rank, rank > 0 ? `${rank}.` : '–.');
    setText(this.name, name);
    setText(this.score, String(score));
    if (this.id !== id) {
      this.id = id;
      colourByPlayer(this.name, id);
    }
    this.element.classList.toggle('away', away);
    this.element.classList.toggle('mine', mine);
    this.element.classList.toggle('below', below);
  }
}

/** The HUD's elements and what they show; see the module documentation. */
export class HudView {
  /** @param {Document} doc */
  constructor(doc) {
    this.doc = doc;
    const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (doc.getElementById(id));
    this.root = byId('hud');
    this.status = byId('hud-status');
    this.statusText = byId('hud-status-text');
    this.feed = byId('hud-feed');
    this.board = byId('hud-board');
    this.boardRows = byId('hud-board-rows');
    this.rank = byId('hud-rank');
    this.headCount = byId('hud-head-count');
    this.net = byId('hud-net');
    this.netLines = [...this.net.querySelectorAll('.line')].map((e) => /** @type {HTMLElement} */ (e));
    this.netLine = byId('hud-netline');
    this.tagged = byId('hud-tagged');
    this.banner = byId('hud-banner');
    this.bannerTitle = byId('hud-banner-title');
    this.bannerText = byId('hud-banner-text');
    /** @type {BoardRow[]} */
    this.rows = [];
    /**
     * The feed entries shown: each one's row and the last update that found it live.
     * @type {Map<object, {row: HTMLElement, frame: number}>}
     */
    this.feedRows = new Map();
    this.feedFrame = 0;
  }

  /**
   * Brings every element up to date for this frame.
   * @param {import('./game.js').Game} game
   * @param {import('./render.js').Hud} hud
   * @param {number} now ms
   */
  update(game, hud, now) {
    show(this.root, hud.status !== 'idle');
    if (hud.status === 'idle') return; // The name screen is showing.
    this.root.classList.toggle('in-game', game.inGame);
    if (this.status.dataset.status !== hud.status) this.status.dataset.status = hud.status;
    setText(this.statusText, hud.statusText);
    const showNet = game.inGame && hud.showNet && hud.net !== null;
    show(this.net, showNet);
    if (showNet) this.writeNet(hud, /** @type {import('./game.js').NetStats} */ (hud.net));
    show(this.banner, game.inGame && hud.status !== 'connected');
    if (!game.inGame) return;
    this.writeBoard(game);
    this.writeFeed(game, now);
    this.writeTagged(game, now);
    const ping = hud.pingMs === null ? '–' : `${Math.round(hud.pingMs)} ms`;
    setText(this.netLine, `ping ${ping} · ${hud.snapshotRate} snapshots/s · N: network`);
    if (hud.status !== 'connected') {
      setText(this.bannerTitle, BANNER_TITLES[hud.status] ?? 'DISCONNECTED');
      setText(this.bannerText, hud.statusText);
    }
  }

  /**
   * The top rows, ours highlighted (and below them when further down), our rank and the
   * room's head count.
   * @param {import('./game.js').Game} game
   */
  writeBoard(game) {
    const rows = game.scoreboard;
    show(this.board, rows.length > 0);
    while (this.rows.length < rows.length) {
      const row = new BoardRow(this.doc);
      this.rows.push(row);
      this.boardRows.append(row.element);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      show(row.element, i < rows.length);
      if (i >= rows.length) continue;
      const { id, score, flags } = rows[i];
      const mine = id === game.playerId;
      // Our own row comes last when we are below the top rows: its rank is ours, not i + 1.
      const below = mine && i === rows.length - 1 && game.myRank > i + 1;
      const rank = mine ? game.myRank : i + 1;
      row.write(rank, id, game.nameOf(id), score, (flags & PlayerFlags.AWAY) !== 0, mine, below);
    }
    setText(this.rank, rankLine(game.myRank, game.playersInRoom));
    setText(this.headCount, headCountLine(game.nearby, game.playersInRoom));
  }

  /**
   * The last tags, newest at the bottom, fading out; rows that involve us are highlighted.
   * @param {import('./game.js').Game} game
   * @param {number} now
   */
  writeFeed(game, now) {
    const frame = ++this.feedFrame;
    for (const entry of game.killFeed) {
      const age = now - entry.at;
      if (age > KILL_FEED_MS) continue;
      let shown = this.feedRows.get(entry);
      if (!shown) {
        const mine = entry.shooterId === game.playerId || entry.victimId === game.playerId;
        shown = { row: this.feedRow(entry, mine), frame };
        this.feedRows.set(entry, shown);
        this.feed.append(shown.row);
      }
      shown.frame = frame;
      setOpacity(shown.row, Math.min(1, (KILL_FEED_MS - age) / FEED_FADE_MS));
    }
    for (const [entry, shown] of this.feedRows) {
      if (shown.frame === frame) continue;
      shown.row.remove();
      this.feedRows.delete(entry);
    }
  }

  /**
   * @param {{shooter: string, victim: string, shooterId: number, victimId: number}} entry
   * @param {boolean} mine
   */
  feedRow(entry, mine) {
    const row = this.doc.createElement('li');
    if (mine) row.className = 'mine';
    const add = (/** @type {string} */ className, /** @type {string} */ text) => {
      const span = this.doc.createElement('span');
      span.className = className;
      span.textContent = text;
      row.append(span);
      return span;
    };
    colourByPlayer(add('name', entry.shooter), entry.shooterId);
    add('verb', ' tagged ');
    colourByPlayer(add('name', entry.victim), entry.victimId);
    return row;
  }

  /**
   * "Tagged by Alice" for a moment after we are tagged.
   * @param {import('./game.js').Game} game
   * @param {number} now
   */
  writeTagged(game, now) {
    const by = game.taggedBy;
    const age = by ? now - by.at : Infinity;
    const shown = by !== null && age >= 0 && age < TAGGED_NOTICE_MS;
    show(this.tagged, shown);
    if (!shown || by === null) return;
    setText(this.tagged, taggedByLine(by.name));
    setOpacity(this.tagged, Math.min(1, (TAGGED_NOTICE_MS - age) / TAGGED_FADE_MS));
  }

  /**
   * The network overlay: round trip, snapshots, interpolation, traffic, the server's tick, and
   * the node played on and the transport (WebSocket or long polling).
   * @param {import('./render.js').Hud} hud
   * @param {import('./game.js').NetStats} net
   */
  writeNet(hud, net) {
    const texts = [
      `ping ${net.pingMs === null ? '–' : `${Math.round(net.pingMs)} ms`}`,
      `snapshots ${net.snapshotRate}/s · jitter ${Math.round(net.jitterMs)} ms`,
      `interpolation ${Math.round(net.delayMs)} ms (target ${Math.round(net.targetDelayMs)})`,
      `in ${formatRate(hud.bytesInPerSecond)} · out ${formatRate(hud.bytesOutPerSecond)}`,
      `render clock jumps ${net.snaps}`,
      net.serverTickUs === null ? '' : `server tick ${(net.serverTickUs / 1000).toFixed(2)} ms`,
      hud.node ? `node ${hud.node}` : '',
      hud.transport ? `transport ${hud.transport}` : '',
    ];
    for (let i = 0; i < this.netLines.length; i++) {
      const text = texts[i] ?? '';
      setText(this.netLines[i], text);
      show(this.netLines[i], text !== '');
    }
  }
}

/**
 * Bytes per second as text, e.g. "12.3 kB/s".
 * @param {number} bytesPerSecond
 */
export function formatRate(bytesPerSecond) {
  if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
  if (bytesPerSecond < 1e6) return `${(bytesPerSecond / 1000).toFixed(1)} kB/s`;
  return `${(bytesPerSecond / 1e6).toFixed(2)} MB/s`;
}
