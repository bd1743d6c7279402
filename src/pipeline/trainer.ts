/**
 * Minibatch Adam on binary cross-entropy, in plain TypeScript over typed arrays.
 * Trains the MLP and the logistic-regression baseline (a network without hidden layers).
 * Reproducible: the seed fixes the initial weights (createNetwork) and the shuffles here;
 * everything runs on one thread in a fixed order, so the same seed gives the same bytes.
 */
import { activationBuffers, CsrMatrix, forwardRow, Network, prng, sigmoid } from './network';

export interface TrainOptions {
  epochs: number;
  batch_size: number;
  learning_rate: number;
  /** L2 penalty on weights (not biases), added to the gradient. */
  l2?: number;
  /** Cosine decay of the learning rate over all steps down to 5%, or constant. */
  lr_schedule?: 'constant' | 'cosine';
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Seeds the shuffles (the weights are seeded by createNetwork). */
  seed: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  rowsDone: number;
  rowsPerEpoch: number;
  loss: number;
  rowsPerSecond: number;
}

export interface EpochStats {
  epoch: number;
  loss: number;
  seconds: number;
  rows_per_second: number;
}

export interface TrainHistory {
  epochs: EpochStats[];
  seconds: number;
  /** Training throughput over all epochs (forward + backward + Adam). */
  rows_per_second: number;
}

const LOG_EPS = 1e-7;

/** Trains `net` in place on rows of `x` with 0/1 labels `y`. */
export function train(net: Network, x: CsrMatrix, y: Uint8Array, opts: TrainOptions, onProgress?: (p: TrainProgress) => void): TrainHistory {
  const { epochs, batch_size: B, learning_rate: lr0 } = opts;
  const [b1, b2, eps, l2] = [opts.beta1 ?? 0.9, opts.beta2 ?? 0.999, opts.epsilon ?? 1e-8, opts.l2 ?? 0];
  const n = x.rows;
  if (n === 0) throw new Error('train: no rows');
  if (y.length !== n) throw new Error(`train: ${y.length} labels for ${n} rows`);
  const layers = net.layers;
  const L = layers.length;
  const acts = activationBuffers(net);
  const deltas = activationBuffers(net);
  const gW = layers.map((l) => new Float64Array(l.W.length));
  const gb = layers.map((l) => new Float64Array(l.b.length));
  const mW = layers.map((l) => new Float32Array(l.W.length));
  const vW = layers.map((l) => new Float32Array(l.W.length));
  const mb = layers.map((l) => new Float32Array(l.b.length));
  const vb = layers.map((l) => new Float32Array(l.b.length));

  // Start the output at the base rate: calibrated from step 0, no wasted epochs.
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i];
  const base = Math.min(Math.max(pos / n, 1e-4), 1 - 1e-4);
  layers[L - 1].b[0] = Math.log(base / (1 - base));

  const rand = prng(opts.seed ^ 0x5bd1e995);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const stepsPerEpoch = Math.ceil(n / B);
  const totalSteps = stepsPerEpoch * epochs;
  const history: EpochStats[] = [];
  const t0 = performance.now();
  let step = 0;

  for (let epoch = 1; epoch <= epochs; epoch++) {
    const te = performance.now();
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    let lossSum = 0;
    for (let start = 0; start < n; start += B) {
      const end = Math.min(start + B, n);
      for (let l = 0; l < L; l++) {
        gW[l].fill(0);
        gb[l].fill(0);
      }
      for (let s = start; s < end; s++) {
        const r = order[s];
        const p = sigmoid(forwardRow(net, x, r, acts));
        const label = y[r];
        lossSum -= label ? Math.log(Math.max(p, LOG_EPS)) : Math.log(Math.max(1 - p, LOG_EPS));
        deltas[L - 1][0] = p - label;
        // Hidden layers, top down: gradient of W, then delta of the layer below (ReLU mask: a > 0).
        for (let l = L - 1; l >= 1; l--) {
          const prev = acts[l - 1];
          const d = deltas[l];
          const out = layers[l].outSize;
          const W = layers[l].W;
          const g = gW[l];
          const gbl = gb[l];
          for (let j = 0; j < out; j++) gbl[j] += d[j];
          const dp = deltas[l - 1];
          for (let i = 0; i < prev.length; i++) {
            const a = prev[i];
            if (a <= 0) {
              dp[i] = 0;
              continue;
            }
            const base = i * out;
            let sum = 0;
            for (let j = 0; j < out; j++) {
              g[base + j] += a * d[j];
              sum += W[base + j] * d[j];
            }
            dp[i] = sum;
          }
        }
        // First layer: only the rows of the non-zero inputs get a gradient.
        const d0 = deltas[0];
        const n0 = layers[0].outSize;
        const g0 = gW[0];
        const gb0 = gb[0];
        for (let j = 0; j < n0; j++) gb0[j] += d0[j];
        for (let k = x.offsets[r], e = x.offsets[r + 1]; k < e; k++) {
          const v = x.values[k];
          const base = x.indices[k] * n0;
          for (let j = 0; j < n0; j++) g0[base + j] += v * d0[j];
        }
      }
      // Adam step with bias correction folded into the step size.
      step++;
      const decay = opts.lr_schedule === 'cosine' ? 0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * (step - 1)) / totalSteps)) : 1;
      const lr = (lr0 * decay * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
      const inv = 1 / (end - start);
      for (let l = 0; l < L; l++) {
        adam(layers[l].W, gW[l], mW[l], vW[l], inv, l2, lr, b1, b2, eps);
        adam(layers[l].b, gb[l], mb[l], vb[l], inv, 0, lr, b1, b2, eps);
      }
      if (onProgress) {
        const secs = (performance.now() - te) / 1000;
        onProgress({ epoch, epochs, rowsDone: end, rowsPerEpoch: n, loss: lossSum / end, rowsPerSecond: secs > 0 ? end / secs : 0 });
      }
    }
    const seconds = (performance.now() - te) / 1000;
    history.push({ epoch, loss: lossSum / n, seconds, rows_per_second: n / seconds });
  }
  const seconds = (performance.now() - t0) / 1000;
  return { epochs: history, seconds, rows_per_second: (n * epochs) / seconds };
}

function adam(w: Float32Array, g: Float64Array, m: Float32Array, v: Float32Array, inv: number, l2: number, lr: number, b1: number, b2: number, eps: number): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] * inv + l2 * w[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= (lr * mi) / (Math.sqrt(vi) + eps);
  }
}
