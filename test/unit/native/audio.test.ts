// The native audio front end: PCM16 → float32 against src/audio/wav.ts (exact), and
// resampling to 16 kHz against SoX 14.4.2 `rate -h` on real recordings. The sox outputs are
// committed (fixtures/, raw little-endian float32), made with exactly:
//   sox -D /usr/share/sounds/linphone/hello8000.wav -t f32 hello8000-1s-2s.16k.f32 trim 1 2 rate -h 16000
//   sox -D /usr/share/sounds/linphone/toy-mono.wav -e signed-integer -b 16 toy-mono-1s-1s.48k.wav trim 1 1 rate -h 48000
//   sox -D toy-mono-1s-1s.48k.wav -t f32 toy-mono-1s-1s.48k.16k.f32 rate -h 16000
// (hello8000.wav: real speech at 8 kHz; toy-mono.wav: a real 44.1 kHz recording with energy
// above 8 kHz, brought to 48 kHz by sox so that the 48 → 16 kHz anti-aliasing is exercised.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWav } from '../../../src/audio/wav';
import { ADDON_CANDIDATES, PACKAGE_ROOT, loadBindingFrom } from '../../../src/native/binding';
import { StreamResampler, resampleTo16kNative } from '../../../src/native/audio';
import { HELLO_8K_WAV, HELLO_WAV } from './real-data';

const FIXTURES = path.join(PACKAGE_ROOT, 'test/unit/native/fixtures');
const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));

/** Every sample within one 16-bit LSB of sox, and the whole signal within 75 dB SNR of it. */
const MAX_ABS_DIFF = 2 ** -15;
const MIN_SNR_DB = 75;

