/**
 * The client's picture of the game: the roster, the recent snapshots, the prediction of our own
 * ship and the interpolation of everyone else, the kill feed, who tagged us last, the scoreboard,
 * our rank and the room's head count.
 *
 * It is fed decoded server messages and the local controls, and hands outgoing messages to a
 * `send` callback. It never touches the DOM, a socket or the clock: every method that needs the
 * time takes `now` (milliseconds, e.g. `performance.now()`), so it runs under Node in tests.
 *
 * A resumed session (`Welcome.resumed`, same player after a lost connection) keeps the ship, its
 * prediction and the input numbering: the server ignores an input whose `seq` is not above the
 * last one it applied, so after a resume no input is sent until a snapshot has told us that
 * number (`last_input_seq`), and numbering continues above it. Any other Welcome starts afresh.
 *
 * Netcode in brief:
 * - Own ship: each fixed client tick sends `Input{seq}` and applies the same movement step
 *   locally (`movement.js`, bit-exact with the server). A snapshot resets the prediction to the
 *   server's state, drops the inputs it acknowledges (`last_input_seq`) and replays the rest;
 *   a small difference is smoothed away visually, a large one (respawn) snaps.
 * - Everyone else: drawn a little in the past, between the two snapshots that bracket that
 *   moment. How far in the past adapts to how irregularly snapshots arrive (`jitter.js`: at
 *   least two snapshot intervals, changing smoothly). When snapshots stop coming, ships move on
 *   along their last motion for up to `MAX_EXTRAPOLATION_MS`, then hold; across a longer gap
 *   they jump to where the next snapshot puts them rather than slide there. The tick drawn is
 *   sent with every input (`view_tick`): the server judges our hits against it.
 * - Only entities near us may be in a snapshot (area of interest), and other players' velocity
 *   may be 0: motion is taken from positions, never from another player's `vx`/`vy` alone.
 */

import { Buttons, PlayerFlags } from './protocol.js';
import { stepBody, tickSeconds } from './movement.js';
import { JitterBuffer, OUTAGE_MS } from './jitter.js';

/** Longest we keep moving remote ships along their last motion when snapshots stop (ms). */
export const MAX_EXTRAPOLATION_MS = 125;
/** Snapshots kept for interpolation (about a second at 30 Hz). */
const SNAPSHOT_HISTORY = 32;
/** Unacknowledged inputs kept for replay; beyond this the oldest are dropped (prediction drifts). */
export const MAX_PENDING_INPUTS = 64;
/** A correction shorter than this (arena units) is smoothed; longer ones (respawns) snap. */
const SNAP_DISTANCE = 150;
/** Time constant of the visual smoothing of a prediction correction, in milliseconds. */
const CORRECTION_SMOOTHING_MS = 100;
/** After a tab pause, at most this many fixed steps are run to catch up; the rest is dropped. */
const MAX_CATCH_UP_STEPS = 5;
/**
 * How often a Ping probe is sent to measure the round trip, until the server's heartbeat reports
 * one (its first report comes with its second ping, which can take a minute).
 */
export const PING_INTERVAL_MS = 2000;
/** Kill feed: entries kept and how long each stays visible. */
const KILL_FEED_LENGTH = 5;
export const KILL_FEED_MS = 6000;
/** Rows in the scoreboard. */
const SCOREBOARD_ROWS = 10;
/** Name shown for an id that a snapshot mentions before its `PlayerJoined` arrives. */
export const UNKNOWN_NAME = '\u2026';

/**
 * @typedef {object} Controls What the player holds during one client tick.
 * @property {number} buttons a set of `Buttons` bits
 * @property {number | null} aim radians, or null to face the direction of movement
 */

/**
 * @typedef {object} ShipView A ship as drawn this frame (objects are reused between frames).
 * @property {number} id
 * @property {number} x
 * @property {number} y
 * @property {number} aim
 * @property {number} flags
 * @property {boolean} isMe
 */

/**
 * @typedef {object} BoltView
 * @property {number} id
 * @property {number} owner
 * @property {number} x
 * @property {number} y
 * @property {number} vx units per tick, for the trail
 * @property {number} vy
 */

