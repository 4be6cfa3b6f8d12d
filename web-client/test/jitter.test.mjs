// The adaptive jitter buffer on synthetic arrival times: snapshots are "sent" once per server
// tick and arrive after a delay the test chooses; frames are drawn at 60 Hz. No browser, no
// real clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { JitterBuffer, MAX_DELAY_MS, MAX_WARP, MIN_DELAY_INTERVALS } from '../jitter.js';

const TICK_MS = 1000 / 30;
const FRAME_MS = 1000 / 60;
/** Base one-way latency: only its variation matters. */
const LATENCY_MS = 40;

/** A small seeded PRNG (mulberry32), so the "random" jitter is the same on every run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs the buffer over `seconds` of a game.
 * @param {object} options
 * @param {(tick: number) => number | null} options.arrival when the snapshot of `tick` arrives
 *   (ms), or null if it is never sent (ticks the server skips for us)
 * @param {number} options.seconds
 * @returns {{buffer: JitterBuffer, frames: {now: number, renderTick: number, newest: number,
 *   delay: number, target: number}[]}} one record per frame
 */
function simulate({ arrival, seconds }) {
  const buffer = new JitterBuffer(TICK_MS);
  const arrivals = [];
  const lastTick = Math.ceil((seconds * 1000) / TICK_MS);
  for (let tick = 1; tick <= lastTick; tick++) {
    const at = arrival(tick);
    if (at !== null) arrivals.push({ tick, at });
  }
  arrivals.sort((a, b) => a.at - b.at || a.tick - b.tick);
  const frames = [];
  let next = 0;
  let newest = -Infinity;
  for (let now = 0; now <= seconds * 1000; now += FRAME_MS) {
    while (next < arrivals.length && arrivals[next].at <= now) {
      const { tick, at } = arrivals[next++];
      if (tick > newest) {
        // Like game.js: stale snapshots are dropped before the buffer sees them.
        newest = tick;
        buffer.onSnapshot(tick, at);
      }
    }
    const renderTick = buffer.advance(now);
    if (renderTick === null) continue;
    frames.push({ now, renderTick, newest, delay: buffer.delayTicks, target: buffer.targetDelayTicks });
  }
  return { buffer, frames };
}

/** Frames after `fromMs` whose render tick is past the newest snapshot received. */
function underruns(frames, fromMs) {
  const counted = frames.filter((f) => f.now >= fromMs);
  return counted.filter((f) => f.renderTick > f.newest).length / counted.length;
}

/** Largest deviation of a frame's render-clock advance from real time, as a share of it. */
function largestWarp(frames, fromMs) {
  let largest = 0;
  for (let i = 1; i < frames.length; i++) {
    if (frames[i].now < fromMs) continue;
    const real = (frames[i].now - frames[i - 1].now) / TICK_MS;
    const moved = frames[i].renderTick - frames[i - 1].renderTick;
    largest = Math.max(largest, Math.abs(moved - real) / real);
  }
  return largest;
}

test('on a steady link the delay settles at two snapshot intervals', () => {
  const { buffer, frames } = simulate({ arrival: (tick) => tick * TICK_MS + LATENCY_MS, seconds: 4 });
  assert.ok(Math.abs(buffer.targetDelayTicks - MIN_DELAY_INTERVALS) < 1e-9, `target ${buffer.targetDelayTicks}`);
  assert.ok(Math.abs(frames.at(-1).delay - MIN_DELAY_INTERVALS) < 0.01, `delay ${frames.at(-1).delay}`);
  assert.equal(buffer.snaps, 0);
  assert.equal(underruns(frames, 500), 0, 'the next snapshot is always there in time');
});

test('with fewer snapshots (every other tick) the minimum is two of their intervals', () => {
  const { buffer, frames } = simulate({
    arrival: (tick) => (tick % 2 === 0 ? tick * TICK_MS + LATENCY_MS : null),
    seconds: 4,
  });
  assert.ok(Math.abs(buffer.intervalTicks - 2) < 0.01, `interval ${buffer.intervalTicks}`);
  assert.ok(buffer.targetDelayTicks >= 2 * MIN_DELAY_INTERVALS - 0.01, `target ${buffer.targetDelayTicks}`);
  assert.equal(underruns(frames, 1000), 0);
});

