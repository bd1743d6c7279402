/**
 * Real flights rows for the native tests, independent of any trained model: January and
 * February 2001 from flights-3m.parquet (deterministic subsets, time order) and two feature
 * specs fitted on the January rows by the pipeline's fitFeatures (one with hashed airport x
 * hour crosses and an un-normalized vocabulary). Loaded once per process.
 */
import * as path from 'node:path';
import { Columns, FeatureSpec, fitFeatures } from '../../../src/features';
import { PACKAGE_ROOT } from '../../../src/native/binding';
import { ingest, readColumns, Warehouse } from '../../../src/data/warehouse';

export const FLIGHTS_3M = path.join(PACKAGE_ROOT, 'node_modules/vega-datasets/data/flights-3m.parquet');
const KINDS = { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string' } as const;

async function rows(from: string, to: string, limit: number): Promise<Columns> {
  const wh = await Warehouse.open();
  try {
    await ingest(wh, FLIGHTS_3M, 't', { timestamp: 'date', window: { from, to } });
    return (await readColumns(wh, 't', { ...KINDS }, { timestamp: 'date', window: { from, to }, limit })).columns as Columns;
  } finally {
    wh.close();
  }
}

let data: Promise<{ jan: Columns; feb: Columns; specs: Record<'flights' | 'crosses', FeatureSpec> }> | undefined;

/** January (40000 rows) and February (20000 rows) columns and the two fitted specs. */
export function realFlights(): Promise<{ jan: Columns; feb: Columns; specs: Record<'flights' | 'crosses', FeatureSpec> }> {
  data ??= (async () => {
    const jan = await rows('2001-01-01', '2001-01-25', 40000);
    const feb = await rows('2001-02-01', '2001-03-01', 20000);
    const flights = fitFeatures(jan, {
      timestamp: 'date', numeric: [{ name: 'distance', transforms: ['identity', 'log1p'] }],
      categorical: [{ name: 'origin', min_count: 100 }, { name: 'destination', min_count: 100 }],
    });
    const crosses = fitFeatures(jan, {
      timestamp: 'date', numeric: [{ name: 'distance', transforms: ['log1p'] }],
      categorical: [{ name: 'origin', min_count: 20, normalize: 'none' }, { name: 'destination', min_count: 50 }],
      crosses: [{ input: 'origin', hours_per_slot: 3, buckets: 61 }, { input: 'destination', hours_per_slot: 1.5, buckets: 128 }],
    });
    return { jan, feb, specs: { flights, crosses } };
  })();
  return data;
}
