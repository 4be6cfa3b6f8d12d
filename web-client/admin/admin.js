/**
 * The operator's page, wired together (docs/ADMIN.md): where the token comes from (the form,
 * or the address's `#token=` fragment, then this tab's sessionStorage), the socket's life as
 * the header tells it (signed out, connecting, live, closed and retrying), the `hello` and
 * `state` messages shown in the header and tables, and the test hook `window.skirmishAdmin`.
 * The numbers and charts live in live.js, the actions in actions.js. Must never keep the token
 * in the address or in localStorage, nor write server text other than as text.
 */

import { ActionDesk } from './actions.js';
import { LiveView } from './live.js';
import { AdminSocket, adminSocketUrl, CLOSE_TOO_MANY_ATTEMPTS, CLOSE_UNAUTHORIZED } from './socket.js';
import { KeyedTable, NODE_COLUMNS, PLAYER_COLUMNS, ROOM_COLUMNS, slowestFirst } from './tables.js';

/** This tab's token, for a reload (sessionStorage: gone with the tab). */
const TOKEN_KEY = 'skirmish.admin.token';
/** The operator's name, remembered across visits (localStorage: it is no secret). */
const OPERATOR_KEY = 'skirmish.admin.operator';
/** Who acts when the token came in the address and no name was ever typed. */
const DEFAULT_OPERATOR = 'operator';
const MAX_OPERATOR_CHARS = 32;
const CONTROL_CHAR = /\p{Cc}/u;

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** What the page shows now; the test hook copies it. */
const view = {
  /** @type {'login' | 'connecting' | 'live' | 'closed'} */
  status: 'login',
  statusText: 'not signed in',
  /** @type {number | null} the last close's code */
  closeCode: null,
  closeReason: '',
  loginError: '',
  operator: '',
  /** @type {any} */
  hello: null,
  /** @type {any} the last `state` */
  state: { rooms: [], players: [], slowest: [], nodes: [] },
  statesReceived: 0,
};

/** @type {AdminSocket | null} */
let socket = null;
const live = new LiveView();
const desk = new ActionDesk((action) => (socket ? socket.send(action) : null));
const tables = {
  rooms: new KeyedTable(/** @type {HTMLTableElement} */ (byId('rooms-table')), byId('rooms-empty'), {
    columns: ROOM_COLUMNS,
    keyOf: (room) => String(room.id),
    actions: [{ label: 'close', className: 'danger close-room', onClick: (room) => desk.askCloseRoom(room) }],
  }),
  players: new KeyedTable(/** @type {HTMLTableElement} */ (byId('players-table')), byId('players-empty'), {
    columns: PLAYER_COLUMNS,
    keyOf: (player) => String(player.id),
    actions: [{ label: 'kick', className: 'danger kick', onClick: (player) => desk.askKick(player) }],
  }),
  nodes: new KeyedTable(/** @type {HTMLTableElement} */ (byId('nodes-table')), byId('nodes-empty'), {
    columns: NODE_COLUMNS,
    keyOf: (node) => String(node.id),
  }),
};

// ---- Credentials ------------------------------------------------------------------------------

/**
 * The token from the address's `#token=...` (with `&operator=...` if given), taken out of the
 * address at once so it stays in no history entry, bookmark or screenshot.
 * @returns {{token: string, operator: string | null} | null}
 */
function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = fragment.get('token');
  if (token === null) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return { token, operator: fragment.get('operator') };
}

/** @param {Storage} storage @param {string} key */
function read(storage, key) {
  try {
    return storage.getItem(key);
  } catch {
    return null; // storage refused (a private window's settings): the form asks again
  }
}

/** @param {Storage} storage @param {string} key @param {string | null} value null removes it */
function write(storage, key, value) {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, value);
  } catch {
    // As above: only a reload loses it.
  }
}

/**
 * Checks an operator's name: 1 to 32 characters, no control characters.
 * @param {string} raw
 * @returns {{ok: true, name: string} | {ok: false, error: string}}
 */
export function checkOperator(raw) {
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0 || length > MAX_OPERATOR_CHARS) return { ok: false, error: `operator: 1 to ${MAX_OPERATOR_CHARS} characters` };
  if (CONTROL_CHAR.test(name)) return { ok: false, error: 'operator: no control characters' };
  return { ok: true, name };
}

// ---- The socket's life, as the page shows it -------------------------------------------------

/**
 * @param {'login' | 'connecting' | 'live' | 'closed'} status
 * @param {string} text
 */
function setStatus(status, text) {
  view.status = status;
  view.statusText = text;
  byId('connection').dataset.status = status;
  byId('connection-text').textContent = text;
  byId('login').hidden = status !== 'login';
  byId('live').hidden = status === 'login' || view.hello === null;
  byId('logout').hidden = status === 'login';
  byId('live').classList.toggle('stale', status !== 'live');
}

/**
 * Shows the form, with why if there is a reason.
 * @param {string} error
 */
function showLogin(error) {
  view.loginError = error;
  view.hello = null;
  setStatus('login', error ? `refused: ${error}` : 'not signed in');
  byId('login-error').textContent = error;
  byId('node-info').hidden = true;
  const operator = read(localStorage, OPERATOR_KEY) ?? view.operator;
  /** @type {HTMLInputElement} */ (byId('login-operator')).value = operator;
  /** @type {HTMLInputElement} */ (byId('login-token')).value = '';
  byId(operator ? 'login-token' : 'login-operator').focus();
}

/**
 * Opens the socket with these credentials (closing any other).
 * @param {string} token
 * @param {string} operator
 */
