/**
 * Real, labelled rows for measuring a model version: read from the version's own training
 * source (card.json `source`, `label`, timestamp) for a held-out time window, turned into the
 * model input by the version's feature spec (the TypeScript `transform`, the path that
 * trained it). Used by `infera quantize`, the native tests and scripts/measure-kernels.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FeatureSpec, loadFeatureSpec, transform } from '../features';
import type { Columns } from '../features';
import { ColumnKind, ingest, readColumns, TimeWindow, Warehouse } from '../data/warehouse';

export interface LabelRule {
  column: string;
  op: '>' | '>=' | '<' | '<=' | '==';
  value: number;
}

/** What a version's card.json says about its data (fields written by the training pipeline). */
export interface CardData {
  source: string;
  timestamp: string;
  label: LabelRule;
}

export interface LabeledRows {
  /** Raw input columns (for the native preprocessing). */
  columns: Columns;
  /** transform(spec, columns).data: [rows x width]. */
  x: Float32Array;
  rows: number;
  width: number;
  labels: Uint8Array;
  window: TimeWindow;
  source: string;
}

export function labelOf(rule: LabelRule, v: number): number {
  switch (rule.op) {
    case '>': return v > rule.value ? 1 : 0;
    case '>=': return v >= rule.value ? 1 : 0;
    case '<': return v < rule.value ? 1 : 0;
    case '<=': return v <= rule.value ? 1 : 0;
    case '==': return v === rule.value ? 1 : 0;
  }
}

/**
 * The data facts of a version from its card.json; the source path is resolved like the
 * pipeline did (absolute, or relative to the current directory, then the package root).
 * @throws Error naming the card and the missing field.
 */
export function cardData(versionDir: string, packageRoot: string): CardData {
  const file = path.join(versionDir, 'card.json');
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: the version has no model card (source and label) to evaluate it on`);
  const card = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    source?: { path?: string }; label?: LabelRule; pipeline?: { config?: { timestamp?: string } }; timestamp?: string;
  };
  const src = card.source?.path;
  const timestamp = card.timestamp ?? card.pipeline?.config?.timestamp;
  if (!src || !card.label || !timestamp) throw new Error(`${file}: needs source.path, label and pipeline.config.timestamp`);
  const candidates = [path.resolve(src), path.resolve(packageRoot, src)];
  const source = candidates.find((c) => fs.existsSync(c));
  if (!source) throw new Error(`${file}: source '${src}' not found (tried ${candidates.join(', ')})`);
  return { source, timestamp, label: card.label };
}

/**
 * Reads the rows of `window` (a deterministic subset of `limit` rows when given, in time
 * order), labels them and transforms them with `spec`.
 * @returns raw columns, the dense model input and the 0/1 labels.
 * @throws Error when the source cannot be read or a value cannot be transformed.
 */
export async function loadLabeledRows(data: CardData, spec: FeatureSpec, window: TimeWindow, limit?: number): Promise<LabeledRows> {
  const wh = await Warehouse.open();
  try {
    await ingest(wh, data.source, 'rows', { timestamp: data.timestamp, window });
    const kinds: Record<string, ColumnKind> = {};
    for (const f of spec.inputs) kinds[f.name] = f.type === 'timestamp' ? 'epoch_ms' : f.type === 'number' ? 'number' : 'string';
    kinds[data.label.column] = 'number';
    const { columns, rows } = await readColumns(wh, 'rows', kinds, { timestamp: data.timestamp, window, limit });
    const y = columns[data.label.column] as Float64Array;
    const inputs: Columns = {};
    for (const f of spec.inputs) inputs[f.name] = columns[f.name];
    const t = transform(spec, inputs);
    return { columns: inputs, x: t.data, rows, width: t.width, labels: Uint8Array.from(y, (v) => labelOf(data.label, v)), window, source: data.source };
  } finally {
    wh.close();
  }
}

/** loadFeatureSpec of a version folder. */
export function versionSpec(versionDir: string): FeatureSpec {
  return loadFeatureSpec(path.join(versionDir, 'feature_spec.json'));
}