/**
 * One received snapshot, indexed for interpolation.
 * @typedef {object} StoredSnapshot
 * @property {number} tick unwrapped tick (monotonic even across the u32 wrap)
 * @property {any} message the decoded `Snapshot`
 * @property {Map<number, any>} playersById
 * @property {Map<number, any>} boltsById
 */

/**
 * @typedef {object} NetStats What the network overlay shows (one object, refilled).
 * @property {number | null} pingMs
 * @property {number} snapshotRate snapshots received in the last second
 * @property {number} delayMs how far behind the server others are drawn right now
 * @property {number} targetDelayMs the delay the jitter buffer is steering to
 * @property {number} jitterMs the 95th percentile of snapshot lateness
 * @property {number} snaps times the render clock jumped
 * @property {number | null} serverTickUs the server's last tick duration, when it says
 */

export class Game {
  /**
   * @param {(message: {type: string} & Record<string, any>) => boolean} send hands a client
   *   message to the connection; returns false if it could not be sent
   */
  constructor(send) {
    this.send = send;
    this.resetSession();
    /** Snapshot arrival times (ring), for the snapshots-per-second readout. */
    this.arrivals = new Float64Array(64);
    this.arrivalCount = 0;
    /**
     * Round-trip time in ms, or null before the first measurement: the server's heartbeat
     * measurement (`Ping.rtt_us`) once there is one, our own Ping probe until then.
     */
    this.pingMs = null;
    /** Where {@link pingMs} comes from: null, 'probe' or 'heartbeat'. */
    this.pingSource = /** @type {null | 'probe' | 'heartbeat'} */ (null);
    this.pingNonce = 0;
    /** When the outstanding Ping left; -Infinity so the first one goes at once. */
    this.pingSentAt = -Infinity;
    this.pingOutstanding = 0;
    /** Reused render output: see {@link computeView}. */
    this.view = {
      /** @type {ShipView[]} other players' ships; only the first `shipCount` are current */
      ships: [],
      shipCount: 0,
      /** @type {BoltView[]} */
      bolts: [],
      boltCount: 0,
      /** @type {any[]} orbs of the snapshot being shown (not copied) */
      orbs: [],
      /** Where the camera looks: our displayed ship, or the arena's centre before we exist. */
      cameraX: 0,
      cameraY: 0,
      /** Our ship as drawn, or null before the first snapshot that contains it. */
      me: /** @type {ShipView | null} */ (null),
    };
    this.meView = { id: 0, x: 0, y: 0, aim: 0, flags: 0, isMe: true };
    /** @type {NetStats} refilled by {@link netStats} */
    this.stats = {
      pingMs: null,
      snapshotRate: 0,
      delayMs: 0,
      targetDelayMs: 0,
      jitterMs: 0,
      snaps: 0,
      serverTickUs: null,
    };
  }

