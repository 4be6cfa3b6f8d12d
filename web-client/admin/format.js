/**
 * How the operator's page writes numbers: byte rates, tick times, durations, counts per second,
 * and the series a chart plots from the server's samples. Pure functions of their arguments (the
 * unit tests in web-client/test/admin.test.mjs run them under Node). Must never touch the page,
 * the clock or the socket.
 */

const KIB = 1024;
const MIB = 1024 * 1024;

/**
 * A byte rate as people read it: `512 B/s`, `20.0 KiB/s`, `1.50 MiB/s`.
 * @param {number | null | undefined} bytesPerSecond
 * @returns {string}
 */
export function formatByteRate(bytesPerSecond) {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A byte count: `310 B`, `20.0 KiB`, `1.50 MiB`; `–` when unknown.
 * @param {number | null | undefined} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '–';
  const value = /** @type {number} */ (bytes);
  if (value >= MIB) return `${(value / MIB).toFixed(2)} MiB`;
  if (value >= KIB) return `${(value / KIB).toFixed(1)} KiB`;
  return `${Math.round(value)} B`;
}

/**
 * Microseconds as milliseconds: `0.31 ms`, `12.5 ms`, `140 ms`; `–` when no tick ran (`null`).
 * @param {number | null | undefined} micros
 * @returns {string}
 */
export function formatMicros(micros) {
  if (!Number.isFinite(micros)) return '–';
  return formatMillis(/** @type {number} */ (micros) / 1000);
}

/**
 * Milliseconds with the precision their size deserves; `–` when unknown.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatMillis(ms) {
  if (!Number.isFinite(ms)) return '–';
  const value = /** @type {number} */ (ms);
  if (value < 10) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value)} ms`;
}

/**
 * A duration in whole seconds, shortest first: `42 s`, `3 m 05 s`, `2 h 07 m`, `3 d 04 h`.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(/** @type {number} */ (seconds)));
  const pad = (n) => String(n).padStart(2, '0');
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor(s / 60) % 60)} m`;
  return `${Math.floor(s / 86400)} d ${pad(Math.floor(s / 3600) % 24)} h`;
}

/**
 * A count during an interval as a rate per second: `3/s`, `0.5/s`.
 * @param {number | null | undefined} count
 * @param {number} intervalMs
 * @returns {string}
 */
export function formatPerSecond(count, intervalMs) {
  const rate = perSecond(count, intervalMs);
  if (rate === null) return '–';
  const shown = Number.isInteger(rate) ? String(rate) : rate.toFixed(1);
  return `${shown}/s`;
}

/**
 * A count during an interval of `intervalMs` as a count per second; `null` when unknown.
 * @param {number | null | undefined} count
 * @param {number} intervalMs
 * @returns {number | null}
 */
export function perSecond(count, intervalMs) {
  if (!Number.isFinite(count) || !(intervalMs > 0)) return null;
  return (/** @type {number} */ (count) * 1000) / intervalMs;
}

/**
 * The sum of a sample's counts by reason (`closed`, `rejected`, `refused`).
 * @param {Record<string, number> | null | undefined} byReason
 * @returns {number}
 */
export function sumReasons(byReason) {
  if (!byReason) return 0;
  return Object.values(byReason).reduce((sum, n) => sum + (Number.isFinite(n) ? n : 0), 0);
}

/**
 * A number rounded up to 1, 2 or 5 times a power of ten, so a chart's top line is a round
 * value a little above the highest point (`0` stays `0`).
 * @param {number} value
 * @returns {number}
 */
export function niceCeiling(value) {
  if (!(value > 0)) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value * (1 - 1e-9)) return step * power;
  }
  return 10 * power;
}

/**
 * @typedef {object} Series
 * @property {string} label what the legend says
 * @property {(number | null)[]} values one per sample, in the chart's unit; `null` is a gap
 */

/**
 * The names of the connection series across `samples`, in a stable order: `accepted`, then
 * `closed: <reason>`, `rejected: <reason>`, `refused: <reason>` for each reason seen, sorted.
 * @param {any[]} samples
 * @returns {{key: string, group: 'accepted' | 'closed' | 'rejected' | 'refused', reason: string | null}[]}
 */
export function connectionSeriesKeys(samples) {
  const keys = [{ key: 'accepted', group: /** @type {const} */ ('accepted'), reason: null }];
  for (const group of /** @type {const} */ (['closed', 'rejected', 'refused'])) {
    const reasons = new Set();
    for (const sample of samples) {
      for (const [reason, n] of Object.entries(sample?.[group] ?? {})) if (n > 0) reasons.add(reason);
    }
    for (const reason of [...reasons].sort()) keys.push({ key: `${group}: ${reason}`, group, reason });
  }
  return keys;
}

/**
 * The connections chart's series: accepted, and each reason of closed, rejected and refused,
 * per second.
 * @param {any[]} samples
 * @param {number} intervalMs
 * @returns {Series[]}
 */
export function connectionSeries(samples, intervalMs) {
  return connectionSeriesKeys(samples).map(({ key, group, reason }) => ({
    label: key,
    values: samples.map((s) => perSecond(reason === null ? s[group] : (s[group]?.[reason] ?? 0), intervalMs)),
  }));
}