test('jitter raises the delay enough to interpolate nearly always, and no more', () => {
  const rand = random(7);
  const JITTER_MS = 80; // uniform 0..80 ms extra: up to 2.4 ticks late
  const { buffer, frames } = simulate({
    arrival: (tick) => tick * TICK_MS + LATENCY_MS + rand() * JITTER_MS,
    seconds: 8,
  });
  const targetMs = buffer.targetDelayTicks * TICK_MS;
  // Lateness is measured against the clock estimate, which sits a little below the earliest
  // arrivals: the measured jitter is most, not all, of the spread.
  assert.ok(buffer.jitterTicks * TICK_MS > 0.5 * JITTER_MS, `jitter ${buffer.jitterTicks * TICK_MS} ms`);
  assert.ok(targetMs > TICK_MS + 0.5 * JITTER_MS && targetMs < TICK_MS + JITTER_MS + 20, `target ${targetMs} ms`);
  const share = underruns(frames, 3000);
  assert.ok(share < 0.05, `render clock past the newest snapshot in ${(share * 100).toFixed(1)}% of frames`);
  assert.equal(buffer.snaps, 0);
});

test('a change of jitter moves the render clock smoothly, and the delay comes back down', () => {
  const rand = random(11);
  // Calm for 3 s, jittery (0..120 ms) for 3 s, calm again.
  const jittery = (tick) => tick * TICK_MS > 3000 && tick * TICK_MS < 6000;
  const { buffer, frames } = simulate({
    arrival: (tick) => tick * TICK_MS + LATENCY_MS + (jittery(tick) ? rand() * 120 : 0),
    seconds: 14,
  });
  assert.equal(buffer.snaps, 0, 'never jumps');
  assert.ok(largestWarp(frames, 500) <= MAX_WARP + 1e-9, `warp ${largestWarp(frames, 500)}`);
  assert.ok(frames.every((f, i) => i === 0 || f.renderTick > frames[i - 1].renderTick), 'never goes backwards');
  const peak = Math.max(...frames.map((f) => f.delay));
  assert.ok(peak > 3.5, `the delay grew while jittery (peak ${peak} ticks)`);
  assert.ok(peak * TICK_MS <= MAX_DELAY_MS + 1, `capped (peak ${peak * TICK_MS} ms)`);
  assert.ok(Math.abs(frames.at(-1).delay - MIN_DELAY_INTERVALS) < 0.1, `back down: ${frames.at(-1).delay}`);
});

test('a burst of late snapshots after an outage is not taken for jitter or a clock shift', () => {
  // One second of nothing, then everything sent meanwhile arrives at once (TCP catching up).
  const OUTAGE = [3000, 4000];
  const { buffer, frames } = simulate({
    arrival: (tick) => {
      const at = tick * TICK_MS + LATENCY_MS;
      return at > OUTAGE[0] && at < OUTAGE[1] ? OUTAGE[1] : at;
    },
    seconds: 6,
  });
  assert.equal(buffer.snaps, 0, 'the render clock went on through the outage');
  assert.ok(frames.every((f, i) => i === 0 || f.renderTick > frames[i - 1].renderTick));
  const after = frames.find((f) => f.now > OUTAGE[1] + 200);
  assert.ok(after.target < MIN_DELAY_INTERVALS + 0.5, `target after the burst: ${after.target} ticks`);
  assert.equal(underruns(frames, OUTAGE[1] + 200), 0);
});

test('a lasting shift of the server clock is followed after a moment, with one clean jump', () => {
  // From 3 s on, every snapshot arrives 600 ms later than before (the server fell behind).
  const { buffer, frames } = simulate({
    arrival: (tick) => tick * TICK_MS + LATENCY_MS + (tick * TICK_MS > 3000 ? 600 : 0),
    seconds: 8,
  });
  assert.equal(buffer.snaps, 1);
  const settled = frames.filter((f) => f.now > 6000);
  assert.equal(underruns(settled, 0), 0, 'drawing from real snapshots again');
  assert.ok(Math.abs(settled.at(-1).delay - MIN_DELAY_INTERVALS) < 0.1, `delay ${settled.at(-1).delay}`);
});
