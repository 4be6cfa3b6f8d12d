/**
 * Wires the client together: the name screen with its lobby (quick play, create a private room,
 * the open rooms to join), the connection and its status line, the chat and its feed, the game
 * state, the controls, the renderer and the HUD, driven by one requestAnimationFrame loop. Also
 * exposes the read-only test hook `window.skirmish.state` that the browser tests read.
 *
 * It owns the page's reaction to the session's events (status, notices, what to show after a
 * fatal error) and nothing else: no codec, no physics, no drawing, no connection logic of its own.
 *
 * Keys: `N` (or F3) shows the network overlay (round trip, snapshot rate, interpolation delay
 * and jitter, bytes per second each way counted on the WebSocket or the polling transport, the
 * server's tick time, the node played on: in a cluster the connection may have been sent to
 * another one, and the transport in use: `websocket` or `polling`),
 * Enter opens the chat. On a touch screen the HUD's NET and CHAT buttons do the same.
 *
 * Page query: `name` (join at once), `room` (a private room's code: the link a friend shared),
 * `token` (passed on to the WebSocket, for servers started with `--auth-token`),
 * `reconnectionAttempts` (give up after that many, default never), `transport` (`polling` or
 * `websocket` forces one; by default WebSocket first, long polling when it fails), `probe_ms`
 * (for tests: how often a page on polling tries a WebSocket again, at least 250 ms).
 */

import { quickPlay, validateName } from './protocol.js';
import { Connection, gameSocketUrl, reconnectionAttemptsFrom, roomRequestFrom } from './net.js';
import { probeIntervalFrom, transportFrom } from './transport.js';
import { PollingSocket } from './polling.js';
import { Game, UNKNOWN_NAME } from './game.js';
import { Renderer } from './render.js';
import { COMPACT_QUERY, HudView } from './hud.js';
import { Controls } from './input.js';
import { ChatPanel, parseChatInput } from './chat.js';
import { TrafficMeter, countingWebSocket } from './traffic.js';
import { RoomList, inviteLink, searchWithRoom } from './lobby.js';
import { nodeLabel, nodeSocketUrl } from './route.js';

const NAME_STORAGE_KEY = 'skirmish.name';
/** The room the page's link asks for (`?room=CODE`), else quick play. */
let roomLink = roomRequestFrom(location.search);
/** Refusals that say the room asked for cannot be had: back to the lobby to pick another. */
const ROOM_REFUSALS = new Set(['NoSuchRoom', 'RoomFull', 'UnknownMode', 'TooManyRooms']);
/** Connection events kept for the test hook. */
const EVENT_HISTORY = 50;
/** Frames of one other ship's drawn position kept for the smoothness test (test hook). */
const TRACE_FRAMES = 600;
/** Keys that toggle the network overlay (`KeyboardEvent.code`). */
const OVERLAY_KEYS = new Set(['KeyN', 'F3']);

const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('game'));
const nameScreen = /** @type {HTMLElement} */ (document.getElementById('name-screen'));
const nameForm = /** @type {HTMLFormElement} */ (document.getElementById('name-form'));
const nameInput = /** @type {HTMLInputElement} */ (document.getElementById('name-input'));
const nameError = /** @type {HTMLElement} */ (document.getElementById('name-error'));
const overlayButton = /** @type {HTMLButtonElement} */ (document.getElementById('net-toggle'));
const inviteButton = /** @type {HTMLButtonElement} */ (document.getElementById('invite'));
const roomInvite = /** @type {HTMLElement} */ (document.getElementById('room-invite'));
const playQuick = /** @type {HTMLButtonElement} */ (document.getElementById('play-quick'));
const playPrivate = /** @type {HTMLButtonElement} */ (document.getElementById('play-private'));
const chatButton = /** @type {HTMLButtonElement} */ (document.getElementById('chat-toggle'));
const minimap = /** @type {HTMLCanvasElement} */ (document.getElementById('minimap'));

