/**
 * The test-side reference of a GBDT model's prediction: a plain walk of every tree, written
 * from the semantics in native/src/gbdt/gbdt.h and sharing no code with the trainer or the
 * ONNX export. Raw score = initScore + Σ leaf values, summed in tree order in float64.
 *  - numeric node: NaN → the default side; x <= threshold → left; otherwise right;
 *  - categorical node: x one of the node's codes → left; NaN or any other value → right.
 */
import type { GbdtTree } from '../../src/native/gbdt';

export function walkTree(t: GbdtTree, x: Float32Array, base: number): number {
  let n = 0;
  while (t.feature[n] >= 0) {
    const v = x[base + t.feature[n]];
    let left: boolean;
    if (t.categorical[n]) {
      left = false;
      for (let k = t.catBegin[n]; k < t.catBegin[n + 1]; k++) if (t.catCodes[k] === v) left = true;
    } else {
      left = Number.isNaN(v) ? t.defaultLeft[n] === 1 : v <= t.threshold[n];
    }
    n = left ? t.left[n] : t.right[n];
  }
  return t.value[n];
}

/** Raw scores (logits) of `rows` rows of a row-major [rows × cols] matrix. */
export function walkRaw(model: { initScore: number; trees: GbdtTree[] }, x: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = model.initScore;
    for (const t of model.trees) s += walkTree(t, x, r * cols);
    out[r] = s;
  }
  return out;
}

/** Mann-Whitney AUC with average ranks for ties, on float64 scores (an independent AUC). */
export function rankAuc(y: ArrayLike<number>, score: ArrayLike<number>): number {
  const idx = Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    let tiedPos = 0;
    while (j < idx.length && score[idx[j]] === score[idx[i]]) tiedPos += y[idx[j++]];
    rankSum += (tiedPos * (i + 1 + j)) / 2;
    pos += tiedPos;
    i = j;
  }
  const neg = idx.length - pos;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
