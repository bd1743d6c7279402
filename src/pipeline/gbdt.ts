/**
 * Gradient-boosted trees: training (the C++ trainer, native/src/gbdt/) and the export to a
 * standard ONNX TreeEnsembleClassifier (ai.onnx.ml opset 3, post_transform LOGISTIC), which
 * is the one serving implementation (onnxruntime). The trainer's own prediction
 * (gbdtRawScores) is for evaluation and the export check, never for serving.
 *
 * Inputs. The served model takes the feature spec's tensor unchanged (features FP32
 * [N, width], mostly one-hot columns). Trees would learn little and slowly from ~2,400
 * one-hot columns, so the trainer sees one column per *entry slot* of transformSparse
 * instead: a numeric or cyclic slot is the same float value, a one-hot block (hour, day,
 * airport, airport × hour bucket) is one categorical column holding the index of its hot
 * column. That mapping (GbdtColumn) is exact, so the export can write every split against
 * the serving tensor itself:
 *  - numeric split x <= t on slot k   → BRANCH_LEQ on the slot's serving column, same t;
 *  - category set S on a one-hot slot → a chain of BRANCH_GT 0.5 on the columns offset + c
 *    (c ∈ S), every true branch to the left subtree, the last false branch to the right one.
 *    An all-zero block (the one-hot form of a missing value) or a code outside S ends right,
 *    exactly as the trainer sends NaN and unseen codes right;
 *  - a categorical column given as a plain code (kind 'code') → a chain of BRANCH_EQ c.
 * Missing numeric values follow nodes_missing_value_tracks_true (= the learned default side).
 * The graph is TreeEnsembleClassifier → probabilities [N, 2] → Gather column 1 →
 * probability [N, 1], the output name and shape the MLP export serves.
 */
import { blockWidth, FeatureSpec, SparseRows } from '../features';
import { loadBinding } from '../native/binding';
import type { GbdtOptions, GbdtTrained, GbdtTree } from '../native/gbdt';
import { encodeModel, OnnxGraph, OnnxModelOptions } from './onnx-writer';
import { sigmoid } from './network';

export type { GbdtOptions, GbdtTree } from '../native/gbdt';

/** A dense float32 row-major matrix with 0/1 labels; NaN is missing. */
export interface GbdtData {
  x: Float32Array;
  rows: number;
  cols: number;
  y: Uint8Array;
  /** Columns holding integer category codes. */
  categorical?: number[];
}

/** A trained ensemble plus what the export needs to read the serving tensor. */
export interface GbdtModel extends GbdtTrained {
  cols: number;
  categorical: number[];
}

/**
 * Where a trainer column lives in the ONNX input tensor.
 *  numeric: the value of serving column `column`;
 *  onehot: a category code c is serving column offset + c being 1 (width columns);
 *  code: the category code itself in serving column `column`.
 */
export type GbdtColumn = ({ kind: 'numeric'; column: number } | { kind: 'onehot'; offset: number; width: number } | { kind: 'code'; column: number }) & { name?: string };

/**
 * Trains on `data`; `valid` (same columns) gives the learning curves and early stopping.
 * @throws RangeError/TypeError from the addon for inconsistent shapes, labels other than 0/1,
 *   non-integer category codes or out-of-range options.
 */
export function trainGbdt(data: GbdtData, options: GbdtOptions & { valid?: { x: Float32Array; rows: number; y: Uint8Array } }): GbdtModel {
  const categorical = data.categorical ?? [];
  const trained = loadBinding().gbdtTrainSync(data.x, data.rows, data.cols, data.y, { ...options, categorical });
  return { ...trained, cols: data.cols, categorical };
}

/** The trainer's own raw scores (logits) of rows with the training columns. */
export function gbdtRawScores(model: GbdtModel, x: Float32Array, rows: number): Float64Array {
  return loadBinding().gbdtPredictSync(model, x, rows, model.cols);
}

/** The trainer's probabilities, rounded to float32 like the served output. */
export function gbdtProbabilities(model: GbdtModel, x: Float32Array, rows: number): Float32Array {
  const raw = gbdtRawScores(model, x, rows);
  return Float32Array.from(raw, sigmoid);
}