  /** Forgets everything tied to one player (the next Welcome starts afresh). */
  resetSession() {
    /** Our id, set by Welcome; null while not in a game. */
    this.playerId = null;
    /** Whether the last Welcome gave back a player we (or this tab before a reload) had. */
    this.resumed = false;
    /**
     * After a resume: no input goes out until a snapshot tells which `seq` the server applied
     * last, so that our numbering continues above it.
     */
    this.awaitingSeq = false;
    this.tickHz = 30;
    this.tickMs = 1000 / 30;
    this.dt = tickSeconds(30);
    /** `Welcome.params`: arena size, radii and movement constants. */
    this.params = null;
    /** @type {Map<number, string>} id → name, from Welcome then PlayerJoined / PlayerLeft. */
    this.roster = new Map();
    /** @type {StoredSnapshot[]} oldest first */
    this.snapshots = [];
    this.latestRawTick = 0;
    /** Server tick at which others were last drawn (see `computeView`). */
    this.viewTick = 0;
    this.snapshotsReceived = 0;
    /** When to draw others: the server clock estimate and the adaptive delay. */
    this.jitter = new JitterBuffer(this.tickMs);
    /** `server_tick_us` of the newest snapshot that carried it, or null. */
    this.serverTickUs = null;
    /** Stored snapshots dropped from the history, their maps reused for the next ones. */
    this.spare = /** @type {StoredSnapshot[]} */ ([]);
    /** Our own entry in the newest snapshot, or null. */
    this.serverMe = null;

    // Prediction.
    this.seq = 0;
    /** @type {{seq: number, buttons: number}[]} inputs sent but not yet acknowledged, in order */
    this.pending = [];
    /** Predicted body after every sent input; valid once `hasBody`. */
    this.body = { x: 0, y: 0, vx: 0, vy: 0 };
    /** The body one step earlier, to draw smoothly between fixed steps. */
    this.previousBody = { x: 0, y: 0 };
    this.hasBody = false;
    /** Visual offset left over from corrections, decaying to zero. */
    this.errorX = 0;
    this.errorY = 0;
    /** Size of the last correction (arena units): 0 while prediction is exact. */
    this.lastCorrection = 0;
    /** The largest correction that was smoothed (not a respawn's snap), for the tests. */
    this.largestSmoothedCorrection = 0;
    this.aim = 0;
    this.accumulator = 0;
    this.lastUpdate = null;
    this.lastViewTime = null;

    /**
     * Recent tags, oldest first, with the names as they were at the time.
     * @type {{shooter: string, victim: string, shooterId: number, victimId: number, at: number}[]}
     */
    this.killFeed = [];
    /** When we were last tagged (ms), for a flash on screen; -Infinity if never. */
    this.taggedAt = -Infinity;
    /**
     * Who tagged us last, with the name as it was then (`#id` if not yet known), or null.
     * @type {{id: number, name: string, at: number} | null}
     */
    this.taggedBy = null;
    /** Top rows of the newest snapshot's players by score, plus ours if it is further down. */
    this.scoreboard = [];
    /** Our place in the room by score (1-based, the scoreboard's order), or 0 if not known. */
    this.myRank = 0;
    /** Players in the room (the newest snapshot's head count), and other ships near us. */
    this.playersInRoom = 0;
    this.nearby = 0;
  }

  /**
   * The connection dropped: the world stays on screen, frozen, until the next Welcome says
   * whether our player is still in it. The round trip is measured afresh on the next one.
   */
  connectionLost() {
    this.pingMs = null;
    this.pingSource = null;
    this.pingOutstanding = 0;
    this.pingSentAt = -Infinity;
  }

  /** True once welcomed into a game. */
  get inGame() {
    return this.playerId !== null;
  }

  /**
   * The name to show for a player id.
   * @param {number} id
   * @returns {string}
   */
  nameOf(id) {
    return this.roster.get(id) ?? UNKNOWN_NAME;
  }

  /**
   * Adds a tag to the kill feed (and flashes the screen if we were the victim).
   * @param {{shooter: number, victim: number}} tag
   * @param {number} now
   */
  recordTag(tag, now) {
    this.killFeed.push({
      shooter: this.nameOf(tag.shooter),
      victim: this.nameOf(tag.victim),
      shooterId: tag.shooter,
      victimId: tag.victim,
      at: now,
    });
    if (this.killFeed.length > KILL_FEED_LENGTH) this.killFeed.shift();
    if (tag.victim === this.playerId) {
      this.taggedAt = now;
      const name = this.nameOf(tag.shooter);
      this.taggedBy = { id: tag.shooter, name: name === UNKNOWN_NAME ? `#${tag.shooter}` : name, at: now };
    }
  }

  /**
   * Applies one decoded server message.
   * @param {{type: string} & Record<string, any>} message
   * @param {number} now ms
   */
  handleMessage(message, now) {
    switch (message.type) {
      case 'Welcome':
        this.welcome(message);
        break;
      case 'Snapshot':
        if (this.inGame) {
          this.receiveSnapshot(message, now);
          const tags = message.tags || [];
          for (let i = 0; i < tags.length; i++) this.recordTag(tags[i], now);
        }
        break;
      case 'PlayerJoined':
        this.roster.set(message.id, message.name);
        break;
      case 'PlayerLeft':
        this.roster.delete(message.id);
        break;
      case 'Roster':
        for (const { id, name } of message.joined) this.roster.set(id, name);
        for (const { id } of message.left) this.roster.delete(id);
        break;
      case 'Tagged': // servers before protocol 3 sent tags one by one
        this.recordTag(message, now);
        break;
      case 'Pong':
        if (message.nonce === this.pingOutstanding) {
          this.pingOutstanding = 0;
          if (this.pingSource !== 'heartbeat') {
            this.pingMs = now - this.pingSentAt;
            this.pingSource = 'probe';
          }
        }
        break;
      case 'Ping':
        // The heartbeat (the connection has answered it): 0 means "nothing measured yet".
        if (message.rtt_us > 0) {
          this.pingMs = message.rtt_us / 1000;
          this.pingSource = 'heartbeat';
        }
        break;
      default:
        // Error, Ack, Chat and Notice are the connection's and the page's business.
        break;
    }
  }

