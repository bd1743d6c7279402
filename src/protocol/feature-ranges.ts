/**
 * Numeric /predict inputs checked against what training saw: the range of each numeric
 * input in the card's profile (src/pipeline/profile.ts records min and max as the outer
 * histogram edges), exactly: a value no training row had is what the check is for, and
 * the default policy only flags it. model.json's
 * `predict.out_of_range` decides what a value outside does: `flag` (default: served, counted
 * in infera_out_of_range_features_total and named in the answer's `warnings`), `reject`
 * (400 naming the field and the range) or `ignore`.
 */
import { InferaError } from '../errors';

export type OutOfRangePolicy = 'flag' | 'reject' | 'ignore';

/** Training range per numeric input: [min, max]. */
export type FeatureRanges = Record<string, [number, number]>;

/** The numeric ranges of a card.json profile; empty when it has none. */
export function rangesFromCard(card: unknown): FeatureRanges {
  const numeric = (card as { profile?: { numeric?: Record<string, { edges?: number[] }> } })?.profile?.numeric ?? {};
  const out: FeatureRanges = {};
  for (const [name, h] of Object.entries(numeric)) {
    const e = h.edges;
    if (Array.isArray(e) && e.length >= 2 && Number.isFinite(e[0]) && Number.isFinite(e[e.length - 1])) out[name] = [e[0], e[e.length - 1]];
  }
  return out;
}

/**
 * The out-of-range values of the rows, as messages ("row 3: distance -5 is outside the
 * training range [21, 4962]"), and how many per feature.
 * @throws InferaError 400 ENG_ERR_BAD_REQUEST for the first one when the policy is `reject`.
 */
export function checkRanges(rows: Record<string, unknown>[], ranges: FeatureRanges, policy: OutOfRangePolicy): { warnings: string[]; counts: Record<string, number> } {
  const warnings: string[] = [];
  const counts: Record<string, number> = {};
  if (policy === 'ignore') return { warnings, counts };
  for (const [name, [min, max]] of Object.entries(ranges)) {
    rows.forEach((row, r) => {
      const v = row[name];
      if (typeof v !== 'number' || (v >= min && v <= max)) return;
      const where = rows.length > 1 ? `row ${r}: ` : '';
      const msg = `${where}${name} ${v} is outside the training range [${min}, ${max}]`;
      if (policy === 'reject') throw new InferaError('ENG_ERR_BAD_REQUEST', `${msg} (model.json predict.out_of_range is 'reject')`);
      warnings.push(msg);
      counts[name] = (counts[name] ?? 0) + 1;
    });
  }
  return { warnings, counts };
}
