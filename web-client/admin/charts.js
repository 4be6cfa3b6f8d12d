/**
 * The operator page's charts: lines over the last minutes on a canvas, drawn sharp at any
 * devicePixelRatio and again whenever the canvas changes size, over the history there is (a
 * minute at least, the window at most), with gaps where a value is missing (`null`: no tick
 * ran), a round top value written on the axis, and a legend beside the canvas. Must never read
 * the socket or the page's state: it is handed series to draw.
 */

import { niceCeiling } from './format.js';

/** Colours of the series, in the order they first appear (the game's accent first). */
export const SERIES_COLOURS = Object.freeze([
  '#2ee6ff',
  '#ff4d6d',
  '#ffd166',
  '#7cf29a',
  '#b48cff',
  '#ff9f43',
  '#4da3ff',
  '#f78fb3',
]);

/** The canvas's background and its lines of text and grid. */
export const CHART_BACKGROUND = '#0a1120';
const TEXT_COLOUR = 'rgba(216, 226, 245, 0.7)';
const GRID_COLOUR = 'rgba(216, 226, 245, 0.14)';
const FONT = '11px system-ui, sans-serif';
/** The shortest time the x axis spans, ms. */
const MIN_SPAN_MS = 60_000;
/** CSS pixels around the plot: room for the top value and the time labels. */
const PAD = Object.freeze({ left: 6, right: 6, top: 16, bottom: 15 });

/**
 * @typedef {object} ChartSeries
 * @property {string} label
 * @property {(number | null)[]} values one per time, in the chart's unit; null is a gap
 */

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} legend an element whose children become the legend
   * @param {object} options
   * @param {(value: number) => string} options.format writes a value of the chart's unit
   * @param {number} options.windowMs the most time the chart spans, ending at the last time
   */
  constructor(canvas, legend, { format, windowMs }) {
    this.canvas = canvas;
    this.legend = legend;
    this.format = format;
    this.windowMs = windowMs;
    /** @type {number[]} */
    this.times = [];
    /** @type {ChartSeries[]} */
    this.series = [];
    /** Colour of each label, kept as series come and go so a line keeps its colour. */
    this.colours = new Map();
    /** The top of the axis last drawn (the test hook shows it). */
    this.top = 0;
    /** Points drawn last time (the test hook shows it). */
    this.pointsDrawn = 0;
    this.legendText = '';
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => this.draw()).observe(canvas);
    }
  }

  /**
   * Replaces what the chart shows and draws it.
   * @param {number[]} times unix ms of each value
   * @param {ChartSeries[]} series
   */
  show(times, series) {
    this.times = times;
    this.series = series;
    this.updateLegend();
    this.draw();
  }

  /** @param {string} label */
  colourOf(label) {
    if (!this.colours.has(label)) {
      this.colours.set(label, SERIES_COLOURS[this.colours.size % SERIES_COLOURS.length]);
    }
    return /** @type {string} */ (this.colours.get(label));
  }

  /** @private Rebuilds the legend when its labels change (text only: labels come from the server). */
  updateLegend() {
    const text = this.series.map((s) => s.label).join('\n');
    if (text === this.legendText) return;
    this.legendText = text;
    const items = this.series.map(({ label }) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.backgroundColor = this.colourOf(label);
      item.append(swatch, document.createTextNode(label));
      return item;
    });
    this.legend.replaceChildren(...items);
  }

  /** Matches the canvas's pixels to its size on screen; false when it is not displayed. */
  fitToScreen() {
    const ratio = globalThis.devicePixelRatio || 1;
    const width = Math.round(this.canvas.clientWidth * ratio);
    const height = Math.round(this.canvas.clientHeight * ratio);
    if (width === 0 || height === 0) return false;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return true;
  }

  /** Draws the chart at the canvas's current size. */
  draw() {
    if (!this.fitToScreen()) return;
    const ctx = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext('2d'));
    const ratio = this.canvas.width / this.canvas.clientWidth;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    ctx.fillStyle = CHART_BACKGROUND;
    ctx.fillRect(0, 0, width, height);

    const plot = {
      left: PAD.left,
      top: PAD.top,
      width: Math.max(1, width - PAD.left - PAD.right),
      height: Math.max(1, height - PAD.top - PAD.bottom),
    };
    this.top = niceCeiling(highest(this.series)) || 1;
    this.drawGrid(ctx, plot, this.spanMs());
    const span = this.spanMs();
    const end = this.times.length > 0 ? this.times[this.times.length - 1] : 0;
    const start = end - span;
    const x = (t) => plot.left + ((t - start) / span) * plot.width;
    const y = (v) => plot.top + plot.height - (Math.min(v, this.top) / this.top) * plot.height;
    this.pointsDrawn = 0;
    for (const series of this.series) {
      this.pointsDrawn += this.drawLine(ctx, series, x, y, start);
    }
  }

  /**
   * The time the x axis spans: the history there is, from a minute (a server just started
   * shows its first minute across the chart, not squeezed into its right edge) up to the
   * whole window.
   */
  spanMs() {
    const first = this.times.length > 0 ? this.times[0] : 0;
    const last = this.times.length > 0 ? this.times[this.times.length - 1] : 0;
    return Math.min(this.windowMs, Math.max(MIN_SPAN_MS, last - first));
  }

  /**
   * @private
   * @param {CanvasRenderingContext2D} ctx
   * @param {{left: number, top: number, width: number, height: number}} plot
   * @param {number} span ms across the plot
   */
  drawGrid(ctx, plot, span) {
    ctx.strokeStyle = GRID_COLOUR;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const share of [0, 0.5, 1]) {
      const y = Math.round(plot.top + plot.height * share) + 0.5;
      ctx.moveTo(plot.left, y);
      ctx.lineTo(plot.left + plot.width, y);
    }
    ctx.stroke();
    ctx.fillStyle = TEXT_COLOUR;
    ctx.font = FONT;
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    ctx.fillText(`max ${this.format(this.top)}`, plot.left, plot.top - 2);
    ctx.textBaseline = 'top';
    const minutes = Math.round(span / 60000);
    ctx.fillText(`−${minutes} min`, plot.left, plot.top + plot.height + 2);
    ctx.textAlign = 'right';
    ctx.fillText('now', plot.left + plot.width, plot.top + plot.height + 2);
  }

  /**
   * Draws one series; a value between two gaps is drawn as a dot.
   * @private
   * @param {CanvasRenderingContext2D} ctx
   * @param {ChartSeries} series
   * @param {(t: number) => number} x
   * @param {(v: number) => number} y
   * @param {number} start the earliest time shown
   * @returns {number} points drawn
   */
  drawLine(ctx, series, x, y, start) {
    const colour = this.colourOf(series.label);
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    let drawn = 0;
    let previousDrawn = false;
    series.values.forEach((value, i) => {
      const t = this.times[i];
      if (value === null || !Number.isFinite(value) || t < start) {
        previousDrawn = false;
        return;
      }
      const next = series.values[i + 1];
      const alone = !previousDrawn && (next === null || next === undefined);
      if (alone) ctx.fillRect(x(t) - 1.5, y(value) - 1.5, 3, 3);
      if (previousDrawn) ctx.lineTo(x(t), y(value));
      else ctx.moveTo(x(t), y(value));
      previousDrawn = true;
      drawn++;
    });
    ctx.stroke();
    return drawn;
  }
}

/**
 * The highest value of any series (0 when there is none).
 * @param {ChartSeries[]} series
 */
function highest(series) {
  let max = 0;
  for (const { values } of series) {
    for (const v of values) if (v !== null && Number.isFinite(v) && v > max) max = v;
  }
  return max;
}