  /** @param {any} welcome */
  welcome(welcome) {
    if (welcome.resumed && welcome.player_id === this.playerId) {
      this.resumeSession();
    } else {
      this.resetSession();
    }
    this.resumed = welcome.resumed;
    this.awaitingSeq = welcome.resumed;
    this.playerId = welcome.player_id;
    this.tickHz = welcome.tick_hz;
    this.tickMs = 1000 / welcome.tick_hz;
    this.dt = tickSeconds(welcome.tick_hz);
    this.params = welcome.params;
    this.jitter.reset(this.tickMs);
    this.roster.clear();
    for (const player of welcome.players) this.roster.set(player.id, player.name);
  }

  /**
   * Our player is back after a lost connection: keep the ship where it is drawn, the input
   * numbering, the kill feed; drop what belonged to the old connection (its snapshots, the
   * inputs the server dropped when it marked us away).
   */
  resumeSession() {
    this.snapshots = [];
    this.snapshotsReceived = 0;
    this.latestRawTick = 0;
    this.jitter.reset(this.tickMs);
    this.serverMe = null;
    this.pending = [];
    this.accumulator = 0;
    this.lastUpdate = null;
  }

  /**
   * The arena grows and shrinks with the number of players: the newest snapshot's size is the
   * one our prediction's walls and the drawing use.
   * @param {any} snapshot
   */
  followArena(snapshot) {
    const { arena_width: width, arena_height: height } = snapshot;
    if (this.params === null || typeof width !== 'number') return;
    if (width !== this.params.arena_width || height !== this.params.arena_height) {
      this.params = { ...this.params, arena_width: width, arena_height: height };
    }
  }

  /**
   * @param {any} snapshot
   * @param {number} now
   */
  receiveSnapshot(snapshot, now) {
    let tick;
    if (this.snapshots.length === 0) {
      tick = snapshot.tick;
    } else {
      const newest = this.snapshots[this.snapshots.length - 1];
      const ahead = (snapshot.tick - this.latestRawTick) | 0;
      if (ahead <= 0) return; // Stale or duplicate: the newer one already won.
      tick = newest.tick + ahead;
    }
    this.latestRawTick = snapshot.tick;
    this.snapshotsReceived++;
    this.followArena(snapshot);
    this.arrivals[this.arrivalCount++ % this.arrivals.length] = now;

    const stored = this.storeSnapshot(tick, snapshot);
    this.jitter.onSnapshot(tick, now);
    if (typeof snapshot.server_tick_us === 'number') this.serverTickUs = snapshot.server_tick_us;
    this.rankPlayers(snapshot);

    const me = stored.playersById.get(this.playerId) ?? null;
    this.serverMe = me;
    if (me && this.awaitingSeq) {
      // Continue above the last input the server applied (with wrap-around, like Tick::since).
      if (((me.last_input_seq - this.seq) | 0) > 0) this.seq = me.last_input_seq;
      this.awaitingSeq = false;
    }
    if (me) this.reconcile(me);
  }

  /**
   * Adds a snapshot to the history, indexed by id, reusing the maps of the one it pushes out.
   * @param {number} tick unwrapped
   * @param {any} snapshot
   * @returns {StoredSnapshot}
   */
  storeSnapshot(tick, snapshot) {
    const stored = this.spare.pop() ?? { tick: 0, message: null, playersById: new Map(), boltsById: new Map() };
    stored.tick = tick;
    stored.message = snapshot;
    const { players, bolts } = snapshot;
    stored.playersById.clear();
    for (let i = 0; i < players.length; i++) stored.playersById.set(players[i].id, players[i]);
    stored.boltsById.clear();
    for (let i = 0; i < bolts.length; i++) stored.boltsById.set(bolts[i].id, bolts[i]);
    this.snapshots.push(stored);
    if (this.snapshots.length > SNAPSHOT_HISTORY) this.spare.push(/** @type {StoredSnapshot} */ (this.snapshots.shift()));
    return stored;
  }

