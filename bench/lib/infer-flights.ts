/**
 * Scenarios `infer-json` and `infer-binary`: OIP v2 infer on flights-delay with 1, 64 and
 * 256 rows per request (prepared tensors of real February 2001 flights: the saved feature
 * spec's transform), as JSON or with the binary tensor extension. Infera vs the naive
 * Fastify peer (same encoding) vs the uWS hello HTTP ceiling answering a real response of
 * the same size; in-process ceiling: onnxruntime-node rows/s at the same batch sizes.
 */
import * as path from 'node:path';
import { ceilingWorkers, measureInProcess } from './ceiling';
import type { FeedTensor } from './ceiling-worker';
import {
  FLIGHTS_INFER_PATH,
  FLIGHTS_TOLERANCE,
  flightsInputInfo,
  flightsModelFiles,
  flightsParquet,
  flightsReference,
  inferBinaryBody,
  inferJsonBody,
  loadFebruaryFlights,
  loadSpec,
  maxAbsDiff,
  parseInferBinary,
  parseInferJson,
  prepareTensor,
} from './flights';
import { pinProcess } from './pinning';
import { bestCeiling, entry, equalP99Ratio, findSeries, whyMissing, type RatioInput } from './ratios';
import { assembleResult, startClock } from './result';
import { ratio } from './stats';
import { removeOnExit } from './repo-copy';
import { HTTP_CEILING, NAIVE, OURS, OURS_NATIVE, OURS_ONNXRUNTIME, inferaOnnxruntimeServer, inferaServer, naiveServer, oursRepository, runHttpTargets, uwsHelloServer, type HttpVariant } from './targets';
import type { BenchResult, RatioEntry, RunOptions, Scenario, ScenarioContext } from './types';

export type Encoding = 'json' | 'binary';
export const ROWS_PER_REQUEST = [1, 64, 256];
/** --quick: the middle setting only, so that a smoke run stays under a minute. */
export const QUICK_ROWS_PER_REQUEST = [64];
/** Request bytes per variant: autocannon keeps a copy of every body per connection. */
export const BODY_BUDGET_BYTES = 4 * 1024 * 1024;
/** Real rows loaded (distinct bodies are consecutive slices of them). */
export const INFER_ROWS = 2048;

export function variantName(rows: number): string {
  return `${rows} row${rows === 1 ? '' : 's'}/request`;
}

/** How many distinct bodies of `bodyBytes` fit the budget (≥ 2, ≤ what the rows allow and 256). */
export function bodiesFor(bodyBytes: number, rowsPerRequest: number, totalRows: number): number {
  return Math.max(2, Math.min(256, Math.floor(totalRows / rowsPerRequest), Math.floor(BODY_BUDGET_BYTES / bodyBytes)));
}

/**
 * Per variant (rows per request): ours ÷ naive at every connection count, ours ÷ HTTP
 * ceiling at the largest, ours rows/s ÷ in-process rows/s at the same batch size (the
 * server's core budget and the whole machine).
 */
export function computeInferRatios(r: RatioInput): RatioEntry[] {
  const out: RatioEntry[] = [];
  const main = Math.max(...r.config.connections);
  for (const subject of [OURS, OURS_NATIVE, OURS_ONNXRUNTIME]) {
    const variants = [...new Set(r.targets.filter((t) => t.name === subject).map((t) => t.variant))];
    const p = subject === OURS ? 'ours' : subject === OURS_NATIVE ? 'native' : 'onnxruntime';
    for (const v of variants) {
      const t = r.targets.find((x) => x.name === subject && x.variant === v);
      const rows = t?.rowsPerRequest ?? 1;
      const k = `r${rows}`;
      for (const c of r.config.connections) {
        const s = findSeries(r, subject, 'closed', c, v);
        const n = findSeries(r, NAIVE, 'closed', c, v);
        out.push(
          entry(`${k}_${p}_over_naive_c${c}`, `[${v}] ${subject} ÷ ${NAIVE} req/s @ ${c} conn`, 'x', 'median req/s ÷ median req/s', ratio(s?.reqPerSec.median, n?.reqPerSec.median), !s ? whyMissing(r, subject, `${c}-connection run`, v) : whyMissing(r, NAIVE, `${c}-connection run`, v)),
        );
      }
      out.push(equalP99Ratio(r, subject, NAIVE, `${k}_${p}_over_naive_equal_p99`, v));
      const s = findSeries(r, subject, 'closed', main, v);
      const h = findSeries(r, HTTP_CEILING, 'closed', main, v);
      out.push(
        entry(`${k}_${p}_over_http_ceiling`, `[${v}] ${subject} ÷ HTTP ceiling (${HTTP_CEILING}) req/s @ ${main} conn`, 'x', 'median req/s ÷ median req/s', ratio(s?.reqPerSec.median, h?.reqPerSec.median), !s ? whyMissing(r, subject, `${main}-connection run`, v) : whyMissing(r, HTTP_CEILING, `${main}-connection run`, v)),
      );
      for (const w of [...new Set([r.pinning.serverCoreCount, r.machine.cores])]) {
        const c = bestCeiling(r, w, rows);
        out.push(
          entry(
            `${k}_${p}_over_inprocess_w${w}`,
            `[${v}] ${subject} rows/s @ ${main} conn ÷ in-process rows/s (${w} worker${w > 1 ? 's' : ''}, batch ${rows})`,
            'x',
            `median req/s × ${rows} ÷ median in-process rows/s`,
            ratio(s ? s.reqPerSec.median * rows : null, c?.rowsPerSec.median),
            !s ? whyMissing(r, subject, `${main}-connection run`, v) : `no in-process ceiling with ${w} workers at batch ${rows}`,
          ),
        );
      }
    }
  }
  return out;
}

