/**
 * Batch scoring of a whole file on the serving path: the version's saved feature spec run by
 * the native batched transform, then the model through the same ModelVersion (batcher and
 * backend) that serves /predict, in chunks of max_batch_size submitted together.
 *
 * - Input: Parquet, CSV or JSON (DuckDB). It is staged first into a DuckDB file next to the
 *   output, whose `rowid` numbers the rows in file order; DuckDB spills to that file, so memory
 *   stays bounded whatever the input size.
 * - Every row ends in exactly one place: the output (its input columns, `prediction`,
 *   `probability` for binary models, `model_version`, `run_id`) or the rejects file (its input
 *   columns and `reason`, the same check /predict applies to a row).
 * - Resumable: rows are scored in chunks, each committed as a Parquet part by an atomic rename;
 *   a crashed run restarted with the same input, model version and chunk size continues after
 *   the last committed chunk (`.parts/manifest.json` says what the parts belong to).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { InferaError } from '../errors';
import { fieldProblem, type FeatureSpec } from '../features';
import { NativeFeatureTransform } from '../native/features';
import { NativeBackend } from '../runtime/native-backend';
import { outputToPrediction } from '../protocol/predict-codec';
import { ModelRegistry, defaultRegistryPath } from '../registry/registry';
import { ModelRepository, versionsOnDisk } from '../repository/model-repository';
import type { ModelVersion } from '../serving/model-version';
import { OnnxBackend } from '../runtime/onnx-backend';
import { formatOf, quoteIdent, quoteString, readerSql, sha256File } from '../data/warehouse';
import { DEFAULT_CHUNK_ROWS } from './score-defaults';

export { DEFAULT_CHUNK_ROWS };
export const DUCKDB_MEMORY_LIMIT = '256MB';

export interface ScoreOptions {
  repository: string;
  /** Registry file for aliases (default <repository>/.infera/registry.sqlite). */
  registry?: string;
  model: string;
  /** A version number, an alias name, or undefined: the production alias, else the newest version. */
  version?: number | string;
  input: string;
  /** A .parquet file. */
  output: string;
  /** Default: <output without .parquet>.rejects.parquet. */
  rejects?: string;
  runId: number;
  chunkRows?: number;
  /** Score only the first N rows of the file (in file order), for a quick try. */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ScoreResult {
  model: string;
  version: number;
  rows: number;
  scored: number;
  rejected: number;
  /** Chunks already committed by an earlier, interrupted run. */
  resumedChunks: number;
  input: { path: string; sha256: string; rows: number };
  output: { path: string; sha256: string; rows: number };
  rejects: { path: string; sha256: string; rows: number } | null;
  seconds: number;
}

interface Manifest {
  input_sha256: string;
  model: string;
  version: number;
  chunk_rows: number;
  limit: number | null;
  rows: number;
}

/** Which version a request for `version` means: a number, an alias, or the default. */
export function resolveScoringVersion(o: { repository: string; registry?: string; model: string; version?: number | string }): number {
  const dir = path.join(o.repository, o.model);
  if (!fs.existsSync(path.join(dir, 'model.json'))) throw new InferaError('ENG_ERR_MODEL_NOT_FOUND', `no model '${o.model}' in ${o.repository}`);
  const onDisk = versionsOnDisk(dir);
  if (typeof o.version === 'number') {
    if (!onDisk.includes(o.version)) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${o.model}' has no version ${o.version} (on disk: ${onDisk.join(', ') || 'none'})`);
    return o.version;
  }
  const file = o.registry ?? defaultRegistryPath(o.repository);
  const aliases = fs.existsSync(file) ? withRegistry(file, (r) => r.aliases(o.model)) : {};
  if (typeof o.version === 'string') {
    const v = aliases[o.version];
    if (v === undefined) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${o.model}' has no alias '${o.version}'; aliases: ${Object.keys(aliases).join(', ') || 'none'}`);
    return v;
  }
  if (aliases.production !== undefined) return aliases.production;
  if (onDisk.length === 0) throw new InferaError('ENG_ERR_VERSION_NOT_FOUND', `model '${o.model}' has no version folder`);
  return onDisk[onDisk.length - 1];
}