  /**
   * The scoreboard: the server's top players of the room (a snapshot holds only the players
   * near us), with our own row below them when we are not among them; our rank and the room's
   * head count as the server says them (since protocol 8), and how many ships are near us.
   * @param {any} snapshot
   */
  rankPlayers(snapshot) {
    const players = snapshot.players;
    let others = 0;
    for (let i = 0; i < players.length; i++) if (players[i].id !== this.playerId) others++;
    this.nearby = others;
    this.playersInRoom = typeof snapshot.player_count === 'number' ? snapshot.player_count : players.length;
    const rows = this.scoreboard;
    rows.length = 0;
    if (snapshot.scoreboard) {
      for (const { id, score } of snapshot.scoreboard) {
        const seen = players.find((p) => p.id === id);
        rows.push({ id, score, flags: seen ? seen.flags : 0 });
      }
      const mine = rows.findIndex((p) => p.id === this.playerId);
      this.myRank = typeof snapshot.rank === 'number' && snapshot.rank > 0 ? snapshot.rank : mine + 1;
      const me = mine < 0 ? players.find((p) => p.id === this.playerId) : null;
      if (me) rows.push(me);
      return;
    }
    for (const player of players) rows.push(player);
    rows.sort((a, b) => b.score - a.score || a.id - b.id);
    if (rows.length > SCOREBOARD_ROWS) {
      // Keep our own row visible below the top rows, with its rank.
      const mine = rows.findIndex((p) => p.id === this.playerId);
      this.myRank = mine + 1;
      rows.length = SCOREBOARD_ROWS;
      if (mine >= SCOREBOARD_ROWS) rows.push(players.find((p) => p.id === this.playerId));
    } else {
      this.myRank = rows.findIndex((p) => p.id === this.playerId) + 1;
    }
  }

  /**
   * Server reconciliation: restart the prediction from the server's state for our ship and
   * replay the inputs it has not applied yet.
   * @param {any} me our PlayerState in the newest snapshot
   */
  reconcile(me) {
    const acked = me.last_input_seq;
    let drop = 0;
    while (drop < this.pending.length && ((this.pending[drop].seq - acked) | 0) <= 0) drop++;
    if (drop > 0) this.pending.splice(0, drop);

    const body = this.body;
    const oldX = body.x;
    const oldY = body.y;
    body.x = me.x;
    body.y = me.y;
    body.vx = me.vx;
    body.vy = me.vy;
    for (const input of this.pending) stepBody(body, input.buttons, this.params, this.dt);

    if (!this.hasBody) {
      this.hasBody = true;
      this.previousBody.x = body.x;
      this.previousBody.y = body.y;
      this.lastCorrection = 0;
      return;
    }
    const dx = oldX - body.x;
    const dy = oldY - body.y;
    this.lastCorrection = Math.hypot(dx, dy);
    if (this.lastCorrection > SNAP_DISTANCE) {
      this.errorX = this.errorY = 0;
      this.previousBody.x = body.x;
      this.previousBody.y = body.y;
    } else if (this.lastCorrection > 0) {
      this.largestSmoothedCorrection = Math.max(this.largestSmoothedCorrection, this.lastCorrection);
      // Shift both ends of the drawn segment and carry the difference as a decaying offset,
      // so the ship on screen does not move at the moment of the correction.
      this.errorX += dx;
      this.errorY += dy;
      this.previousBody.x -= dx;
      this.previousBody.y -= dy;
    }
  }

  /**
   * Runs the fixed-step client loop up to `now`: one Input per elapsed tick, predicted at once.
   * Also sends the periodic Ping.
   * @param {number} now ms
   * @param {Controls} controls
   * @returns {number} steps run
   */
  update(now, controls) {
    if (!this.inGame || this.params === null || this.awaitingSeq) {
      this.lastUpdate = null;
      return 0;
    }
    if (this.pingSource !== 'heartbeat' && now - this.pingSentAt >= PING_INTERVAL_MS) {
      this.pingNonce = (this.pingNonce + 1) >>> 0;
      if (this.send({ type: 'Ping', nonce: this.pingNonce })) {
        this.pingOutstanding = this.pingNonce;
        this.pingSentAt = now;
      }
    }
    if (this.lastUpdate === null) this.lastUpdate = now - this.tickMs;
    this.accumulator += now - this.lastUpdate;
    this.lastUpdate = now;
    if (this.accumulator > MAX_CATCH_UP_STEPS * this.tickMs) {
      this.accumulator = MAX_CATCH_UP_STEPS * this.tickMs;
    }
    let steps = 0;
    while (this.accumulator >= this.tickMs) {
      this.accumulator -= this.tickMs;
      this.step(controls);
      steps++;
    }
    return steps;
  }

