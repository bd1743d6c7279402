/**
 * Data validation over any DuckDB table: schema and types, missing ratio per column
 * (fail), IQR outlier ratio per numeric column (warn), duplicate rows (warn), category
 * cardinality and rare or inconsistently spelled categories (warn), row count (fail).
 * Every statistic is one SQL aggregate, so it scales to the full 3M-row file.
 */
import { quoteIdent, quoteString, Warehouse } from '../data/warehouse';

export interface ValidationOptions {
  /** Required columns and their DuckDB types (e.g. "TIMESTAMP", "BIGINT", "VARCHAR"). */
  schema?: Record<string, string>;
  /** Fail when a column has more missing values (NULL, NaN, blank text) than this. Default 0.1. */
  max_missing_ratio?: number;
  /** Warn when a numeric column has more values outside the IQR fences. Default 0.05. */
  max_outlier_ratio?: number;
  /** IQR fence multiplier. Default 1.5. */
  iqr_k?: number;
  /** Warn when more rows than this are exact duplicates of another. Default 0.01. */
  max_duplicate_ratio?: number;
  /** Warn when a text column has more distinct values than this. Default 1000. */
  max_cardinality?: number;
  /** Warn about categories holding fewer rows than this share. Default 0.001. */
  rare_category_ratio?: number;
  /** Fail when the table has fewer rows. Default 1. */
  min_rows?: number;
}

export type Severity = 'ok' | 'warn' | 'fail';

export interface Check {
  check: 'rows' | 'schema' | 'missing' | 'outliers' | 'duplicates' | 'cardinality' | 'rare_categories' | 'spelling';
  column?: string;
  severity: Severity;
  message: string;
  value?: number;
}

export interface ColumnStats {
  name: string;
  type: string;
  missing: number;
  missing_ratio: number;
  distinct?: number;
  q1?: number;
  q3?: number;
  outlier_ratio?: number;
}

export interface ValidationReport {
  table: string;
  rows: number;
  ok: boolean;
  checks: Check[];
  columns: ColumnStats[];
}

