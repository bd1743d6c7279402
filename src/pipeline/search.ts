/**
 * Hyper-parameter search for the GBDT: random search (Bergstra & Bengio: for a handful of
 * parameters that matter unevenly, random points beat a grid of the same size). Every trial
 * fits on the training window's rows outside the validation rows (model.validation_days or
 * model.early_stopping_window) and is scored on them (AUC at its best iteration); the holdout week and the later months are never
 * seen, so what the pipeline reports for them stays an out-of-time test of one chosen model.
 */
import type { GbdtOptions } from '../native/gbdt';
import { prng } from './network';

/** One searched parameter: a uniform, log-uniform or integer (inclusive) range. */
export type SearchRange = { uniform: [number, number] } | { log_uniform: [number, number] } | { int: [number, number] };

export interface SearchSpace {
  /** Trials (each a full fit with early stopping). */
  trials: number;
  /** Seeds the draws (the trials' own seed is the model's). */
  seed: number;
  space: Partial<Record<SearchableParam, SearchRange>>;
}

export const SEARCHABLE = ['learning_rate', 'max_leaves', 'max_depth', 'min_data_in_leaf', 'lambda_l2', 'bagging_fraction', 'feature_fraction', 'cat_smooth', 'cat_l2', 'max_cat_threshold', 'min_data_per_group'] as const;
export type SearchableParam = (typeof SEARCHABLE)[number];

export interface Trial {
  params: Partial<GbdtOptions>;
  /** AUC on the validation rows at the trial's best iteration. */
  valid_auc: number;
  trees: number;
  seconds: number;
}

/** The parameter sets of a search, in trial order (deterministic in `seed`). */
export function drawTrials(s: SearchSpace): Partial<GbdtOptions>[] {
  const rand = prng(s.seed);
  const keys = (Object.keys(s.space) as SearchableParam[]).sort();
  return Array.from({ length: s.trials }, () => {
    const out: Record<string, number> = {};
    for (const k of keys) {
      const r = s.space[k]!;
      const u = rand();
      if ('uniform' in r) out[k] = r.uniform[0] + u * (r.uniform[1] - r.uniform[0]);
      else if ('log_uniform' in r) out[k] = Math.exp(Math.log(r.log_uniform[0]) + u * (Math.log(r.log_uniform[1]) - Math.log(r.log_uniform[0])));
      else out[k] = r.int[0] + Math.min(r.int[1] - r.int[0], Math.floor(u * (r.int[1] - r.int[0] + 1)));
    }
    return out as Partial<GbdtOptions>;
  });
}

/** The best trial by validation AUC (the first of equals). @throws Error on an empty list. */
export function bestTrial(trials: Trial[]): Trial {
  if (trials.length === 0) throw new Error('search: no trials');
  return trials.reduce((best, t) => (t.valid_auc > best.valid_auc ? t : best));
}
