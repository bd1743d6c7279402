/**
 * Sample-rate conversion to 16 kHz by a polyphase windowed-sinc FIR (rational L/M).
 *
 * For input rate r: L = 16000/g, M = r/g with g = gcd(16000, r). Conceptually the input
 * is zero-stuffed by L, low-passed at the lower of the two Nyquist rates, and kept every
 * M-th sample; only the taps that meet non-zero input are computed:
 *
 *   y[j] = L · Σ_i x[i] · h(j·M − i·L)
 *
 * h is a Kaiser-windowed sinc (β = 8, ≈ 80 dB stop band) with ZERO_CROSSINGS sinc lobes
 * each side, cut off at ROLLOFF × the lower Nyquist (16 kHz out: 8 kHz; 8 kHz in: 4 kHz).
 * Each polyphase branch is normalised to sum to 1/L, so a constant passes unchanged.
 * The filter is symmetric (zero phase): output sample j is at time j / 16000 s, like
 * input sample i at i / r; samples before the start and after the end count as zeros.
 *
 * Invariant: Resampler output does not depend on how the input is split into push()
 * calls (every output sample sums the same products in the same order), so a stream
 * resampled frame by frame equals resampleTo16k() of the whole recording, bit for bit.
 * 16 kHz input passes through unchanged.
 */
export const TARGET_RATE = 16000;
export const ZERO_CROSSINGS = 24;
export const ROLLOFF = 0.9;
export const KAISER_BETA = 8;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1, term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

export interface FilterDesign {
  up: number;
  down: number;
  /** Taps h(n) for n = -half..half, at index n + half. */
  taps: Float64Array;
  half: number;
}

/** The prototype low-pass filter for converting `rate` to 16 kHz. */
export function designFilter(rate: number): FilterDesign {
  if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`sample rate must be a positive integer, got ${rate}`);
  const g = gcd(TARGET_RATE, rate);
  const up = TARGET_RATE / g, down = rate / g;
  const widest = Math.max(up, down);
  const half = ZERO_CROSSINGS * widest;
  const fc = (ROLLOFF * 0.5) / widest; // cycles per sample at the up-sampled rate
  const taps = new Float64Array(2 * half + 1);
  const i0beta = besselI0(KAISER_BETA);
  for (let n = -half; n <= half; n++) {
    const x = 2 * fc * n;
    const sinc = n === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const w = besselI0(KAISER_BETA * Math.sqrt(1 - (n / half) ** 2)) / i0beta;
    taps[n + half] = 2 * fc * sinc * w;
  }
  // Normalise each polyphase branch (taps n ≡ p mod up) to 1/up: unit gain at DC.
  for (let p = 0; p < up; p++) {
    let s = 0;
    for (let k = p; k < taps.length; k += up) s += taps[k];
    for (let k = p; k < taps.length; k += up) taps[k] /= s * up;
  }
  return { up, down, taps, half };
}

/** A streaming converter to 16 kHz for one input rate. */
export class Resampler {
  private readonly f: FilterDesign | null;
  private buf = new Float32Array(4096);
  /** Absolute index of buf[0]. */
  private base = 0;
  /** Input samples received so far (absolute). */
  private count = 0;
  /** Next output sample (absolute). */
  private next = 0;

  constructor(readonly rate: number) {
    this.f = rate === TARGET_RATE ? null : designFilter(rate);
  }

  /** Adds input samples; returns every output sample whose window is now complete. */
  push(x: Float32Array): Float32Array {
    if (!this.f) return Float32Array.from(x);
    this.append(x);
    return this.produce(false);
  }

  /** The end of the input: returns the remaining output (the input continued by zeros). */
  flush(): Float32Array {
    if (!this.f) return new Float32Array(0);
    return this.produce(true);
  }

  private append(x: Float32Array): void {
    const used = this.count - this.base;
    if (used + x.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.buf.length * 2, used + x.length));
      grown.set(this.buf.subarray(0, used));
      this.buf = grown;
    }
    this.buf.set(x, used);
    this.count += x.length;
  }

  private produce(final: boolean): Float32Array {
    const { up, down, taps, half } = this.f!;
    // Output j needs inputs up to floor((j·down + half) / up): available while j·down + half < count·up.
    const end = final ? Math.ceil((this.count * up) / down) : Math.ceil((this.count * up - half) / down);
    const out = new Float32Array(Math.max(0, end - this.next));
    const last = this.count - 1;
    for (let k = 0; k < out.length; k++) {
      const centre = (this.next + k) * down;
      const lo = Math.max(0, Math.ceil((centre - half) / up));
      const hi = Math.min(last, Math.floor((centre + half) / up));
      let acc = 0;
      for (let i = lo; i <= hi; i++) acc += this.buf[i - this.base] * taps[centre - i * up + half];
      out[k] = acc * up;
    }
    this.next += out.length;
    // Drop input no later output needs.
    const keepFrom = Math.min(this.count, Math.max(this.base, Math.ceil((this.next * down - half) / up)));
    if (keepFrom - this.base > 4096) {
      this.buf.copyWithin(0, keepFrom - this.base, this.count - this.base);
      this.base = keepFrom;
    }
    return out;
  }
}

/**
 * Converts a whole recording to 16 kHz (see the module comment for the filter).
 * @returns a new Float32Array of ceil(n · 16000 / rate) samples.
 * @throws RangeError when rate is not a positive integer.
 */
export function resampleTo16k(samples: Float32Array, rate: number): Float32Array {
  const r = new Resampler(rate);
  const a = r.push(samples);
  const b = r.flush();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