  /** @param {Controls} controls */
  step(controls) {
    const buttons = controls.buttons & 0xff;
    this.aim = controls.aim ?? facingOf(buttons, this.aim);
    const seq = (this.seq + 1) >>> 0;
    const input = {
      type: 'Input',
      seq,
      buttons,
      aim: this.aim,
      ack_tick: this.latestRawTick >>> 0,
      view_tick: this.viewTick >>> 0,
    };
    if (!this.send(input)) return;
    this.seq = seq;
    this.pending.push({ seq, buttons });
    if (this.pending.length > MAX_PENDING_INPUTS) this.pending.shift();
    if (this.hasBody) {
      this.previousBody.x = this.body.x;
      this.previousBody.y = this.body.y;
      stepBody(this.body, buttons, this.params, this.dt);
    }
  }

  /**
   * Snapshots received in the last second.
   * @param {number} now
   */
  snapshotRate(now) {
    const n = Math.min(this.arrivalCount, this.arrivals.length);
    let count = 0;
    for (let i = 0; i < n; i++) if (now - this.arrivals[i] <= 1000) count++;
    return count;
  }

  /**
   * Fills and returns {@link stats} for the network overlay.
   * @param {number} now ms
   * @returns {NetStats}
   */
  netStats(now) {
    const stats = this.stats;
    const jitter = this.jitter;
    stats.pingMs = this.pingMs;
    stats.snapshotRate = this.snapshotRate(now);
    stats.delayMs = jitter.delayTicks * this.tickMs;
    stats.targetDelayMs = jitter.targetDelayTicks * this.tickMs;
    stats.jitterMs = jitter.jitterTicks * this.tickMs;
    stats.snaps = jitter.snaps;
    stats.serverTickUs = this.serverTickUs;
    return stats;
  }

  /**
   * Fills and returns {@link view}: every ship, bolt and orb where it should be drawn at `now`.
   * Reuses its objects, so the result is only valid until the next call.
   * @param {number} now ms
   */
  computeView(now) {
    const view = this.view;
    const frameMs = this.lastViewTime === null ? 0 : Math.max(0, now - this.lastViewTime);
    this.lastViewTime = now;
    view.shipCount = 0;
    view.boltCount = 0;
    view.me = null;
    view.cameraX = this.params ? this.params.arena_width / 2 : 1500;
    view.cameraY = this.params ? this.params.arena_height / 2 : 1000;

    if (this.hasBody) {
      const decay = Math.exp(-frameMs / CORRECTION_SMOOTHING_MS);
      this.errorX *= decay;
      this.errorY *= decay;
      const alpha = Math.min(1, this.accumulator / this.tickMs);
      const me = this.meView;
      me.id = this.playerId;
      me.x = this.previousBody.x + (this.body.x - this.previousBody.x) * alpha + this.errorX;
      me.y = this.previousBody.y + (this.body.y - this.previousBody.y) * alpha + this.errorY;
      me.aim = this.aim;
      me.flags = this.serverMe ? this.serverMe.flags : 0;
      view.me = me;
      view.cameraX = me.x;
      view.cameraY = me.y;
    }

    const snapshots = this.snapshots;
    const renderTick = this.jitter.advance(now);
    if (snapshots.length === 0 || renderTick === null) {
      view.orbs = EMPTY;
      return view;
    }
    // The server tick drawn for others, sent with each input so hits are judged against it.
    const newestTick = snapshots[snapshots.length - 1].tick;
    this.viewTick = (this.latestRawTick + Math.round(renderTick - newestTick)) >>> 0;

    // The newest snapshot at or before renderTick (or the oldest we have), and the one after.
    let i = snapshots.length - 1;
    while (i > 0 && snapshots[i].tick > renderTick) i--;
    const from = snapshots[i];
    const to = i + 1 < snapshots.length ? snapshots[i + 1] : null;
    const ahead = renderTick - from.tick;
    if (to && (to.tick - from.tick) * this.tickMs <= OUTAGE_MS) {
      view.orbs = from.message.orbs;
      this.interpolate(from, to, clamp01(ahead / (to.tick - from.tick)), to.tick - from.tick);
    } else if (to && ahead * this.tickMs > MAX_EXTRAPOLATION_MS) {
      // Past the end of a long gap's extrapolation: jump to what came after it.
      view.orbs = to.message.orbs;
      this.extrapolate(from, to, 0);
    } else {
      view.orbs = from.message.orbs;
      const most = MAX_EXTRAPOLATION_MS / this.tickMs;
      this.extrapolate(i > 0 ? snapshots[i - 1] : null, from, Math.min(Math.max(ahead, 0), most));
    }
    return view;
  }

