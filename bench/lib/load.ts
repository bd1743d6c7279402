/**
 * Load generators.
 *
 * - closedLoop: autocannon used as a library, fixed connections, each sending
 *   its next request as soon as the previous answer arrives. Latencies are
 *   recorded from autocannon's per-response event into our own microsecond
 *   histogram (autocannon's own histogram has 1 ms resolution).
 * - openLoop: constant arrival rate over a pool of keep-alive sockets with
 *   pre-serialised requests (raw-http.ts);
 *   latency is measured from the *intended* send time, so queueing behind a
 *   slow server (coordinated omission) is counted.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { RawHttpPool, serializePost, type RawReply } from './raw-http';
import type { LatencyMs, LoadRunStats } from './types';

export interface LoadTarget {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  path: string;
  /** Request bodies, rotated through in order (POST); none: GET `path` (closed loop only). */
  bodies: Buffer[];
  contentType?: string;
  /** Extra headers per body (same index as bodies), e.g. Inference-Header-Content-Length. */
  bodyHeaders?: Record<string, string>[];
}

export function newLatencyHistogram(): hdr.Histogram {
  // microseconds, 1 us .. 120 s, 3 significant digits
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

export function latencyFromHistogramUs(h: hdr.Histogram): LatencyMs {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const ms = (us: number) => Math.round(us) / 1000;
  // a percentile is reported as its bucket's highest equivalent value, which can pass
  // the recorded maximum when few values were recorded: clamp to it
  const max = h.maxValue;
  const at = (p: number) => ms(Math.min(h.getValueAtPercentile(p), max));
  return { p50: at(50), p90: at(90), p99: at(99), max: ms(max), mean: ms(h.mean) };
}

function recordMs(h: hdr.Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export interface ClosedLoopOptions {
  connections: number;
  /** Seconds of load before the measurement window opens (same connections). */
  warmupS: number;
  /** Length of the measurement window, seconds. */
  durationS: number;
  timeoutS?: number;
  /** Longest wait, after warm-up, for every connection to have answered once. */
  settleTimeoutS?: number;
}

/**
 * One autocannon run: warm-up, then a measurement window of durationS.
 *
 * autocannon builds every connection's request buffers synchronously and starts
 * the first request's clock before that (about 1 s for 64 connections x 110
 * bodies of 27 kB), so the window opens only once the warm-up has elapsed *and*
 * every connection has had an answer. Throughput and latency come from the
 * window only; errors, timeouts and non-2xx are counted over the whole run,
 * warm-up included, so that no failure is hidden.
 */
/**
 * Most distinct bodies handed to autocannon: it builds every body's request buffer for
 * every connection synchronously before the first answers are read, and with 64
 * connections × 8192 bodies that blocked the event loop past the 10 s request timeout
 * (the answers were there, but the timers fired first: "timeouts" on a hello world).
 * Larger body lists are subsampled evenly (still real rows, spread over the list).
 */
export const MAX_CLOSED_LOOP_BODIES = 512;

export function closedLoopIndices(n: number, max = MAX_CLOSED_LOOP_BODIES): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.floor((i * n) / max));
}

export function closedLoop(t: LoadTarget, o: ClosedLoopOptions): Promise<LoadRunStats> {
  const headers = { 'content-type': t.contentType ?? 'application/json' };
  const requests = t.bodies.length === 0
    ? [{ method: 'GET', path: t.path }]
    : closedLoopIndices(t.bodies.length).map((i) => ({ method: 'POST', path: t.path, headers: { ...headers, ...(t.bodyHeaders?.[i] ?? {}) }, body: t.bodies[i] }));
  const hist = newLatencyHistogram();
  const statusCodes: Record<string, number> = {};
  const seen = new Set<unknown>();
  let ok2xx = 0;
  let responses = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let windowStart = 0;
  let windowEnd = Infinity;
  let warmupDone = false;
  const timers: NodeJS.Timeout[] = [];
  const settle = o.settleTimeoutS ?? 5;

  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: t.baseUrl,
        connections: o.connections,
        // stopped from here once the window closes; this is only a backstop
        duration: o.warmupS + o.durationS + settle + 30,
        pipelining: 1,
        timeout: o.timeoutS ?? 10,
        // autocannon acts on stop() at its next sample tick: tick often so a run ends promptly
        sampleInt: 100,
        requests,
      },
      (err) => {
        timers.forEach(clearTimeout);
        const end = Math.min(performance.now(), windowEnd);
        if (err) {
          hist.destroy();
          reject(err);
          return;
        }
        const elapsedS = windowStart > 0 ? Math.max(1e-3, (end - windowStart) / 1000) : 0;
        const latencyMs = latencyFromHistogramUs(hist);
        hist.destroy();
        resolve({
          mode: 'closed',
          connections: o.connections,
          elapsedS: Math.round(elapsedS * 1000) / 1000,
          responses,
          ok2xx,
          reqPerSec: elapsedS > 0 ? Math.round((ok2xx / elapsedS) * 10) / 10 : 0,
          latencyMs,
          errors,
          timeouts,
          non2xx,
          statusCodes,
        });
      },
    );
    const openWindow = () => {
      if (windowStart > 0) return;
      windowStart = performance.now();
      windowEnd = windowStart + o.durationS * 1000;
      timers.push(setTimeout(() => inst.stop(), o.durationS * 1000 + 5));
    };
    inst.on('start', () => {
      timers.push(
        setTimeout(() => {
          warmupDone = true;
          if (seen.size >= o.connections) openWindow();
        }, o.warmupS * 1000),
      );
      // never wait forever for a connection that does not answer
      timers.push(setTimeout(openWindow, (o.warmupS + settle) * 1000));
    });
    inst.on('response', (client, statusCode, _bytes, responseTime) => {
      const now = performance.now();
      const is2xx = statusCode >= 200 && statusCode < 300;
      if (!is2xx) non2xx++;
      if (windowStart === 0) {
        seen.add(client);
        if (warmupDone && seen.size >= o.connections) openWindow();
        return;
      }
      if (now > windowEnd) return;
      responses++;
      const k = String(statusCode);
      statusCodes[k] = (statusCodes[k] ?? 0) + 1;
      if (is2xx) {
        ok2xx++;
        recordMs(hist, responseTime);
      }
    });
    inst.on('reqError', (err) => {
      errors++;
      if (/timed out/.test(err.message)) timeouts++;
    });
  });
}