function withRegistry<T>(file: string, fn: (r: ModelRegistry) => T): T {
  const r = new ModelRegistry(file);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

/** The SQL that reads one spec input from the staged table, as /predict would receive it. */
function featureSelect(field: FeatureSpec['inputs'][number], sqlType: string): string {
  const c = quoteIdent(field.name);
  if (field.type === 'number') return `TRY_CAST(${c} AS DOUBLE) AS ${c}`;
  if (field.type === 'string') return `CAST(${c} AS VARCHAR) AS ${c}`;
  // Timestamps: DuckDB's own types as epoch ms; text as /predict parses it.
  return /^(TIMESTAMP|DATE)/.test(sqlType) ? `epoch_ms(CAST(${c} AS TIMESTAMP))::DOUBLE AS ${c}` : `CAST(${c} AS VARCHAR) AS ${c}`;
}

/** Why /predict would refuse this row (its message), or null. */
function rowProblem(spec: FeatureSpec, values: unknown[]): string | null {
  for (let j = 0; j < spec.inputs.length; j++) {
    const problem = fieldProblem(spec, spec.inputs[j], values[j]);
    if (problem) return problem;
  }
  return null;
}

async function writeParquetAtomically(conn: DuckDBConnection, select: string, file: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await conn.run(`COPY (${select}) TO ${quoteString(tmp)} (FORMAT PARQUET)`);
  fs.renameSync(tmp, file);
}

export async function scoreFile(o: ScoreOptions): Promise<ScoreResult> {
  const t0 = performance.now();
  const repository = path.resolve(o.repository);
  const input = path.resolve(o.input);
  const output = path.resolve(o.output);
  if (!fs.existsSync(input)) throw new InferaError('ENG_ERR_BAD_REQUEST', `input '${o.input}' does not exist`);
  formatOf(input);
  if (path.extname(output).toLowerCase() !== '.parquet') throw new InferaError('ENG_ERR_BAD_REQUEST', `output '${o.output}' must be a .parquet file`);
  const rejectsFile = path.resolve(o.rejects ?? output.replace(/\.parquet$/i, '.rejects.parquet'));
  const chunkRows = o.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const version = resolveScoringVersion({ repository, registry: o.registry, model: o.model, version: o.version });

  const workers = Math.max(1, os.availableParallelism());
  const backend = new OnnxBackend({ workers });
  const repo = new ModelRepository({ root: repository, backend, maxInFlight: workers, sandbox: null, pinned: { [o.model]: [version] }, nativeBackend: () => new NativeBackend() });
  const parts = `${output}.parts`;
  let instance: DuckDBInstance | null = null;
  let conn: DuckDBConnection | null = null;
  try {
    await repo.load(o.model);
    const mv = repo.resolve(o.model, version);
    const spec = mv.featureSpec;
    const p = mv.config.predict;
    if (!p || !spec) throw new InferaError('ENG_ERR_UNSUPPORTED', `model '${o.model}' version ${version} has no predict section and feature spec: infera score scores /predict models`);

    const inputSha = await sha256File(input);
    fs.mkdirSync(parts, { recursive: true });
    const manifestFile = path.join(parts, 'manifest.json');
    const previous = fs.existsSync(manifestFile) ? (JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest) : null;
    const resumable = previous && previous.input_sha256 === inputSha && previous.model === o.model && previous.version === version && previous.chunk_rows === chunkRows && previous.limit === (o.limit ?? null);
    if (!resumable) {
      fs.rmSync(parts, { recursive: true, force: true });
      fs.mkdirSync(parts, { recursive: true });
    }
    instance = await DuckDBInstance.create(path.join(parts, 'stage.duckdb'));
    conn = await instance.connect();
    // DuckDB's buffer pool defaults to 80 % of RAM; past this it spills to the stage file.
    await conn.run(`SET memory_limit = '${DUCKDB_MEMORY_LIMIT}'`);
    const staged = (await (await conn.runAndReadAll("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'src'")).getRowObjectsJS())[0] as { n: bigint };
    if (!resumable || Number(staged.n) === 0) {
      await conn.run(`CREATE OR REPLACE TABLE src AS SELECT * FROM ${readerSql(input)}${o.limit !== undefined ? ` LIMIT ${Math.floor(o.limit)}` : ''}`);
    }
    const described = (await (await conn.runAndReadAll('DESCRIBE src')).getRowObjectsJS()) as { column_name: string; column_type: string }[];
    const types = new Map(described.map((d) => [d.column_name, d.column_type]));
    const missing = spec.inputs.filter((f) => !types.has(f.name)).map((f) => f.name);
    if (missing.length) throw new InferaError('ENG_ERR_BAD_REQUEST', `input '${o.input}' lacks the model's input column(s) ${missing.map((m) => `'${m}'`).join(', ')} (it has ${[...types.keys()].map((k) => `'${k}'`).join(', ')})`);
    const reserved = ['prediction', 'probability', 'model_version', 'run_id', 'reason'].filter((c) => types.has(c));
    if (reserved.length) throw new InferaError('ENG_ERR_BAD_REQUEST', `input '${o.input}' has column(s) ${reserved.join(', ')}, which the output adds`);
    const rows = Number(((await (await conn.runAndReadAll('SELECT count(*) AS n FROM src')).getRowObjectsJS())[0] as { n: bigint }).n);
    const manifest: Manifest = { input_sha256: inputSha, model: o.model, version, chunk_rows: chunkRows, limit: o.limit ?? null, rows };
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));

    const selects = spec.inputs.map((f) => featureSelect(f, types.get(f.name)!)).join(', ');
    const transform = NativeFeatureTransform.of(spec);
    const chunks = Math.ceil(rows / chunkRows);
    const partFile = (k: number) => path.join(parts, `part-${String(k).padStart(6, '0')}.parquet`);
    const rejectFile = (k: number) => path.join(parts, `rejects-${String(k).padStart(6, '0')}.parquet`);
    let resumedChunks = 0;
    for (let k = 0; k < chunks; k++) {
      if (fs.existsSync(partFile(k)) && fs.existsSync(rejectFile(k))) {
        resumedChunks++;
        o.onProgress?.(Math.min(rows, (k + 1) * chunkRows), rows);
        continue;
      }
      const lo = k * chunkRows;
      const reader = await conn.runAndReadAll(`SELECT rowid AS __row, ${selects} FROM src WHERE rowid >= ${lo} AND rowid < ${lo + chunkRows} ORDER BY rowid`);
      const raw = reader.getColumnsJS() as unknown[][];
      const ids = raw[0] as bigint[];
      const good: number[] = [];
      const bad: { row: number; reason: string }[] = [];
      for (let i = 0; i < ids.length; i++) {
        const problem = rowProblem(spec, spec.inputs.map((_, j) => raw[j + 1][i]));
        if (problem) bad.push({ row: Number(ids[i]), reason: problem });
        else good.push(i);
      }
      const columns: Record<string, (string | number)[]> = {};
      spec.inputs.forEach((f, j) => (columns[f.name] = good.map((i) => raw[j + 1][i] as string | number)));
      const probabilities = await scoreRows(mv, transform, columns, good.length, 2 * workers + 2);
      await conn.run('CREATE OR REPLACE TEMP TABLE chunk_out (__row BIGINT, prediction VARCHAR, probability DOUBLE, model_version INTEGER, run_id INTEGER)');
      const app = await conn.createAppender('chunk_out');
      for (let g = 0; g < good.length; g++) {
        const q = probabilities[g];
        app.appendBigInt(ids[good[g]]);
        app.appendVarchar(String(q.prediction));
        if (q.probability === null) app.appendNull();
        else app.appendDouble(q.probability);
        app.appendInteger(version);
        app.appendInteger(o.runId);
        app.endRow();
      }
      app.closeSync();
      await conn.run('CREATE OR REPLACE TEMP TABLE chunk_rejects (__row BIGINT, reason VARCHAR)');
      const rej = await conn.createAppender('chunk_rejects');
      for (const b of bad) {
        rej.appendBigInt(BigInt(b.row));
        rej.appendVarchar(b.reason);
        rej.endRow();
      }
      rej.closeSync();
      // Rejects first: a chunk counts as committed once its part exists.
      await writeParquetAtomically(conn, 'SELECT * FROM chunk_rejects', rejectFile(k));
      await writeParquetAtomically(conn, 'SELECT * FROM chunk_out', partFile(k));
      o.onProgress?.(Math.min(rows, lo + chunkRows), rows);
    }

    // Join the parts back onto the input rows, in file order.
    const list = (f: (k: number) => string) => `[${Array.from({ length: chunks }, (_, k) => quoteString(f(k))).join(', ')}]`;
    const partsOut = chunks ? `read_parquet(${list(partFile)})` : '(SELECT NULL::BIGINT AS __row, NULL::VARCHAR AS prediction, NULL::DOUBLE AS probability, NULL::INTEGER AS model_version, NULL::INTEGER AS run_id WHERE false)';
    const partsRej = chunks ? `read_parquet(${list(rejectFile)})` : '(SELECT NULL::BIGINT AS __row, NULL::VARCHAR AS reason WHERE false)';
    await writeParquetAtomically(conn, `SELECT s.* EXCLUDE (__r), p.prediction, p.probability, p.model_version, p.run_id FROM (SELECT rowid AS __r, * FROM src) s JOIN ${partsOut} p ON s.__r = p.__row ORDER BY s.__r`, output);
    const rejected = Number(((await (await conn.runAndReadAll(`SELECT count(*) AS n FROM ${partsRej}`)).getRowObjectsJS())[0] as { n: bigint }).n);
    if (rejected > 0) await writeParquetAtomically(conn, `SELECT s.* EXCLUDE (__r), r.reason FROM (SELECT rowid AS __r, * FROM src) s JOIN ${partsRej} r ON s.__r = r.__row ORDER BY s.__r`, rejectsFile);
    else fs.rmSync(rejectsFile, { force: true });
    const scored = Number(((await (await conn.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${quoteString(output)})`)).getRowObjectsJS())[0] as { n: bigint }).n);
    conn.closeSync();
    instance.closeSync();
    conn = null;
    instance = null;
    fs.rmSync(parts, { recursive: true, force: true });
    if (scored + rejected !== rows) throw new Error(`scored ${scored} + rejected ${rejected} ≠ ${rows} input rows`);
    return {
      model: o.model,
      version,
      rows,
      scored,
      rejected,
      resumedChunks,
      input: { path: input, sha256: inputSha, rows },
      output: { path: output, sha256: await sha256File(output), rows: scored },
      rejects: rejected > 0 ? { path: rejectsFile, sha256: await sha256File(rejectsFile), rows: rejected } : null,
      seconds: Math.round(performance.now() - t0) / 1000,
    };
  } finally {
    conn?.closeSync();
    instance?.closeSync();
    await repo.close();
    await backend.close();
  }
}

/**
 * The rows' predictions: each part of max_batch_size rows transformed by the native batched
 * transform into its own buffer and run by the model, a few parts in flight at a time (as
 * /predict runs `instances`). The dense feature rows are large (flights-delay: 2,439 floats,
 * 9.5 KiB a row), so only the parts in flight exist at once: memory stays bounded by the
 * window, not by the chunk.
 */
async function scoreRows(mv: ModelVersion, transform: NativeFeatureTransform, columns: Record<string, (string | number)[]>, n: number, window: number): Promise<{ prediction: string | number; probability: number | null }[]> {
  const p = mv.config.predict!;
  if (mv.config.inputs.some((t) => t.name !== p.input)) throw new InferaError('ENG_ERR_UNSUPPORTED', `model '${mv.name}' has inputs besides '${p.input}': infera score feeds the feature input only`);
  const out: { prediction: string | number; probability: number | null }[] = new Array(n);
  const size = mv.config.max_batch_size > 0 ? mv.config.max_batch_size : n;
  const inFlight = new Set<Promise<void>>();
  for (let lo = 0; lo < n; lo += size) {
    const rows = Math.min(size, n - lo);
    const part: Record<string, (string | number)[]> = {};
    for (const [k, v] of Object.entries(columns)) part[k] = v.slice(lo, lo + rows);
    const x = transform.transformSync(part);
    const run: Promise<void> = mv.infer({ inputs: [{ name: p.input, datatype: 'FP32', shape: [rows, x.width], data: x.data }], outputs: [p.output] }).then((r) => {
      for (let i = 0; i < rows; i++) {
        const q = outputToPrediction(p, r.outputs[0], i, rows);
        out[lo + i] = { prediction: q.prediction, probability: q.probabilities ? q.probabilities[q.probabilities.length - 1] : null };
      }
    });
    inFlight.add(run);
    void run.then(() => inFlight.delete(run), () => inFlight.delete(run));
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return out;
}
