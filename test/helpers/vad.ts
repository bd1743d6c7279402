import * as ort from 'onnxruntime-node';
import { chunks, readWav } from '../../src/audio/wav';
import { HELLO_WAV, VAD_ONNX } from './server';

export const CHUNK = 1536;

/** Consecutive 1536-sample chunks of real speech (hello16000.wav). */
export function speechChunks(): Float32Array[] {
  const wav = readWav(HELLO_WAV);
  if (wav.sampleRate !== 16000) throw new Error(`${HELLO_WAV}: expected 16 kHz, got ${wav.sampleRate}`);
  return chunks(wav.samples, CHUNK);
}

/** An OIP v2 JSON infer body for one chunk with the given state. */
export function inferBody(chunk: Float32Array, h: Float32Array = new Float32Array(128), c: Float32Array = new Float32Array(128), id?: string) {
  return {
    id,
    inputs: [
      { name: 'input', shape: [1, CHUNK], datatype: 'FP32', data: Array.from(chunk) },
      { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
      { name: 'h', shape: [2, 1, 64], datatype: 'FP32', data: Array.from(h) },
      { name: 'c', shape: [2, 1, 64], datatype: 'FP32', data: Array.from(c) },
    ],
  };
}

/** The reference: onnxruntime-node in this process, one chunk at a time. */
export class ReferenceVad {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<ReferenceVad> {
    return new ReferenceVad(await ort.InferenceSession.create(VAD_ONNX, { intraOpNumThreads: 1, interOpNumThreads: 1 }));
  }

  async run(chunk: Float32Array, h: Float32Array = new Float32Array(128), c: Float32Array = new Float32Array(128)) {
    const r = await this.session.run({
      input: new ort.Tensor('float32', Float32Array.from(chunk), [1, CHUNK]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      h: new ort.Tensor('float32', Float32Array.from(h), [2, 1, 64]),
      c: new ort.Tensor('float32', Float32Array.from(c), [2, 1, 64]),
    });
    return { output: r.output.data as Float32Array, hn: r.hn.data as Float32Array, cn: r.cn.data as Float32Array };
  }

  /** Runs n chunks as one batch (zero state), returning each row's outputs. */
  async runBatch(chunks: Float32Array[]) {
    const n = chunks.length;
    const input = new Float32Array(n * CHUNK);
    chunks.forEach((ch, i) => input.set(ch, i * CHUNK));
    const r = await this.session.run({
      input: new ort.Tensor('float32', input, [n, CHUNK]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      h: new ort.Tensor('float32', new Float32Array(2 * n * 64), [2, n, 64]),
      c: new ort.Tensor('float32', new Float32Array(2 * n * 64), [2, n, 64]),
    });
    const state = (t: ort.Tensor, i: number) => {
      const d = t.data as Float32Array;
      // [2, n, 64]: row i is the 64-float block i of each of the two layers.
      return Float32Array.from([...d.subarray(i * 64, i * 64 + 64), ...d.subarray((n + i) * 64, (n + i) * 64 + 64)]);
    };
    return chunks.map((_, i) => ({ output: (r.output.data as Float32Array).subarray(i, i + 1), hn: state(r.hn, i), cn: state(r.cn, i) }));
  }

  /** The offline run of a sequence: the chunks one at a time, state carried in process; the speech probability of each. */
  async sequence(chunks: Float32Array[]): Promise<number[]> {
    let h: Float32Array = new Float32Array(128), c: Float32Array = new Float32Array(128);
    const out: number[] = [];
    for (const ch of chunks) {
      const r = await this.run(ch, h, c);
      out.push(r.output[0]);
      h = r.hn;
      c = r.cn;
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
