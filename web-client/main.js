/**
 * Wires the client together: the name screen, the connection and its status line, the game
 * state, the controls and the renderer, driven by one requestAnimationFrame loop. Also exposes
 * the read-only test hook `window.skirmish.state` that the browser test reads.
 *
 * It owns the session's lifecycle (join, welcome, errors, reconnection status) and nothing
 * else: no codec, no physics, no drawing of its own.
 */

import { validateName } from './protocol.js';
import { Connection, gameSocketUrl } from './net.js';
import { Game } from './game.js';
import { Renderer } from './render.js';
import { Controls } from './input.js';

/** Server error codes after which retrying cannot help: stop and tell the player. */
const FATAL_ERROR_CODES = new Set(['VersionMismatch', 'InvalidName']);
const NAME_STORAGE_KEY = 'skirmish.name';

const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('game'));
const nameScreen = /** @type {HTMLElement} */ (document.getElementById('name-screen'));
const nameForm = /** @type {HTMLFormElement} */ (document.getElementById('name-form'));
const nameInput = /** @type {HTMLInputElement} */ (document.getElementById('name-input'));
const nameError = /** @type {HTMLElement} */ (document.getElementById('name-error'));

/** Connection status shown in the HUD and read by the test hook. */
const session = {
  /** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'error' */
  status: 'idle',
  /** Why the last connection ended (server error message or close reason). */
  reason: '',
  /** The server's Error message for the current connection, if any: it explains the close. */
  serverError: /** @type {{code: string, message: string} | null} */ (null),
  welcomed: false,
};

let connection = /** @type {Connection | null} */ (null);
let playerName = '';
const game = new Game((message) => (connection ? connection.send(message) : false));
const renderer = new Renderer(canvas);
const controls = new Controls(canvas);
/** @type {import('./render.js').Hud} reused every frame */
const hud = { status: 'idle', statusText: '', pingMs: null, snapshotRate: 0 };

/**
 * Starts playing as `name`: connect, join, and keep reconnecting until a fatal error.
 * @param {string} name already validated
 */
function play(name) {
  playerName = name;
  try {
    localStorage.setItem(NAME_STORAGE_KEY, name);
  } catch {
    // Storage may be unavailable (private mode); remembering the name is only a convenience.
  }
  nameScreen.hidden = true;
  canvas.focus();
  controls.attach();
  session.status = 'connecting';
  session.reason = '';

  connection = new Connection(gameSocketUrl(location));
  connection.on('connect', () => {
    session.serverError = null;
    game.join(playerName);
  });
  connection.on('message', (message) => {
    if (message.type === 'Welcome') {
      session.welcomed = true;
      session.status = 'connected';
      connection.resetBackoff();
    } else if (message.type === 'Error') {
      session.serverError = { code: message.code, message: message.message };
      if (FATAL_ERROR_CODES.has(message.code)) fail(message);
    }
    game.handleMessage(message, performance.now());
  });
  const lost = (/** @type {string} */ reason) => {
    session.welcomed = false;
    session.status = 'reconnecting';
    session.reason = session.serverError ? session.serverError.message : reason;
    game.resetSession();
  };
  connection.on('disconnect', lost);
  connection.on('connect_error', lost);
  connection.start();
}

/**
 * Stops for good after a server error that retrying cannot fix.
 * @param {{code: string, message: string}} error
 */
function fail(error) {
  connection.stop();
  session.status = 'error';
  session.welcomed = false;
  session.reason = error.message || error.code;
  if (error.code === 'VersionMismatch') session.reason += ' – reload the page for the new version';
  game.resetSession();
  if (error.code === 'InvalidName') {
    controls.detach();
    showNameScreen(playerName, `The server refused this name: ${session.reason}`);
  }
}

/** @param {number} now */
function statusText(now) {
  switch (session.status) {
    case 'connecting':
      return 'connecting…';
    case 'connected':
      return game.pingMs === null
        ? `connected as ${playerName}`
        : `connected as ${playerName} · ${Math.round(game.pingMs)} ms`;
    case 'reconnecting': {
      const seconds = Math.max(0, Math.ceil(((connection && connection.retryAt) - now) / 1000));
      const why = session.reason ? ` (${session.reason})` : '';
      return connection && connection.retryAt
        ? `disconnected${why} – reconnecting in ${seconds} s`
        : `disconnected${why} – reconnecting…`;
    }
    case 'error':
      return `error: ${session.reason}`;
    default:
      return 'choose a name';
  }
}

/** @param {number} now */
function frame(now) {
  const centreX = renderer.width / 2;
  const centreY = renderer.height / 2;
  game.update(now, controls.sample(centreX, centreY));
  const view = game.computeView(now);
  hud.status = session.status;
  hud.statusText = statusText(now);
  hud.pingMs = game.pingMs;
  hud.snapshotRate = game.snapshotRate(now);
  renderer.draw(game, view, hud, now);
  requestAnimationFrame(frame);
}

/**
 * @param {string} value prefilled name
 * @param {string} [error]
 */
function showNameScreen(value, error = '') {
  nameInput.value = value;
  nameError.textContent = error;
  nameScreen.hidden = false;
  nameInput.focus();
  nameInput.select();
}

nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const checked = validateName(nameInput.value);
  if (!checked.ok) {
    nameError.textContent = checked.error;
    return;
  }
  play(checked.name);
});

Object.defineProperty(window, 'skirmish', {
  value: Object.freeze({
    /** A fresh read-only copy of what the browser test checks. */
    get state() {
      return {
        connected: session.welcomed && !!connection && connection.isOpen,
        status: session.status,
        statusText: statusText(performance.now()),
        framesDrawn: renderer.framesDrawn,
        ...game.testState(),
      };
    },
  }),
});

const requested = new URLSearchParams(location.search).get('name');
const requestedName = requested === null ? null : validateName(requested);
if (requestedName && requestedName.ok) {
  play(requestedName.name);
} else {
  let remembered = '';
  try {
    remembered = localStorage.getItem(NAME_STORAGE_KEY) ?? '';
  } catch {
    // No storage: start with an empty name.
  }
  showNameScreen(requested ?? remembered, requestedName ? requestedName.error : '');
}
requestAnimationFrame(frame);
