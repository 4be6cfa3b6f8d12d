/**
 * Draws a frame on the canvas: the arena and its grid, orbs, bolts and ships (world space, the
 * camera on our ship), then the HUD (status, kill feed, scoreboard, minimap, network line, and a
 * banner while the connection is down). Chat is not drawn here: it is text from other people,
 * so it lives in the DOM (`chat.js`), where it is set with `textContent` and selectable.
 *
 * It reads the game's state and view and never changes them. It draws only what is on screen
 * (ships, bolts and orbs outside the visible rectangle are skipped before any canvas call) and
 * allocates little per frame: colours are cached per player, paths are batched (orbs, bolt
 * heads, the minimap's dots), so a thousand entities cost a few canvas calls plus the ones on
 * screen.
 *
 * Two layouts: wide (desktop) and compact (a small screen, e.g. a phone: smaller scoreboard,
 * kill feed and minimap in the corners, no network line, and the touch joystick drawn where
 * the thumb is). The network overlay (`Hud.showNet`) shows the connection's figures.
 */

import { PlayerFlags } from './protocol.js';
import { KILL_FEED_MS } from './game.js';

const BACKGROUND = '#05070d';
const ARENA_FLOOR = '#0a1020';
const GRID_MINOR = 'rgba(90, 130, 220, 0.13)';
const GRID_MAJOR = 'rgba(90, 130, 220, 0.22)';
const BORDER_GLOW = 'rgba(40, 220, 255, 0.22)';
const BORDER = '#2ee6ff';
const ORB_GLOW = 'rgba(255, 210, 90, 0.13)';
const ORB_CORE = '#ffd65a';
const TEXT = '#d8e2f5';
const TEXT_DIM = 'rgba(216, 226, 245, 0.55)';
const PANEL = 'rgba(8, 13, 26, 0.82)';
const HIGHLIGHT = 'rgba(46, 230, 255, 0.18)';
const FONT = '600 13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const SMALL_FONT = '500 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const TITLE_FONT = '700 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const GRID_STEP = 100;
const MAJOR_GRID_EVERY = 5;
/** World units kept visible across the smaller screen side before zooming out (phones). */
const MIN_VISIBLE_UNITS = 800;
const MINIMAP_WIDTH = 180;
const COMPACT_MINIMAP_WIDTH = 100;
/** A screen whose smaller side is below this (CSS pixels) gets the compact layout. */
const COMPACT_BELOW = 500;
/** Scoreboard rows in the compact layout (plus our own row if we are further down). */
const COMPACT_SCOREBOARD_ROWS = 3;
const COMPACT_KILL_FEED_ROWS = 3;
/** Radius of the drawn touch joystick (input.js moves the knob up to its rim). */
const JOYSTICK_BASE_RADIUS = 64;
/** How long the screen edge glows red after we are tagged. */
const TAGGED_FLASH_MS = 600;

/** Used before the Welcome tells the real arena. */
const DEFAULT_ARENA = {
  arena_width: 3000,
  arena_height: 2000,
  player_radius: 18,
  orb_radius: 8,
  bolt_radius: 5,
};

/** Status kinds → dot colour. */
const STATUS_COLOURS = {
  connecting: '#ffd65a',
  connected: '#3dff9a',
  reconnecting: '#ff9b3d',
  error: '#ff4d6d',
  failed: '#ff4d6d',
};
/** How ships of players whose connection dropped are drawn. */
const AWAY_ALPHA = 0.3;
const AWAY_TAG = 'reconnecting\u2026';
/** Title of the banner shown while our own connection is down, by status. */
const BANNER_TITLES = { reconnecting: 'CONNECTION LOST', connecting: 'CONNECTING' };