/** What the page knows of the session: shown in the HUD and read by the test hook. */
const session = {
  /** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'error' | 'failed' | 'removed' */
  status: 'idle',
  /** Why the last connection ended or the last attempt failed (server text when it gave one). */
  reason: '',
  /** The reconnection attempt under way (from 1), or 0. */
  attempt: 0,
  /** Whether this page has been in a game on the current connection object. */
  everConnected: false,
  /** The connection's events, oldest first, e.g. ['connect', 'disconnect', ...]. */
  events: /** @type {string[]} */ ([]),
  /** Notices about other players, oldest first (test hook). */
  notices: /** @type {{kind: string, subject: number, name: string}[]} */ ([]),
  /** The room the last welcome named: `{id, mode, max_players, code}`, or null. */
  room: /** @type {{id: number, mode: string, max_players: number, code: string | null} | null} */ (null),
};

let connection = /** @type {Connection | null} */ (null);
let playerName = '';
const game = new Game((message) => (connection ? connection.send(message) : false));
const renderer = new Renderer(canvas, minimap);
const hudView = new HudView(document);
const compactLayout = window.matchMedia(COMPACT_QUERY);
const controls = new Controls(canvas);
const chat = new ChatPanel(
  {
    panel: /** @type {HTMLElement} */ (document.getElementById('chat')),
    log: /** @type {HTMLElement} */ (document.getElementById('chat-log')),
    form: /** @type {HTMLFormElement} */ (document.getElementById('chat-form')),
    input: /** @type {HTMLInputElement} */ (document.getElementById('chat-input')),
  },
  sendChat,
  () => canvas.focus(),
  () => performance.now(),
);
/** The lobby's list of open rooms, on the name screen. */
const roomList = new RoomList(
  {
    list: /** @type {HTMLElement} */ (document.getElementById('room-list')),
    empty: /** @type {HTMLElement} */ (document.getElementById('room-list-empty')),
  },
  (room) => playIfNamed({ type: 'Id', value: room.id }, room.url),
  (input, init) => fetch(input, init),
);
/** Bytes in and out, counted on every WebSocket the connection opens. */
const traffic = new TrafficMeter();
const CountingWebSocket = countingWebSocket(WebSocket, traffic, () => performance.now());
/** The long-polling stand-in, counted the same way (message bytes, not HTTP's). */
const CountingPolling = countingWebSocket(
  /** @type {typeof WebSocket} */ (/** @type {unknown} */ (PollingSocket)),
  traffic,
  () => performance.now(),
);
/** @type {import('./render.js').Hud} reused every frame */
const hud = {
  status: 'idle',
  statusText: '',
  pingMs: null,
  snapshotRate: 0,
  showNet: false,
  net: null,
  bytesInPerSecond: 0,
  bytesOutPerSecond: 0,
  touch: controls.touch,
  node: '',
  transport: '',
};
/**
 * Where one other ship was drawn in recent frames, for the browser test that checks others
 * move smoothly: [time, x, y] per frame, a ring. Filled only while `traced` is set.
 */
const trace = { id: /** @type {number | null} */ (null), frames: new Float64Array(TRACE_FRAMES * 3), count: 0 };

/**
 * Plays in `room` as the name typed, if it is a valid name (else says why).
 * @param {Record<string, any> & {type: string}} room
 * @param {string | null} [nodeUrl] the public URL of the cluster node that runs `room` (a
 *   listed room), else null: this page's server
 */
function playIfNamed(room, nodeUrl = null) {
  const checked = validateName(nameInput.value);
  if (!checked.ok) {
    nameError.textContent = checked.error;
    return;
  }
  const entry = gameSocketUrl(location);
  const target = nodeUrl === null ? { ok: true, url: entry } : nodeSocketUrl(nodeUrl, entry);
  if (!target.ok) {
    nameError.textContent = target.error;
    return;
  }
  play(checked.name, room, target.url);
}

/** The room the page asks for when nothing else is chosen: its link's, else quick play. */
function linkedRoom() {
  // A broken room link was explained on the name screen; playing then means quick play.
  return roomLink.ok ? roomLink.room : quickPlay();
}

/**
 * Starts playing as `name` in `room`: connect, join, and keep reconnecting as the connection
 * decides.
 * @param {string} name already validated
 * @param {Record<string, any> & {type: string}} room the `RoomRequest` to join with
 * @param {string} [socketUrl] where to connect first (a listed room's node), default this
 *   page's server, which stays the entry node either way
 */
