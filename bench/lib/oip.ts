/** Open Inference Protocol v2 (KServe v2) JSON bodies for the Silero VAD model. */

export const VAD_MODEL_NAME = 'vad';
export const VAD_INFER_PATH = `/v2/models/${VAD_MODEL_NAME}/infer`;
export const READY_PATH = '/v2/health/ready';
export const VAD_STATE_SIZE = 2 * 64; // h and c are [2, batch, 64]

export interface OipTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export interface OipResponse {
  model_name?: string;
  model_version?: string;
  id?: string;
  outputs: OipTensor[];
}

/** One-chunk VAD request with zero initial LSTM state, asking for `output` only. */
export function vadInferBody(id: string, chunk: Float32Array, sampleRate = 16000): string {
  const zeros = new Array<number>(VAD_STATE_SIZE).fill(0);
  return JSON.stringify({
    id,
    inputs: [
      { name: 'input', shape: [1, chunk.length], datatype: 'FP32', data: Array.from(chunk) },
      { name: 'sr', shape: [], datatype: 'INT64', data: [sampleRate] },
      { name: 'h', shape: [2, 1, 64], datatype: 'FP32', data: zeros },
      { name: 'c', shape: [2, 1, 64], datatype: 'FP32', data: zeros },
    ],
    outputs: [{ name: 'output' }],
  });
}

/** The OIP v2 answer carrying one `output` probability (the shape the peers send). */
export function oipVadResponse(id: string, probability: number): string {
  return JSON.stringify({
    model_name: VAD_MODEL_NAME,
    model_version: '1',
    id,
    outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 1], data: [probability] }],
  });
}

/**
 * Checks that a response body is an OIP v2 infer response with an `output`
 * tensor of shape [1,1] holding a probability; returns the probability.
 */
export function parseVadOutput(text: string): number {
  const body = JSON.parse(text) as Partial<OipResponse>;
  if (!body || !Array.isArray(body.outputs)) throw new Error('response has no outputs array');
  const out = body.outputs.find((o) => o && o.name === 'output');
  if (!out) throw new Error('response has no "output" tensor');
  if (!Array.isArray(out.shape) || out.shape.length !== 2 || out.shape[0] !== 1 || out.shape[1] !== 1) {
    throw new Error(`output shape ${JSON.stringify(out.shape)} != [1,1]`);
  }
  if (out.datatype !== 'FP32') throw new Error(`output datatype ${String(out.datatype)} != FP32`);
  if (!Array.isArray(out.data) || out.data.length !== 1 || typeof out.data[0] !== 'number') {
    throw new Error('output data is not one number');
  }
  const p = out.data[0] as number;
  if (!(p >= 0 && p <= 1)) throw new Error(`output ${p} is not a probability`);
  return p;
}
