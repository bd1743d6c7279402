/**
 * The feature spec: everything `transform` needs to turn raw columns into the model's
 * input tensor, fitted once on the training window and frozen. Serving uses the same
 * spec file, so training statistics (never batch statistics) standardise inputs.
 * The spec is plain JSON; its identity is the sha256 of its canonical serialisation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { checkOnlineFeatures, type OnlineFeatures } from './online';

export const FEATURE_SPEC_FORMAT = 'infera.feature-spec/1';

/** A raw input field: what a client sends in /predict and what a table column holds. */
export interface InputField {
  name: string;
  /** timestamp: ISO string (naive = UTC) or epoch ms; number: finite; string: non-empty. */
  type: 'timestamp' | 'number' | 'string';
}

export type TimeUnit = 'hour_of_day' | 'day_of_week';

/** One group of consecutive output columns. */
export type FeatureBlock =
  /** (f(x) − mean) / std, clipped to ±clip; f is identity or log1p. Width 1. */
  | { kind: 'numeric'; input: string; transform: 'identity' | 'log1p'; mean: number; std: number; clip: number }
  /** sin and cos of the position within the period (fractional hour / day). Width 2. */
  | { kind: 'cyclic'; input: string; unit: TimeUnit }
  /** One-hot hour (24) or day of week (7, Sunday first). */
  | { kind: 'time_onehot'; input: string; unit: TimeUnit }
  /** One-hot over the training vocabulary, then one unknown bucket. Width vocabulary + 1. */
  | { kind: 'categorical'; input: string; normalize: 'none' | 'trim_upper'; vocabulary: string[] }
  /**
   * A categorical crossed with a coarse time-of-day slot, hashed (FNV-1a) into
   * `buckets` one-hot columns: lets linear layers see airport × hour effects.
   */
  | { kind: 'cross_hour'; input: string; time_input: string; normalize: 'none' | 'trim_upper'; hours_per_slot: number; buckets: number };

export interface FeatureSpec {
  format: typeof FEATURE_SPEC_FORMAT;
  inputs: InputField[];
  blocks: FeatureBlock[];
  /** Columns of the output tensor; equals the sum of the block widths. */
  width: number;
  /** A name per output column, e.g. "origin=ORD", "hour_of_day.sin". */
  feature_names: string[];
  /** Where the statistics come from (rows and time range of the training window). */
  fitted_on: { rows: number; from?: string; to?: string };
  /**
   * Inputs the server computes, not the client: aggregates over past events (online.ts),
   * each a numeric input above. Absent for a spec without online features.
   */
  online?: OnlineFeatures;
}

export function blockWidth(b: FeatureBlock): number {
  switch (b.kind) {
    case 'numeric':
      return 1;
    case 'cyclic':
      return 2;
    case 'time_onehot':
      return b.unit === 'hour_of_day' ? 24 : 7;
    case 'categorical':
      return b.vocabulary.length + 1;
    case 'cross_hour':
      return b.buckets;
  }
}

/** JSON with object keys sorted at every level: one byte string per spec. */
export function canonicalJson(value: unknown, indent = 2): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) out[k] = sort((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value), null, indent) + '\n';
}

export function sha256Hex(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The spec's hash: sha256 of exactly the bytes `saveFeatureSpec` writes. */
export function featureSpecHash(spec: FeatureSpec): string {
  return sha256Hex(canonicalJson(spec));
}

export function serializeFeatureSpec(spec: FeatureSpec): string {
  return canonicalJson(spec);
}

/** Reads and checks a spec file (the server loads it next to model.onnx). */
export function loadFeatureSpec(file: string): FeatureSpec {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as FeatureSpec;
  checkFeatureSpec(spec, file);
  return spec;
}

/** Structural checks, so a hand-edited or truncated spec fails at load, not per request. */
export function checkFeatureSpec(spec: FeatureSpec, where = 'feature spec'): void {
  if (!spec || spec.format !== FEATURE_SPEC_FORMAT) throw new Error(`${where}: format must be '${FEATURE_SPEC_FORMAT}'`);
  if (!Array.isArray(spec.inputs) || !Array.isArray(spec.blocks)) throw new Error(`${where}: inputs and blocks must be arrays`);
  const names = new Set(spec.inputs.map((i) => i.name));
  let width = 0;
  spec.blocks.forEach((b, i) => {
    if (!names.has(b.input)) throw new Error(`${where}: blocks.${i}.input '${b.input}' is not a declared input`);
    if (b.kind === 'cross_hour' && !names.has(b.time_input)) throw new Error(`${where}: blocks.${i}.time_input '${b.time_input}' is not a declared input`);
    if (b.kind === 'numeric' && !(b.std > 0 && Number.isFinite(b.mean))) throw new Error(`${where}: blocks.${i}: std must be > 0`);
    width += blockWidth(b);
  });
  if (width !== spec.width) throw new Error(`${where}: width ${spec.width} != sum of block widths ${width}`);
  if (spec.feature_names.length !== width) throw new Error(`${where}: ${spec.feature_names.length} feature names for width ${width}`);
  if (spec.online !== undefined) checkOnlineFeatures(spec.online, spec.inputs, where);
}