/**
 * The ensemble with Platt scaling folded in: σ(a·(init + Σ leaves) + b) is the ensemble whose
 * leaves are scaled by a and whose initial score is a·init + b (calibration.ts).
 */
export function plattFolded(model: GbdtModel, p: { a: number; b: number }): GbdtModel {
  return {
    ...model,
    initScore: p.a * model.initScore + p.b,
    trees: model.trees.map((t) => ({ ...t, value: Float64Array.from(t.value, (v) => v * p.a) })),
  };
}

/** The trainer's columns of a feature spec: one per entry slot of transformSparse. */
export function gbdtColumns(spec: FeatureSpec): GbdtColumn[] {
  const out: GbdtColumn[] = [];
  let off = 0;
  const names = spec.feature_names;
  for (const b of spec.blocks) {
    if (b.kind === 'numeric') out.push({ kind: 'numeric', column: off, name: names[off] });
    else if (b.kind === 'cyclic') out.push({ kind: 'numeric', column: off, name: names[off] }, { kind: 'numeric', column: off + 1, name: names[off + 1] });
    else if (b.kind === 'time_onehot') out.push({ kind: 'onehot', offset: off, width: blockWidth(b), name: b.unit });
    else if (b.kind === 'categorical') out.push({ kind: 'onehot', offset: off, width: blockWidth(b), name: b.input });
    else out.push({ kind: 'onehot', offset: off, width: blockWidth(b), name: `${b.input}|${b.hours_per_slot}h` });
    off += blockWidth(b);
  }
  return out;
}

/** Indices of the categorical trainer columns. */
export function categoricalColumns(columns: GbdtColumn[]): number[] {
  return columns.flatMap((c, i) => (c.kind === 'numeric' ? [] : [i]));
}

/**
 * transformSparse rows → the trainer's matrix [rows × slots]: a numeric slot's value, or a
 * one-hot slot's column index minus the block offset (its category code).
 */
export function gbdtMatrix(columns: GbdtColumn[], s: SparseRows): Float32Array {
  if (s.perRow !== columns.length) throw new Error(`gbdtMatrix: ${s.perRow} entries per row, ${columns.length} columns`);
  const out = new Float32Array(s.rows * s.perRow);
  for (let r = 0; r < s.rows; r++) {
    for (let k = 0; k < s.perRow; k++) {
      const c = columns[k];
      const e = r * s.perRow + k;
      out[e] = c.kind === 'onehot' ? s.indices[e] - c.offset : s.values[e];
    }
  }
  return out;
}

/** float32 of a leaf value; ONNX stores class weights as floats. */
const f32 = Math.fround;

/**
 * The TreeEnsembleClassifier graph of a model over an input of `width` columns, where
 * trainer column j is columns[j] (see the module comment for the node encoding).
 */
