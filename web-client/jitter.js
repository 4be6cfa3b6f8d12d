/**
 * The adaptive jitter buffer of entity interpolation: at which server tick to draw everyone
 * else. It owns the estimate of the server's clock, the measurement of how irregularly
 * snapshots arrive, and a render clock that follows "server now minus a delay" smoothly.
 *
 * Pure and clock-free like `game.js`: it is told when each snapshot arrived and asked where
 * the render clock is at a given time (milliseconds), so it runs under Node on synthetic
 * arrival times.
 *
 * How it works:
 * - Server clock: `serverTick ≈ now / tickMs + offset`. The offset follows the earliest
 *   arrivals closely and late ones slowly, so it tracks "a snapshot that was not delayed".
 *   A sample far off for longer than {@link CLOCK_SHIFT_CONFIRM_MS} (the server stalled, or
 *   the route changed) resets it; a burst of late snapshots after an outage does not.
 * - Jitter: each snapshot's lateness against that clock goes into a window; the delay wanted is
 *   one snapshot interval plus the window's 95th percentile (the next snapshot is then nearly
 *   always there in time), never below {@link MIN_DELAY_INTERVALS} snapshot intervals and
 *   never above {@link MAX_DELAY_MS}. Snapshots arriving after an outage are not jitter and
 *   are left out until arrivals are back to normal.
 * - Render clock: advances with real time, plus or minus at most {@link MAX_WARP} of it to
 *   reach the wanted delay, so a change of delay shows as ships moving a few percent slower
 *   or faster for a moment, never as a jump. Only when it is more than {@link SNAP_MS} off
 *   (a long outage, a clock reset) does it jump.
 */

/** The delay never drops below this many snapshot intervals. */
export const MIN_DELAY_INTERVALS = 2;
/** The delay never exceeds this (ms): beyond it, better to extrapolate than to lag so much. */
export const MAX_DELAY_MS = 300;
/** How much faster or slower than real time the render clock may run while adjusting. */
export const MAX_WARP = 0.06;
/** A render clock further than this from where it should be jumps there (ms). */
export const SNAP_MS = 250;
/** No snapshot for this long is an outage, not jitter (ms). */
export const OUTAGE_MS = 250;
/** Lateness samples kept (about two seconds at 30 Hz). */
const JITTER_WINDOW = 64;
/** The share of snapshots that should arrive in time. */
const JITTER_PERCENTILE = 0.95;
/** Added to the delay for the frame's own granularity (ms). */
const SAFETY_MS = 4;
/** A clock sample further than this (ms) from the estimate is a candidate clock shift... */
const CLOCK_SHIFT_MS = 400;
/** ...confirmed when samples stay that far off for this long (ms). */
export const CLOCK_SHIFT_CONFIRM_MS = 1000;
/** How quickly the measured snapshot interval follows a change (per snapshot). */
const INTERVAL_SMOOTHING = 0.1;

export class JitterBuffer {
  /** @param {number} tickMs server tick duration */
  constructor(tickMs) {
    /** Lateness of recent snapshots (ticks), a ring. */
    this.lateness = new Float64Array(JITTER_WINDOW);
    /** Scratch for the percentile (the ring stays in arrival order). */
    this.sorted = new Float64Array(JITTER_WINDOW);
    this.reset(tickMs);
  }

  /**
   * Forgets everything (a new session, or the server's tick rate changed).
   * @param {number} tickMs
   */
  reset(tickMs) {
    this.tickMs = tickMs;
    /** Estimated server tick at local time 0, or null before the first snapshot. */
    this.offset = /** @type {number | null} */ (null);
    /** Since when samples have disagreed with the offset by more than CLOCK_SHIFT_MS, or null. */
    this.shiftSince = /** @type {number | null} */ (null);
    this.latenessCount = 0;
    /** Mean tick distance between consecutive snapshots (1 when every tick is sent). */
    this.intervalTicks = 1;
    this.lastTick = /** @type {number | null} */ (null);
    this.lastArrival = -Infinity;
    /** After an outage: lateness is not recorded until a snapshot arrives on time again. */
    this.recovering = false;
    /** The 95th percentile of recent lateness (ticks). */
    this.jitterTicks = 0;
    /** The delay aimed at (ticks behind the estimated server tick). */
    this.targetDelayTicks = MIN_DELAY_INTERVALS;
    /** Where the render clock is (server ticks, fractional), or null before it starts. */
    this.renderTick = /** @type {number | null} */ (null);
    this.lastAdvance = 0;
    /** Snaps of the render clock so far (for the overlay and tests). */
    this.snaps = 0;
  }

