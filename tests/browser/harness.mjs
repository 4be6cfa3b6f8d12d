// What the browser tests share: starting (and killing, and restarting) the real server binary,
// launching Debian's Chromium, opening a player's page with its console watched, polling the
// test hook `window.skirmish.state`, a TCP proxy that can cut a page's connection or delay it
// (latency and jitter), and the check that the HUD's parts keep apart inside the window.
//
// Every page opened through `openPlayer` is watched: a console error, a page error (uncaught
// exception) or a dialog fails the test that opened it. `launchBrowser(t)` registers that check
// as the test's first teardown step, so call it before registering anything that could break
// the pages (stopping the server): errors a test causes on purpose are let through with
// `player.allowed` while they may happen.
//
// Environment: SKIRMISH_BIN (default target/debug/skirmish), CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_BIN = process.env.SKIRMISH_BIN || join(ROOT, 'target/debug/skirmish');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'target/browser-artifacts');

/** The machine has no internet: without these flags Chromium stalls on network lookups. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SERVER_START_MS = 15_000;
/** Any single expectation about the game. */
export const PATIENCE_MS = 10_000;
/** The canvas's background colour (render.js BACKGROUND). */
export const BACKGROUND = [5, 7, 13];

/**
 * Console errors that a deliberate outage makes the browser print, and nothing else: the
 * WebSocket that cannot connect, and the client's plain-HTTP request that asks the server why
 * (net.js `diagnoseFailedUpgrade`), which fails the same way while the server is away, or gets
 * 426 if the server came back between the two.
 */
export const OUTAGE_ERRORS = [
  /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed: /,
  /^Failed to load resource: net::ERR_CONNECTION_REFUSED$/,
  /^Failed to load resource: the server responded with a status of 426 \(Upgrade Required\)$/,
];

/**
 * Console errors of a deliberately refused token: the WebSocket's, and the 401 of the request
 * that fetches the reason.
 */
