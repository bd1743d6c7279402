/**
 * Ingest: loads a source file (parquet, csv or json) into an in-memory DuckDB table,
 * optionally restricted to a time window, and records its lineage (sha256 of the file
 * bytes, row counts). Reads go through SQL with a deterministic row order, so the same
 * file and config always give the same rows in the same order.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface TimeWindow {
  /** Inclusive lower bound, ISO date or date-time (naive = UTC). */
  from: string;
  /** Exclusive upper bound. */
  to: string;
}

export interface SourceInfo {
  path: string;
  format: 'parquet' | 'csv' | 'json';
  bytes: number;
  sha256: string;
  /** Rows in the whole file, before any filter. */
  total_rows: number;
}

export interface IngestResult {
  source: SourceInfo;
  /** Rows in the ingested table (inside the window). */
  rows: number;
  /** min/max of the timestamp column within the table, when one was given. */
  time_range?: { min: string; max: string };
}

/** A DuckDB database holding one ingested table; close() when done. */
export class Warehouse {
  private constructor(private readonly instance: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(): Promise<Warehouse> {
    const instance = await DuckDBInstance.create(':memory:');
    return new Warehouse(instance, await instance.connect());
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql);
    return reader.getRowObjectsJS() as T[];
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const WINDOW_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?$/;

/** SQL predicate for a [from, to) window on a timestamp column. */
export function windowPredicate(column: string, w: TimeWindow): string {
  for (const v of [w.from, w.to]) if (!WINDOW_RE.test(v)) throw new Error(`window bound '${v}' is not an ISO date or date-time`);
  return `${quoteIdent(column)} >= TIMESTAMP ${quoteString(w.from.replace('T', ' '))} AND ${quoteIdent(column)} < TIMESTAMP ${quoteString(w.to.replace('T', ' '))}`;
}

export function formatOf(file: string): SourceInfo['format'] {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.json' || ext === '.ndjson') return 'json';
  throw new Error(`${file}: unsupported source format '${ext}' (parquet, csv or json)`);
}

/** The DuckDB table function that reads a file. */
export function readerSql(file: string): string {
  const f = quoteString(file);
  switch (formatOf(file)) {
    case 'parquet':
      return `read_parquet(${f})`;
    case 'csv':
      return `read_csv_auto(${f})`;
    case 'json':
      return `read_json_auto(${f})`;
  }
}

/** sha256 of the file bytes, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Loads `file` into table `table`, keeping rows of `window` on `timestamp` when given.
 * @throws Error when the file is missing or unreadable.
 */
export async function ingest(wh: Warehouse, file: string, table: string, opts: { timestamp?: string; window?: TimeWindow } = {}): Promise<IngestResult> {
  if (!fs.existsSync(file)) throw new Error(`ingest: source '${file}' does not exist`);
  const [sha256, bytes] = [await sha256File(file), fs.statSync(file).size];
  const reader = readerSql(file);
  const where = opts.timestamp && opts.window ? ` WHERE ${windowPredicate(opts.timestamp, opts.window)}` : '';
  await wh.conn.run(`CREATE OR REPLACE TABLE ${quoteIdent(table)} AS SELECT * FROM ${reader}${where}`);
  const [{ n: total }] = await wh.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${reader}`);
  const [{ n: rows }] = await wh.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${quoteIdent(table)}`);
  const result: IngestResult = { source: { path: file, format: formatOf(file), bytes, sha256, total_rows: Number(total) }, rows: Number(rows) };
  if (opts.timestamp) {
    const ts = quoteIdent(opts.timestamp);
    const [r] = await wh.query<{ lo: string | null; hi: string | null }>(`SELECT strftime(min(${ts}), '%Y-%m-%dT%H:%M:%S') AS lo, strftime(max(${ts}), '%Y-%m-%dT%H:%M:%S') AS hi FROM ${quoteIdent(table)}`);
    if (r.lo !== null && r.hi !== null) result.time_range = { min: r.lo, max: r.hi };
  }
  return result;
}

export type ColumnKind = 'number' | 'string' | 'epoch_ms';

/** Column-wise data read from DuckDB: numbers as Float64Array, strings as string[]. */
export type ColumnData = Record<string, Float64Array | string[]>;

/**
 * Reads columns of the rows of `window` (all rows without one) in a deterministic order:
 * by the timestamp, then every selected column. `limit` keeps a deterministic,
 * time-spread subset (by a hash of the row), still returned in time order.
 */
export async function readColumns(
  wh: Warehouse,
  table: string,
  kinds: Record<string, ColumnKind>,
  opts: { timestamp: string; window?: TimeWindow; limit?: number },
): Promise<{ columns: ColumnData; rows: number }> {
  const names = Object.keys(kinds);
  const select = names.map((n) => {
    const c = quoteIdent(n);
    return kinds[n] === 'epoch_ms' ? `epoch_ms(${c})::DOUBLE AS ${c}` : kinds[n] === 'number' ? `${c}::DOUBLE AS ${c}` : `${c}::VARCHAR AS ${c}`;
  });
  const where = opts.window ? `WHERE ${windowPredicate(opts.timestamp, opts.window)}` : '';
  const order = [quoteIdent(opts.timestamp), ...names.filter((n) => n !== opts.timestamp).map(quoteIdent)].join(', ');
  let from = `${quoteIdent(table)} ${where}`;
  if (opts.limit !== undefined) {
    const all = [opts.timestamp, ...names.filter((n) => n !== opts.timestamp)].map(quoteIdent).join(', ');
    from = `(SELECT * FROM ${quoteIdent(table)} ${where} ORDER BY hash(${all}), ${order} LIMIT ${Math.floor(opts.limit)})`;
  }
  const result = await wh.conn.stream(`SELECT ${select.join(', ')} FROM ${from} ORDER BY ${order}`);
  const nums: number[][] = names.map(() => []);
  const strs: string[][] = names.map(() => []);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    names.forEach((n, j) => {
      const vec = chunk.getColumnVector(j);
      const rows = chunk.rowCount;
      if (kinds[n] === 'string') {
        const out = strs[j];
        for (let i = 0; i < rows; i++) out.push(vec.getItem(i) as string);
      } else {
        const out = nums[j];
        for (let i = 0; i < rows; i++) {
          const v = vec.getItem(i) as number | null;
          out.push(v === null ? NaN : v);
        }
      }
    });
  }
  const columns: ColumnData = {};
  names.forEach((n, j) => {
    columns[n] = kinds[n] === 'string' ? strs[j] : Float64Array.from(nums[j]);
  });
  return { columns, rows: kinds[names[0]] === 'string' ? strs[0].length : nums[0].length };
}