  /**
   * @param {StoredSnapshot} from
   * @param {StoredSnapshot} to
   * @param {number} alpha 0..1 between them
   * @param {number} ticks between them
   */
  interpolate(from, to, alpha, ticks) {
    const maxTravel = this.params.max_speed * this.dt * ticks * 1.5 + this.params.player_radius;
    const players = to.message.players;
    for (let k = 0; k < players.length; k++) {
      const player = players[k];
      if (player.id === this.playerId) continue;
      const ship = this.nextShip(player);
      const before = from.playersById.get(player.id);
      if (before && Math.abs(player.x - before.x) + Math.abs(player.y - before.y) <= 2 * maxTravel) {
        ship.x = before.x + (player.x - before.x) * alpha;
        ship.y = before.y + (player.y - before.y) * alpha;
        ship.aim = lerpAngle(before.aim, player.aim, alpha);
        ship.flags = alpha < 0.5 ? before.flags : player.flags;
      } else if (before && alpha < 0.5) {
        // A teleport (respawn): no sliding across the arena.
        ship.x = before.x;
        ship.y = before.y;
        ship.aim = before.aim;
        ship.flags = before.flags;
      }
    }
    const bolts = to.message.bolts;
    for (let k = 0; k < bolts.length; k++) {
      const bolt = bolts[k];
      const before = from.boltsById.get(bolt.id);
      const view = this.nextBolt(bolt);
      if (before) {
        view.vx = (bolt.x - before.x) / ticks;
        view.vy = (bolt.y - before.y) / ticks;
        view.x = before.x + (bolt.x - before.x) * alpha;
        view.y = before.y + (bolt.y - before.y) * alpha;
      }
    }
  }

  /**
   * Moves ships and bolts along their motion between `previous` and `newest` for `ahead` ticks
   * past `newest` (already capped by the caller). Motion comes from positions: other players'
   * velocities may not be sent. A ship with no earlier position uses its velocity, if any.
   * @param {StoredSnapshot | null} previous
   * @param {StoredSnapshot} newest
   * @param {number} ahead ticks past `newest`
   */
  extrapolate(previous, newest, ahead) {
    const gap = previous ? newest.tick - previous.tick : 0;
    const usable = gap > 0 && gap * this.tickMs <= OUTAGE_MS;
    // The furthest a ship can move in a tick (the server applies up to four banked steps).
    const maxStep = this.params.max_speed * this.dt * 4;
    const players = newest.message.players;
    for (let k = 0; k < players.length; k++) {
      const player = players[k];
      if (player.id === this.playerId) continue;
      const ship = this.nextShip(player);
      if (ahead <= 0) continue;
      let stepX = player.vx * this.dt;
      let stepY = player.vy * this.dt;
      const before = usable ? /** @type {StoredSnapshot} */ (previous).playersById.get(player.id) : undefined;
      if (before) {
        stepX = (player.x - before.x) / gap;
        stepY = (player.y - before.y) / gap;
        if (Math.abs(stepX) + Math.abs(stepY) > 2 * maxStep) stepX = stepY = 0; // a respawn
      }
      ship.x += stepX * ahead;
      ship.y += stepY * ahead;
    }
    const bolts = newest.message.bolts;
    for (let k = 0; k < bolts.length; k++) {
      const bolt = bolts[k];
      const view = this.nextBolt(bolt);
      const before = usable ? /** @type {StoredSnapshot} */ (previous).boltsById.get(bolt.id) : undefined;
      if (before) {
        view.vx = (bolt.x - before.x) / gap;
        view.vy = (bolt.y - before.y) / gap;
        view.x += view.vx * ahead;
        view.y += view.vy * ahead;
      }
    }
  }