export const REFUSED_TOKEN_ERRORS = [
  /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws(\?token=[^']*)?' failed: /,
  /^Failed to load resource: the server responded with a status of 401 \(Unauthorized\)$/,
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Servers and proxies running now (tests in a file run one at a time). If the console check
 * fails, the test runner skips the teardown registered after it, so the check stops these
 * itself: a leftover server would keep Node running until `cargo test` kills it.
 * @type {Set<{stop: () => Promise<void>}>}
 */
const running = new Set();

/**
 * @typedef {object} Server
 * @property {string} url
 * @property {number} port
 * @property {() => Promise<void>} stop SIGTERM (a clean shutdown), SIGKILL after 3 s
 * @property {() => Promise<void>} kill SIGKILL: the server vanishes, as in a crash
 * @property {() => string} log the tail of its stderr
 */

/** Arena size the tests play in by default. */
export const TEST_ARENA = '1024x768';

/**
 * Starts the server; resolves once it prints its address.
 * @param {string[]} [args] extra flags
 * @param {number} [port] 0 for an ephemeral port
 * @returns {Promise<Server>}
 */
export function startServer(args = [], port = 0) {
  // An arena within one player's area of interest (unless a test asks for another), so the
  // pages of a test always see each other wherever they spawn.
  const arena = args.includes('--arena') ? [] : ['--arena', TEST_ARENA];
  const child = spawn(SERVER_BIN, ['--addr', `127.0.0.1:${port}`, ...arena, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const handle = { stop: () => stop() };
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    running.delete(handle);
    if (isRunning()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const kill = async () => {
    if (isRunning()) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return new Promise((resolve, reject) => {
    let stdout = '';
    let settled = false;
    const settle = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        stop();
        reject(error);
      } else {
        resolve(value);
      }
    };
    const timer = setTimeout(() => {
      settle(new Error(`server did not print its address within ${SERVER_START_MS} ms:\n${output}`));
    }, SERVER_START_MS);
    child.once('error', (error) => {
      settle(new Error(`cannot start ${SERVER_BIN}: ${error.message} (run \`cargo build\` first)`));
    });
    child.once('exit', (code, signal) => {
      settle(new Error(`server exited early (${code ?? signal}):\n${stdout}${output}`));
    });
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^skirmish listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/m.exec(stdout);
      if (match) {
        running.add(handle);
        settle(null, { url: match[1], port: Number(match[2]), stop, kill, log: () => output });
      }
    });
  });
}

/**
 * What most browser tests start with: Chromium for test `t` (its console check registered
 * first, see `launchBrowser`), then a server started with `args` and stopped when the test
 * ends.
 * @param {import('node:test').TestContext} t
 * @param {string[]} [args] extra server flags
 * @returns {Promise<{browser: import('playwright-core').Browser, server: Server}>}
 */
export async function startGame(t, args = []) {
  const browser = await launchBrowser(t);
  const server = await startServer(args);
  t.after(() => server.stop());
  return { browser, server };
}

/** Players opened in each browser, for the console check at the end of the test. */
const playersOf = new WeakMap();

/**
 * Launches Chromium for test `t`. At the end of the test (before any teardown registered after
 * this call), every page opened in it must have reported no unexpected console error, page
 * error or dialog; then the browser is closed.
 * @param {import('node:test').TestContext} t
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(t) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
  /** @type {Player[]} */
  const players = [];
  playersOf.set(browser, players);
  t.after(async () => {
    const reported = unexpectedErrors(browser);
    await browser.close();
    if (reported.length > 0) await Promise.all([...running].map((thing) => thing.stop()));
    assert.deepEqual(reported, [], 'the browser reported errors');
  });
  return browser;
}

/**
 * What the pages opened in `browser` reported that nobody expected, one line per page.
 * @param {import('playwright-core').Browser} browser
 * @returns {string[]}
 */
export function unexpectedErrors(browser) {
  const players = playersOf.get(browser) ?? [];
  return players.filter((p) => p.errors.length > 0).map((p) => `${p.name}: ${p.errors.join(' | ')}`);
}

/**
 * @typedef {object} Player
 * @property {import('playwright-core').Page} page
 * @property {string} name
 * @property {string[]} errors console errors, page errors and dialogs that nobody expected
 * @property {string[]} expected console errors let through while `allowed` was set
 * @property {RegExp[] | null} allowed console errors expected right now (a deliberate outage)
 */

/**
 * Opens the game as `name` in a browser context of its own (pages that share a context share a
 * window, where the one in front can starve the other of animation frames), and records every
 * console error, page error and dialog (an `alert` would mean injected script ran).
 * @param {import('playwright-core').Browser} browser
 * @param {string} url
 * @param {string} name
 * @param {{query?: string, allowed?: RegExp[] | null, context?: object, join?: boolean}} [options]
 *   `query`: more of the page query (`&token=...`); `allowed`: console errors expected while
 *   the page loads; `context`: browser context options (a phone's viewport, touch), default a
 *   960×640 desktop window; `join`: false to open the name screen instead of joining at once
 * @returns {Promise<Player>}
 */
export async function openPlayer(browser, url, name, { query = '', allowed = null, context: options, join = true } = {}) {
  const search = join ? `?name=${encodeURIComponent(name)}${query}` : query.replace(/^&/, '?');
  return openPage(browser, `${url}/${search}`, name, { allowed, context: options });
}

/**
 * Opens `address` in a browser context of its own, watched like a player's page (see
 * {@link openPlayer}): the operator's page, for one.
 * @param {import('playwright-core').Browser} browser
 * @param {string} address the whole URL
 * @param {string} name who the page is, for failure messages
 * @param {{allowed?: RegExp[] | null, context?: object, prepare?: (page: import('playwright-core').Page) => Promise<void>}} [options]
 *   `prepare`: runs before the page loads (to route its requests, say)
 * @returns {Promise<Player>}
 */
export async function openPage(browser, address, name, { allowed = null, context: options, prepare } = {}) {
  const context = await browser.newContext(options ?? { viewport: { width: 960, height: 640 } });
  context.setDefaultTimeout(PATIENCE_MS);
  const page = await context.newPage();
  /** @type {Player} */
  const player = { page, name, errors: [], expected: [], allowed };
  playersOf.get(browser)?.push(player);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (player.allowed && player.allowed.some((pattern) => pattern.test(text))) {
      player.expected.push(text);
    } else {
      player.errors.push(`console error: ${text}`);
    }
  });
  page.on('pageerror', (error) => player.errors.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    player.errors.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  if (prepare) await prepare(page);
  await page.goto(address, { timeout: PATIENCE_MS });
  return player;
}

/** @param {import('playwright-core').Page} page */
export function stateOf(page) {
  return page.evaluate(() => window.skirmish.state);
}

/**
 * Polls the page's state until `predicate(state)` holds (it runs here, in Node).
 * @param {import('playwright-core').Page} page
 * @param {string} what for the failure message
 * @param {(state: any) => boolean} predicate
 * @param {number} [patience] ms
 */
export async function waitForState(page, what, predicate, patience = PATIENCE_MS) {
  const deadline = Date.now() + patience;
  let state = null;
  while (Date.now() < deadline) {
    state = await stateOf(page);
    if (state && predicate(state)) return state;
    await sleep(50);
  }
  const shown = state ? { ...state, orbs: undefined } : state;
  throw new Error(`timed out after ${patience} ms waiting for ${what}; state: ${JSON.stringify(shown)}`);
}

/**
 * Holds a key down for a moment, steering the ship.
 * @param {import('playwright-core').Page} page
 * @param {string} key
 * @param {number} ms
 */
export async function holdKey(page, key, ms) {
  await page.keyboard.down(key);
  await page.waitForTimeout(ms);
  await page.keyboard.up(key);
}

/**
 * Types a line into the chat: Enter opens the box, Enter sends.
 * @param {import('playwright-core').Page} page
 * @param {string} text
 */
export async function typeChat(page, text) {
  await page.keyboard.press('Enter');
  await page.locator('#chat-input').waitFor({ state: 'visible', timeout: PATIENCE_MS });
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/**
 * How much of the canvas is drawn: pixels sampled across it that differ from the background,
 * and the colour at the centre (where our ship is).
 * @param {import('playwright-core').Page} page
 * @param {number[]} background
 */
export function canvasPixels(page, background) {
  return page.evaluate((bg) => {
    const canvas = document.getElementById('game');
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const differs = (i) =>
      Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]) > 24;
    let sampled = 0;
    let drawn = 0;
    for (let i = 0; i < data.length; i += 4 * 101) {
      sampled++;
      if (differs(i)) drawn++;
    }
    const centre = 4 * (Math.floor(canvas.height / 2) * canvas.width + Math.floor(canvas.width / 2));
    return {
      width: canvas.width,
      height: canvas.height,
      sampled,
      drawn,
      centre: [data[centre], data[centre + 1], data[centre + 2]],
      centreDrawn: differs(centre),
    };
  }, background);
}