export function inferScenario(encoding: Encoding): Scenario {
  const name = `infer-${encoding}`;
  const description =
    `OIP v2 infer on flights-delay with 1, 64 and 256 rows per request (prepared tensors of real February 2001 flights), ` +
    (encoding === 'json' ? 'JSON bodies (flat data arrays)' : 'binary tensor extension (JSON header + raw FP32 rows; binary output)') +
    ': Infera vs a naive Fastify + onnxruntime-node server (same encoding, one session, no batching) vs a uWebSockets.js hello world answering a real response of the same size; ' +
    'plus onnxruntime-node in process at the same batch sizes (1 intra-op thread per worker).';
  return {
    name,
    description,
    async run(opts: RunOptions, ctx: ScenarioContext): Promise<BenchResult> {
      const clock = startClock();
      const root = ctx.repoRoot;
      const repo = oursRepository(root);
      const files = flightsModelFiles(repo);
      const flights = await loadFebruaryFlights(flightsParquet(root), INFER_ROWS);
      const tensor = prepareTensor(loadSpec(files.featureSpec), flights);
      const width = tensor.width;
      const refs = await flightsReference(files.model, tensor.data, width);

      const variants: HttpVariant[] = [];
      const allBodies: Buffer[] = [];
      const counts: Record<string, number> = {};
      const rowsList = opts.quick ? QUICK_ROWS_PER_REQUEST : ROWS_PER_REQUEST;
      for (const rows of rowsList) {
        const make = (i: number) =>
          encoding === 'json'
            ? { body: inferJsonBody(tensor.data, width, i * rows, rows, String(i)), headers: undefined }
            : (() => {
                const b = inferBinaryBody(tensor.data, width, i * rows, rows);
                return { body: b.body, headers: { 'Inference-Header-Content-Length': String(b.headerLength) } };
              })();
        const n = bodiesFor(make(0).body.length, rows, flights.rows);
        const reqs = Array.from({ length: n }, (_, i) => make(i));
        const bodies = reqs.map((q) => q.body);
        const bodyHeaders = encoding === 'binary' ? reqs.map((q) => q.headers as Record<string, string>) : undefined;
        counts[variantName(rows)] = n;
        allBodies.push(...bodies);
        const check = [0, n - 1];
        const expect = (i: number) => refs.subarray(check[i] * rows, (check[i] + 1) * rows);
        variants.push({
          variant: variantName(rows),
          rowsPerRequest: rows,
          load: { path: FLIGHTS_INFER_PATH, bodies, bodyHeaders, contentType: encoding === 'json' ? 'application/json' : 'application/octet-stream' },
          preflight: check.map((i) => ({ path: FLIGHTS_INFER_PATH, body: bodies[i], headers: { 'content-type': encoding === 'json' ? 'application/json' : 'application/octet-stream', ...(bodyHeaders?.[i] ?? {}) } })),
          check: (reply, i) => maxAbsDiff(encoding === 'json' ? parseInferJson(reply.body, rows) : parseInferBinary(reply.body, reply.headers, rows), expect(i)),
          tolerance: FLIGHTS_TOLERANCE,
          fallbackResponse: () => Buffer.from(JSON.stringify({ model_name: 'flights-delay', model_version: '1', outputs: [{ name: 'probability', datatype: 'FP32', shape: [rows, 1], data: Array.from(refs.subarray(0, rows)) }] })),
        });
        ctx.log(`input: ${variantName(rows)}: ${n} distinct bodies of ${bodies[0].length} bytes`);
      }

      ctx.log('in-process ceiling (onnxruntime-node on prepared tensors)');
      const inProcess = await measureInProcess(
        (batch) => {
          const feeds: FeedTensor[][] = [];
          for (let i = 0; (i + 1) * batch <= Math.min(flights.rows, 1024) || i === 0; i++) {
            feeds.push([{ name: 'features', type: 'float32', dims: [batch, width], data: tensor.data.slice(i * batch * width, (i + 1) * batch * width) }]);
          }
          return { modelPath: files.model, rows: batch, feeds };
        },
        { model: path.relative(root, files.model), what: 'session.run on a prepared tensor', workers: ceilingWorkers(ctx), batches: rowsList },
        opts,
        ctx,
      );

      if (ctx.pinning.enabled && ctx.pinning.loadgenCpus) pinProcess(process.pid, ctx.pinning.loadgenCpus);
      ctx.log(`pinning: ${ctx.pinning.note}`);

      const onnxruntime = inferaOnnxruntimeServer(repo, 'flights-delay');
      const cleanup = removeOnExit([onnxruntime.copy]);
      const defs = [
        naiveServer({ model: files.model, modelName: 'flights-delay', description: `OIP v2 ${encoding} infer, session.run per request.` }),
        inferaServer({ repository: repo, models: ['flights-delay'] }),
        onnxruntime.def,
        uwsHelloServer(),
      ];
      const out = await runHttpTargets(defs, variants, opts, ctx).finally(cleanup);
      return assembleResult(
        {
          scenario: name,
          description,
          clock,
          input: flightsInputInfo(flights, `prepared tensors [rows × ${width}] (feature spec transform)`, { featureWidth: width, encoding }),
          inProcess,
          targets: out.targets,
          bodies: allBodies,
          openLoopRate: out.openRates.find((x) => x !== null) ?? null,
          response: out.responses.find((x) => x) ?? null,
          settings: { encoding, rowsPerRequest: ROWS_PER_REQUEST, distinctBodies: counts, openLoopRates: Object.fromEntries(variants.map((v, i) => [v.variant, out.openRates[i]])) },
          ratios: computeInferRatios,
        },
        opts,
        ctx,
      );
    },
  };
}
