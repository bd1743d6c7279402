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
export function inferBody(chunk: Float32Array, h = new Float32Array(128), c = new Float32Array(128), id?: string) {
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

  async run(chunk: Float32Array, h = new Float32Array(128), c = new Float32Array(128)) {
    const r = await this.session.run({
      input: new ort.Tensor('float32', Float32Array.from(chunk), [1, CHUNK]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
      h: new ort.Tensor('float32', Float32Array.from(h), [2, 1, 64]),
      c: new ort.Tensor('float32', Float32Array.from(c), [2, 1, 64]),
    });
    return { output: r.output.data as Float32Array, hn: r.hn.data as Float32Array, cn: r.cn.data as Float32Array };
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
