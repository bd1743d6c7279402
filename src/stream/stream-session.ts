import { InferaError, toInferaError } from '../errors';
import { StreamResampler, TARGET_RATE } from '../native/audio';
import { DEFAULT_SEGMENTER, SegmenterOptions, SpeechSegmenter } from '../audio/speech-segmenter';
import type { Tensor } from '../protocol/datatypes';
import type { InferInput, InferOutput, SequenceChunk } from '../serving/model-version';

/**
 * One streaming connection = one sequence of a stateful model (the VAD), independent
 * of the WebSocket library so that it can be tested with a fake socket.
 *
 * Binary frames of little-endian samples (pcm16 or f32, any whole number of samples)
 * are decoded and resampled to 16 kHz by the addon (src/native/audio.ts), cut into
 * windows of 1536 samples and sent in order through
 * the sequence batcher (the first window starts the sequence). A sequence runs one
 * window at a time, so the session keeps its backlog itself and has at most
 * IN_FLIGHT_PER_STREAM windows in the batcher: one running, one already queued so that
 * it joins the next batch; a fast sender fills its own backlog, not the shared queue.
 * Each window's result
 * goes back as {"type":"result","seq","t0","t1","probability"}, followed by
 * speech_start/speech_end events. {"type":"end"} flushes: the resampler's tail, then
 * the last partial window zero-padded to 1536 samples (t1 = the end of the real audio)
 * ends the sequence; then {"type":"end"} and close 1000.
 *
 * Invariants: the session never throws into the transport; after close nothing is
 * sent; the sequence's state is released the moment the session closes, whatever
 * closed it.
 */
export const WINDOW = 1536;
export const STREAM_FORMATS = ['pcm16', 'f32'] as const;
export type SampleFormat = (typeof STREAM_FORMATS)[number];
export const STREAM_RATES = [8000, 16000, 48000] as const;
export const IN_FLIGHT_PER_STREAM = 2;

/** WebSocket close codes used (RFC 6455 §7.4.1). */
export const CLOSE = {
  NORMAL: 1000, GOING_AWAY: 1001, UNSUPPORTED_DATA: 1003, INVALID_PAYLOAD: 1007,
  POLICY: 1008, TOO_BIG: 1009, INTERNAL: 1011, TRY_AGAIN_LATER: 1013,
} as const;

export interface StreamSocket {
  /** 1 sent, 0 sent but buffered (backpressure), 2 dropped (uWS semantics). */
  send(text: string): number;
  getBufferedAmount(): number;
  end(code: number, reason: string): void;
}

/** The model side of a stream (a ModelVersion). */
export interface StreamModel {
  inferSequence(chunk: SequenceChunk, req: InferInput): Promise<InferOutput>;
  endSequence(key: string): void;
  releaseSequence(key: string): boolean;
}

/** Which model tensors a window feeds and which output is the speech probability. */
export interface StreamBinding {
  input: string;
  /** An INT64 scalar input given the 16 kHz rate, if the model has one. */
  sampleRateInput?: string;
  output: string;
}

export interface StreamLimits {
  /** Largest frame accepted; a larger one closes the stream with 1009. */
  maxFrameBytes: number;
  /** Bytes the server may hold for a client that does not read before closing it (1008). */
  maxBufferedBytes: number;
  /** Windows waiting (backlog and batcher) before the stream is closed for sending too fast (1008). */
  maxPendingWindows: number;
}

/** 256 windows ≈ 24.6 s of audio ≈ 1.5 MiB held per stream at most. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxFrameBytes: 256 * 1024, maxBufferedBytes: 1 << 20, maxPendingWindows: 256 };

interface Window {
  k: number;
  samples: Float32Array;
  /** Samples of real audio (the rest is padding). */
  real: number;
  end: boolean;
}

export interface StreamOptions extends StreamLimits {
  format: SampleFormat;
  rate: number;
  /** The sequence key (its own namespace) and its label in errors. */
  key: string;
  label: string;
  binding: StreamBinding;
  segmenter?: SegmenterOptions;
}