function connect(token, operator) {
  socket?.stop();
  view.operator = operator;
  byId('info-operator').textContent = operator;
  socket = new AdminSocket({
    url: adminSocketUrl(location),
    token,
    operator,
    events: {
      connecting: (attempt) => setStatus('connecting', attempt > 1 ? `connecting (attempt ${attempt})…` : 'connecting…'),
      hello: showHello,
      sample: (sample) => live.add(sample),
      state: showState,
      result: (result) => desk.received(result),
      refused: refused,
      closed: (code, reason, retryInMs) => {
        view.closeCode = code;
        view.closeReason = reason;
        countDown(reason ? `${code} ${reason}` : `${code}`, performance.now() + retryInMs);
      },
    },
  });
  socket.start();
}

/** The timer that counts down to the next attempt in the header. */
let countdown = null;

/**
 * Says the socket is lost and when the next attempt comes, each second until it does.
 * @param {string} why the close's code and reason
 * @param {number} retryAt performance.now() of the next attempt
 */
function countDown(why, retryAt) {
  const tell = () => {
    if (view.status !== 'closed' && countdown !== null) {
      clearInterval(countdown);
      countdown = null;
      return;
    }
    const seconds = Math.max(0, Math.ceil((retryAt - performance.now()) / 1000));
    setStatus('closed', `connection lost (${why}): reconnecting in ${seconds} s`);
  };
  if (countdown !== null) clearInterval(countdown);
  countdown = null;
  tell();
  countdown = setInterval(tell, 1000);
}

/**
 * The server refused the token (4401) or this address's attempts (4429): the form again.
 * @param {number} code
 * @param {string} reason
 */
function refused(code, reason) {
  view.closeCode = code;
  view.closeReason = reason;
  socket = null;
  write(sessionStorage, TOKEN_KEY, null);
  if (code === CLOSE_UNAUTHORIZED) showLogin('wrong token');
  else if (code === CLOSE_TOO_MANY_ATTEMPTS) showLogin('too many attempts, wait a minute before trying again');
  else showLogin(reason || `closed with ${code}`);
}

/** @param {any} hello */
function showHello(hello) {
  view.hello = hello;
  view.closeCode = null;
  view.closeReason = '';
  byId('info-node').textContent = String(hello.node ?? '–');
  byId('info-version').textContent = String(hello.version ?? '–');
  byId('info-protocol').textContent = String(hello.protocol ?? '–');
  byId('info-cluster').textContent = hello.cluster ? 'yes' : 'no';
  byId('node-info').hidden = false;
  document.title = `Skirmish admin · ${hello.node ?? ''}`;
  setStatus('live', 'live');
  live.begin(hello);
}

/** @param {any} state */
function showState(state) {
  view.state = {
    rooms: Array.isArray(state.rooms) ? state.rooms : [],
    players: Array.isArray(state.players) ? state.players : [],
    slowest: Array.isArray(state.slowest) ? state.slowest : [],
    nodes: Array.isArray(state.nodes) ? state.nodes : [],
  };
  view.statesReceived += 1;
  const slow = new Set(view.state.slowest);
  tables.rooms.update(view.state.rooms);
  tables.players.update(slowestFirst(view.state.players, view.state.slowest), (p) => (slow.has(p.id) ? 'slow' : ''));
  tables.nodes.update(view.state.nodes, (n) => (n.me ? 'me' : ''));
}

// ---- The page's controls ---------------------------------------------------------------------

byId('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const operator = checkOperator(/** @type {HTMLInputElement} */ (byId('login-operator')).value);
  const token = /** @type {HTMLInputElement} */ (byId('login-token')).value.trim();
  if (!operator.ok) {
    byId('login-error').textContent = operator.error;
    return;
  }
  if (token === '') {
    byId('login-error').textContent = 'the token is empty';
    return;
  }
  write(localStorage, OPERATOR_KEY, operator.name);
  write(sessionStorage, TOKEN_KEY, token);
  connect(token, operator.name);
});

byId('logout').addEventListener('click', () => {
  socket?.stop();
  socket = null;
  write(sessionStorage, TOKEN_KEY, null);
  view.closeCode = null;
  showLogin('');
});

Object.defineProperty(window, 'skirmishAdmin', {
  value: Object.freeze({
    /** A fresh copy of what the browser test checks. */
    get state() {
      return structuredClone({
        status: view.status,
        statusText: view.statusText,
        closeCode: view.closeCode,
        closeReason: view.closeReason,
        loginError: view.loginError,
        operator: view.operator,
        node: view.hello?.node ?? null,
        version: view.hello?.version ?? null,
        cluster: view.hello?.cluster ?? null,
        intervalMs: live.intervalMs,
        lastSample: live.lastSample,
        samplesReceived: live.samplesReceived,
        samplesShown: live.samples.length,
        statesReceived: view.statesReceived,
        rooms: view.state.rooms,
        players: view.state.players,
        slowest: view.state.slowest,
        nodes: view.state.nodes,
        results: desk.results,
        charts: live.chartsState(),
      });
    },
  }),
});

// ---- Start ----------------------------------------------------------------------------------

const fromAddress = takeTokenFromFragment();
if (fromAddress) {
  write(sessionStorage, TOKEN_KEY, fromAddress.token);
  const named = fromAddress.operator === null ? null : checkOperator(fromAddress.operator);
  if (named?.ok) write(localStorage, OPERATOR_KEY, named.name);
}
const token = read(sessionStorage, TOKEN_KEY);
if (token) {
  const remembered = checkOperator(read(localStorage, OPERATOR_KEY) ?? '');
  connect(token, remembered.ok ? remembered.name : DEFAULT_OPERATOR);
} else {
  showLogin('');
}