function play(name, room = linkedRoom(), socketUrl = gameSocketUrl(location)) {
  playerName = name;
  try {
    localStorage.setItem(NAME_STORAGE_KEY, name);
  } catch {
    // Storage may be unavailable (private mode); remembering the name is only a convenience.
  }
  nameScreen.hidden = true;
  roomList.stop();
  canvas.focus();
  controls.attach();
  session.status = 'connecting';
  session.reason = '';
  session.attempt = 0;
  session.everConnected = false;

  connection?.disconnect();
  const probeMs = probeIntervalFrom(location.search);
  connection = new Connection(socketUrl, {
    name,
    room,
    entryUrl: gameSocketUrl(location),
    storage: sessionStorageOrNull(),
    settings: {
      reconnectionAttempts: reconnectionAttemptsFrom(location.search),
      ...(probeMs === null ? {} : { websocketProbeMs: probeMs }),
    },
    WebSocketImpl: CountingWebSocket,
    PollingImpl: /** @type {typeof PollingSocket} */ (/** @type {unknown} */ (CountingPolling)),
    transport: transportFrom(location.search),
  });
  listen(connection);
  connection.bindPageLifecycle(window);
  connection.connect();
}

/**
 * The page's side of every session event.
 * @param {Connection} conn
 */
function listen(conn) {
  const on = (/** @type {string} */ event, /** @type {Function} */ handler) =>
    conn.on(event, (/** @type {any[]} */ ...args) => {
      if (conn !== connection) return; // a connection the page has replaced
      session.events.push(event);
      if (session.events.length > EVENT_HISTORY) session.events.shift();
      handler(...args);
    });
  conn.on('message', (/** @type {any} */ message) => {
    if (conn !== connection) return;
    feed(message);
    game.handleMessage(message, performance.now());
  });
  on('connect', (/** @type {any} */ welcome) => {
    if (welcome.resume_failed) {
      const again = session.everConnected ? 'Reconnected' : 'Joined';
      chat.add({ kind: 'system', text: `${again} as a new player: ${welcome.resume_failed}` });
    } else if (session.everConnected) {
      chat.add({
        kind: 'system',
        text: welcome.resumed
          ? 'Reconnected: your ship is back where you left it.'
          : 'Reconnected as a new player: the server no longer had your ship.',
      });
    }
    session.everConnected = true;
    enteredRoom(welcome.room);
    session.status = 'connected';
    session.reason = '';
    session.attempt = 0;
    chat.show(true);
  });
  on('disconnect', (/** @type {string} */ reason, /** @type {any} */ details) => {
    game.connectionLost();
    session.reason = details.description;
    if (reason === 'io client disconnect') return; // we left: the page is going away
    if (reason === 'io server disconnect') {
      stopPlaying('removed', `The server removed you from the game: ${details.description}`);
      return;
    }
    session.status = 'reconnecting';
    chat.add({ kind: 'system', text: `Disconnected (${details.description}): reconnecting…` });
  });
  on('connect_error', (/** @type {any} */ error) => {
    session.reason = error.message;
    if (!error.fatal) {
      session.status = 'reconnecting';
      return;
    }
    if (error.serverError?.code === 'InvalidName') {
      stopPlaying('idle', `The server refused this name: ${error.message}`);
    } else if (ROOM_REFUSALS.has(error.serverError?.code)) {
      forgetRoomLink();
      stopPlaying('idle', `${error.message}: quick play, or pick another room`);
    } else if (error.serverError?.code === 'ClusterUnavailable') {
      stopPlaying('idle', `${error.message} (gave up after a few tries: play again later)`);
    } else if (error.serverError?.code === 'VersionMismatch') {
      session.reason += ' – reload the page for the new version';
      stopPlaying('error');
    } else {
      stopPlaying('error');
    }
  });
  on('reconnect_attempt', (/** @type {number} */ attempt) => {
    session.status = 'reconnecting';
    session.attempt = attempt;
  });
  on('redirect', () => {}); // recorded: the test hook's events say the page was sent on
  on('transport', () => {}); // recorded likewise: a fallback to polling, a switch back in place
  on('reconnect', () => {});
  on('reconnect_error', () => {});
  on('reconnect_failed', () => {
    const attempts = session.attempt;
    stopPlaying('failed', `Gave up reconnecting after ${attempts} attempts (${session.reason}).`);
  });
}

