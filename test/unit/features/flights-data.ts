/**
 * Real rows of node_modules/vega-datasets/data/flights-3m.parquet for the tests,
 * read through the pipeline's own ingest (DuckDB) in a deterministic order.
 */
import path from 'node:path';
import { Warehouse, ingest, readColumns, TimeWindow } from '../../../src/data/warehouse';

export const ROOT = path.resolve(__dirname, '../../../..');
export const FLIGHTS = path.join(ROOT, 'node_modules/vega-datasets/data/flights-3m.parquet');
export const MOVIES = path.join(ROOT, 'node_modules/vega-datasets/data/movies.json');
export const BIRDSTRIKES = path.join(ROOT, 'node_modules/vega-datasets/data/birdstrikes.csv');

export interface FlightRows {
  /** epoch ms (the parquet's naive timestamps read as UTC). */
  date: Float64Array;
  distance: Float64Array;
  origin: string[];
  destination: string[];
  delay: Float64Array;
  rows: number;
}

/** The flights of a time window, optionally a deterministic subset of `limit` rows. */
export async function loadFlights(window: TimeWindow, limit?: number): Promise<FlightRows> {
  const wh = await Warehouse.open();
  try {
    await ingest(wh, FLIGHTS, 'f', { timestamp: 'date', window });
    const { columns, rows } = await readColumns(wh, 'f', { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string', delay: 'number' }, { timestamp: 'date', limit });
    return { ...(columns as unknown as Omit<FlightRows, 'rows'>), rows };
  } finally {
    wh.close();
  }
}

export const labelsOf = (f: FlightRows): Uint8Array => Uint8Array.from(f.delay, (d) => (d > 15 ? 1 : 0));

/** The four serving inputs of the rows, column-wise, as `transform` takes them. */
export const columnsOf = (f: FlightRows) => ({ date: f.date, distance: f.distance, origin: f.origin, destination: f.destination });
