/**
 * Bench harness library, pure or local parts: the SVG writer and charts, the raw HTTP
 * client of the open-loop generator (parser on protocol bytes, then a round trip against
 * a local node:http server), the flights bodies on real February 2001 rows checked
 * against the server's own codec, the stream recordings, the repository copies, and the
 * scenario helpers re-run on recorded quick results (fixtures written by
 * `node dist/bench/run.js <scenario> --quick`).
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeInferRequest, encodeInferResponse } from '../../../src/protocol/oip-codec';
import { renderCharts } from '../../../bench/lib/charts';
import {
  FEBRUARY_2001,
  featureDict,
  flightsModelFiles,
  flightsParquet,
  inferBinaryBody,
  inferJsonBody,
  loadFebruaryFlights,
  loadSpec,
  parseInferBinary,
  parseInferJson,
  predictBody,
  prepareTensor,
  type FlightRows,
} from '../../../bench/lib/flights';
import { bodiesFor, computeInferRatios } from '../../../bench/lib/infer-flights';
import { closedLoopIndices, openLoop } from '../../../bench/lib/load';
import { findRepoRoot } from '../../../bench/lib/machine';
import { sustainedRate } from '../../../bench/lib/ratios';
import { parseWrkOutput, wrkClosedLoop, wrkPath } from '../../../bench/lib/wrk';
import { ResponseParser, serializePost } from '../../../bench/lib/raw-http';
import { copyRepository } from '../../../bench/lib/repo-copy';
import { renderSummary, validateResult } from '../../../bench/lib/report';
import { FRAME_BYTES, STREAM_SOURCES, frameOf, loadRecordings } from '../../../bench/lib/stream-load';
import { escapeXml, lineChart, logTicks, niceTicks } from '../../../bench/lib/svg';
import type { BenchResult } from '../../../bench/lib/types';
import { computePredictRatios } from '../../../bench/scenarios/predict-one-row';
import { POLICIES, computeSweepRatios, summarize, sweepRates, withPolicy } from '../../../bench/scenarios/sweep';
import { capacityOf, computeStreamRatios, stepPasses } from '../../../bench/scenarios/ws-stream';

const root = findRepoRoot(__dirname);
const fixture = (name: string) => path.join(root, 'test/unit/bench/fixtures', name);
const loadFixture = (name: string) => JSON.parse(readFileSync(fixture(name), 'utf8')) as BenchResult;

describe('svg writer', () => {
  it('nice and log ticks', () => {
    assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(0, 0.9, 4), [0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(logTicks(1, 1000), [1, 10, 100, 1000]);
    assert.deepEqual(logTicks(1, 100), [1, 2, 5, 10, 20, 50, 100]);
  });

  it('draws one polyline per series with more than one point, escapes text, survives empty input', () => {
    const svg = lineChart({
      title: 'a < b & "c"',
      xLabel: 'x',
      yLabel: 'y',
      logY: true,
      series: [
        { name: 'one', points: [[1, 2], [2, 3], [3, 50]] },
        { name: 'two', points: [[5, 0.5]], dashed: true },
        { name: 'dropped on log y', points: [[1, 0]] },
      ],
      hline: { y: 20, label: 'objective 20 ms' },
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal((svg.match(/<polyline/g) ?? []).length, 1);
    assert.equal((svg.match(/<circle/g) ?? []).length, 4);
    assert.ok(svg.includes(escapeXml('a < b & "c"')));
    assert.ok(svg.includes('objective 20 ms'));
    assert.ok(svg.trim().endsWith('</svg>'));
    assert.match(lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }), /no data/);
  });

  it('charts of the recorded vad-infer result: one latency-throughput chart naming every measured target', () => {
    const r = loadFixture('vad-infer-result.json');
    const charts = renderCharts(r);
    assert.deepEqual(charts.map((c) => c.file), ['latency-throughput.svg']);
    for (const t of r.targets.filter((x) => x.status === 'ok')) assert.ok(charts[0].svg.includes(t.name));
  });
});

describe('raw HTTP client of the open-loop generator', () => {
  it('frames Content-Length and chunked responses fed in arbitrary pieces', () => {
    const p = new ResponseParser();
    const cl = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
    for (const cut of [1, 7, 40, cl.length - 1]) {
      p.reset();
      p.feed(cl.subarray(0, cut));
      if (cut < cl.length) assert.equal(p.done, null);
      p.feed(cl.subarray(cut));
      assert.deepEqual(p.done, { status: 200, bodyBytes: 11 });
    }
    const ch = Buffer.from('HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    p.reset();
    for (let i = 0; i < ch.length; i += 3) p.feed(ch.subarray(i, i + 3));
    assert.deepEqual(p.done, { status: 503, bodyBytes: 11 });
    p.reset();
    assert.throws(() => p.feed(Buffer.from('garbage\r\n\r\n')), /bad status line/);
  });

  it('autocannon gets at most 512 evenly spaced bodies', () => {
    assert.deepEqual(closedLoopIndices(3), [0, 1, 2]);
    const idx = closedLoopIndices(8192);
    assert.equal(idx.length, 512);
    assert.deepEqual([idx[0], idx[1], idx[511]], [0, 16, 8176]);
  });

  it('serialises a POST with its headers and body', () => {
    const b = serializePost('127.0.0.1', 8080, '/predict', Buffer.from('{}'), { 'Content-Type': 'application/json', 'Inference-Header-Content-Length': '2' });
    const text = b.toString('latin1');
    assert.match(text, /^POST \/predict HTTP\/1\.1\r\nHost: 127\.0\.0\.1:8080\r\n/);
    assert.match(text, /\r\nContent-Length: 2\r\n/);
    assert.match(text, /\r\nInference-Header-Content-Length: 2\r\n/);
    assert.ok(text.endsWith('\r\n\r\n{}'));
  });
});

describe('flights bodies (real February 2001 rows)', () => {
  let f: FlightRows;
  let x: { data: Float32Array; width: number };
  let server: http.Server;
  let port = 0;
  const received: { path: string; bytes: number; header: string | undefined }[] = [];

  before(async () => {
    f = await loadFebruaryFlights(flightsParquet(root), 300);
    x = prepareTensor(loadSpec(flightsModelFiles(path.join(root, 'models')).featureSpec), f);
    server = http.createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        received.push({ path: req.url ?? '', bytes: n, header: req.headers['inference-header-content-length'] as string | undefined });
        res.writeHead(received.length % 5 === 0 ? 503 : 200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  after(() => server.close());

  it('are February 2001 rows, in time order', () => {
    assert.equal(f.rows, 300);
    assert.ok(f.date[0] >= Date.parse(`${FEBRUARY_2001.from}T00:00:00Z`) && f.date[f.rows - 1] < Date.parse(`${FEBRUARY_2001.to}T00:00:00Z`));
    for (let i = 1; i < f.rows; i++) assert.ok(f.date[i] >= f.date[i - 1]);
    const d = featureDict(f, 0);
    assert.match(d.date, /^2001-02-\d\dT\d\d:\d\d:\d\d$/);
    assert.deepEqual(JSON.parse(predictBody(f, 0).toString()), { model: 'flights-delay', features: d });
  });

  it('JSON and binary infer bodies decode, with the server codec, to the prepared rows', async () => {
    const rows = 64;
    const want = x.data.subarray(10 * x.width, (10 + rows) * x.width);
    const j = await decodeInferRequest(inferJsonBody(x.data, x.width, 10, rows, 'a'), {});
    assert.deepEqual(j.inputs[0].shape, [rows, x.width]);
    assert.deepEqual(Array.from(j.inputs[0].data as Float32Array), Array.from(want));
    const b = inferBinaryBody(x.data, x.width, 10, rows);
    const d = await decodeInferRequest(b.body, { inferenceHeaderLength: String(b.headerLength) });
    assert.deepEqual(Array.from(d.inputs[0].data as Float32Array), Array.from(want));
    assert.equal(d.outputs[0].binary, true);
  });

  it('answers encoded by the server codec parse back (JSON and binary)', () => {
    const p = Float32Array.from([0.1, 0.25, 0.9]);
    const t = { name: 'probability', datatype: 'FP32' as const, shape: [3, 1], data: p };
    const j = encodeInferResponse('flights-delay', 1, 'x', [t], () => false);
    assert.deepEqual(Array.from(parseInferJson(j.body, 3)), Array.from(p));
    const b = encodeInferResponse('flights-delay', 1, undefined, [t], () => true);
    assert.deepEqual(Array.from(parseInferBinary(b.body, { 'inference-header-content-length': String(b.inferenceHeaderLength) }, 3)), Array.from(p));
    assert.throws(() => parseInferJson(j.body, 4), /expected 4 rows/);
  });

  it('the open loop sends at the offered rate with per-body headers and counts non-2xx', async () => {
    const bodies = [1, 2, 3].map((n) => inferBinaryBody(x.data, x.width, 0, n));
    received.length = 0;
    const r = await openLoop(
      { baseUrl: `http://127.0.0.1:${port}`, path: '/v2/models/flights-delay/infer', bodies: bodies.map((b) => b.body), bodyHeaders: bodies.map((b) => ({ 'Inference-Header-Content-Length': String(b.headerLength) })) },
      { rate: 200, durationS: 0.5, warmupS: 0.1, maxSockets: 4, objectiveMs: 1000 },
    );
    assert.equal(r.sent, 100);
    assert.equal(r.responses, 100);
    assert.equal(r.ok2xx + r.non2xx, 100);
    assert.ok(r.non2xx > 0 && r.statusCodes['503'] === r.non2xx);
    assert.equal(r.withinObjective, r.ok2xx);
    assert.equal(r.errors, 0);
    assert.equal(received.length, 120);
    // 4 sockets: arrival order may differ from send order, but each body went with its own header
    assert.ok(received.every((q) => bodies.some((b) => q.bytes === b.body.length && q.header === String(b.headerLength))));
    assert.equal(received.filter((q) => q.bytes === bodies[0].body.length).length, 40);
  });

  it('wrk (when installed): a closed loop with the same bodies and headers, 503s counted as non-2xx', { skip: !wrkPath() && 'wrk not installed (apt-get install wrk)' }, async () => {
    const bodies = [1, 2, 3].map((n) => inferBinaryBody(x.data, x.width, 0, n));
    received.length = 0;
    const r = await wrkClosedLoop(
      { baseUrl: `http://127.0.0.1:${port}`, path: '/v2/models/flights-delay/infer', bodies: bodies.map((b) => b.body), bodyHeaders: bodies.map((b) => ({ 'Inference-Header-Content-Length': String(b.headerLength) })), contentType: 'application/octet-stream' },
      { connections: 2, durationS: 1, warmupS: 0 },
    );
    assert.ok(r.responses > 10, `${r.responses} responses`);
    assert.equal(r.ok2xx + r.non2xx, r.responses);
    // the server answers every fifth request with a 503: wrk's status errors are those
    assert.ok(Math.abs(r.non2xx - r.responses / 5) <= 2, `${r.non2xx} non-2xx of ${r.responses}`);
    assert.equal(r.errors, 0);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
    assert.ok(received.length >= r.responses && received.every((q) => q.path === '/v2/models/flights-delay/infer'));
    // every body went whole, with its own header, and all three were used
    assert.ok(received.every((q) => bodies.some((b) => q.bytes === b.body.length && q.header === String(b.headerLength))));
    for (const b of bodies) assert.ok(received.some((q) => q.bytes === b.body.length));
    assert.throws(() => parseWrkOutput('Running 1s test @ http://127.0.0.1:1\n'), /wrk printed no result line/);
  });

  it('infer bodies per variant fit the per-connection budget', () => {
    assert.equal(bodiesFor(10_000, 1, 2048), 256);
    assert.equal(bodiesFor(2_500_000, 256, 2048), 2);
    assert.equal(bodiesFor(600_000, 64, 2048), 6);
  });
});

describe('stream recordings', { skip: !STREAM_SOURCES.some((s) => existsSync(s.path)) && 'no speech recording installed' }, () => {
  it('real speech at 16 kHz as pcm16 windows; streams start at different places', () => {
    const recs = loadRecordings();
    for (const r of recs) {
      assert.equal(r.pcm.length, r.windows * FRAME_BYTES);
      let loud = 0;
      for (let i = 0; i < r.pcm.length; i += 2) if (Math.abs(r.pcm.readInt16LE(i)) > 3000) loud++;
      assert.ok(loud > 100, `${r.path} holds speech`);
    }
    assert.equal(frameOf(recs, 0, 0).length, FRAME_BYTES);
    assert.ok(!frameOf(recs, 0, 5).equals(frameOf(recs, recs.length, 5)), 'two streams on one recording are at different places');
  });
});

describe('temp repository copies', () => {
  it('copy a model with an edited batching policy, leaving models/ untouched', () => {
    const original = readFileSync(path.join(root, 'models/flights-delay/model.json'), 'utf8');
    const c = copyRepository(path.join(root, 'models'), ['flights-delay'], (_m, cfg) => withPolicy(cfg, POLICIES[3]), 'unit');
    try {
      const cfg = JSON.parse(readFileSync(path.join(c.dir, 'flights-delay/model.json'), 'utf8')) as { batching: Record<string, unknown> };
      assert.deepEqual(cfg.batching, { policy: 'adaptive', latency_slo_ms: 20 });
      assert.ok(existsSync(path.join(c.dir, 'flights-delay/1/model.onnx')));
      assert.equal(readFileSync(path.join(root, 'models/flights-delay/model.json'), 'utf8'), original);
    } finally {
      c.remove();
    }
    assert.ok(!existsSync(c.dir));
    assert.deepEqual(sweepRates(1000, true), [250, 750, 1250, 2000]);
  });
});

describe('ours ÷ naive at equal p99 (open-loop ladder)', () => {
  const r = loadFixture('predict-one-row-result.json');
  const opens = (name: string) => r.targets.find((t) => t.name === name)?.series.filter((s) => s.mode === 'open') ?? [];
  const budget = opens('naive-fastify')[0]?.latencyMs.p99.median ?? NaN;
  /** An independent walk of the recorded rungs: the highest offered rate kept within the budget. */
  const best = (name: string) =>
    Math.max(0, ...opens(name).filter((s) => s.errors + s.non2xx + s.timeouts === 0 && s.reqPerSec.median >= 0.95 * (s.offeredRate ?? Infinity) && s.latencyMs.p99.median <= budget).map((s) => s.offeredRate ?? 0));

  it('ours and the naive peer climbed the ladder; the HTTP ceiling did not', () => {
    assert.ok(opens('naive-fastify').length >= 2 && opens('infera').length >= 2);
    assert.equal(opens('uws-hello').length, 1);
  });

  it('the recorded ratio is the highest sustained rate within the naive p99 at the base rate, ours ÷ naive', () => {
    const n = best('naive-fastify');
    assert.ok(n > 0, 'the naive peer sustains its own base rate');
    for (const [name, key] of [['infera', 'ours_over_naive_equal_p99'], ['infera-native', 'ours_native_over_naive_equal_p99']]) {
      const e = r.ratios.find((x) => x.key === key);
      assert.ok(e, `${key} present`);
      const o = best(name);
      assert.equal(e.value, o > 0 ? Math.round((o / n) * 1e4) / 1e4 : null, name);
      assert.equal(sustainedRate(r.targets.find((t) => t.name === name)?.series ?? [], budget)?.rate ?? 0, o, name);
    }
  });

  it('no rung is sustained under a budget below every p99', () => {
    const lowest = Math.min(...opens('infera').map((s) => s.latencyMs.p99.median));
    assert.equal(sustainedRate(r.targets.find((t) => t.name === 'infera')?.series ?? [], lowest / 2), null);
  });
});

