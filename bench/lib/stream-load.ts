/**
 * Real-time WebSocket stream load: N concurrent VAD streams, each sending 96 ms of real
 * speech (1536 samples of 16 kHz pcm16, one window) every 96 ms, with the streams' phases
 * spread evenly over the 96 ms. A window's latency is the time from the *intended* send of
 * the frame that completes it to the arrival of its {"type":"result"} (so a generator that
 * falls behind is counted, and its send lag reported).
 *
 * Recordings: hello16000.wav (16 kHz), codec2's ve9qrp.raw (8 kHz s16le) and Asterisk
 * prompts (8 kHz), the 8 kHz ones converted once with the server's own resampleTo16k.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { resampleTo16kNativeSync as resampleTo16k } from '../../src/native/audio';
import { pcm16ToFloat, readWav } from '../../src/audio/wav';
import { latencyFromHistogramUs, newLatencyHistogram } from './load';
import type { InputInfo, LoadRunStats } from './types';

export const WINDOW_SAMPLES = 1536;
export const WINDOW_MS = 96;
export const FRAME_BYTES = WINDOW_SAMPLES * 2;

export interface Recording {
  path: string;
  sha256: string;
  sourceRate: number;
  /** pcm16 little-endian at 16 kHz, whole windows only. */
  pcm: Buffer;
  windows: number;
}

export const STREAM_SOURCES: { path: string; rawRate?: number; pkg: string }[] = [
  { path: '/usr/share/sounds/linphone/hello16000.wav', pkg: 'linphone-common' },
  { path: '/usr/share/codec2/raw/ve9qrp.raw', rawRate: 8000, pkg: 'codec2-examples' },
  { path: '/usr/share/asterisk/sounds/en_US_f_Allison/demo-instruct.wav', pkg: 'asterisk-core-sounds-en-wav' },
  { path: '/usr/share/asterisk/sounds/en_US_f_Allison/demo-congrats.wav', pkg: 'asterisk-core-sounds-en-wav' },
];

export function floatToPcm16(x: Float32Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  for (let i = 0; i < x.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i] * 32768))), i * 2);
  return b;
}

/** The recordings that are installed (at least one is required), at 16 kHz as pcm16. */
export function loadRecordings(sources = STREAM_SOURCES): Recording[] {
  const out: Recording[] = [];
  for (const s of sources) {
    if (!existsSync(s.path)) continue;
    const bytes = readFileSync(s.path);
    let samples: Float32Array;
    let rate: number;
    if (s.rawRate) {
      samples = pcm16ToFloat(bytes);
      rate = s.rawRate;
    } else {
      const w = readWav(s.path);
      if (w.channels !== 1) continue;
      samples = w.samples;
      rate = w.sampleRate;
    }
    const at16k = rate === 16000 ? samples : resampleTo16k(samples, rate);
    const windows = Math.floor(at16k.length / WINDOW_SAMPLES);
    if (windows === 0) continue;
    out.push({ path: s.path, sha256: createHash('sha256').update(bytes).digest('hex'), sourceRate: rate, pcm: floatToPcm16(at16k.subarray(0, windows * WINDOW_SAMPLES)), windows });
  }
  if (out.length === 0) throw new Error(`no speech recording installed: apt-get install ${[...new Set(sources.map((s) => s.pkg))].join(' ')}`);
  return out;
}

export function recordingsInputInfo(recs: Recording[]): InputInfo {
  const windows = recs.reduce((a, r) => a + r.windows, 0);
  return {
    kind: 'speech',
    sources: recs.map((r) => ({ path: r.path, sha256: r.sha256 })),
    description: `${recs.length} real recordings (${recs.map((r) => `${r.path.split('/').pop()} @ ${r.sourceRate} Hz`).join(', ')}), 8 kHz ones resampled once with the server's resampleTo16k, sent as pcm16 at 16 kHz: ${windows} windows of ${WINDOW_SAMPLES} samples (${((windows * WINDOW_MS) / 1000).toFixed(0)} s of audio)`,
    items: windows,
    facts: { windowSamples: WINDOW_SAMPLES, windowMs: WINDOW_MS, frameBytes: FRAME_BYTES, format: 'pcm16', rate: 16000 },
  };
}

/** Frame k of stream i: recordings in turn, each stream starting at a different place, looping. */
export function frameOf(recs: Recording[], stream: number, k: number): Buffer {
  const r = recs[stream % recs.length];
  const w = (Math.floor(stream / recs.length) * 37 + k) % r.windows;
  return r.pcm.subarray(w * FRAME_BYTES, (w + 1) * FRAME_BYTES);
}

export interface StreamRunOptions {
  url: string;
  streams: number;
  warmupS: number;
  durationS: number;
  objectiveMs: number;
  /** Wait this long after the last frame for outstanding results. */
  drainMs?: number;
  connectTimeoutMs?: number;
}

interface StreamState {
  ws: WebSocket;
  t0: number;
  next: number;
  /** intended send time of frame k = t0 + k * WINDOW_MS */
  closed: { code: number; reason: string } | null;
  error: string | null;
  results: number;
}

