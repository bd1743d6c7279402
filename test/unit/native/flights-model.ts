/**
 * The flights-delay model trained by the pipeline (models/flights-delay/1: model.onnx,
 * feature_spec.json, card.json) and real held-out February 2001 rows for it, read from the
 * model's own source (flights-3m.parquet) and transformed by its feature spec. Tests that
 * need the model skip (with the reason) while it has not been trained yet.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../../src/native/binding';
import { cardData, LabeledRows, loadLabeledRows, versionSpec } from '../../../src/quant/eval-data';

export const FLIGHTS_DIR = path.join(PACKAGE_ROOT, 'models/flights-delay/1');
export const FLIGHTS_ONNX = path.join(FLIGHTS_DIR, 'model.onnx');
/** Held out: the model was trained on Jan 1-24 2001 (card.json time_range). */
export const FEBRUARY = { from: '2001-02-01', to: '2001-03-01' };

/** Why flights tests cannot run, or undefined when they can. */
export function flightsMissing(): string | undefined {
  for (const f of ['model.onnx', 'feature_spec.json', 'card.json']) {
    if (!fs.existsSync(path.join(FLIGHTS_DIR, f))) return `models/flights-delay/1/${f} is not there yet (train it: node dist/src/cli/main.js train pipelines/flights-delay.json)`;
  }
  return undefined;
}

const cache = new Map<number, Promise<LabeledRows>>();

/** `limit` February rows (deterministic subset, time order), cached per process. */
export function februaryRows(limit: number): Promise<LabeledRows> {
  let p = cache.get(limit);
  if (!p) {
    p = loadLabeledRows(cardData(FLIGHTS_DIR, PACKAGE_ROOT), versionSpec(FLIGHTS_DIR), FEBRUARY, limit);
    cache.set(limit, p);
  }
  return p;
}