  /**
   * The next reusable ship slot, initialised from `player`.
   * @param {any} player
   * @returns {ShipView}
   */
  nextShip(player) {
    const ships = this.view.ships;
    let ship = ships[this.view.shipCount];
    if (!ship) {
      ship = { id: 0, x: 0, y: 0, aim: 0, flags: 0, isMe: false };
      ships[this.view.shipCount] = ship;
    }
    this.view.shipCount++;
    ship.id = player.id;
    ship.x = player.x;
    ship.y = player.y;
    ship.aim = player.aim;
    ship.flags = player.flags;
    return ship;
  }

  /**
   * The next reusable bolt slot, initialised from `bolt` (no known motion yet).
   * @param {any} bolt
   * @returns {BoltView}
   */
  nextBolt(bolt) {
    const bolts = this.view.bolts;
    let view = bolts[this.view.boltCount];
    if (!view) bolts[this.view.boltCount] = view = { id: 0, owner: 0, x: 0, y: 0, vx: 0, vy: 0 };
    this.view.boltCount++;
    view.id = bolt.id;
    view.owner = bolt.owner;
    view.x = bolt.x;
    view.y = bolt.y;
    view.vx = 0;
    view.vy = 0;
    return view;
  }

  /**
   * The state the browser test reads through `window.skirmish.state`.
   * @returns {object}
   */
  testState() {
    const newest = this.snapshots.length ? this.snapshots[this.snapshots.length - 1].message : null;
    return {
      playerId: this.playerId,
      resumed: this.resumed,
      arena: this.params ? { width: this.params.arena_width, height: this.params.arena_height } : null,
      tick: newest ? newest.tick : null,
      me: this.hasBody ? { x: this.body.x, y: this.body.y } : null,
      serverMe: this.serverMe
        ? {
            x: this.serverMe.x,
            y: this.serverMe.y,
            speed: Math.hypot(this.serverMe.vx, this.serverMe.vy),
            score: this.serverMe.score,
            lastInputSeq: this.serverMe.last_input_seq,
          }
        : null,
      players: newest
        ? newest.players.map((p) => ({
            id: p.id,
            name: this.nameOf(p.id),
            x: p.x,
            y: p.y,
            score: p.score,
            away: (p.flags & PlayerFlags.AWAY) !== 0,
          }))
        : [],
      roster: [...this.roster].map(([id, name]) => ({ id, name })),
      rank: this.myRank,
      playersInRoom: this.playersInRoom,
      nearby: this.nearby,
      taggedBy: this.taggedBy ? { ...this.taggedBy } : null,
      snapshotsReceived: this.snapshotsReceived,
      inputsSent: this.seq,
      pendingInputs: this.pending.length,
      lastCorrection: this.lastCorrection,
      largestSmoothedCorrection: this.largestSmoothedCorrection,
      pingMs: this.pingMs,
      pingSource: this.pingSource,
    };
  }
}

const EMPTY = Object.freeze([]);

/**
 * Without a mouse, a ship faces where its held direction keys point (or keeps its aim).
 * @param {number} buttons
 * @param {number} current
 */
function facingOf(buttons, current) {
  const x = (buttons & Buttons.RIGHT ? 1 : 0) - (buttons & Buttons.LEFT ? 1 : 0);
  const y = (buttons & Buttons.DOWN ? 1 : 0) - (buttons & Buttons.UP ? 1 : 0);
  return x === 0 && y === 0 ? current : Math.atan2(y, x);
}

/** @param {number} value */
function clamp01(value) {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/**
 * Interpolates between two angles the short way round.
 * @param {number} from
 * @param {number} to
 * @param {number} t
 */
export function lerpAngle(from, to, t) {
  let delta = (to - from) % (2 * Math.PI);
  if (delta > Math.PI) delta -= 2 * Math.PI;
  else if (delta < -Math.PI) delta += 2 * Math.PI;
  return from + delta * t;
}
