/**
 * Platt scaling: P(y = 1) = σ(a·z + b) over a model's logit z, with a and b fitted by maximum
 * likelihood on rows the model was not fitted on (the calibration window). For a model whose
 * output is already σ(z) — the GBDT ensemble, the MLP's last layer — the map folds into the
 * model itself (z scaled by a, shifted by b), so the exported ONNX graph is calibrated with
 * no extra node, and onnxruntime and the trainer still agree. With a > 0 it is monotone:
 * AUC is unchanged, log loss and ECE move.
 */
import { sigmoid } from './network';

export interface Platt {
  a: number;
  b: number;
}


/** Mean log loss of σ(a·z + b) against y, computed stably from the logit. */
export function plattLogLoss(z: ArrayLike<number>, y: ArrayLike<number>, p: Platt): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const t = p.a * z[i] + p.b;
    // -log σ(t) = log(1 + e^-t); -log(1 - σ(t)) = log(1 + e^t)
    const u = y[i] ? -t : t;
    s += u > 0 ? u + Math.log1p(Math.exp(-u)) : Math.log1p(Math.exp(u));
  }
  return s / z.length;
}

/**
 * Newton's method on (a, b) from the identity (1, 0), halving a step that does not lower the
 * loss. The problem is convex; it stops when a step changes neither parameter by 1e-12.
 * @throws Error when there are no rows or only one class (nothing to fit).
 */
export function fitPlatt(z: ArrayLike<number>, y: ArrayLike<number>): Platt {
  const n = z.length;
  if (n === 0 || n !== y.length) throw new Error(`fitPlatt: ${n} scores and ${y.length} labels`);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i] ? 1 : 0;
  if (positives === 0 || positives === n) throw new Error('fitPlatt: the calibration rows hold one class only');
  let p: Platt = { a: 1, b: 0 };
  let loss = plattLogLoss(z, y, p);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
    for (let i = 0; i < n; i++) {
      const q = sigmoid(p.a * z[i] + p.b);
      const r = q - (y[i] ? 1 : 0);
      const w = q * (1 - q);
      ga += r * z[i];
      gb += r;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    let da = -(hbb * ga - hab * gb) / det;
    let db = -(haa * gb - hab * ga) / det;
    let next = { a: p.a + da, b: p.b + db };
    let nextLoss = plattLogLoss(z, y, next);
    for (let k = 0; k < 30 && !(nextLoss <= loss); k++) {
      da /= 2;
      db /= 2;
      next = { a: p.a + da, b: p.b + db };
      nextLoss = plattLogLoss(z, y, next);
    }
    if (!(nextLoss <= loss)) break;
    p = next;
    loss = nextLoss;
    if (Math.abs(da) < 1e-12 && Math.abs(db) < 1e-12) break;
  }
  return p;
}
