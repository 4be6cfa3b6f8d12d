/**
 * The numbers of the operator's page: the samples of the last ten minutes (the `hello`'s
 * history, then one `sample` per interval), the tiles that show the newest, and the four charts
 * drawn over all of them. Must never keep more than the window's samples, nor talk to the socket.
 */

import { LineChart } from './charts.js';
import {
  connectionSeries,
  formatByteRate,
  formatMicros,
  formatMillis,
  formatPerSecond,
  perSecond,
} from './format.js';

/** What the charts span, and so the history kept. */
export const WINDOW_MS = 10 * 60 * 1000;
/** The most samples kept whatever the interval (the server sends at most 600). */
const MAX_SAMPLES = 600;

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {number} value */
const count = (value) => (Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '–');

export class LiveView {
  constructor() {
    /** @type {any[]} oldest first */
    this.samples = [];
    /** Samples received since the page loaded, history included (the test hook). */
    this.samplesReceived = 0;
    this.intervalMs = 1000;
    const chart = (name, format) =>
      new LineChart(
        /** @type {HTMLCanvasElement} */ (byId(`chart-${name}`)),
        byId(`legend-${name}`),
        { format, windowMs: WINDOW_MS },
      );
    this.charts = {
      tick: chart('tick', formatMillis),
      players: chart('players', count),
      bandwidth: chart('bandwidth', formatByteRate),
      connections: chart('connections', (v) => `${count(v)}/s`),
    };
  }

  /** @returns {any | null} */
  get lastSample() {
    return this.samples.length > 0 ? this.samples[this.samples.length - 1] : null;
  }

  /**
   * Starts over from a `hello`: its interval and its history.
   * @param {{interval_ms?: number, history?: any[]}} hello
   */
  begin(hello) {
    this.intervalMs = hello.interval_ms > 0 ? hello.interval_ms : 1000;
    const history = Array.isArray(hello.history) ? hello.history : [];
    this.samples = history.slice(-MAX_SAMPLES);
    this.samplesReceived += history.length;
    this.showAll();
  }

  /** @param {any} sample */
  add(sample) {
    this.samples.push(sample);
    this.samplesReceived += 1;
    const oldest = sample.t - WINDOW_MS;
    while (this.samples.length > MAX_SAMPLES || (this.samples.length > 0 && this.samples[0].t < oldest)) {
      this.samples.shift();
    }
    this.showAll();
  }

  /** Redraws the charts (e.g. when the page shows them again at another size). */
  redraw() {
    for (const chart of Object.values(this.charts)) chart.draw();
  }

  /** What the test hook shows of the charts. */
  chartsState() {
    return Object.fromEntries(
      Object.entries(this.charts).map(([name, c]) => [
        name,
        { top: c.top, points: c.pointsDrawn, series: c.series.map((s) => s.label), width: c.canvas.width },
      ]),
    );
  }

  /** @private */
  showAll() {
    this.showTiles(this.lastSample);
    this.showCharts();
  }

  /**
   * @private
   * @param {any | null} s
   */
  showTiles(s) {
    const interval = this.intervalMs;
    const set = (id, text) => {
      const element = byId(id);
      if (element.textContent !== text) element.textContent = text;
    };
    set('tile-players', s ? count(s.players) : '–');
    set('tile-away', s ? count(s.away) : '–');
    set('tile-rooms', s ? count(s.rooms) : '–');
    set('tile-connections', s ? count(s.connections) : '–');
    set('tile-bytes-in', s ? formatByteRate(perSecond(s.bytes_in, interval)) : '–');
    set('tile-bytes-out', s ? formatByteRate(perSecond(s.bytes_out, interval)) : '–');
    set('tile-tick-p50', s ? formatMicros(s.tick_p50_us) : '–');
    set('tile-tick-p99', s ? formatMicros(s.tick_p99_us) : '–');
    set('tile-rate-limited', s ? formatPerSecond(s.rate_limited, interval) : '–');
    set('tile-skipped', s ? formatPerSecond(s.snapshots_skipped, interval) : '–');
  }

  /** @private */
  showCharts() {
    const samples = this.samples;
    const interval = this.intervalMs;
    const times = samples.map((s) => s.t);
    const ms = (us) => (Number.isFinite(us) ? us / 1000 : null);
    const values = (read) => samples.map((s) => {
      const v = read(s);
      return Number.isFinite(v) ? v : null;
    });
    this.charts.tick.show(times, [
      { label: 'p50', values: samples.map((s) => ms(s.tick_p50_us)) },
      { label: 'p99', values: samples.map((s) => ms(s.tick_p99_us)) },
    ]);
    this.charts.players.show(times, [
      { label: 'players', values: values((s) => s.players) },
      { label: 'away', values: values((s) => s.away) },
      { label: 'connections', values: values((s) => s.connections) },
    ]);
    this.charts.bandwidth.show(times, [
      { label: 'out', values: values((s) => perSecond(s.bytes_out, interval)) },
      { label: 'in', values: values((s) => perSecond(s.bytes_in, interval)) },
    ]);
    this.charts.connections.show(times, connectionSeries(samples, interval));
  }
}