/** Opens N streams (phases spread over one window), runs warm-up + window, ends them; one run's stats. */
export async function streamRun(recs: Recording[], o: StreamRunOptions): Promise<LoadRunStats & { closeCodes: Record<string, number> }> {
  const hist = newLatencyHistogram();
  const lag = newLatencyHistogram();
  const statusCodes: Record<string, number> = {};
  const closeCodes: Record<string, number> = {};
  const states: StreamState[] = [];
  let errors = 0;
  // connect every stream first (not measured)
  const connect = (i: number) =>
    new Promise<StreamState>((resolve, reject) => {
      const ws = new WebSocket(o.url, { perMessageDeflate: false });
      const st: StreamState = { ws, t0: 0, next: 0, closed: null, error: null, results: 0 };
      const timer = setTimeout(() => reject(new Error(`stream ${i}: no connection after ${o.connectTimeoutMs ?? 10000} ms`)), o.connectTimeoutMs ?? 10000);
      ws.on('open', () => {
        clearTimeout(timer);
        resolve(st);
      });
      ws.on('error', (e) => {
        st.error = e.message;
        clearTimeout(timer);
        reject(e);
      });
      ws.on('unexpected-response', (_q, res) => {
        clearTimeout(timer);
        reject(new Error(`stream ${i}: upgrade refused with ${res.statusCode}`));
      });
    });
  for (let i = 0; i < o.streams; i += 64) {
    const batch = await Promise.all(Array.from({ length: Math.min(64, o.streams - i) }, (_, j) => connect(i + j)));
    states.push(...batch);
  }
  const start = performance.now() + 50;
  const measureFrom = start + o.warmupS * 1000;
  const measureTo = measureFrom + o.durationS * 1000;
  const framesPerStream = Math.ceil(((o.warmupS + o.durationS) * 1000) / WINDOW_MS);
  let expectedMeasured = 0;
  let measuredResults = 0;
  let withinObjective = 0;
  states.forEach((st, i) => {
    st.t0 = start + (i / o.streams) * WINDOW_MS;
    for (let k = 0; k < framesPerStream; k++) {
      const t = st.t0 + k * WINDOW_MS;
      if (t >= measureFrom && t < measureTo) expectedMeasured++;
    }
    st.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const now = performance.now();
      const text = data.toString();
      if (!text.startsWith('{"type":"result"')) {
        if (text.startsWith('{"type":"error"')) {
          errors++;
          st.error = text;
        }
        return;
      }
      const m = /"seq":(\d+)/.exec(text);
      if (!m) return;
      const k = Number(m[1]);
      st.results++;
      const intended = st.t0 + k * WINDOW_MS;
      if (intended >= measureFrom && intended < measureTo) {
        measuredResults++;
        const ms = now - intended;
        hist.recordValue(Math.max(1, Math.round(ms * 1000)));
        if (ms <= o.objectiveMs) withinObjective++;
        statusCodes.result = (statusCodes.result ?? 0) + 1;
      }
    });
    st.ws.on('close', (code: number, reason: Buffer) => {
      st.closed = { code, reason: reason.toString() };
      closeCodes[String(code)] = (closeCodes[String(code)] ?? 0) + 1;
      if (code !== 1000) errors++;
    });
  });

  // the pacer: send every frame whose intended time has come, streams in phase order
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      let nextDue = Infinity;
      for (let i = 0; i < states.length; i++) {
        const st = states[i];
        if (st.closed) continue;
        while (st.next < framesPerStream && st.t0 + st.next * WINDOW_MS <= now) {
          const intended = st.t0 + st.next * WINDOW_MS;
          st.ws.send(frameOf(recs, i, st.next));
          if (intended >= measureFrom && intended < measureTo) lag.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
          st.next++;
        }
        if (st.next < framesPerStream) nextDue = Math.min(nextDue, st.t0 + st.next * WINDOW_MS);
      }
      if (nextDue === Infinity) return resolve();
      const wait = nextDue - performance.now();
      if (wait > 2) setTimeout(tick, Math.floor(wait - 1));
      else setImmediate(tick);
    };
    setTimeout(tick, 50);
  });
  // drain: wait for the outstanding results of the measured frames
  const until = performance.now() + (o.drainMs ?? 3000);
  while (measuredResults < expectedMeasured && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
  // end the streams
  await Promise.all(
    states.map(
      (st) =>
        new Promise<void>((resolve) => {
          if (st.closed) return resolve();
          const t = setTimeout(() => {
            st.ws.terminate();
            resolve();
          }, 3000);
          st.ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          try {
            st.ws.send('{"type":"end"}');
          } catch {
            st.ws.terminate();
          }
        }),
    ),
  );
  const latencyMs = latencyFromHistogramUs(hist);
  const lagMs = latencyFromHistogramUs(lag);
  hist.destroy();
  lag.destroy();
  return {
    mode: 'stream',
    connections: o.streams,
    elapsedS: o.durationS,
    responses: measuredResults,
    ok2xx: measuredResults,
    reqPerSec: Math.round((measuredResults / o.durationS) * 10) / 10,
    latencyMs,
    errors,
    timeouts: 0,
    non2xx: 0,
    statusCodes,
    offeredRate: Math.round((o.streams * 1000 * 10) / WINDOW_MS) / 10,
    sent: expectedMeasured,
    maxSendLagMs: lagMs.max,
    sendLagP99Ms: lagMs.p99,
    incomplete: Math.max(0, expectedMeasured - measuredResults),
    objectiveMs: o.objectiveMs,
    withinObjective,
    closeCodes,
  };
}
