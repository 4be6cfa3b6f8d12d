/**
 * Draws a frame on the canvas: the arena and its grid, orbs, bolts and ships (world space, the
 * camera on our ship), the red edge after we are tagged, the touch joystick where the thumb is,
 * the game's name while between connections, and the minimap (the whole arena, on a canvas of
 * its own that the HUD's layout places). Text of the HUD (status, kill feed, scoreboard,
 * network overlay, notices) is not drawn here: it lives in page elements (`hud.js`), laid out
 * by the stylesheet so that none covers another; so does the chat (`chat.js`).
 *
 * It reads the game's state and view and never changes them. It draws only what is on screen
 * (ships, bolts and orbs outside the visible rectangle are skipped before any canvas call) and
 * allocates little per frame: colours are cached per player, paths are batched (orbs, bolt
 * heads, the minimap's dots), so a thousand entities cost a few canvas calls plus the ones on
 * screen.
 */

import { PlayerFlags } from './protocol.js';

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
const FONT = '600 13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const SMALL_FONT = '500 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const GRID_STEP = 100;
const MAJOR_GRID_EVERY = 5;
/** World units kept visible across the smaller screen side before zooming out (phones). */
const MIN_VISIBLE_UNITS = 800;
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

/** Colours of a connection's states (the HUD's status dot has the same, in `style.css`). */
const STATUS_COLOURS = {
  reconnecting: '#ff9b3d',
  error: '#ff4d6d',
};
/** How ships of players whose connection dropped are drawn. */
const AWAY_ALPHA = 0.3;
const AWAY_TAG = 'reconnecting\u2026';

/**
 * @typedef {object} Hud What the HUD shows besides the game (drawn here in part, the rest by
 *   `hud.js`).
 * @property {string} status 'idle' (name screen) | 'connecting' | 'connected' | 'reconnecting'
 *   | 'error' (cannot connect; retrying would not help) | 'failed' (gave up reconnecting)
 *   | 'removed' (kicked by the server: no reconnection)
 * @property {string} statusText
 * @property {number | null} pingMs
 * @property {number} snapshotRate per second
 * @property {boolean} showNet whether the network overlay is shown
 * @property {import('./game.js').NetStats | null} net the overlay's figures
 * @property {number} bytesInPerSecond WebSocket message bytes received in the last second
 * @property {number} bytesOutPerSecond
 * @property {import('./input.js').Controls['touch']} touch where the touch controls are
 * @property {string} node the host (and port) of the node played on, for the network overlay
 * @property {string} transport `websocket` or `polling`, for the network overlay
 */

export class Renderer {
  /**
   * @param {HTMLCanvasElement} canvas the whole window
   * @param {HTMLCanvasElement | null} [minimap] the minimap's own canvas, sized by the page's
   *   layout (its width; its height follows the arena's shape)
   */
  constructor(canvas, minimap = null) {
    this.canvas = canvas;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { alpha: false }));
    this.minimap = minimap;
    this.minimapCtx = minimap ? /** @type {CanvasRenderingContext2D} */ (minimap.getContext('2d')) : null;
    /** The minimap's size in CSS pixels, and the arena's size it was given the shape of. */
    this.minimapWidth = 0;
    this.minimapHeight = 0;
    this.minimapShape = { width: 0, height: 0 };
    /** CSS pixels. */
    this.width = 0;
    this.height = 0;
    this.pixelRatio = 1;
    /** World-to-CSS-pixel scale. */
    this.zoom = 1;
    this.framesDrawn = 0;
    /** Other ships drawn in the last frame (the rest were off screen). */
    this.shipsDrawn = 0;
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
  }

  /**
   * Gives the minimap the arena's shape and matches its backing store to the size the layout
   * gave it. Returns false when there is no minimap to draw (none, or hidden).
   * @param {{arena_width: number, arena_height: number}} params
   */
  fitMinimap(params) {
    const map = this.minimap;
    if (!map) return false;
    const shape = this.minimapShape;
    if (shape.width !== params.arena_width || shape.height !== params.arena_height) {
      shape.width = params.arena_width;
      shape.height = params.arena_height;
      map.style.aspectRatio = `${shape.width} / ${shape.height}`;
    }
    const width = map.clientWidth;
    const height = map.clientHeight;
    if (width === 0 || height === 0) return false;
    const backingWidth = Math.round(width * this.pixelRatio);
    const backingHeight = Math.round(height * this.pixelRatio);
    if (map.width !== backingWidth || map.height !== backingHeight) {
      map.width = backingWidth;
      map.height = backingHeight;
    }
    this.minimapWidth = width;
    this.minimapHeight = height;
    return true;
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
    if (hud.status !== 'idle' && !game.inGame) this.drawWaiting(hud);
    if (game.inGame && hud.touch.used) this.drawTouchControls(hud.touch);
    if (game.inGame && this.fitMinimap(params)) this.drawMinimap(view, params);
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
    ctx.textBaseline = 'middle';
    ctx.font = '800 40px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.fillStyle = BORDER;
    ctx.fillText('SKIRMISH', x, y - 24);
    ctx.font = FONT;
    const failed = hud.status === 'error' || hud.status === 'failed' || hud.status === 'removed';
    ctx.fillStyle = failed ? STATUS_COLOURS.error : TEXT_DIM;
    ctx.fillText(hud.statusText, x, y + 18, this.width - 24);
  }

  /**
   * The whole arena on the minimap's canvas: orbs, ships, us, and the part the screen shows.
   * @param {any} view
   * @param {{arena_width: number, arena_height: number}} params
   */
  drawMinimap(view, params) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (this.minimapCtx);
    const w = this.minimapWidth;
    const h = this.minimapHeight;
    const scale = w / params.arena_width;
    ctx.setTransform(this.pixelRatio, 0, 0, this.pixelRatio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = PANEL;
    ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = 'rgba(46, 230, 255, 0.5)';
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, w - 1, h - 1);

    // One path per kind: a colour per ship would mean a colour change per dot.
    ctx.fillStyle = 'rgba(255, 214, 90, 0.55)';
    ctx.beginPath();
    for (let i = 0; i < view.orbs.length; i++) {
      const orb = view.orbs[i];
      ctx.rect(orb.x * scale - 0.75, orb.y * scale - 0.75, 1.5, 1.5);
    }
    ctx.fill();
    for (let pass = 0; pass < 2; pass++) {
      const away = pass === 1;
      ctx.fillStyle = away ? 'rgba(255, 120, 120, 0.3)' : 'rgba(255, 110, 140, 0.9)';
      ctx.beginPath();
      for (let i = 0; i < view.shipCount; i++) {
        const ship = view.ships[i];
        if (((ship.flags & PlayerFlags.AWAY) !== 0) !== away) continue;
        ctx.rect(ship.x * scale - 1.5, ship.y * scale - 1.5, 3, 3);
      }
      ctx.fill();
    }
    if (view.me) {
      ctx.fillStyle = '#ffffff';
      ctx.beginPath();
      ctx.arc(view.me.x * scale, view.me.y * scale, 3, 0, Math.PI * 2);
      ctx.fill();
      // What the screen shows.
      const vw = (this.width / this.zoom) * scale;
      const vh = (this.height / this.zoom) * scale;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.35)';
      ctx.strokeRect(view.cameraX * scale - vw / 2, view.cameraY * scale - vh / 2, vw, vh);
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
 * The hue (degrees) of a player's colour: golden-angle steps, so ids next to each other differ.
 * Shared with the chat, which writes names in the same colours.
 * @param {number} id
 */
export function playerHue(id) {
  return Math.round((id * 137.508 + 190) % 360);
}