/**
 * Saves a screenshot of every open page (after a failure) and adds what the pages and the
 * server reported to the error.
 * @param {Error} error
 * @param {Player[]} players
 * @param {Server[]} servers
 * @param {string} label
 */
export async function explainFailure(error, players, servers, label) {
  for (const { page, name } of players) {
    if (!page.isClosed()) {
      const path = join(ARTIFACTS, `${label}-${name.toLowerCase()}-failure.png`);
      await page.screenshot({ path, timeout: 5000 }).catch(() => {});
    }
  }
  error.message += `\n--- page errors: ${JSON.stringify(players.map((p) => [p.name, p.errors]))}`;
  for (const server of servers) {
    error.message += `\n--- server log (tail):\n${server.log().slice(-4000)}`;
  }
  return error;
}

/**
 * The boxes of the HUD's parts that are showing, in CSS pixels (runs in the page). An element
 * not displayed, or of no size, is not showing.
 */
export function hudBoxes() {
  const parts = {
    status: '#hud-status',
    'feed row': '#hud-feed li',
    scoreboard: '#hud-board',
    'network overlay': '#hud-net',
    'tagged notice': '#hud-tagged',
    'connection banner': '#hud-banner',
    'chat log': '#chat-log',
    'chat box': '#chat-form',
    'chat button': '#chat-toggle',
    'net button': '#net-toggle',
    'invite button': '#invite',
    'network line': '#hud-netline',
    minimap: '#minimap',
  };
  const boxes = [];
  for (const [name, selector] of Object.entries(parts)) {
    document.querySelectorAll(selector).forEach((element, i) => {
      const r = element.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) return;
      boxes.push({ name: i > 0 ? `${name} ${i + 1}` : name, left: r.left, top: r.top, right: r.right, bottom: r.bottom });
    });
  }
  return { boxes, width: innerWidth, height: innerHeight };
}