const round6 = (s: number) => Math.round(s * 1e6) / 1e6;

export class StreamSession {
  private readonly resampler: StreamResampler;
  private readonly segmenter: SpeechSegmenter;
  private window = new Float32Array(WINDOW);
  private filled = 0;
  private windows = 0;
  private readonly backlog: Window[] = [];
  private inFlight = 0;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private ending = false;

  constructor(private readonly socket: StreamSocket, private readonly model: StreamModel, private readonly opts: StreamOptions) {
    this.resampler = new StreamResampler(opts.rate);
    this.segmenter = new SpeechSegmenter(opts.segmenter ?? DEFAULT_SEGMENTER);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onBinary(bytes: Uint8Array): void {
    if (this.closed || this.ending) return;
    if (bytes.byteLength > this.opts.maxFrameBytes) {
      return this.fail(CLOSE.TOO_BIG, `frame of ${bytes.byteLength} bytes; the limit is ${this.opts.maxFrameBytes}`);
    }
    let samples: Float32Array;
    try {
      samples = this.resampler.push(bytes, this.opts.format); // decode + resample, native
    } catch (e) {
      return this.fail(CLOSE.INVALID_PAYLOAD, (e as Error).message);
    }
    this.feed(samples);
  }

  onText(text: string): void {
    if (this.closed) return;
    if (Buffer.byteLength(text) > this.opts.maxFrameBytes) return this.fail(CLOSE.TOO_BIG, `text frame over ${this.opts.maxFrameBytes} bytes`);
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return this.fail(CLOSE.INVALID_PAYLOAD, `text frames are JSON messages: ${(e as Error).message}`);
    }
    const type = typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
    if (type !== 'end') return this.fail(CLOSE.UNSUPPORTED_DATA, `unknown message ${JSON.stringify(type ?? msg)}; the only text message is {"type":"end"}`);
    this.finish();
  }

  /** The transport closed (client, timeout or us): free the sequence now. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.model.releaseSequence(this.opts.key);
  }

  /** Server-side close (shutdown, internal error): an error frame, then `code`. */
  abort(code: number, reason: string): void {
    this.fail(code, reason);
  }

  private feed(x: Float32Array): void {
    let off = 0;
    while (off < x.length && !this.closed) {
      const n = Math.min(WINDOW - this.filled, x.length - off);
      this.window.set(x.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === WINDOW) {
        const w = this.window;
        this.window = new Float32Array(WINDOW);
        this.filled = 0;
        this.submit(w, WINDOW, false);
      }
    }
  }

  private submit(samples: Float32Array, real: number, end: boolean): void {
    if (this.backlog.length + this.inFlight >= this.opts.maxPendingWindows) {
      return this.fail(CLOSE.POLICY, `more than ${this.opts.maxPendingWindows} windows waiting: the client sends audio faster than the model serves it`);
    }
    this.backlog.push({ k: this.windows++, samples, real, end });
    this.run();
  }

