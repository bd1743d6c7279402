/**
 * Bench harness, pure parts: statistics, ratios, summary rendering and the
 * result.json schema, run on a real recorded result
 * (test/unit/bench/fixtures/vad-infer-result.json, written by
 * `node dist/bench/run.js vad-infer --quick`). Starts no server, measures nothing.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseArgs, resolveOptions } from '../../../bench/lib/cli';
import { verdict } from '../../../bench/run';
import { findRepoRoot } from '../../../bench/lib/machine';
import { oipVadResponse, parseVadOutput, vadInferBody } from '../../../bench/lib/oip';
import { fmtRatio, renderSummary, seriesFlags, validateResult } from '../../../bench/lib/report';
import { aggregateSeries, repeatWarmup } from '../../../bench/lib/series';
import { median, percentile, ratio, relativeSpread, spread } from '../../../bench/lib/stats';
import { bestCeiling } from '../../../bench/lib/ratios';
import type { BenchResult, SeriesResult } from '../../../bench/lib/types';
import { DEFAULT_SPEECH_WAV, VAD_CHUNK_SAMPLES } from '../../../bench/lib/wav';
import { chunks as chunkSamples, parseWav as parseWavPcm16 } from '../../../src/audio/wav';
import { HTTP_CEILING, NAIVE, OURS, computeVadRatios, findSeries } from '../../../bench/scenarios/vad-infer';

const root = findRepoRoot(__dirname);
const FIXTURE = path.join(root, 'test/unit/bench/fixtures/vad-infer-result.json');

function load(): BenchResult {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as BenchResult;
}

function okTargets(r: BenchResult) {
  return r.targets.filter((t) => t.status === 'ok');
}

describe('bench stats', () => {
  it('median of odd and even lists, unsorted input untouched', () => {
    const xs = [5, 1, 3];
    assert.equal(median(xs), 3);
    assert.deepEqual(xs, [5, 1, 3]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]));
  });

  it('spread keeps every value and orders min <= median <= max', () => {
    const s = spread([3, 9, 6]);
    assert.deepEqual(s, { median: 6, min: 3, max: 9, values: [3, 9, 6] });
    assert.equal(relativeSpread(s), 1);
    assert.throws(() => spread([1, Number.NaN]));
  });

  it('nearest-rank percentile and safe ratio', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(ratio(6, 3), 2);
    assert.equal(ratio(1, 0), null);
    assert.equal(ratio(null, 3), null);
  });

  it('first repeat gets the full warm-up, later ones at most 1 s', () => {
    const o = { warmupS: 3, durationS: 6, repeats: 3 };
    assert.deepEqual([0, 1, 2].map((i) => repeatWarmup(o, i)), [3, 1, 1]);
  });
});

describe('recorded vad-infer result', () => {
  it('matches the result schema', () => {
    const r = load();
    assert.deepEqual(validateResult(r), []);
    assert.equal(r.scenario, 'vad-infer');
    assert.ok(okTargets(r).length >= 2, 'the recorded run measured at least the two peers');
  });

  it('each series is the median/min/max of its runs (re-aggregated from the runs)', () => {
    const r = load();
    for (const t of okTargets(r)) {
      for (const s of t.series) {
        const again = aggregateSeries(s.mode, s.connections, s.runs, s, s.offeredRate);
        assert.deepEqual(again.reqPerSec, s.reqPerSec, `${t.name} ${s.mode} ${s.connections}`);
        assert.deepEqual(again.latencyMs, s.latencyMs);
        assert.equal(again.errors, s.errors);
        assert.equal(again.non2xx, s.non2xx);
        assert.equal(s.reqPerSec.median, median(s.runs.map((x) => x.reqPerSec)));
      }
    }
  });

  it('ratios recompute to the recorded ones, with the documented arithmetic', () => {
    const r = load();
    const again = computeVadRatios(r);
    assert.deepEqual(again, r.ratios);
    const main = Math.max(...r.config.connections);
    const byKey = new Map(again.map((x) => [x.key, x]));
    const naive = findSeries(r, NAIVE, 'closed', main);
    const http = findSeries(r, HTTP_CEILING, 'closed', main);
    assert.ok(naive && http, 'recorded run has both peers at the main connection count');
    const nh = byKey.get('naive_over_http_ceiling_rps');
    assert.ok(nh && nh.value !== null);
    assert.ok(Math.abs(nh.value - naive.reqPerSec.median / http.reqPerSec.median) < 1e-4);
    const over = byKey.get('naive_overhead_1conn_ms');
    const n1 = findSeries(r, NAIVE, 'closed', 1);
    assert.ok(over && over.value !== null && n1 && r.inProcess?.singleRun);
    assert.ok(Math.abs(over.value - (n1.latencyMs.p50.median - r.inProcess.singleRun.latencyMs.p50)) < 1e-4);
    const tail = byKey.get('naive_p99_over_p50');
    assert.ok(tail && tail.value !== null && tail.value >= 1);
    // The one-core limit: 1 / (batched compute + codec + HTTP), from the run's own figures.
    const ours = findSeries(r, OURS, 'closed', main);
    const compute = bestCeiling(r, r.pinning.serverCoreCount);
    const codec = r.inProcess?.codec;
    assert.ok(ours && compute && codec, 'recorded run has the three terms of the limit');
    const limit = 1e6 / (1e6 / compute.rowsPerSec.median + codec.decodeUs.median + codec.encodeUs.median + 1e6 / http.reqPerSec.median);
    const lim = byKey.get('ours_over_one_core_limit');
    assert.ok(lim && lim.value !== null);
    assert.ok(Math.abs(lim.value - ours.reqPerSec.median / limit) < 1e-3, `${lim.value} vs ${ours.reqPerSec.median / limit}`);
    assert.ok(codec.decodeUs.median > 0 && codec.encodeUs.median > 0);
  });

  it('the ratio arithmetic treats any target as the subject (peer vs peer on real numbers)', () => {
    const r = load();
    const rs = computeVadRatios(r, { ours: NAIVE, naive: HTTP_CEILING, naiveUws: HTTP_CEILING, http: HTTP_CEILING });
    const main = Math.max(...r.config.connections);
    const a = findSeries(r, NAIVE, 'closed', main)!;
    const b = findSeries(r, HTTP_CEILING, 'closed', main)!;
    const v = rs.find((x) => x.key === 'ours_over_naive_rps');
    assert.ok(v && v.value !== null);
    assert.ok(Math.abs(v.value - a.reqPerSec.median / b.reqPerSec.median) < 1e-4);
  });

  it('a skipped target gives n/a ratios with a reason, not a crash', () => {
    const r = load();
    const ours = r.targets.find((t) => t.name === OURS);
    assert.ok(ours);
    ours.status = 'skipped';
    ours.reason = 'server unavailable: dist/src/cli/main.js not found';
    ours.series = [];
    const rs = computeVadRatios(r).filter((x) => x.key.startsWith('ours_'));
    assert.ok(rs.length >= 5);
    for (const x of rs) {
      assert.equal(x.value, null);
      assert.match(x.reason ?? '', /infera skipped: server unavailable/);
      assert.match(fmtRatio(x), /^n\/a/);
    }
    r.ratios = computeVadRatios(r);
    r.flags.push(`${OURS} skipped: ${ours.reason}`);
    assert.deepEqual(validateResult(r), []);
    assert.match(renderSummary(r), /\*\*infera\*\* \(ours\) — SKIPPED: server unavailable/);
  });

  it('summary shows every ratio, every measured target and the machine facts', () => {
    const r = load();
    const md = renderSummary(r);
    assert.match(md, /^# vad-infer — (quick|full) run/);
    for (const x of r.ratios) assert.ok(md.includes(x.label), `summary lists ratio "${x.label}"`);
    for (const t of okTargets(r)) assert.ok(md.includes(`| ${t.name} |`) || md.includes(`| ${t.name} ⚠ |`), `summary has a row for ${t.name}`);
    assert.ok(md.includes(r.machine.cpuModel));
    assert.ok(md.includes(r.pinning.note));
    assert.match(md, /## In-process/);
    assert.match(md, /latency-throughput\.svg/);
    assert.match(md, /## Flags/);
  });

  it('non-2xx responses and errors are counted and flagged', () => {
    const r = load();
    const t = okTargets(r)[0];
    const s: SeriesResult = t.series[0];
    assert.deepEqual(seriesFlags(t.name, { ...s, errors: 0, non2xx: 0, timeouts: 0, runs: s.runs.map((x) => ({ ...x, incomplete: 0, maxSendLagMs: 0 })) }), []);
    const bad = { ...s, non2xx: 7, errors: 2 };
    const flags = seriesFlags(t.name, bad);
    assert.ok(flags.some((f) => f.includes('7 non-2xx')));
    assert.ok(flags.some((f) => f.includes('2 transport errors')));
    t.series[0] = bad;
    assert.match(renderSummary(r), new RegExp(`\\*\\*${t.name}\\*\\* \\([a-z-]+\\) — ok, WITH ERRORS ⚠`));
  });

  it('schema check rejects broken results', () => {
    const broken = load() as unknown as Record<string, unknown>;
    delete broken.machine;
    (broken.targets as Record<string, unknown>[])[0].status = 'meh';
    const errs = validateResult(broken);
    assert.ok(errs.some((e) => e.startsWith('machine')));
    assert.ok(errs.some((e) => e.includes('targets[0].status')));
    const r2 = load();
    const s = okTargets(r2)[0].series[0];
    s.reqPerSec.min = s.reqPerSec.median + 1;
    assert.ok(validateResult(r2).some((e) => e.includes('min <= median <= max')));
    const r3 = load();
    okTargets(r3)[0].series[0].runs[0].latencyMs.p50 = 1e9;
    assert.ok(validateResult(r3).some((e) => e.includes('percentiles must be ordered')));
    assert.deepEqual(validateResult(null), ['result: object expected']);
  });
});

describe('bench CLI', () => {
  it('quick and full defaults; 1 connection always added', () => {
    const q = resolveOptions(parseArgs(['vad-infer', '--quick']), root, new Date('2026-12-03T11:22:33.456Z'));
    assert.deepEqual([q.repeats, q.connections], [1, [64, 1]]);
    assert.equal(q.outDir, path.join(root, 'bench/runs/vad-infer-2026-12-03T11-22-33-456Z'), 'a fresh directory, not the committed results');
    assert.equal(resolveOptions(parseArgs(['vad-infer', '--out', 'bench/results/vad-infer']), root).outDir, path.join(root, 'bench/results/vad-infer'));
    const f = resolveOptions(parseArgs(['vad-infer', '--connections', '16', '--duration=5']), root);
    assert.deepEqual([f.repeats, f.connections, f.durationS], [3, [16, 1], 5]);
    assert.throws(() => parseArgs(['vad-infer', '--connections', '0']));
    assert.throws(() => parseArgs(['vad-infer', '--bogus']));
  });
});

describe('bench input (real speech)', { skip: !existsSync(DEFAULT_SPEECH_WAV) && `${DEFAULT_SPEECH_WAV} missing (apt-get install -y linphone-common)` }, () => {
  it('finds the data chunk by walking RIFF chunks, also behind an extra chunk', () => {
    const buf = readFileSync(DEFAULT_SPEECH_WAV);
    const wav = parseWavPcm16(buf);
    assert.equal(wav.sampleRate, 16000);
    // Same bytes with a LIST chunk between "fmt " and "data": a 44-byte-header reader would break.
    const fmtEnd = 12 + 8 + buf.readUInt32LE(16);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([5, 0, 0, 0]), Buffer.from('INFOx'), Buffer.from([0])]);
    const moved = Buffer.concat([buf.subarray(0, fmtEnd), list, buf.subarray(fmtEnd)]);
    moved.writeUInt32LE(moved.length - 8, 4);
    assert.deepEqual(parseWavPcm16(moved).samples, wav.samples);
    const chunks = chunkSamples(wav.samples, VAD_CHUNK_SAMPLES);
    assert.equal(chunks.length, Math.floor(wav.samples.length / VAD_CHUNK_SAMPLES));
    assert.ok(chunks.every((c) => c.length === VAD_CHUNK_SAMPLES));
    assert.ok(chunks.some((c) => c.some((x) => Math.abs(x) > 0.1)), 'real speech, not silence');
    const body = JSON.parse(vadInferBody('3', chunks[3])) as { inputs: { name: string; shape: number[]; data: number[] }[] };
    assert.deepEqual(body.inputs.map((i) => [i.name, i.shape]), [
      ['input', [1, 1536]],
      ['sr', []],
      ['h', [2, 1, 64]],
      ['c', [2, 1, 64]],
    ]);
    assert.equal(body.inputs[0].data[5], chunks[3][5]);
  });

  it('parses an OIP v2 response and rejects a wrong shape', () => {
    const ok = '{"model_name":"vad","outputs":[{"name":"output","datatype":"FP32","shape":[1,1],"data":[0.25]}]}';
    assert.equal(parseVadOutput(ok), 0.25);
    assert.throws(() => parseVadOutput(ok.replace('[1,1]', '[1]')));
    assert.equal(parseVadOutput(oipVadResponse('7', 0.5)), 0.5);
  });
});

describe('bench verdict', () => {
  it('names the strongest naive peer and the one-core limit from a committed real run; falls back to the headline ratio', () => {
    const vad = JSON.parse(readFileSync(path.join(root, 'bench/results/vad-infer/result.json'), 'utf8'));
    const line = verdict(vad.ratios);
    const naive = vad.ratios.filter((r: { label: string; value: number | null }) => /^infera ÷ naive.*req\/s @ 64 conn$/.test(r.label)).map((r: { value: number }) => r.value);
    assert.ok(naive.length >= 2, 'both naive peers in the committed run');
    assert.match(line, new RegExp(`^verdict: ours ÷ naive ${Math.min(...naive)}× .*; ours ÷ limit [0-9.]+× \\(infera rows/s ÷ in-process ceiling \\(1 worker`));
    const ws = JSON.parse(readFileSync(path.join(root, 'bench/results/ws-stream/result.json'), 'utf8'));
    assert.match(verdict(ws.ratios), /^verdict: streams within p99 ≤ 20 ms: infera ÷ infera-unbatched/);
  });
});