/**
 * The pairs of boxes that overlap (by more than half a pixel each way) and the boxes that leave
 * the window.
 * @param {{boxes: {name: string, left: number, top: number, right: number, bottom: number}[], width: number, height: number}} layout
 */
export function layoutProblems({ boxes, width, height }) {
  const problems = [];
  const round = (b) => `[${[b.left, b.top, b.right, b.bottom].map((v) => Math.round(v)).join(', ')}]`;
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    if (a.left < -0.5 || a.top < -0.5 || a.right > width + 0.5 || a.bottom > height + 0.5) {
      problems.push(`${a.name} ${round(a)} leaves the ${width}x${height} window`);
    }
    for (let j = i + 1; j < boxes.length; j++) {
      const b = boxes[j];
      const across = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const down = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (across > 0.5 && down > 0.5) problems.push(`${a.name} ${round(a)} overlaps ${b.name} ${round(b)}`);
    }
  }
  return problems;
}

/**
 * Asserts that no two of the HUD's parts on `page` overlap and that all are inside the window,
 * and that the parts `expected` (names from {@link hudBoxes}) are among those showing.
 * @param {import('playwright-core').Page} page
 * @param {string[]} expected
 * @param {string} label for the failure message
 */
export async function assertHudLayout(page, expected, label) {
  const layout = await page.evaluate(hudBoxes);
  const names = layout.boxes.map((b) => b.name);
  for (const name of expected) assert.ok(names.includes(name), `${label}: no ${name} among ${names.join(', ')}`);
  const problems = layoutProblems(layout);
  assert.deepEqual(problems, [], `${label}: ${problems.join('; ')} (all: ${JSON.stringify(layout)})`);
}

/** @param {Player} player @param {string} file */
export function screenshot(player, file) {
  return player.page.screenshot({ path: join(ARTIFACTS, file), timeout: PATIENCE_MS });
}

/**
 * @typedef {object} Proxy
 * @property {number} port
 * @property {string} url
 * @property {() => Promise<void>} cut destroys every connection through it and stops listening
 * @property {() => Promise<void>} restore listens again on the same port
 * @property {(on: boolean) => void} refuseWebSocket whether upgrades on new connections are refused
 * @property {() => Promise<void>} stop
 */

/** What a proxy with `refuseWebSocket` answers an upgrade request, as some middleboxes do. */
const UPGRADE_REFUSED =
  'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\n' +
  'WebSocket refused by proxy\n';
/** The most a proxy with `refuseWebSocket` reads looking for the end of a request's head. */
const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