export function gbdtGraph(model: GbdtModel, columns: GbdtColumn[], width: number, names = { input: 'features', output: 'probability' }): OnnxGraph {
  if (columns.length !== model.cols) throw new Error(`gbdtGraph: ${columns.length} column mappings for a model of ${model.cols} columns`);
  const a = {
    treeids: [] as number[], nodeids: [] as number[], featureids: [] as number[], modes: [] as string[], values: [] as number[],
    truenodeids: [] as number[], falsenodeids: [] as number[], missing: [] as number[],
    class_treeids: [] as number[], class_nodeids: [] as number[], class_weights: [] as number[],
  };
  const push = (tree: number, id: number, feature: number, mode: string, value: number, t: number, f: number, missingTrue: number) => {
    a.treeids.push(tree);
    a.nodeids.push(id);
    a.featureids.push(feature);
    a.modes.push(mode);
    a.values.push(value);
    a.truenodeids.push(t);
    a.falsenodeids.push(f);
    a.missing.push(missingTrue);
  };
  model.trees.forEach((t, tree) => {
    const n = t.feature.length;
    // ONNX ids: a trainer node's first ONNX node; a category-set node takes one per code.
    const entry = new Int32Array(n);
    let next = 0;
    for (let i = 0; i < n; i++) {
      entry[i] = next;
      next += t.feature[i] >= 0 && t.categorical[i] ? t.catBegin[i + 1] - t.catBegin[i] : 1;
    }
    for (let i = 0; i < n; i++) {
      const f = t.feature[i];
      if (f < 0) {
        // The base score rides on the first tree's leaves (no base_values: one float sum).
        push(tree, entry[i], 0, 'LEAF', 0, 0, 0, 0);
        a.class_treeids.push(tree);
        a.class_nodeids.push(entry[i]);
        a.class_weights.push(f32(tree === 0 ? model.initScore + t.value[i] : t.value[i]));
        continue;
      }
      const c = columns[f];
      const [l, r] = [entry[t.left[i]], entry[t.right[i]]];
      if (!t.categorical[i]) {
        if (c.kind !== 'numeric') throw new Error(`gbdtGraph: tree ${tree} node ${i} has a numeric split on categorical column ${f}`);
        push(tree, entry[i], c.column, 'BRANCH_LEQ', t.threshold[i], l, r, t.defaultLeft[i]);
        continue;
      }
      const codes = t.catCodes.subarray(t.catBegin[i], t.catBegin[i + 1]);
      if (codes.length === 0) throw new Error(`gbdtGraph: tree ${tree} node ${i} has an empty category set`);
      codes.forEach((code, k) => {
        const falseNext = k + 1 < codes.length ? entry[i] + k + 1 : r;
        if (c.kind === 'onehot') {
          if (code >= c.width) throw new Error(`gbdtGraph: code ${code} outside the one-hot block of ${c.width} columns`);
          push(tree, entry[i] + k, c.offset + code, 'BRANCH_GT', 0.5, l, falseNext, 0);
        } else if (c.kind === 'code') {
          push(tree, entry[i] + k, c.column, 'BRANCH_EQ', code, l, falseNext, 0);
        } else {
          throw new Error(`gbdtGraph: tree ${tree} node ${i} has a category split on numeric column ${f}`);
        }
      });
    }
  });
  const classifier = {
    classlabels_int64s: { ints: [0, 1] },
    class_ids: { ints: a.class_weights.map(() => 1) },
    class_nodeids: { ints: a.class_nodeids },
    class_treeids: { ints: a.class_treeids },
    class_weights: { floats: a.class_weights },
    nodes_falsenodeids: { ints: a.falsenodeids },
    nodes_featureids: { ints: a.featureids },
    nodes_missing_value_tracks_true: { ints: a.missing },
    nodes_modes: { strings: a.modes },
    nodes_nodeids: { ints: a.nodeids },
    nodes_treeids: { ints: a.treeids },
    nodes_truenodeids: { ints: a.truenodeids },
    nodes_values: { floats: a.values },
    post_transform: { string: 'LOGISTIC' },
  };
  return {
    name: 'infera_gbdt',
    nodes: [
      { op: 'TreeEnsembleClassifier', domain: 'ai.onnx.ml', name: 'trees', inputs: [names.input], outputs: ['label', 'probabilities'], attributes: classifier },
      { op: 'Gather', name: 'positive_class', inputs: ['probabilities', 'class_one'], outputs: [names.output], attributes: { axis: 1 } },
    ],
    initializers: [{ name: 'class_one', dims: [1], data: BigInt64Array.from([1n]) }],
    inputs: [{ name: names.input, shape: ['N', width] }],
    outputs: [{ name: names.output, shape: ['N', 1] }],
  };
}

/** ai.onnx.ml opset of the export: onnxruntime-node 1.30 and onnx 1.12's checker both know 3. */
export const GBDT_ML_OPSET = 3;

/** ONNX bytes of a model (default-domain opset ≥ 13 for Gather; ai.onnx.ml 3). */
export function exportGbdtOnnx(model: GbdtModel, columns: GbdtColumn[], width: number, opts: OnnxModelOptions): Uint8Array {
  if (opts.opset < 13) throw new Error(`exportGbdtOnnx: opset ${opts.opset} < 13`);
  return encodeModel(gbdtGraph(model, columns, width), { ...opts, opsets: [{ domain: 'ai.onnx.ml', version: GBDT_ML_OPSET }] });
}
