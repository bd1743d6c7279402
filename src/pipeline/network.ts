/**
 * A dense feed-forward binary classifier over Float32Arrays: Gemm → ReLU → … → Gemm →
 * Sigmoid. With no hidden layer it is logistic regression. Weights are stored [in × out]
 * row-major (exactly ONNX Gemm's B with transB = 0), so an input column maps to one
 * contiguous weight row: sparse one-hot inputs touch only their rows.
 */

export interface Dense {
  inSize: number;
  outSize: number;
  /** [inSize × outSize], row-major. */
  W: Float32Array;
  b: Float32Array;
}

export interface Network {
  /** Hidden layers use ReLU; the last layer has one unit and a sigmoid. */
  layers: Dense[];
}

/** Compressed sparse rows: the inputs are mostly one-hot, ~15 non-zeros of ~500 columns. */
export interface CsrMatrix {
  rows: number;
  width: number;
  offsets: Uint32Array;
  indices: Uint32Array;
  values: Float32Array;
}

/** Dense row-major [rows × width] → CSR; exact (keeps every non-zero value). */
export function toCsr(data: Float32Array, rows: number, width: number): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  const offsets = new Uint32Array(rows + 1);
  const indices = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    for (let c = 0; c < width; c++) {
      const v = data[base + c];
      if (v !== 0) {
        indices[k] = c;
        values[k++] = v;
      }
    }
    offsets[r + 1] = k;
  }
  return { rows, width, offsets, indices, values };
}

/** CSR view of transformSparse's fixed-count rows (no copy of indices or values). */
export function fromSparseRows(s: { rows: number; width: number; perRow: number; indices: Uint32Array; values: Float32Array }): CsrMatrix {
  const offsets = new Uint32Array(s.rows + 1);
  for (let r = 0; r <= s.rows; r++) offsets[r] = r * s.perRow;
  return { rows: s.rows, width: s.width, offsets, indices: s.indices, values: s.values };
}

/** Concatenates CSR blocks of equal width (chunked transforms of one window). */
export function concatCsr(parts: CsrMatrix[], width: number): CsrMatrix {
  const rows = parts.reduce((s, p) => s + p.rows, 0);
  const nnz = parts.reduce((s, p) => s + p.values.length, 0);
  const out: CsrMatrix = { rows, width, offsets: new Uint32Array(rows + 1), indices: new Uint32Array(nnz), values: new Float32Array(nnz) };
  let r0 = 0;
  let k0 = 0;
  for (const p of parts) {
    if (p.width !== width) throw new Error(`concatCsr: width ${p.width} != ${width}`);
    out.indices.set(p.indices, k0);
    out.values.set(p.values, k0);
    for (let r = 1; r <= p.rows; r++) out.offsets[r0 + r] = k0 + p.offsets[r];
    r0 += p.rows;
    k0 += p.values.length;
  }
  return out;
}

/** mulberry32: a small seeded PRNG; the same seed gives the same weights and shuffles. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** He-normal weights (Box–Muller), zero biases. */
export function createNetwork(inputWidth: number, hidden: number[], seed: number): Network {
  const rand = prng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const sizes = [inputWidth, ...hidden, 1];
  const layers: Dense[] = [];
  for (let l = 1; l < sizes.length; l++) {
    const [inSize, outSize] = [sizes[l - 1], sizes[l]];
    const std = Math.sqrt(2 / inSize);
    const W = new Float32Array(inSize * outSize);
    for (let i = 0; i < W.length; i++) W[i] = normal() * std;
    layers.push({ inSize, outSize, W, b: new Float32Array(outSize) });
  }
  return { layers };
}

export function parameterCount(net: Network): number {
  return net.layers.reduce((s, l) => s + l.W.length + l.b.length, 0);
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Scratch activations per layer, reused across rows (float64 accumulation). */
export function activationBuffers(net: Network): Float64Array[] {
  return net.layers.map((l) => new Float64Array(l.outSize));
}

/**
 * Forward pass of row r into `acts` (post-activation outputs per layer; the last holds
 * the logit). Float32 weights, float64 sums: within ~1e-7 of onnxruntime's float Gemm.
 */
export function forwardRow(net: Network, x: CsrMatrix, r: number, acts: Float64Array[]): number {
  const first = net.layers[0];
  const a0 = acts[0];
  const n0 = first.outSize;
  const W0 = first.W;
  a0.set(first.b);
  for (let k = x.offsets[r], end = x.offsets[r + 1]; k < end; k++) {
    const v = x.values[k];
    const base = x.indices[k] * n0;
    for (let j = 0; j < n0; j++) a0[j] += v * W0[base + j];
  }
  for (let l = 1; l < net.layers.length; l++) {
    const prev = acts[l - 1];
    for (let i = 0; i < prev.length; i++) if (prev[i] < 0) prev[i] = 0; // ReLU of the hidden layer l-1
    const { W, b, outSize } = net.layers[l];
    const out = acts[l];
    out.set(b);
    for (let i = 0; i < prev.length; i++) {
      const a = prev[i];
      if (a === 0) continue;
      const base = i * outSize;
      for (let j = 0; j < outSize; j++) out[j] += a * W[base + j];
    }
  }
  return acts[acts.length - 1][0];
}

/** Probabilities for every row. */
export function predict(net: Network, x: CsrMatrix): Float32Array {
  if (x.width !== net.layers[0].inSize) throw new Error(`predict: input width ${x.width} != network input ${net.layers[0].inSize}`);
  const acts = activationBuffers(net);
  const out = new Float32Array(x.rows);
  for (let r = 0; r < x.rows; r++) out[r] = sigmoid(forwardRow(net, x, r, acts));
  return out;
}

/** Probabilities for a dense row-major batch (the server's tensor layout). */
export function predictDense(net: Network, data: Float32Array, rows: number): Float32Array {
  return predict(net, toCsr(data, rows, net.layers[0].inSize));
}
