/**
 * Real traffic for the monitoring tests: days of flights as /predict feature dicts, fed to
 * a MonitoringHub (or the server's monitoring thread) the way the serving hook feeds it (one observe() per request), and
 * their labels as feedback items.
 */
import type { MonitoringHub } from '../../../src/monitoring/hub';
import type { DayRows, OfflineModel } from '../../../src/monitoring/replay';

/** The day's rows as /predict feature dicts (timestamps as naive ISO text, as clients send). */
export function featureDicts(model: OfflineModel, d: DayRows): Record<string, unknown>[] {
  const types = new Map(model.spec.inputs.map((i) => [i.name, i.type]));
  return Array.from({ length: d.rows }, (_, r) =>
    Object.fromEntries(model.inputs.map((k) => {
      const v = d.columns[k][r];
      return [k, types.get(k) === 'timestamp' ? new Date(v as number).toISOString().slice(0, 19) : v];
    })),
  );
}

export const idsOf = (d: DayRows) => Array.from({ length: d.rows }, (_, r) => `${d.day}#${r}`);

/** observe() per request of `batch` rows, as the /predict and infer hooks do. */
export function observeDay(hub: Pick<MonitoringHub, 'observe'>, model: OfflineModel, d: DayRows, predictions: Float32Array, batch = 50): string[] {
  const dicts = featureDicts(model, d);
  const ids = idsOf(d);
  for (let s = 0; s < d.rows; s += batch) {
    const e = Math.min(d.rows, s + batch);
    hub.observe(model.baseline.model, model.baseline.version, { rows: dicts.slice(s, e), predictions: predictions.subarray(s, e), ids: ids.slice(s, e), latencyMs: 2 });
  }
  return ids;
}

export function labelItems(d: DayRows, names?: [string, string]): { id: string; label: number | string }[] {
  const ids = idsOf(d);
  return ids.map((id, r) => ({ id, label: names ? names[d.labels[r]] : d.labels[r] }));
}