/**
 * Ends the game on this page after a fatal error, a kick or giving up: the world goes, and the
 * name screen comes back (to play again) when `message` says why.
 * @param {'idle' | 'error' | 'failed' | 'removed'} status
 * @param {string} [message]
 */
function stopPlaying(status, message) {
  session.status = status;
  session.attempt = 0;
  session.room = null;
  inviteButton.hidden = true;
  game.resetSession();
  chat.show(false);
  if (message !== undefined) {
    controls.detach();
    showNameScreen(playerName, message);
  }
}

/**
 * The welcome named our room: the HUD says it; in a private room the address becomes its link
 * (a reload comes back to it) and the invite button shows.
 * @param {{id: number, mode: string, max_players: number, code: string | null}} room
 */
function enteredRoom(room) {
  session.room = room;
  inviteButton.hidden = room.code === null;
  if (room.code !== null) {
    history.replaceState(null, '', searchWithRoom(location.search, room.code));
    roomLink = { ok: true, room: { type: 'Code', value: room.code } };
  }
}

/** The room asked for could not be had: the page's link no longer leads anywhere. */
function forgetRoomLink() {
  roomLink = { ok: true, room: quickPlay() };
  const params = new URLSearchParams(location.search);
  if (!params.has('room')) return;
  params.delete('room');
  const search = params.toString();
  history.replaceState(null, '', search ? `?${search}` : location.pathname);
}

/** Copies the private room's link for a friend, and shows it in the feed either way. */
async function copyInvite() {
  const code = session.room?.code;
  if (!code) return;
  const link = inviteLink(location, code);
  try {
    await navigator.clipboard.writeText(link);
    chat.add({ kind: 'system', text: `Invite link copied: ${link}` });
  } catch {
    chat.add({ kind: 'system', text: `Share this link to play together: ${link}` });
  }
}

/** How the HUD names the room we are in. */
function roomName() {
  const room = session.room;
  if (!room) return '';
  return room.code === null ? ` · room ${room.id}` : ' · private room';
}

/**
 * Notices about other players for the feed. Runs before the game applies the message, so a
 * leaving player's name is still known.
 * @param {any} message
 */
function feed(message) {
  switch (message.type) {
    case 'PlayerJoined':
      if (message.id !== game.playerId) notice('Joined', message.id, message.name, 'joined');
      break;
    case 'PlayerLeft':
      notice('Left', message.id, nameOf(message.id), 'left');
      break;
    case 'Roster':
      for (const { id, name } of message.joined) {
        if (id !== game.playerId) notice('Joined', id, name, 'joined');
      }
      for (const { id } of message.left) notice('Left', id, nameOf(id), 'left');
      break;
    case 'Notice':
      if (message.kind === 'Away') {
        notice('Away', message.subject, nameOf(message.subject), 'lost connection…');
      } else {
        notice('Back', message.subject, nameOf(message.subject), 'is back');
      }
      break;
    case 'Announcement':
      // The operator's words, set as text like any chat line.
      chat.add({ kind: 'system', text: `Announcement: ${message.text}` });
      break;
    case 'Chat':
      chat.add({
        kind: message.whisper ? 'whisper-in' : 'chat',
        playerId: message.from,
        name: nameOf(message.from),
        text: message.text,
        mine: message.from === game.playerId,
      });
      break;
    default:
      break;
  }
}

/**
 * @param {string} kind
 * @param {number} subject
 * @param {string} name
 * @param {string} what
 */
function notice(kind, subject, name, what) {
  session.notices.push({ kind, subject, name });
  if (session.notices.length > EVENT_HISTORY) session.notices.shift();
  chat.add({ kind: 'system', playerId: subject, name, text: `${name} ${what}` });
}

/** @param {number} id */
function nameOf(id) {
  const name = game.nameOf(id);
  return name === UNKNOWN_NAME ? `#${id}` : name;
}

/**
 * Sends what was typed in the chat box. The box clears at once; the server's acknowledgement
 * decides what the feed shows: our own chat line comes back from the server like everyone
 * else's, a whisper is shown as "to X: …" once accepted, a refusal as an error.
 * @param {string} typed
 * @returns {boolean} whether the box may be cleared
 */