/**
 * A TCP proxy in front of the server: the page loads and connects through it, and the test can
 * cut it, which the page sees as a lost network while the server goes on running. With
 * `delayMs`, every chunk is held that long in each direction, plus up to `jitterMs` more at
 * random; order is kept (it is TCP), so a late chunk holds back the ones behind it. With
 * `refuseWebSocket`, a connection whose first request asks for a WebSocket upgrade is answered
 * 403 and closed (browsers open a connection of its own for each WebSocket), while plain HTTP
 * passes: a network where only long polling works. `refuseWebSocket(on)` changes that for the
 * connections that come next (those already relayed stay as they are).
 * @param {number} targetPort
 * @param {{delayMs?: number, jitterMs?: number, refuseWebSocket?: boolean}} [options]
 * @returns {Promise<Proxy>}
 */
export async function startProxy(targetPort, { delayMs = 0, jitterMs = 0, refuseWebSocket = false } = {}) {
  let refusing = refuseWebSocket;
  /**
   * Copies `from` to `to`, delayed.
   * @param {net.Socket} from
   * @param {net.Socket} to
   */
  const forward = (from, to) => {
    if (delayMs === 0 && jitterMs === 0) {
      from.pipe(to);
      return;
    }
    /** Chunks waiting, in order, each with the time it may go. */
    const queue = [];
    let due = 0;
    let ended = false;
    let timer = null;
    const flush = () => {
      timer = null;
      while (queue.length > 0 && queue[0].at <= Date.now()) {
        if (!to.destroyed) to.write(queue.shift().chunk);
        else queue.shift();
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0].at - Date.now());
      else if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk) => {
      due = Math.max(due, Date.now() + delayMs + Math.random() * jitterMs);
      queue.push({ chunk, at: due });
      if (timer === null) timer = setTimeout(flush, due - Date.now());
    });
    from.on('end', () => {
      ended = true;
      if (timer === null) flush();
    });
  };
  /** @type {Set<net.Socket>} */
  const sockets = new Set();
  /** @type {net.Server | null} */
  let server = null;
  const listen = (port) =>
    new Promise((resolve, reject) => {
      const listener = net.createServer((client) => {
        if (refusing) refuseUpgrades(client, relay);
        else relay(client, Buffer.alloc(0));
      });
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        server = listener;
        resolve(listener.address().port);
      });
    });
  /**
   * Connects `client` to the server, sending `head` (bytes already read from it) first.
   * @param {net.Socket} client
   * @param {Buffer} head
   */
  const relay = (client, head) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    if (head.length > 0) upstream.write(head);
    sockets.add(client);
    sockets.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', done);
      socket.on('close', done);
    }
    forward(client, upstream);
    forward(upstream, client);
  };
  /**
   * Reads the head of the client's first request: an upgrade is refused, anything else relayed.
   * @param {net.Socket} client
   * @param {(client: net.Socket, head: Buffer) => void} onward
   */
  const refuseUpgrades = (client, onward) => {
    sockets.add(client);
    let head = Buffer.alloc(0);
    const read = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1 && head.length < MAX_REQUEST_HEAD_BYTES) return;
      client.off('data', read);
      client.pause();
      const request = head.subarray(0, end === -1 ? head.length : end).toString('latin1');
      if (/^upgrade:\s*websocket\s*$/im.test(request)) {
        client.end(UPGRADE_REFUSED);
        return;
      }
      sockets.delete(client);
      onward(client, head);
      client.resume();
    };
    client.on('data', read);
    client.on('error', () => client.destroy());
    client.on('close', () => sockets.delete(client));
  };
  const close = async () => {
    const listener = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (listener) await new Promise((resolve) => listener.close(() => resolve()));
  };
  const port = await listen(0);
  const handle = {
    stop: async () => {
      running.delete(handle);
      await close();
    },
  };
  running.add(handle);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut: close,
    restore: async () => {
      await listen(port);
    },
    refuseWebSocket: (on) => {
      refusing = on;
    },
    stop: handle.stop,
  };
}
