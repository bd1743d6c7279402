/**
 * Real rows of node_modules/vega-datasets/data/flights-3m.parquet (US flights Jan–Jun 2001)
 * for the monitoring tests, read through DuckDB. The same SQL feeds the export for the
 * scipy reference figures (test/fixtures/monitoring/export-rows.js), so both sides see
 * exactly the same rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/** Repository root (this file runs from dist/test/unit/monitoring/). */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const FLIGHTS_PARQUET = path.join(REPO_ROOT, 'node_modules/vega-datasets/data/flights-3m.parquet');
export const CASES_FILE = path.join(REPO_ROOT, 'test/fixtures/monitoring/drift-cases.json');
export const REFERENCE_FILE = path.join(REPO_ROOT, 'test/fixtures/monitoring/drift-reference.json');

export interface Side {
  where: string;
  limit?: number;
}

export interface ColumnDef {
  kind: 'numeric' | 'categorical';
  sql: string;
  edges?: number[];
}

export interface CaseDef {
  name: string;
  reference: Side;
  current: Side;
  columns: string[];
}

export interface CasesFile {
  columns: Record<string, ColumnDef>;
  cases: CaseDef[];
}

export function loadCases(): CasesFile {
  return JSON.parse(fs.readFileSync(CASES_FILE, 'utf8')) as CasesFile;
}

export class FlightsDb {
  private constructor(private readonly instance: DuckDBInstance, private readonly conn: DuckDBConnection) {}

  static async open(): Promise<FlightsDb> {
    const instance = await DuckDBInstance.create(':memory:');
    return new FlightsDb(instance, await instance.connect());
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return (await this.conn.runAndReadAll(sql)).getRowObjectsJS() as T[];
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

export const SOURCE = `read_parquet('${FLIGHTS_PARQUET.replace(/'/g, "''")}')`;
const ORDER = 'date, origin, destination, distance, delay';

/** The SQL selecting one side's rows, with each named column. */
export function sideSql(side: Side, columns: Record<string, string>): string {
  const select = Object.entries(columns).map(([name, expr]) => `${expr} AS "${name}"`).join(', ');
  const limit = side.limit !== undefined ? ` LIMIT ${Math.floor(side.limit)}` : '';
  return `SELECT ${select} FROM (SELECT * FROM ${SOURCE} WHERE ${side.where} ORDER BY ${ORDER}${limit}) ORDER BY ${ORDER}`;
}

/** One side's columns: numbers as Float64Array, text as string[]. */
export async function readSide(db: FlightsDb, side: Side, defs: Record<string, ColumnDef>, names: string[]): Promise<Record<string, Float64Array | string[]>> {
  const rows = await db.query(sideSql(side, Object.fromEntries(names.map((n) => [n, defs[n].sql]))));
  const out: Record<string, Float64Array | string[]> = {};
  for (const n of names) out[n] = defs[n].kind === 'numeric' ? Float64Array.from(rows, (r) => Number(r[n])) : rows.map((r) => String(r[n]));
  return out;
}