describe('recorded quick results of the other scenarios', () => {
  for (const name of ['predict-one-row', 'infer-binary', 'ws-stream', 'sweep', 'kernels']) {
    it(`${name}: schema, summary and ratios recompute`, () => {
      const r = loadFixture(`${name}-result.json`);
      assert.deepEqual(validateResult(r), []);
      assert.equal(r.scenario, name);
      const md = renderSummary(r);
      for (const x of r.ratios) assert.ok(md.includes(x.label.replace(/\|/g, '\\|')), `summary lists "${x.label}"`);
      for (const c of r.charts ?? []) assert.ok(renderCharts(r).some((f) => f.file === c));
      if (name === 'infer-binary') assert.deepEqual(computeInferRatios(r), r.ratios);
      if (name === 'predict-one-row') assert.deepEqual(computePredictRatios(r), r.ratios);
      if (name === 'sweep') {
        assert.deepEqual(computeSweepRatios(r), r.ratios);
        for (const t of r.targets.filter((x) => x.status === 'ok')) {
          const s = summarize(t);
          assert.ok(s.bestGoodput >= 0 && (s.bestGoodputAt === null || t.series.some((x) => x.offeredRate === s.bestGoodputAt)));
        }
      }
      if (name === 'ws-stream') {
        assert.deepEqual(computeStreamRatios(r as BenchResult & { settings: Record<string, unknown> }), r.ratios);
        for (const t of r.targets.filter((x) => x.status === 'ok')) {
          const c = capacityOf(t, 1024);
          assert.ok(t.series.filter((s) => s.connections <= c.streams && stepPasses(s)).length >= (c.streams > 0 ? 1 : 0));
          if (c.failedAt !== null) assert.ok(c.failedAt > c.streams);
        }
      }
    });
  }
});
