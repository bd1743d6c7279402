import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resampler, designFilter, resampleTo16k } from '../../../src/audio/resample';
import { AUDIO, loadAudio } from '../../helpers/stream-audio';

/** |H(f)| of the converter's filter at input-side frequency f Hz (gain 1 in the pass band). */
function response(rate: number, f: number): number {
  const d = designFilter(rate);
  const fs = rate * d.up;
  let re = 0, im = 0;
  for (let n = -d.half; n <= d.half; n++) {
    const w = (2 * Math.PI * f * n) / fs;
    re += d.taps[n + d.half] * Math.cos(w);
    im -= d.taps[n + d.half] * Math.sin(w);
  }
  return Math.hypot(re, im);
}

const dB = (x: number) => 20 * Math.log10(x);

test('16 kHz passes through unchanged; output length is ceil(n · 16000 / rate)', (t) => {
  const { samples } = loadAudio(AUDIO.hello16k);
  assert.deepStrictEqual(resampleTo16k(samples, 16000), samples);
  const a8 = loadAudio(AUDIO.hello8k).samples;
  assert.strictEqual(resampleTo16k(a8, 8000).length, a8.length * 2);
  const n48 = loadAudio(AUDIO.front48k).samples;
  assert.strictEqual(resampleTo16k(n48, 48000).length, Math.ceil(n48.length / 3));
});

test('streaming equals the whole-recording conversion bit for bit, however the input is split', (t) => {
  for (const [audio, sizes] of [[AUDIO.hello8k, [1, 7, 160, 333, 2, 1000]], [AUDIO.front48k, [4800, 1, 13, 999]]] as const) {
    const { samples, rate } = loadAudio(audio);
    const whole = resampleTo16k(samples, rate);
    const r = new Resampler(rate);
    const parts: Float32Array[] = [];
    for (let off = 0, k = 0; off < samples.length; k++) {
      const n = sizes[k % sizes.length];
      parts.push(r.push(samples.subarray(off, off + n)));
      off += n;
    }
    parts.push(r.flush());
    const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { joined.set(p, o); o += p.length; }
    assert.deepStrictEqual(joined, whole, audio.file);
  }
});

test('the filter: unit gain at DC, flat pass band, ≥ 55 dB down at the lower Nyquist, ≥ 80 dB beyond', (t) => {
  for (const rate of [8000, 48000]) {
    const nyquist = Math.min(rate, 16000) / 2;
    assert.ok(Math.abs(response(rate, 0) - 1) < 1e-12, `${rate}: DC gain ${response(rate, 0)}`);
    assert.ok(Math.abs(dB(response(rate, 0.5 * nyquist))) < 0.01, `${rate}: pass band`);
    assert.ok(Math.abs(dB(response(rate, 0.8 * nyquist))) < 0.05, `${rate}: pass band edge`);
    assert.ok(dB(response(rate, nyquist)) < -55, `${rate}: at Nyquist ${dB(response(rate, nyquist))}`);
    assert.ok(dB(response(rate, 1.1 * nyquist)) < -80, `${rate}: stop band`);
  }
  assert.throws(() => designFilter(0), RangeError);
});

test('real speech keeps its energy through 8 → 16 kHz (speech lies below 4 kHz)', (t) => {
  const { samples } = loadAudio(AUDIO.hello8k);
  const up = resampleTo16k(samples, 8000);
  const power = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
  const ratio = power(up) / power(samples);
  assert.ok(ratio > 0.95 && ratio < 1.01, `power ratio ${ratio}`);
});
