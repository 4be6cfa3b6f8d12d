/**
 * Counts the game's network traffic for the overlay: bytes of WebSocket messages in and out
 * over the last second. It owns the counting and nothing else.
 *
 * The count is taken at the WebSocket message level by {@link countingWebSocket}, a WebSocket
 * class handed to the connection (`net.js` accepts one as `WebSocketImpl`), so the connection
 * code needs no hook. Bytes are message payloads: WebSocket and TCP headers are not included.
 */

/** The window is split into this many buckets; a bucket's worth of history is dropped at once. */
const BUCKETS = 10;

export class TrafficMeter {
  /** @param {number} [windowMs] how far back a rate looks */
  constructor(windowMs = 1000) {
    this.bucketMs = windowMs / BUCKETS;
    this.windowMs = windowMs;
    this.bytesIn = new Float64Array(BUCKETS);
    this.bytesOut = new Float64Array(BUCKETS);
    /** The bucket number (time / bucketMs) that the newest slot holds. */
    this.current = 0;
    this.totalIn = 0;
    this.totalOut = 0;
  }

  /**
   * @param {number} bytes
   * @param {number} now ms
   */
  countIn(bytes, now) {
    this.bytesIn[this.slotAt(now)] += bytes;
    this.totalIn += bytes;
  }

  /**
   * @param {number} bytes
   * @param {number} now ms
   */
  countOut(bytes, now) {
    this.bytesOut[this.slotAt(now)] += bytes;
    this.totalOut += bytes;
  }

  /**
   * Bytes received per second over the last window.
   * @param {number} now
   */
  inPerSecond(now) {
    this.slotAt(now);
    return (sum(this.bytesIn) * 1000) / this.windowMs;
  }

  /**
   * Bytes sent per second over the last window.
   * @param {number} now
   */
  outPerSecond(now) {
    this.slotAt(now);
    return (sum(this.bytesOut) * 1000) / this.windowMs;
  }

  /**
   * The slot for time `now`, clearing the slots of buckets that have passed since.
   * @param {number} now
   */
  slotAt(now) {
    const bucket = Math.floor(now / this.bucketMs);
    const passed = Math.min(bucket - this.current, BUCKETS);
    for (let i = 1; i <= passed; i++) {
      const slot = (this.current + i) % BUCKETS;
      this.bytesIn[slot] = 0;
      this.bytesOut[slot] = 0;
    }
    if (passed > 0) this.current = bucket;
    return ((this.current % BUCKETS) + BUCKETS) % BUCKETS;
  }
}

/**
 * The size of a WebSocket message's data.
 * @param {unknown} data
 */
export function messageSize(data) {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (typeof data === 'string') return new TextEncoder().encode(data).byteLength;
  if (data && typeof (/** @type {Blob} */ (data).size) === 'number') return /** @type {Blob} */ (data).size;
  return 0;
}

/**
 * A WebSocket class that counts every message it sends and receives into `meter`.
 * @param {typeof WebSocket} Base the WebSocket class to extend
 * @param {TrafficMeter} meter
 * @param {() => number} clock ms, e.g. `() => performance.now()`
 * @returns {typeof WebSocket}
 */
export function countingWebSocket(Base, meter, clock) {
  return class CountingWebSocket extends Base {
    /** @param {ConstructorParameters<typeof WebSocket>} args */
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => meter.countIn(messageSize(event.data), clock()));
    }

    /** @param {Parameters<WebSocket['send']>[0]} data */
    send(data) {
      super.send(data);
      meter.countOut(messageSize(data), clock());
    }
  };
}

/** @param {Float64Array} values */
function sum(values) {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}
