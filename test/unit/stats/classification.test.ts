import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import { atThreshold, auc, bestF1Threshold, brier, evaluate, expectedCalibrationError, logLoss } from '../../../src/stats/classification';
import { MOVIES } from '../features/flights-data';

/**
 * A fixed real vector: for every movie of movies.json with both ratings, y = IMDB rating ≥ 7
 * and the score p = (Rotten Tomatoes rating + 1) / 102 (100 distinct values: many ties).
 * Reference figures computed ONCE with sklearn 1.2.1 (Debian python3-sklearn), by:
 *
 * /usr/bin/python3 -c "
 * import json, numpy as np
 * from sklearn.metrics import roc_auc_score, log_loss, brier_score_loss
 * m = [r for r in json.load(open('node_modules/vega-datasets/data/movies.json')) if r.get('Rotten Tomatoes Rating') is not None and r.get('IMDB Rating') is not None]
 * y = np.array([1 if r['IMDB Rating'] >= 7 else 0 for r in m]); p = np.array([(r['Rotten Tomatoes Rating'] + 1) / 102 for r in m])
 * b = np.minimum((p * 10).astype(int), 9); ece = sum((b == k).sum() / len(p) * abs(y[b == k].mean() - p[b == k].mean()) for k in range(10) if (b == k).any())
 * print(len(y), y.sum(), len(set(p)), repr(roc_auc_score(y, p)), repr(log_loss(y, p)), repr(brier_score_loss(y, p)), repr(ece))
 * "
 * → 2260 715 100 0.8943797949623192 0.5452245198804304 0.18234418008050002 0.2255856324830817
 */
const SKLEARN = { rows: 2260, positives: 715, distinct: 100, auc: 0.8943797949623192, logLoss: 0.5452245198804304, brier: 0.18234418008050002, ece: 0.2255856324830817 };

function moviesVector(): { y: number[]; p: number[] } {
  const movies = JSON.parse(fs.readFileSync(MOVIES, 'utf8')) as Record<string, unknown>[];
  const rows = movies.filter((m) => m['Rotten Tomatoes Rating'] != null && m['IMDB Rating'] != null);
  return {
    y: rows.map((m) => ((m['IMDB Rating'] as number) >= 7 ? 1 : 0)),
    p: rows.map((m) => ((m['Rotten Tomatoes Rating'] as number) + 1) / 102),
  };
}

test('AUC, log loss, Brier and ECE equal sklearn on a real vector with ties', () => {
  const { y, p } = moviesVector();
  assert.strictEqual(y.length, SKLEARN.rows);
  assert.strictEqual(y.reduce((a, b) => a + b, 0), SKLEARN.positives);
  assert.strictEqual(new Set(p).size, SKLEARN.distinct);
  assert.ok(Math.abs(auc(y, p) - SKLEARN.auc) < 1e-12, `auc ${auc(y, p)}`);
  assert.ok(Math.abs(logLoss(y, p) - SKLEARN.logLoss) < 1e-12, `log loss ${logLoss(y, p)}`);
  assert.ok(Math.abs(brier(y, p) - SKLEARN.brier) < 1e-12);
  assert.ok(Math.abs(expectedCalibrationError(y, p) - SKLEARN.ece) < 1e-12);
  // Float32 predictions (what the models produce) agree to float precision.
  const p32 = Float32Array.from(p);
  assert.ok(Math.abs(auc(y, p32) - SKLEARN.auc) < 1e-12);
  assert.ok(Math.abs(logLoss(y, p32) - SKLEARN.logLoss) < 1e-6);
});

test('AUC is invariant to monotone transforms and order; reversed scores give 1 − AUC', () => {
  const { y, p } = moviesVector();
  const a = auc(y, p);
  assert.ok(Math.abs(auc(y, p.map((x) => Math.log(x))) - a) < 1e-15);
  assert.ok(Math.abs(auc([...y].reverse(), [...p].reverse()) - a) < 1e-15);
  assert.ok(Math.abs(auc(y, p.map((x) => -x)) - (1 - a)) < 1e-12);
  // All scores tied: exactly one half.
  assert.strictEqual(auc(y, p.map(() => 0.3)), 0.5);
});

test('threshold metrics and the F1-optimal threshold', () => {
  const { y, p } = moviesVector();
  const t = bestF1Threshold(y, p);
  const best = atThreshold(y, p, t).f1;
  // No distinct score does better (brute force over the 100 candidates).
  for (const c of new Set(p)) assert.ok(atThreshold(y, p, c).f1 <= best + 1e-15);
  const m = evaluate(y, p, t);
  assert.strictEqual(m.rows, 2260);
  assert.strictEqual(m.threshold, t);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < y.length; i++) if (p[i] >= t) y[i] ? tp++ : fp++;
  assert.strictEqual(m.precision, tp / (tp + fp));
  assert.strictEqual(m.recall, tp / 715);
});

test('BAD CALL - mismatched or empty inputs are refused; one class gives NaN AUC', () => {
  assert.throws(() => auc([1, 0], [0.5]), /2 labels, 1 predictions/);
  assert.throws(() => logLoss([], []), /no rows/);
  assert.throws(() => evaluate([1, 0], [0.2, NaN], 0.5), /prediction 1 is not finite/);
  assert.ok(Number.isNaN(auc([1, 1], [0.2, 0.3])));
});