  /** The delay the render clock is running at right now, in ticks (after {@link advance}). */
  get delayTicks() {
    return this.renderTick === null ? this.targetDelayTicks : this.serverTickAt(this.lastAdvance) - this.renderTick;
  }

  /**
   * The estimated server tick at local time `now` (fractional).
   * @param {number} now ms
   */
  serverTickAt(now) {
    return now / this.tickMs + (this.offset ?? 0);
  }

  /**
   * A snapshot arrived.
   * @param {number} tick its tick, unwrapped (monotonic)
   * @param {number} now ms
   */
  onSnapshot(tick, now) {
    if (this.lastTick !== null && tick > this.lastTick) {
      const step = Math.min(tick - this.lastTick, 30);
      this.intervalTicks += (step - this.intervalTicks) * INTERVAL_SMOOTHING;
    }
    if (now - this.lastArrival > OUTAGE_MS && this.lastTick !== null) this.recovering = true;
    this.lastTick = tick;
    this.lastArrival = now;

    this.trackServerClock(tick, now);
    const late = Math.max(0, /** @type {number} */ (this.offset) - (tick - now / this.tickMs));
    if (this.recovering) {
      if (late > this.targetDelayTicks) return;
      this.recovering = false;
    }
    this.lateness[this.latenessCount++ % JITTER_WINDOW] = Math.min(late, MAX_DELAY_MS / this.tickMs);
    this.jitterTicks = this.latenessPercentile();
    const minimum = MIN_DELAY_INTERVALS * this.intervalTicks;
    const wanted = this.intervalTicks + this.jitterTicks + SAFETY_MS / this.tickMs;
    this.targetDelayTicks = Math.min(Math.max(minimum, wanted), Math.max(minimum, MAX_DELAY_MS / this.tickMs));
  }

  /**
   * Moves the render clock to `now` and returns it: the server tick to draw others at.
   * @param {number} now ms
   * @returns {number | null} null before the first snapshot
   */
  advance(now) {
    if (this.offset === null) return null;
    const target = this.serverTickAt(now) - this.targetDelayTicks;
    const elapsed = this.renderTick === null ? 0 : Math.max(0, now - this.lastAdvance) / this.tickMs;
    this.lastAdvance = now;
    if (this.renderTick === null || Math.abs(target - this.renderTick) * this.tickMs > SNAP_MS) {
      if (this.renderTick !== null) this.snaps++;
      this.renderTick = target;
      return target;
    }
    const advanced = this.renderTick + elapsed;
    const most = MAX_WARP * elapsed;
    this.renderTick = advanced + Math.min(most, Math.max(-most, target - advanced));
    return this.renderTick;
  }

  /**
   * Keeps `offset` on the earliest arrivals: it rises quickly to an early sample and sinks
   * slowly to late ones; a lasting shift resets it.
   * @param {number} tick
   * @param {number} now
   */
  trackServerClock(tick, now) {
    const sample = tick - now / this.tickMs;
    if (this.offset === null) {
      this.offset = sample;
      return;
    }
    const off = sample - this.offset;
    if (Math.abs(off) * this.tickMs > CLOCK_SHIFT_MS) {
      if (off > 0) {
        this.offset = sample; // The server is further on than we thought: follow at once.
      } else if (this.shiftSince === null) {
        this.shiftSince = now;
      } else if (now - this.shiftSince >= CLOCK_SHIFT_CONFIRM_MS) {
        this.offset = sample;
        this.shiftSince = null;
        this.latenessCount = 0;
      }
      return;
    }
    this.shiftSince = null;
    this.offset += off * (off > 0 ? 0.5 : 0.02);
  }

  /** The JITTER_PERCENTILE of the recorded lateness, in ticks. */
  latenessPercentile() {
    const n = Math.min(this.latenessCount, JITTER_WINDOW);
    if (n === 0) return 0;
    const sorted = this.sorted.subarray(0, n);
    sorted.set(this.lateness.subarray(0, n));
    sorted.sort();
    return sorted[Math.min(n - 1, Math.floor(n * JITTER_PERCENTILE))];
  }
}