function sendChat(typed) {
  const command = parseChatInput(typed, game.roster, game.playerId);
  if (command.kind === 'none') return true;
  if (command.kind === 'error') {
    chat.add({ kind: 'error', text: command.error });
    return false;
  }
  if (!connection || !connection.isOpen) {
    chat.add({ kind: 'error', text: 'not sent: not connected' });
    return false;
  }
  const message =
    command.kind === 'chat'
      ? { type: 'Chat', text: command.text }
      : { type: 'Whisper', to: command.to, text: command.text };
  connection.request(message).then(
    (ack) => {
      if (ack.error) {
        chat.add({ kind: 'error', text: `not sent: ${ack.error}` });
      } else if (command.kind === 'whisper') {
        chat.add({
          kind: 'whisper-out',
          playerId: command.to,
          name: command.toName,
          text: command.text,
          mine: true,
        });
      }
    },
    (error) => chat.add({ kind: 'error', text: `not sent: ${error.message}` }),
  );
  return true;
}

/** @param {number} now */
function statusText(now) {
  const why = session.reason ? ` (${session.reason})` : '';
  switch (session.status) {
    case 'connecting':
      return 'connecting…';
    case 'connected':
      return game.pingMs === null
        ? `connected as ${playerName}${roomName()}`
        : `connected as ${playerName}${roomName()} · ${Math.round(game.pingMs)} ms`;
    case 'reconnecting': {
      if (connection && connection.nextAttemptAt) {
        const seconds = Math.max(1, Math.ceil((connection.nextAttemptAt - now) / 1000));
        return `reconnecting – attempt ${connection.attempts} in ${seconds} s${why}`;
      }
      return session.attempt > 0
        ? `reconnecting – attempt ${session.attempt}…${why}`
        : `reconnecting…${why}`;
    }
    case 'error':
      return `cannot connect: ${session.reason}`;
    case 'failed':
      return `gave up reconnecting${why}`;
    case 'removed':
      return `removed by the server${why}`;
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
  if (trace.id !== null) traceShip(view, now);
  hud.status = session.status;
  hud.statusText = statusText(now);
  hud.pingMs = game.pingMs;
  hud.snapshotRate = game.snapshotRate(now);
  hud.net = game.netStats(now);
  hud.bytesInPerSecond = traffic.inPerSecond(now);
  hud.bytesOutPerSecond = traffic.outPerSecond(now);
  hud.node = connection ? nodeLabel(connection.url) : '';
  hud.transport = connection ? connection.transport : '';
  // The canvas reads the layout (its size, the minimap's) before the HUD writes to the page.
  renderer.draw(game, view, hud, now);
  hudView.update(game, hud, now);
  chat.fade(now);
  requestAnimationFrame(frame);
}

/**
 * Records where the traced ship is drawn this frame (NaN when it is not drawn).
 * @param {ReturnType<Game['computeView']>} view
 * @param {number} now
 */
function traceShip(view, now) {
  let x = NaN;
  let y = NaN;
  for (let i = 0; i < view.shipCount; i++) {
    if (view.ships[i].id === trace.id) {
      x = view.ships[i].x;
      y = view.ships[i].y;
      break;
    }
  }
  const at = (trace.count++ % TRACE_FRAMES) * 3;
  trace.frames[at] = now;
  trace.frames[at + 1] = x;
  trace.frames[at + 2] = y;
}

/** Shows or hides the network overlay. */
function toggleOverlay() {
  hud.showNet = !hud.showNet;
  overlayButton.setAttribute('aria-pressed', String(hud.showNet));
}

/**
 * @param {string} value prefilled name
 * @param {string} [error]
 */
function showNameScreen(value, error = '') {
  nameInput.value = value;
  nameError.textContent = error;
  nameScreen.hidden = false;
  inviteButton.hidden = true;
  const invited = roomLink.ok && roomLink.room.type === 'Code';
  roomInvite.hidden = !invited;
  roomInvite.textContent = invited ? `Invited to private room ${roomLink.room.value}` : '';
  playQuick.textContent = invited ? 'Join the private room' : 'Quick play';
  playPrivate.hidden = invited;
  roomList.start();
  nameInput.focus();
  nameInput.select();
}

/** The tab's sessionStorage, or null where storage is disabled. */
function sessionStorageOrNull() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** @param {EventTarget | null} target */
function isTyping(target) {
  const element = /** @type {HTMLElement | null} */ (target);
  if (!element) return false;
  return element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName);
}

nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = /** @type {HTMLButtonElement | null} */ (event.submitter);
  playIfNamed(submitter?.value === 'private' ? { type: 'CreatePrivate', mode: '' } : linkedRoom());
});
inviteButton.addEventListener('click', () => {
  copyInvite();
  canvas.focus();
});

// Enter anywhere in the game opens the chat box (inside it, Enter sends).
window.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || event.repeat || isTyping(event.target)) return;
  if (!nameScreen.hidden || chat.panel.hidden) return;
  event.preventDefault();
  chat.open();
});

// N (or F3) toggles the network overlay; on a touch screen, the NET button does.
window.addEventListener('keydown', (event) => {
  if (!OVERLAY_KEYS.has(event.code) || event.repeat || isTyping(event.target)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  event.preventDefault(); // F3 would open the browser's search.
  toggleOverlay();
});
overlayButton.addEventListener('click', () => {
  toggleOverlay();
  canvas.focus();
});

// The CHAT button opens the box (and closes it when open). A tap takes the focus from the box
// before the click arrives, which closes it: whether it was open is noted when the press
// starts. Focusing the box inside the click (a user gesture) brings up a phone's keyboard.
let chatOpenAtPress = false;
chatButton.addEventListener('pointerdown', () => {
  chatOpenAtPress = chat.isOpen;
});
chatButton.addEventListener('click', () => {
  const wasOpen = chatOpenAtPress || chat.isOpen;
  chatOpenAtPress = false;
  if (chat.panel.hidden) return;
  if (wasOpen) chat.close();
  else chat.open();
});

Object.defineProperty(window, 'skirmish', {
  value: Object.freeze({
    /**
     * Starts recording where the ship of player `id` is drawn each frame (see {@link trace}).
     * @param {number} id
     */
    traceShip(id) {
      trace.id = id;
      trace.count = 0;
    },
    /** The recorded frames, oldest first: `[{t, x, y}]` (x and y null when not drawn). */
    get traced() {
      const n = Math.min(trace.count, TRACE_FRAMES);
      const frames = [];
      for (let k = trace.count - n; k < trace.count; k++) {
        const at = (k % TRACE_FRAMES) * 3;
        const x = trace.frames[at + 1];
        frames.push({ t: trace.frames[at], x: Number.isNaN(x) ? null : x, y: Number.isNaN(x) ? null : trace.frames[at + 2] });
      }
      return frames;
    },
    /** A fresh read-only copy of what the browser tests check. */
    get state() {
      return {
        connected: !!connection && connection.isOpen,
        status: session.status,
        statusText: statusText(performance.now()),
        reason: session.reason,
        attempt: session.attempt,
        events: [...session.events],
        notices: session.notices.map((n) => ({ ...n })),
        chat: chat.lines.map((line) => ({ ...line })),
        chatOpen: chat.isOpen,
        room: session.room ? { ...session.room } : null,
        socketUrl: connection ? connection.url : null,
        node: connection ? nodeLabel(connection.url) : null,
        transport: connection ? connection.transport : null,
        lobby: roomList.rooms.map((room) => ({ ...room })),
        lobbyShown: !nameScreen.hidden,
        framesDrawn: renderer.framesDrawn,
        layout: compactLayout.matches ? 'compact' : 'wide',
        net: {
          shown: hud.showNet,
          ...game.netStats(performance.now()),
          bytesInPerSecond: traffic.inPerSecond(performance.now()),
          bytesOutPerSecond: traffic.outPerSecond(performance.now()),
          bytesIn: traffic.totalIn,
          bytesOut: traffic.totalOut,
        },
        ...game.testState(),
      };
    },
  }),
});

const requested = new URLSearchParams(location.search).get('name');
const requestedName = requested === null ? null : validateName(requested);
if (!roomLink.ok) {
  showNameScreen(requested ?? '', `room link: ${roomLink.error}`);
} else if (requestedName && requestedName.ok) {
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