export interface OpenLoopOptions {
  /** Offered requests per second. */
  rate: number;
  durationS: number;
  /** Sent at the same rate but not measured. */
  warmupS: number;
  /** Keep-alive sockets (connections) at most. */
  maxSockets: number;
  timeoutMs?: number;
  /** After the last send, wait this long for answers; the rest count as incomplete. */
  drainMs?: number;
  /** Count the 2xx answers within this latency (goodput). */
  objectiveMs?: number;
  /**
   * Called for every answer of the measured window, with its body, and the times (performance.now())
   * the request was written and its answer complete; for checks on what was answered.
   */
  onReply?: (reply: RawReply, sentAt: number, receivedAt: number) => void;
}

export function openLoop(t: LoadTarget, o: OpenLoopOptions): Promise<LoadRunStats> {
  if (!(o.rate > 0)) throw new Error('open loop needs a positive rate');
  const url = new URL(t.baseUrl);
  const host = url.hostname;
  const port = Number(url.port);
  const timeoutMs = o.timeoutMs ?? 10000;
  const pool = new RawHttpPool(host, port, o.maxSockets, timeoutMs, o.onReply !== undefined);
  const contentType = t.contentType ?? 'application/json';
  const wire = t.bodies.map((b, i) => serializePost(host, port, t.path, b, { 'Content-Type': contentType, ...(t.bodyHeaders?.[i] ?? {}) }));
  const interval = 1000 / o.rate;
  const total = Math.floor(o.rate * (o.warmupS + o.durationS));
  const measuredFrom = Math.ceil(o.rate * o.warmupS);
  const hist = newLatencyHistogram();
  const lag = newLatencyHistogram();
  const statusCodes: Record<string, number> = {};
  let sent = 0;
  let outstanding = 0;
  let responses = 0;
  let ok2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let withinObjective = 0;

  return new Promise((resolve) => {
    const start = performance.now() + 10;
    let finished = false;
    let drainTimer: NodeJS.Timeout | undefined;

    const finish = () => {
      if (finished) return;
      finished = true;
      if (drainTimer) clearTimeout(drainTimer);
      const incomplete = outstanding;
      pool.close();
      const latencyMs = latencyFromHistogramUs(hist);
      const lagMs = latencyFromHistogramUs(lag);
      hist.destroy();
      lag.destroy();
      resolve({
        mode: 'open',
        connections: o.maxSockets,
        elapsedS: o.durationS,
        responses,
        ok2xx,
        reqPerSec: Math.round((ok2xx / o.durationS) * 10) / 10,
        latencyMs,
        errors,
        timeouts,
        non2xx,
        statusCodes,
        offeredRate: o.rate,
        sent: sent - measuredFrom,
        maxSendLagMs: lagMs.max,
        incomplete,
        ...(o.objectiveMs !== undefined ? { objectiveMs: o.objectiveMs, withinObjective } : {}),
      });
    };

    const send = (i: number, intended: number) => {
      const measured = i >= measuredFrom;
      outstanding++;
      const sentAt = performance.now();
      pool.request(wire[i % wire.length], (err, reply) => {
        if (finished) return;
        const end = performance.now();
        outstanding--;
        if (measured && reply && o.onReply) o.onReply(reply, sentAt, end);
        if (measured) {
          if (err || !reply) {
            errors++;
            if (err && /timeout/.test(err.message)) timeouts++;
          } else {
            const code = reply.status;
            responses++;
            statusCodes[String(code)] = (statusCodes[String(code)] ?? 0) + 1;
            if (code >= 200 && code < 300) {
              ok2xx++;
              recordMs(hist, end - intended);
              if (o.objectiveMs !== undefined && end - intended <= o.objectiveMs) withinObjective++;
            } else {
              non2xx++;
            }
          }
        }
        if (sent === total && outstanding === 0) finish();
      });
      if (measured) recordMs(lag, performance.now() - intended);
    };

    const pump = () => {
      if (finished) return;
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        send(sent, start + sent * interval);
        sent++;
      }
      if (sent < total) {
        // Spin through the event loop when the next send is close, sleep otherwise.
        const wait = start + sent * interval - performance.now();
        if (wait > 2) setTimeout(pump, Math.floor(wait - 1));
        else setImmediate(pump);
      } else if (outstanding === 0) {
        finish();
      } else {
        drainTimer = setTimeout(finish, o.drainMs ?? 3000);
      }
    };
    setTimeout(pump, 10);
  });
}