function f32(file: string): Float32Array {
  const b = fs.readFileSync(path.join(FIXTURES, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The scalar reference decoder: little-endian PCM16 → float32 of the first channel, x / 32768. */
function pcm16ToFloat(bytes: Uint8Array, channels = 1): Float32Array {
  const frames = Math.floor(bytes.byteLength / 2 / channels);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(frames);
  for (let i = 0; i < frames; i++) out[i] = dv.getInt16(i * 2 * channels, true) / 32768;
  return out;
}

/** Frame sizes (in samples) from a fixed LCG: 0, 1, odd and large frames all occur. */
function splits(total: number, seed: number): number[] {
  const sizes: number[] = [];
  let s = seed;
  for (let left = total; left > 0;) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(left, [0, 1, 7, 160, 333, 1536, 4800][s % 7]);
    sizes.push(n);
    left -= n;
  }
  return sizes;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function compare(got: Float32Array, ref: Float32Array): { snrDb: number; maxAbs: number } {
  assert.equal(got.length, ref.length, 'sample count');
  let se = 0;
  let ss = 0;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = got[i] - ref[i];
    se += d * d;
    ss += ref[i] * ref[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { snrDb: 10 * Math.log10(ss / se), maxAbs };
}

/** The data chunk of a PCM16 WAV file (RIFF chunks walked). */
function wavData(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  let off = 12;
  while (off + 8 <= b.length) {
    const size = b.readUInt32LE(off + 4);
    if (b.toString('ascii', off, off + 4) === 'data') return new Uint8Array(b.buffer, b.byteOffset + off + 8, Math.min(size, b.length - off - 8) & ~1);
    off += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

const CASES = [
  { name: '8 kHz speech (hello8000.wav, 1 s..3 s)', rate: 8000, input: () => readWav(HELLO_8K_WAV).samples.slice(8000, 24000), ref: 'hello8000-1s-2s.16k.f32' },
  { name: '48 kHz recording (toy-mono, 1 s..2 s)', rate: 48000, input: () => readWav(path.join(FIXTURES, 'toy-mono-1s-1s.48k.wav')).samples, ref: 'toy-mono-1s-1s.48k.16k.f32' },
];

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);

  test(`${tag}: pcm16ToFloat equals the scalar reference on real speech (mono and the first of two channels)`, () => {
    const bytes = wavData(HELLO_WAV);
    assert.deepEqual(b.pcm16ToFloat(bytes), pcm16ToFloat(bytes));
    assert.deepEqual(b.pcm16ToFloat(bytes.subarray(0, 4097)), pcm16ToFloat(bytes.subarray(0, 4097)), 'odd byte count: the partial sample is dropped');
    // Two channels: the recording interleaved with itself reversed.
    const n = bytes.length / 2;
    const stereo = new Uint8Array(bytes.length * 2);
    for (let i = 0; i < n; i++) {
      stereo.set(bytes.subarray(2 * i, 2 * i + 2), 4 * i);
      stereo.set(bytes.subarray(2 * (n - 1 - i), 2 * (n - i)), 4 * i + 2);
    }
    assert.deepEqual(b.pcm16ToFloat(stereo, 2), pcm16ToFloat(stereo, 2));
  });

  for (const c of CASES) {
    test(`${tag}: resample ${c.name} → 16 kHz matches sox rate -h (≤ 1 LSB, ≥ ${MIN_SNR_DB} dB)`, async (t) => {
      const x = c.input();
      const sync = b.resampleTo16kSync(x, c.rate);
      const { snrDb, maxAbs } = compare(sync, f32(c.ref));
      t.diagnostic(`${c.name}: SNR vs sox ${snrDb.toFixed(1)} dB, max |diff| ${maxAbs.toExponential(2)} (1 LSB = ${MAX_ABS_DIFF.toExponential(2)})`);
      assert.ok(maxAbs <= MAX_ABS_DIFF, `max abs diff ${maxAbs}`);
      assert.ok(snrDb >= MIN_SNR_DB, `SNR ${snrDb} dB`);
      assert.deepEqual(await b.resampleTo16k(x, c.rate), sync, 'async = sync');
    });
  }

  test(`${tag}: 16 kHz passes through; lengths are floor(n · 16000 / rate); short inputs`, () => {
    const x = readWav(HELLO_WAV).samples.slice(0, 1000);
    assert.deepEqual(b.resampleTo16kSync(x, 16000), x);
    for (const [rate, n, m] of [[8000, 1, 2], [48000, 2, 0], [48000, 3, 1], [44100, 441, 160], [8000, 0, 0]]) {
      assert.equal(b.resampleTo16kSync(x.slice(0, n), rate).length, m, `${rate} Hz, ${n} samples`);
    }
  });

  test(`BAD CALL - ${tag}: audio arguments are checked`, () => {
    const x = new Float32Array(readWav(HELLO_WAV).samples.slice(0, 16));
    assert.throws(() => b.resampleTo16kSync(x, 0), { name: 'RangeError', message: 'rate must be a positive integer' });
    assert.throws(() => b.resampleTo16kSync(x, 8000.5), { message: 'rate must be a non-negative safe integer' });
    assert.throws(() => b.resampleTo16kSync(x, 500000), { message: 'rate must be at most 384000' });
    assert.throws(() => b.resampleTo16kSync(Float64Array.from(x) as unknown as Float32Array, 8000), { message: 'samples must be a Float32Array' });
    assert.throws(() => b.pcm16ToFloat(new Uint8Array(4), 0), { message: 'channels must be at least 1' });
  });
}

test('StreamResampler: pcm16 and f32 frames in any split, then flush, equal the whole-recording resample bit for bit', () => {
  const bytes = wavData(HELLO_8K_WAV).subarray(0, 2 * 40000);
  const decoded = pcm16ToFloat(bytes);
  for (const rate of [8000, 16000, 48000, 44100]) {
    const whole = loadBindingFrom(BUILDS[0]).resampleTo16kSync(decoded, rate);
    for (const seed of [1, 2, 3]) {
      const pcm = new StreamResampler(rate);
      const f32 = new StreamResampler(rate);
      const gotPcm: Float32Array[] = [];
      const gotF32: Float32Array[] = [];
      let at = 0;
      for (const n of splits(decoded.length, seed)) {
        gotPcm.push(pcm.push(bytes.subarray(2 * at, 2 * (at + n)), 'pcm16'));
        const frame = new Uint8Array(4 * n + 1).subarray(1); // unaligned on purpose
        frame.set(new Uint8Array(decoded.buffer, decoded.byteOffset + 4 * at, 4 * n));
        gotF32.push(f32.push(frame, 'f32'));
        at += n;
      }
      gotPcm.push(pcm.flush());
      gotF32.push(f32.flush());
      assert.deepEqual(concat(gotPcm), whole, `${rate} Hz pcm16, split seed ${seed}`);
      assert.deepEqual(concat(gotF32), whole, `${rate} Hz f32, split seed ${seed}`);
    }
  }
});

test('BAD CALL - StreamResampler: partial and non-finite samples and a second flush are refused', () => {
  const r = new StreamResampler(8000);
  assert.throws(() => r.push(new Uint8Array(1001), 'pcm16'), { name: 'RangeError', message: 'pcm16 frames hold whole 2-byte samples; got 1001 bytes' });
  const bad = new Float32Array([0.1, 0.2, NaN]);
  assert.throws(() => r.push(new Uint8Array(bad.buffer), 'f32'), { name: 'RangeError', message: 'f32 sample 2 of the frame is not finite' });
  assert.throws(() => r.push(new Uint8Array(4), 'u8' as 'f32'), { message: "format must be 'pcm16' or 'f32'" });
  assert.throws(() => new StreamResampler(0), { message: 'rate must be a positive integer' });
  r.flush();
  assert.throws(() => r.flush(), { message: 'the stream resampler was flushed' });
  assert.throws(() => r.push(new Uint8Array(2), 'pcm16'), { message: 'the stream resampler was flushed' });
});

test('wrapper resampleTo16kNative: inline and pooled paths agree; errors reject', async () => {
  const x = readWav(HELLO_8K_WAV).samples.slice(8000, 24000);
  const whole = await resampleTo16kNative(x, 8000);
  const small = await resampleTo16kNative(x.slice(0, 100), 8000);
  assert.equal(small.length, 200);
  assert.equal(whole.length, 32000);
  await assert.rejects(resampleTo16kNative(x, -1), /rate must be a non-negative safe integer/);
});