/**
 * @typedef {object} Hud What the HUD shows besides the game.
 * @property {string} status 'idle' (name screen) | 'connecting' | 'connected' | 'reconnecting'
 *   | 'error' (cannot connect; retrying would not help) | 'failed' (gave up reconnecting)
 * @property {string} statusText
 * @property {number | null} pingMs
 * @property {number} snapshotRate per second
 * @property {boolean} showNet whether the network overlay is shown
 * @property {import('./game.js').NetStats | null} net the overlay's figures
 * @property {number} bytesInPerSecond WebSocket message bytes received in the last second
 * @property {number} bytesOutPerSecond
 * @property {import('./input.js').Controls['touch']} touch where the touch controls are
 */

export class Renderer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { alpha: false }));
    /** CSS pixels. */
    this.width = 0;
    this.height = 0;
    this.pixelRatio = 1;
    /** World-to-CSS-pixel scale. */
    this.zoom = 1;
    this.framesDrawn = 0;
    /** Other ships drawn in the last frame (the rest were off screen). */
    this.shipsDrawn = 0;
    /** Small screen: see the module doc. */
    this.compact = false;
    /** @type {Map<number, {main: string, dark: string, glow: string}>} */
    this.colours = new Map();
  }

  /** Matches the backing store to the window and the device pixel ratio (cheap when unchanged). */
  fit() {
    const width = this.canvas.clientWidth || window.innerWidth;
    const height = this.canvas.clientHeight || window.innerHeight;
    const ratio = window.devicePixelRatio || 1;
    if (width === this.width && height === this.height && ratio === this.pixelRatio) return;
    this.width = width;
    this.height = height;
    this.pixelRatio = ratio;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.zoom = Math.min(1, Math.min(width, height) / MIN_VISIBLE_UNITS);
    this.compact = Math.min(width, height) < COMPACT_BELOW;
  }

  /**
   * Colours of a player, distinct per id (golden-angle hues), cached.
   * @param {number} id
   */
  colourOf(id) {
    let colour = this.colours.get(id);
    if (!colour) {
      const hue = playerHue(id);
      colour = {
        main: `hsl(${hue}, 95%, 62%)`,
        dark: `hsl(${hue}, 55%, 14%)`,
        glow: `hsla(${hue}, 95%, 62%, 0.16)`,
      };
      this.colours.set(id, colour);
    }
    return colour;
  }

  /**
   * Draws one frame.
   * @param {import('./game.js').Game} game
   * @param {ReturnType<import('./game.js').Game['computeView']>} view
   * @param {Hud} hud
   * @param {number} now ms, for animations
   */
  draw(game, view, hud, now) {
    this.fit();
    const ctx = this.ctx;
    const params = game.params ?? DEFAULT_ARENA;
    // Never show more than the server's view (it sends only what is near us): zoom in on a
    // screen larger than that.
    if (params.view_width > 0 && params.view_height > 0) {
      this.zoom = Math.max(this.zoom, this.width / params.view_width, this.height / params.view_height);
    }
    const zoom = this.zoom;
    const ratio = this.pixelRatio;

    this.shipsDrawn = 0;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.width, this.height);

    // World space: screen = (world - camera) * zoom + centre.
    const halfW = this.width / 2 / zoom;
    const halfH = this.height / 2 / zoom;
    const left = view.cameraX - halfW;
    const top = view.cameraY - halfH;
    const right = view.cameraX + halfW;
    const bottom = view.cameraY + halfH;
    ctx.setTransform(zoom * ratio, 0, 0, zoom * ratio, -left * zoom * ratio, -top * zoom * ratio);

    this.drawArena(params, left, top, right, bottom);
    this.drawOrbs(view.orbs, params, left, top, right, bottom, now);
    this.drawBolts(view, params, left, top, right, bottom);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    ctx.font = FONT;
    const margin = params.player_radius * 2 + 60;
    for (let i = 0; i < view.shipCount; i++) {
      const ship = view.ships[i];
      if (!isVisible(ship, left, top, right, bottom, margin)) continue;
      this.drawShip(ship, game.nameOf(ship.id), params.player_radius, false, now);
      this.shipsDrawn++;
    }
    if (view.me) this.drawShip(view.me, game.nameOf(view.me.id), params.player_radius, true, now);

    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.drawTaggedFlash(now - game.taggedAt);
    this.drawHud(game, view, hud, params, now);
    this.framesDrawn++;
  }

  /**
   * The arena floor, the visible part of its grid, and its glowing border. The last four
   * arguments are the visible world rectangle.
   * @param {{arena_width: number, arena_height: number}} params
   * @param {number} left
   * @param {number} top
   * @param {number} right
   * @param {number} bottom
   */
  drawArena(params, left, top, right, bottom) {
    const ctx = this.ctx;
    const w = params.arena_width;
    const h = params.arena_height;
    ctx.fillStyle = ARENA_FLOOR;
    ctx.fillRect(0, 0, w, h);

    const x0 = Math.max(0, Math.ceil(left / GRID_STEP)) * GRID_STEP;
    const x1 = Math.min(w, right);
    const y0 = Math.max(0, Math.ceil(top / GRID_STEP)) * GRID_STEP;
    const y1 = Math.min(h, bottom);
    const yFrom = Math.max(0, top);
    const xFrom = Math.max(0, left);
    for (let pass = 0; pass < 2; pass++) {
      const major = pass === 1;
      ctx.beginPath();
      for (let x = x0; x <= x1; x += GRID_STEP) {
        if ((x % (GRID_STEP * MAJOR_GRID_EVERY) === 0) !== major) continue;
        ctx.moveTo(x, yFrom);
        ctx.lineTo(x, y1);
      }
      for (let y = y0; y <= y1; y += GRID_STEP) {
        if ((y % (GRID_STEP * MAJOR_GRID_EVERY) === 0) !== major) continue;
        ctx.moveTo(xFrom, y);
        ctx.lineTo(x1, y);
      }
      ctx.strokeStyle = major ? GRID_MAJOR : GRID_MINOR;
      ctx.lineWidth = major ? 2 : 1;
      ctx.stroke();
    }

    ctx.strokeStyle = BORDER_GLOW;
    ctx.lineWidth = 14;
    ctx.strokeRect(0, 0, w, h);
    ctx.strokeStyle = BORDER;
    ctx.lineWidth = 3;
    ctx.strokeRect(0, 0, w, h);
  }

  /**
   * Visible orbs, pulsing, in two batched passes (glow, then core).
   * @param {{id: number, x: number, y: number}[]} orbs
   * @param {{orb_radius: number}} params
   * @param {number} left
   * @param {number} top
   * @param {number} right
   * @param {number} bottom
   * @param {number} now
   */
  drawOrbs(orbs, params, left, top, right, bottom, now) {
    const ctx = this.ctx;
    const r = params.orb_radius;
    const pad = r * 3;
    for (let pass = 0; pass < 2; pass++) {
      ctx.beginPath();
      for (let i = 0; i < orbs.length; i++) {
        const orb = orbs[i];
        if (orb.x < left - pad || orb.x > right + pad || orb.y < top - pad || orb.y > bottom + pad) {
          continue;
        }
        const pulse = 1 + 0.15 * Math.sin(now / 260 + orb.id * 1.7);
        const radius = pass === 0 ? r * 1.9 * pulse : r * 0.8 * pulse;
        ctx.moveTo(orb.x + radius, orb.y);
        ctx.arc(orb.x, orb.y, radius, 0, Math.PI * 2);
      }
      ctx.fillStyle = pass === 0 ? ORB_GLOW : ORB_CORE;
      ctx.fill();
    }
  }

  /**
   * Visible bolts: a short trail along their motion and a bright head, in the owner's colour.
   * @param {{bolts: import('./game.js').BoltView[], boltCount: number}} view
   * @param {{bolt_radius: number}} params
   * @param {number} left
   * @param {number} top
   * @param {number} right
   * @param {number} bottom
   */
  drawBolts(view, params, left, top, right, bottom) {
    const ctx = this.ctx;
    const r = params.bolt_radius;
    ctx.lineCap = 'round';
    // Trails in their owner's colour, then every head in one white path.
    ctx.globalAlpha = 0.45;
    ctx.lineWidth = r * 1.6;
    for (let i = 0; i < view.boltCount; i++) {
      const bolt = view.bolts[i];
      if (!isVisible(bolt, left, top, right, bottom, 60)) continue;
      ctx.strokeStyle = this.colourOf(bolt.owner).main;
      ctx.beginPath();
      ctx.moveTo(bolt.x - bolt.vx * 1.2, bolt.y - bolt.vy * 1.2);
      ctx.lineTo(bolt.x, bolt.y);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = '#ffffff';
    ctx.beginPath();
    for (let i = 0; i < view.boltCount; i++) {
      const bolt = view.bolts[i];
      if (!isVisible(bolt, left, top, right, bottom, 60)) continue;
      ctx.moveTo(bolt.x + r * 0.8, bolt.y);
      ctx.arc(bolt.x, bolt.y, r * 0.8, 0, Math.PI * 2);
    }
    ctx.fill();
  }

  /**
   * @param {import('./game.js').ShipView} ship
   * @param {string} name
   * @param {number} r
   * @param {boolean} isMe
   * @param {number} now
   */
  drawShip(ship, name, r, isMe, now) {
    const ctx = this.ctx;
    const colour = this.colourOf(ship.id);
    const isAway = (ship.flags & PlayerFlags.AWAY) !== 0;
    const isProtected = (ship.flags & PlayerFlags.PROTECTED) !== 0;
    let alpha = 1;
    if (isAway) alpha = AWAY_ALPHA;
    else if (isProtected) alpha = 0.35 + 0.15 * Math.sin(now / 80);
    ctx.globalAlpha = alpha;

    const cos = Math.cos(ship.aim);
    const sin = Math.sin(ship.aim);
    const { x, y } = ship;

    ctx.fillStyle = colour.glow;
    ctx.beginPath();
    ctx.arc(x, y, r * 1.7, 0, Math.PI * 2);
    ctx.fill();

    // Nose: a triangle pointing along the aim.
    const tip = r + 12;
    const base = r - 3;
    const half = r * 0.5;
    ctx.fillStyle = colour.main;
    ctx.beginPath();
    ctx.moveTo(x + cos * tip, y + sin * tip);
    ctx.lineTo(x + cos * base - sin * half, y + sin * base + cos * half);
    ctx.lineTo(x + cos * base + sin * half, y + sin * base - cos * half);
    ctx.closePath();
    ctx.fill();

    ctx.fillStyle = colour.dark;
    ctx.strokeStyle = colour.main;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();

    ctx.fillStyle = colour.main;
    ctx.beginPath();
    ctx.arc(x, y, r * 0.32, 0, Math.PI * 2);
    ctx.fill();

    if (isMe) {
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.75)';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(x, y, r + 6, 0, Math.PI * 2);
      ctx.stroke();
    }

    ctx.globalAlpha = isAway ? 0.75 : isProtected ? 0.6 : 1;
    ctx.lineWidth = 3;
    ctx.strokeStyle = BACKGROUND;
    ctx.strokeText(name, x, y - r - 12);
    ctx.fillStyle = isMe ? '#ffffff' : TEXT;
    ctx.fillText(name, x, y - r - 12);
    if (isAway) {
      // Under the ship, so it never covers the name; pulsing gently, like a loading dot.
      ctx.font = SMALL_FONT;
      ctx.globalAlpha = 0.6 + 0.25 * Math.sin(now / 250);
      ctx.strokeText(AWAY_TAG, x, y + r + 22);
      ctx.fillStyle = STATUS_COLOURS.reconnecting;
      ctx.fillText(AWAY_TAG, x, y + r + 22);
      ctx.font = FONT;
    }
    ctx.globalAlpha = 1;
  }

  /**
   * @param {import('./game.js').Game} game
   * @param {any} view
   * @param {Hud} hud
   * @param {any} params
   * @param {number} now
   */
  drawHud(game, view, hud, params, now) {
    const ctx = this.ctx;
    ctx.textBaseline = 'middle';

    if (hud.status === 'idle') return; // The name screen is showing.

    // Status, top left.
    ctx.font = FONT;
    ctx.textAlign = 'left';
    // Long texts (reasons come from the server) are squeezed rather than run under the scoreboard.
    const maxTextWidth = Math.max(160, this.width - 290);
    const statusWidth = Math.min(ctx.measureText(hud.statusText).width, maxTextWidth) + 34;
    ctx.fillStyle = PANEL;
    roundRect(ctx, 12, 12, statusWidth, 28, 8);
    ctx.fill();
    ctx.fillStyle = STATUS_COLOURS[hud.status] ?? TEXT;
    ctx.beginPath();
    ctx.arc(27, 26, 4.5, 0, Math.PI * 2);
    ctx.fill();
    ctx.fillStyle = TEXT;
    ctx.fillText(hud.statusText, 38, 26.5, maxTextWidth);

    if (!game.inGame) {
      this.drawWaiting(hud);
      return;
    }
    this.drawKillFeed(game, now);
    this.drawScoreboard(game);
    this.drawMinimap(view, params);
    if (hud.touch.used) this.drawTouchControls(hud.touch);
    if (hud.showNet && hud.net) this.drawNetOverlay(hud, hud.net);
    if (hud.status !== 'connected') this.drawConnectionBanner(hud, now);
    if (this.compact) return; // No room for the network line; the overlay has it all.

    // Network line, bottom left.
    ctx.font = SMALL_FONT;
    ctx.textAlign = 'left';
    ctx.fillStyle = TEXT_DIM;
    const ping = hud.pingMs === null ? '–' : `${Math.round(hud.pingMs)} ms`;
    const newest = game.snapshots[game.snapshots.length - 1];
    const players = newest ? ` · ${newest.message.players.length} players` : '';
    ctx.fillText(`ping ${ping} · ${hud.snapshotRate} snapshots/s${players} · N: network`, 14, this.height - 16);
  }

  /**
   * The network overlay, top middle: round trip, snapshots, interpolation, traffic, server.
   * @param {Hud} hud
   * @param {import('./game.js').NetStats} net
   */
  drawNetOverlay(hud, net) {
    const ctx = this.ctx;
    const width = 250;
    const lineHeight = 17;
    const lines = net.serverTickUs === null ? 5 : 6;
    const x = Math.max(8, (this.width - width) / 2);
    const y = this.compact ? 48 : 12;
    ctx.fillStyle = PANEL;
    roundRect(ctx, x, y, width, 26 + lines * lineHeight, 8);
    ctx.fill();
    ctx.font = TITLE_FONT;
    ctx.textAlign = 'left';
    ctx.fillStyle = TEXT_DIM;
    ctx.fillText('NETWORK', x + 12, y + 14);
    ctx.font = SMALL_FONT;
    ctx.fillStyle = TEXT;
    let row = y + 14 + lineHeight;
    const line = (/** @type {string} */ text) => {
      ctx.fillText(text, x + 12, row, width - 24);
      row += lineHeight;
    };
    line(`ping ${net.pingMs === null ? '–' : `${Math.round(net.pingMs)} ms`}`);
    line(`snapshots ${net.snapshotRate}/s · jitter ${Math.round(net.jitterMs)} ms`);
    line(`interpolation ${Math.round(net.delayMs)} ms (target ${Math.round(net.targetDelayMs)})`);
    line(`in ${formatRate(hud.bytesInPerSecond)} · out ${formatRate(hud.bytesOutPerSecond)}`);
    line(`render clock jumps ${net.snaps}`);
    if (net.serverTickUs !== null) line(`server tick ${(net.serverTickUs / 1000).toFixed(2)} ms`);
  }

  /**
   * The joystick under the left thumb (base and knob) and the firing touch, or a faint hint of
   * the joystick's place when no thumb is down.
   * @param {import('./input.js').Controls['touch']} touch
   */
  drawTouchControls(touch) {
    const ctx = this.ctx;
    const baseX = touch.stickActive ? touch.originX : 90;
    const baseY = touch.stickActive ? touch.originY : this.height - 110;
    ctx.globalAlpha = touch.stickActive ? 0.5 : 0.18;
    ctx.strokeStyle = BORDER;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(baseX, baseY, JOYSTICK_BASE_RADIUS, 0, Math.PI * 2);
    ctx.stroke();
    ctx.fillStyle = BORDER;
    ctx.beginPath();
    const knobX = touch.stickActive ? touch.knobX : baseX;
    const knobY = touch.stickActive ? touch.knobY : baseY;
    ctx.arc(knobX, knobY, 24, 0, Math.PI * 2);
    ctx.fill();
    if (touch.firing) {
      ctx.strokeStyle = STATUS_COLOURS.error;
      ctx.beginPath();
      ctx.arc(touch.fireX, touch.fireY, 30, 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  /**
   * While the connection is down the world on screen is frozen: say so across the middle, with
   * what is being done about it (the status text), so nobody keeps steering a still picture.
   * @param {Hud} hud
   * @param {number} now
   */
  drawConnectionBanner(hud, now) {
    const ctx = this.ctx;
    const y = this.height / 2 - 90;
    const title = BANNER_TITLES[hud.status] ?? 'DISCONNECTED';
    ctx.font = SMALL_FONT;
    const textWidth = ctx.measureText(hud.statusText).width;
    const width = Math.min(this.width - 24, Math.max(280, textWidth + 48));
    const x = (this.width - width) / 2;
    ctx.fillStyle = PANEL;
    roundRect(ctx, x, y - 30, width, 62, 10);
    ctx.fill();
    ctx.strokeStyle = STATUS_COLOURS[hud.status] ?? TEXT;
    ctx.globalAlpha = 0.55 + 0.3 * Math.sin(now / 300);
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.textAlign = 'center';
    ctx.font = TITLE_FONT;
    ctx.fillStyle = STATUS_COLOURS[hud.status] ?? TEXT;
    ctx.fillText(title, this.width / 2, y - 11);
    ctx.font = SMALL_FONT;
    ctx.fillStyle = TEXT;
    ctx.fillText(hud.statusText, this.width / 2, y + 12, width - 24);
  }

  /**
   * A red edge that fades out after we are tagged.
   * @param {number} age ms since the tag
   */
  drawTaggedFlash(age) {
    if (!(age >= 0 && age < TAGGED_FLASH_MS)) return;
    const ctx = this.ctx;
    ctx.globalAlpha = 1 - age / TAGGED_FLASH_MS;
    ctx.strokeStyle = STATUS_COLOURS.error;
    ctx.lineWidth = 16;
    ctx.strokeRect(0, 0, this.width, this.height);
    ctx.globalAlpha = 1;
  }

  /**
   * Between connections: the game's name and what is happening, in the middle.
   * @param {Hud} hud
   */
  drawWaiting(hud) {
    const ctx = this.ctx;
    const x = this.width / 2;
    const y = this.height / 2;
    ctx.textAlign = 'center';
    ctx.font = '800 40px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.fillStyle = BORDER;
    ctx.fillText('SKIRMISH', x, y - 24);
    ctx.font = FONT;
    const failed = hud.status === 'error' || hud.status === 'failed';
    ctx.fillStyle = failed ? STATUS_COLOURS.error : TEXT_DIM;
    ctx.fillText(hud.statusText, x, y + 18, this.width - 24);
  }

  /**
   * The last tags, top left, fading out; rows that involve us are highlighted.
   * @param {import('./game.js').Game} game
   * @param {number} now
   */
  drawKillFeed(game, now) {
    const ctx = this.ctx;
    ctx.font = SMALL_FONT;
    ctx.textAlign = 'left';
    let y = 58;
    const feed = game.killFeed;
    const first = this.compact ? Math.max(0, feed.length - COMPACT_KILL_FEED_ROWS) : 0;
    for (let i = first; i < feed.length; i++) {
      const entry = feed[i];
      const age = now - entry.at;
      if (age > KILL_FEED_MS) continue;
      const alpha = Math.min(1, (KILL_FEED_MS - age) / 800);
      ctx.globalAlpha = alpha;
      const shooterWidth = ctx.measureText(entry.shooter).width;
      const verb = '  tagged  ';
      const verbWidth = ctx.measureText(verb).width;
      const victimWidth = ctx.measureText(entry.victim).width;
      const mine = entry.shooterId === game.playerId || entry.victimId === game.playerId;
      ctx.fillStyle = mine ? 'rgba(46, 230, 255, 0.22)' : PANEL;
      roundRect(ctx, 12, y - 11, shooterWidth + verbWidth + victimWidth + 20, 22, 6);
      ctx.fill();
      ctx.fillStyle = this.colourOf(entry.shooterId).main;
      ctx.fillText(entry.shooter, 22, y);
      ctx.fillStyle = TEXT_DIM;
      ctx.fillText(verb, 22 + shooterWidth, y);
      ctx.fillStyle = this.colourOf(entry.victimId).main;
      ctx.fillText(entry.victim, 22 + shooterWidth + verbWidth, y);
      y += 26;
    }
    ctx.globalAlpha = 1;
  }

  /**
   * Top players by score, top right, our row highlighted (and shown below if not in the top).
   * @param {import('./game.js').Game} game
   */
  drawScoreboard(game) {
    const rows = game.scoreboard;
    if (rows.length === 0) return;
    const ctx = this.ctx;
    const width = this.compact ? 150 : 200;
    const rowHeight = this.compact ? 17 : 20;
    // Compact: the top few, and our own row (the last one when we are further down).
    const shown = this.compact ? Math.min(rows.length, COMPACT_SCOREBOARD_ROWS) : rows.length;
    const mineIndex = rows.findIndex((row) => row.id === game.playerId);
    const extra = this.compact && mineIndex >= shown ? 1 : 0;
    const x = this.width - width - 12;
    const y = 12;
    ctx.fillStyle = PANEL;
    roundRect(ctx, x, y, width, 30 + (shown + extra) * rowHeight, 8);
    ctx.fill();
    ctx.font = TITLE_FONT;
    ctx.textAlign = 'left';
    ctx.fillStyle = TEXT_DIM;
    ctx.fillText('SCOREBOARD', x + 12, y + 15);
    ctx.font = SMALL_FONT;
    for (let k = 0; k < shown + extra; k++) {
      const i = k < shown ? k : mineIndex;
      const row = rows[i];
      const rowY = y + 30 + k * rowHeight + rowHeight / 2;
      const isMe = row.id === game.playerId;
      // Our rank below the top rows is not known (the server sends the top only): a dash.
      const rank = isMe ? game.myRank || '–' : i + 1;
      if (isMe) {
        ctx.fillStyle = HIGHLIGHT;
        ctx.fillRect(x + 4, rowY - rowHeight / 2, width - 8, rowHeight);
      }
      // Players whose connection dropped keep their row, dimmed, until they are back or gone.
      ctx.globalAlpha = (row.flags & PlayerFlags.AWAY) !== 0 ? 0.45 : 1;
      ctx.textAlign = 'left';
      ctx.fillStyle = TEXT_DIM;
      ctx.fillText(`${rank}.`, x + 12, rowY);
      ctx.fillStyle = this.colourOf(row.id).main;
      ctx.fillText(game.nameOf(row.id), x + 38, rowY);
      ctx.textAlign = 'right';
      ctx.fillStyle = isMe ? '#ffffff' : TEXT;
      ctx.fillText(String(row.score), x + width - 12, rowY);
    }
    ctx.globalAlpha = 1;
  }

  /**
   * The whole arena, bottom right: orbs, ships, us, and the part the screen shows.
   * @param {any} view
   * @param {{arena_width: number, arena_height: number}} params
   */
  drawMinimap(view, params) {
    const ctx = this.ctx;
    const w = this.compact ? COMPACT_MINIMAP_WIDTH : MINIMAP_WIDTH;
    const scale = w / params.arena_width;
    const h = params.arena_height * scale;
    const x = this.width - w - 14;
    const y = this.height - h - 14;
    ctx.fillStyle = PANEL;
    ctx.fillRect(x, y, w, h);
    ctx.strokeStyle = 'rgba(46, 230, 255, 0.5)';
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);

    // One path per kind: a colour per ship would mean a colour change per dot.
    ctx.fillStyle = 'rgba(255, 214, 90, 0.55)';
    ctx.beginPath();
    for (let i = 0; i < view.orbs.length; i++) {
      const orb = view.orbs[i];
      ctx.rect(x + orb.x * scale - 0.75, y + orb.y * scale - 0.75, 1.5, 1.5);
    }
    ctx.fill();
    for (let pass = 0; pass < 2; pass++) {
      const away = pass === 1;
      ctx.fillStyle = away ? 'rgba(255, 120, 120, 0.3)' : 'rgba(255, 110, 140, 0.9)';
      ctx.beginPath();
      for (let i = 0; i < view.shipCount; i++) {
        const ship = view.ships[i];
        if (((ship.flags & PlayerFlags.AWAY) !== 0) !== away) continue;
        ctx.rect(x + ship.x * scale - 1.5, y + ship.y * scale - 1.5, 3, 3);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (view.me) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(x, y, w, h);
      ctx.clip();
      ctx.fillStyle = '#ffffff';
      ctx.beginPath();
      ctx.arc(x + view.me.x * scale, y + view.me.y * scale, 3, 0, Math.PI * 2);
      ctx.fill();
      // What the screen shows.
      const vw = (this.width / this.zoom) * scale;
      const vh = (this.height / this.zoom) * scale;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.35)';
      ctx.strokeRect(x + view.cameraX * scale - vw / 2, y + view.cameraY * scale - vh / 2, vw, vh);
      ctx.restore();
    }
  }
}

/**
 * Whether a point is within `pad` of the visible world rectangle.
 * @param {{x: number, y: number}} p
 * @param {number} left
 * @param {number} top
 * @param {number} right
 * @param {number} bottom
 * @param {number} pad
 */
function isVisible(p, left, top, right, bottom, pad) {
  return p.x >= left - pad && p.x <= right + pad && p.y >= top - pad && p.y <= bottom + pad;
}

/**
 * Bytes per second as text, e.g. "12.3 kB/s".
 * @param {number} bytesPerSecond
 */
function formatRate(bytesPerSecond) {
  if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
  if (bytesPerSecond < 1e6) return `${(bytesPerSecond / 1000).toFixed(1)} kB/s`;
  return `${(bytesPerSecond / 1e6).toFixed(2)} MB/s`;
}

/**
 * The hue (degrees) of a player's colour: golden-angle steps, so ids next to each other differ.
 * Shared with the chat, which writes names in the same colours.
 * @param {number} id
 */
export function playerHue(id) {
  return Math.round((id * 137.508 + 190) % 360);
}

/**
 * Starts a new path holding a rounded rectangle.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x
 * @param {number} y
 * @param {number} w
 * @param {number} h
 * @param {number} r corner radius
 */
function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}