/** A failed validation; the message is the readable report. */
export class ValidationError extends Error {
  constructor(readonly report: ValidationReport) {
    super(`data validation failed:\n${formatReport(report)}`);
    this.name = 'ValidationError';
  }
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function missingExpr(col: string, type: string): string {
  const c = quoteIdent(col);
  if (type === 'VARCHAR') return `count(*) FILTER (WHERE ${c} IS NULL OR trim(${c}) = '')`;
  if (type === 'DOUBLE' || type === 'FLOAT') return `count(*) FILTER (WHERE ${c} IS NULL OR isnan(${c}))`;
  return `count(*) FILTER (WHERE ${c} IS NULL)`;
}

/** Runs every check on `table`. Never throws for bad data: see `assertValid`. */
export async function validateTable(wh: Warehouse, table: string, opts: ValidationOptions = {}): Promise<ValidationReport> {
  const o = { max_missing_ratio: 0.1, max_outlier_ratio: 0.05, iqr_k: 1.5, max_duplicate_ratio: 0.01, max_cardinality: 1000, rare_category_ratio: 0.001, min_rows: 1, ...opts };
  const t = quoteIdent(table);
  const checks: Check[] = [];
  const described = await wh.query<{ column_name: string; column_type: string }>(`DESCRIBE ${t}`);
  const [{ n }] = await wh.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${t}`);
  const rows = Number(n);
  checks.push({ check: 'rows', severity: rows >= o.min_rows ? 'ok' : 'fail', message: `${rows} rows (min ${o.min_rows})`, value: rows });

  // Schema: every declared column present with its declared type.
  if (o.schema) {
    const problems: string[] = [];
    for (const [name, type] of Object.entries(o.schema)) {
      const got = described.find((d) => d.column_name === name);
      if (!got) problems.push(`column '${name}' is missing`);
      else if (got.column_type !== type.toUpperCase()) problems.push(`column '${name}' is ${got.column_type}, expected ${type.toUpperCase()}`);
    }
    checks.push(problems.length
      ? { check: 'schema', severity: 'fail', message: problems.join('; ') }
      : { check: 'schema', severity: 'ok', message: `${Object.keys(o.schema).length} columns with the expected types` });
  }

  const columns: ColumnStats[] = [];
  for (const { column_name: name, column_type: type } of described) {
    const c = quoteIdent(name);
    const [m] = await wh.query<{ missing: bigint; distinct_n: bigint }>(`SELECT ${missingExpr(name, type)} AS missing, count(DISTINCT ${c}) AS distinct_n FROM ${t}`);
    const missing = Number(m.missing);
    const stats: ColumnStats = { name, type, missing, missing_ratio: rows ? missing / rows : 0, distinct: Number(m.distinct_n) };
    const mr = stats.missing_ratio;
    checks.push({ check: 'missing', column: name, severity: mr > o.max_missing_ratio ? 'fail' : 'ok', message: `${pct(mr)} missing (${missing} of ${rows}; max ${pct(o.max_missing_ratio)})`, value: mr });

    if (NUMERIC.test(type) && rows > missing) {
      // IQR rule on the non-missing values: outside [q1 - k·iqr, q3 + k·iqr].
      const [q] = await wh.query<{ q1: number; q3: number }>(`SELECT quantile_cont(${c}::DOUBLE, 0.25) AS q1, quantile_cont(${c}::DOUBLE, 0.75) AS q3 FROM ${t} WHERE ${c} IS NOT NULL AND NOT isnan(${c}::DOUBLE)`);
      const iqr = q.q3 - q.q1;
      const [lo, hi] = [q.q1 - o.iqr_k * iqr, q.q3 + o.iqr_k * iqr];
      const [x] = await wh.query<{ k: bigint }>(`SELECT count(*) AS k FROM ${t} WHERE ${c}::DOUBLE < ${lo} OR ${c}::DOUBLE > ${hi}`);
      const ratio = Number(x.k) / (rows - missing);
      Object.assign(stats, { q1: q.q1, q3: q.q3, outlier_ratio: ratio });
      checks.push({ check: 'outliers', column: name, severity: ratio > o.max_outlier_ratio ? 'warn' : 'ok', message: `${pct(ratio)} outside the IQR fences [${lo}, ${hi}] (max ${pct(o.max_outlier_ratio)})`, value: ratio });
    }

    if (type === 'VARCHAR') {
      const distinct = stats.distinct!;
      checks.push({ check: 'cardinality', column: name, severity: distinct > o.max_cardinality ? 'warn' : 'ok', message: `${distinct} distinct values (max ${o.max_cardinality})`, value: distinct });
      const minCount = Math.max(1, Math.ceil(o.rare_category_ratio * rows));
      const rare = await wh.query<{ v: string; k: bigint }>(`SELECT ${c} AS v, count(*) AS k FROM ${t} WHERE ${c} IS NOT NULL GROUP BY 1 HAVING count(*) < ${minCount} ORDER BY 2, 1 LIMIT 5`);
      const [{ r: rareN }] = await wh.query<{ r: bigint }>(`SELECT count(*) AS r FROM (SELECT 1 FROM ${t} WHERE ${c} IS NOT NULL GROUP BY ${c} HAVING count(*) < ${minCount})`);
      // Rare levels matter for low-cardinality codes (e.g. damage 'B'); long tails of names are expected.
      const rareCount = Number(rareN);
      const lowCard = distinct <= 50;
      checks.push({
        check: 'rare_categories', column: name, severity: rareCount > 0 && lowCard ? 'warn' : 'ok', value: rareCount,
        message: rareCount ? `${rareCount} values with < ${minCount} rows (${pct(o.rare_category_ratio)}), e.g. ${rare.map((r) => `${quoteString(String(r.v))} ×${r.k}`).join(', ')}` : `no value under ${pct(o.rare_category_ratio)} of rows`,
      });
      const [s] = await wh.query<{ raw: bigint; folded: bigint }>(`SELECT count(DISTINCT ${c}) AS raw, count(DISTINCT lower(trim(${c}))) AS folded FROM ${t}`);
      const clashes = Number(s.raw) - Number(s.folded);
      checks.push({ check: 'spelling', column: name, severity: clashes > 0 ? 'warn' : 'ok', value: clashes, message: clashes ? `${clashes} values differ from another only by case or spaces` : 'no case/space variants' });
    }
    columns.push(stats);
  }

  const [d] = await wh.query<{ k: bigint }>(`SELECT count(*) AS k FROM (SELECT DISTINCT * FROM ${t})`);
  const dups = rows - Number(d.k);
  const dr = rows ? dups / rows : 0;
  checks.push({ check: 'duplicates', severity: dr > o.max_duplicate_ratio ? 'warn' : 'ok', message: `${dups} duplicate rows (${pct(dr)}; max ${pct(o.max_duplicate_ratio)})`, value: dr });

  return { table, rows, ok: !checks.some((c) => c.severity === 'fail'), checks, columns };
}

/** Human-readable report: failures first, then warnings, then a count of passed checks. */
export function formatReport(r: ValidationReport): string {
  const line = (c: Check) => `  ${c.severity === 'fail' ? 'FAIL' : 'WARN'}  ${c.check.padEnd(15)} ${c.column ? `'${c.column}': ` : ''}${c.message}`;
  const fails = r.checks.filter((c) => c.severity === 'fail');
  const warns = r.checks.filter((c) => c.severity === 'warn');
  const ok = r.checks.length - fails.length - warns.length;
  return [
    `table '${r.table}': ${r.rows} rows, ${r.columns.length} columns — ${fails.length} failed, ${warns.length} warnings, ${ok} passed`,
    ...fails.map(line),
    ...warns.map(line),
  ].join('\n');
}

/** @throws ValidationError (its message is the report) when a check failed. */
export function assertValid(r: ValidationReport): void {
  if (!r.ok) throw new ValidationError(r);
}