  /** Moves windows from the backlog to the batcher, at most IN_FLIGHT_PER_STREAM at once. */
  private run(): void {
    while (!this.closed && this.inFlight < IN_FLIGHT_PER_STREAM && this.backlog.length > 0) {
      const w = this.backlog.shift()!;
      const b = this.opts.binding;
      const inputs: Tensor[] = [{ name: b.input, datatype: 'FP32', shape: [1, WINDOW], data: w.samples }];
      if (b.sampleRateInput) inputs.push({ name: b.sampleRateInput, datatype: 'INT64', shape: [], data: BigInt64Array.of(BigInt(TARGET_RATE)) });
      this.inFlight += 1;
      // Settled at once, so that a rejection is never unhandled while earlier windows run.
      const settled = this.model
        .inferSequence({ key: this.opts.key, label: this.opts.label, start: w.k === 0, end: w.end, owned: true }, { inputs, outputs: [b.output] })
        .then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e }));
      this.tail = this.tail.then(async () => {
        const s = await settled;
        this.inFlight -= 1;
        if (this.closed) return;
        if (!s.ok) {
          const err = toInferaError(s.e);
          return this.fail(err.status === 503 ? CLOSE.TRY_AGAIN_LATER : CLOSE.INTERNAL, err.message);
        }
        this.run();
        const t0 = round6((w.k * WINDOW) / TARGET_RATE);
        const probability = Number(s.r.outputs[0].data[0]);
        this.send({ type: 'result', seq: w.k, t0, t1: round6((w.k * WINDOW + w.real) / TARGET_RATE), probability });
        for (const ev of this.segmenter.push(probability, t0)) this.send(ev);
      }).catch((e: unknown) => this.fail(CLOSE.INTERNAL, `internal error: ${(e as Error).message}`));
    }
  }

  /** {"type":"end"}: flush, end the sequence, answer every window, then close normally. */
  private finish(): void {
    if (this.ending) return;
    this.ending = true;
    this.feed(this.resampler.flush());
    if (this.closed) return;
    const total = this.windows * WINDOW + this.filled;
    const padded = this.filled > 0;
    if (padded) {
      const real = this.filled;
      this.filled = 0;
      this.submit(this.window, real, true);
    }
    // The tail grows as the backlog drains: wait until every window was answered.
    const settleAll = async (): Promise<void> => {
      let seen: Promise<void>;
      do {
        seen = this.tail;
        await seen;
      } while (seen !== this.tail);
    };
    void settleAll().then(() => {
      if (this.closed) return;
      // Audio of whole windows: no window carried `end`.
      if (!padded && this.windows > 0) this.model.endSequence(this.opts.key);
      for (const ev of this.segmenter.finish(round6(total / TARGET_RATE))) this.send(ev);
      this.send({ type: 'end' });
      this.close(CLOSE.NORMAL, 'end of stream');
    });
  }

  private send(msg: Record<string, unknown>): void {
    if (this.closed) return;
    let status: number, buffered: number;
    try {
      status = this.socket.send(JSON.stringify(msg));
      buffered = this.socket.getBufferedAmount();
    } catch {
      // The transport is gone without telling us: stop and free the sequence.
      return this.onClose();
    }
    if (status === 2 || buffered > this.opts.maxBufferedBytes) {
      this.close(CLOSE.POLICY, `client is not reading: ${buffered} bytes buffered`);
    }
  }

  private fail(code: number, message: string): void {
    if (this.closed) return;
    this.send({ type: 'error', error: message });
    this.close(code, message);
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.model.releaseSequence(this.opts.key);
    try {
      // A close reason holds at most 123 bytes.
      this.socket.end(code, Buffer.from(reason).subarray(0, 123).toString('utf8').replace(/\uFFFD$/, ''));
    } catch {
      // The transport may already be gone; nothing is left to free.
    }
  }
}

/** Parses ?format=&rate= (defaults pcm16, 16000). @throws InferaError 400 naming the bad value. */
export function parseStreamQuery(query: string): { format: SampleFormat; rate: number } {
  const q = new URLSearchParams(query);
  const format = q.get('format') ?? 'pcm16';
  if (!(STREAM_FORMATS as readonly string[]).includes(format)) {
    throw new InferaError('ENG_ERR_BAD_REQUEST', `format '${format}' is not served; use ${STREAM_FORMATS.join(' or ')}`);
  }
  const rateText = q.get('rate') ?? '16000';
  const rate = Number(rateText);
  if (!/^[0-9]+$/.test(rateText) || !(STREAM_RATES as readonly number[]).includes(rate)) {
    throw new InferaError('ENG_ERR_BAD_REQUEST', `rate '${rateText}' is not served; use ${STREAM_RATES.join(', ')}`);
  }
  return { format: format as SampleFormat, rate };
}
