/**
 * Metrics across replicas: a real Prometheus (Debian package prometheus) scrapes two `infera
 * serve` processes and evaluates the shipped rules (deploy/prometheus/rules.yml). The summed
 * request counter must equal the requests this test sent, and the p99 queue wait across
 * replicas must equal the p99 the test computes itself from both replicas' /metrics buckets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadFeatureSpec, transform } from '../../src/features';
import { SERVING_V8_FLAGS } from '../../src/cli/serving-runtime';
import { columnsOf, loadFlights } from '../unit/features/flights-data';
import { MODELS, ROOT } from '../helpers/server';
import { freePort } from '../../bench/lib/server';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const DEPLOY = path.join(ROOT, 'deploy/prometheus');
const RULES = path.join(DEPLOY, 'rules.yml');
const MODEL = 'flights-delay';
const QUEUE_P99_RULE = 'model:infera_queue_duration_seconds:p99_rate5m';
const RATE_RULE = 'model:infera_inference_requests:rate1m';
/** Requests per replica: different counts, so a sum that lost or doubled one replica shows. */
const LOAD = { a: 600, b: 300 };
/** Requests in flight per replica, so that requests wait in the batch queue for a while. */
const CONCURRENCY = 16;

/** The path of a Prometheus tool; fails (never skips) naming the Debian package when missing. */
function tool(name: string): string {
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (r.error) assert.fail(`${name} not found (${r.error.message}): install the Debian package 'prometheus' (scripts/test-prerequisites.sh lists it)`);
  return name;
}

test('the shipped rules pass promtool check rules and their unit tests; the example config passes promtool check config', () => {
  const promtool = tool('promtool');
  for (const args of [['check', 'rules', RULES], ['test', 'rules', path.join(DEPLOY, 'rules.test.yml')], ['check', 'config', path.join(DEPLOY, 'prometheus.yml')]]) {
    const r = spawnSync(promtool, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  }
});

interface Bucket {
  le: number;
  count: number;
}

/**
 * Prometheus' histogram_quantile over classic buckets (promql/quantile.go, bucketQuantile):
 * sorted by upper bound, made monotonic, linear inside the bucket holding rank q·total, 0 the
 * lower bound of the first bucket, the highest finite bound when the rank falls in +Inf.
 */
function bucketQuantile(q: number, buckets: Bucket[]): number {
  const b = [...buckets].sort((x, y) => x.le - y.le).map((x) => ({ ...x }));
  assert.equal(b[b.length - 1].le, Infinity, 'the last bucket is +Inf');
  for (let i = 1; i < b.length; i++) b[i].count = Math.max(b[i].count, b[i - 1].count);
  const total = b[b.length - 1].count;
  assert.ok(total > 0, 'observations in the buckets');
  const rank = q * total;
  const i = b.findIndex((x) => x.count >= rank);
  if (i === b.length - 1) return b[b.length - 2].le;
  const start = i > 0 ? b[i - 1].le : 0;
  const below = i > 0 ? b[i - 1].count : 0;
  return start + (b[i].le - start) * ((rank - below) / (b[i].count - below));
}

/** Adds buckets of the same upper bound (sum by (le)). */
function sumByLe(lists: Bucket[][]): Bucket[] {
  const byLe = new Map<number, number>();
  for (const list of lists) for (const { le, count } of list) byLe.set(le, (byLe.get(le) ?? 0) + count);
  return [...byLe].map(([le, count]) => ({ le, count }));
}

const parseLe = (le: string) => (le === '+Inf' ? Infinity : Number(le));

/** The samples of one metric in a text exposition, with their labels. */
function samplesOf(exposition: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]] = l[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}


/** Polls `check` every 100 ms until it returns a value other than undefined. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  instance: string;
}

test('Prometheus scraping two replicas: the summed request counter equals the requests sent, the p99 queue wait across replicas equals the p99 of the summed /metrics buckets', { timeout: 120_000 }, async (t) => {
  const prometheus = tool('prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-prom-'));
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Two replicas: processes of their own, each with its own registry file and log.
  const startReplica = async (name: string): Promise<Replica> => {
    const log = fs.createWriteStream(path.join(dir, `replica-${name}.log`));
    const child = spawn(process.execPath, [...SERVING_V8_FLAGS, CLI, 'serve', '--repository', MODELS, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--registry', path.join(dir, `registry-${name}.sqlite`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const port = await new Promise<number>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(`${line}\n`);
        const rec = JSON.parse(line);
        if (rec.msg === 'infera ready') resolve(rec.port);
      });
      child.once('exit', (code) => reject(new Error(`replica ${name} exited with ${code} before it was ready (log: ${dir}/replica-${name}.log)`)));
    });
    return { name, child, url: `http://127.0.0.1:${port}`, instance: `127.0.0.1:${port}` };
  };
  const [a, b] = await Promise.all([startReplica('a'), startReplica('b')]);

  // Prometheus scraping both every second and evaluating the shipped rules every second.
  const promPort = await freePort();
  const promUrl = `http://127.0.0.1:${promPort}`;
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [RULES],
    scrape_configs: [{ job_name: 'infera', static_configs: [{ targets: [a.instance, b.instance] }] }],
  };
  // JSON is YAML.
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const promLog = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
  const prom = spawn(prometheus, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', promLog, promLog] });
  children.push(prom);
  prom.once('exit', (code) => {
    if (code !== null && code !== 0) process.stderr.write(`prometheus exited with ${code}:\n${fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8').slice(-2000)}\n`);
  });

  type Result = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };
  const query = async (expr: string, time?: number): Promise<Result[]> => {
    const params = new URLSearchParams({ query: expr, ...(time !== undefined ? { time: String(time) } : {}) });
    const res = await fetch(`${promUrl}/api/v1/query?${params}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: Result[] } };
    assert.equal(body.status, 'success', `${expr}: ${body.error}`);
    return body.data.result;
  };
  /** Resolves once both targets have a scrape that started after `ms` (epoch ms). */
  const scrapedAfter = (ms: number, what: string) =>
    until(what, 10_000, async () => {
      const r = await query('timestamp(up{job="infera"})').catch(() => []);
      return r.length === 2 && r.every((s) => Number(s.value![1]) * 1000 > ms) ? Math.max(...r.map((s) => Number(s.value![1]) * 1000)) : undefined;
    });

  await until('prometheus ready', 20_000, async () => ((await fetch(`${promUrl}/-/ready`).catch(() => null))?.status === 200 ? true : undefined));
  const up = await until('both targets up', 15_000, async () => {
    const r = await query('up{job="infera"} == 1');
    return r.length === 2 ? r : undefined;
  });
  assert.deepEqual(up.map((s) => s.metric.instance).sort(), [a.instance, b.instance].sort());

  // Real February 2001 flights through the model's saved feature spec, one row per request.
  const rows = await loadFlights({ from: '2001-02-12', to: '2001-02-13' }, LOAD.a + LOAD.b + 2);
  assert.equal(rows.rows, LOAD.a + LOAD.b + 2);
  const features = transform(loadFeatureSpec(path.join(MODELS, MODEL, '1/feature_spec.json')), columnsOf(rows));
  const bodyOf = (i: number) => JSON.stringify({ inputs: [{ name: 'features', shape: [1, features.width], datatype: 'FP32', data: Array.from(features.data.subarray(i * features.width, (i + 1) * features.width)) }] });
  const sent = new Map<Replica, number>([[a, 0], [b, 0]]);
  const infer = async (r: Replica, row: number) => {
    const res = await fetch(`${r.url}/v2/models/${MODEL}/infer`, { method: 'POST', body: bodyOf(row), headers: { 'Content-Type': 'application/json' } });
    const text = await res.text();
    sent.set(r, sent.get(r)! + 1);
    assert.equal(res.status, 200, text);
    const p = JSON.parse(text).outputs[0].data[0];
    assert.ok(p >= 0 && p <= 1, `a probability: ${text}`);
  };

  // One request each first, so that the counter and histogram series exist (prom-client
  // exports a labelled series from its first observation) and are scraped before the load:
  // rate() then sees the whole load as an increase from that first sample.
  await Promise.all([infer(a, LOAD.a + LOAD.b), infer(b, LOAD.a + LOAD.b + 1)]);
  const warmScrape = await scrapedAfter(Date.now(), 'a scrape after the first requests');

  const load = async (r: Replica, from: number, count: number) => {
    let next = from;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < from + count) await infer(r, next++);
    }));
  };
  const loadStart = Date.now();
  await Promise.all([load(a, 0, LOAD.a), load(b, LOAD.a, LOAD.b)]);
  const loadEnd = Date.now();
  assert.deepEqual([sent.get(a), sent.get(b)], [LOAD.a + 1, LOAD.b + 1]);
  const total = LOAD.a + LOAD.b + 2;

  // Each replica's own /metrics after the load: the independent reference.
  const exposition = new Map<Replica, string>();
  for (const r of [a, b]) exposition.set(r, await (await fetch(`${r.url}/metrics`)).text());
  const bucketsOf = (r: Replica) => samplesOf(exposition.get(r)!, 'infera_queue_duration_seconds_bucket').filter((s) => s.labels.model === MODEL).map((s) => ({ le: parseLe(s.labels.le), count: s.value }));
  const requestsOf = (r: Replica) => samplesOf(exposition.get(r)!, 'infera_inference_requests_total').filter((s) => s.labels.model === MODEL).reduce((n, s) => n + s.value, 0);
  assert.equal(requestsOf(a), LOAD.a + 1, 'replica a counted every request it answered');
  assert.equal(requestsOf(b), LOAD.b + 1, 'replica b counted every request it answered');

  await scrapedAfter(loadEnd, 'a scrape after the load');

  // (a) Counters are exact: the sum across replicas at the latest scrape is every request sent.
  const summed = await query(`sum(infera_inference_requests_total{job="infera",model="${MODEL}"})`);
  assert.equal(Number(summed[0].value![1]), total);
  const perInstance = await query(`sum by (instance) (infera_inference_requests_total{job="infera",model="${MODEL}",outcome="success"})`);
  assert.deepEqual(Object.fromEntries(perInstance.map((s) => [s.metric.instance, Number(s.value![1])])), { [a.instance]: LOAD.a + 1, [b.instance]: LOAD.b + 1 });

  // (b) The p99 across replicas over the raw buckets: Prometheus' sum by (le) and
  // histogram_quantile against the test's own sum of both /metrics and its own quantile.
  const expectedBuckets = sumByLe([bucketsOf(a), bucketsOf(b)]);
  assert.equal(expectedBuckets.find((x) => x.le === Infinity)!.count, total, 'one queue-wait observation per request');
  const promBuckets = await query(`sum by (le) (infera_queue_duration_seconds_bucket{job="infera",model="${MODEL}"})`);
  assert.deepEqual(
    promBuckets.map((s) => ({ le: parseLe(s.metric.le), count: Number(s.value![1]) })).sort((x, y) => x.le - y.le),
    expectedBuckets.sort((x, y) => x.le - y.le),
  );
  const expectedP99 = bucketQuantile(0.99, expectedBuckets);
  const promP99 = Number((await query(`histogram_quantile(0.99, sum by (le) (infera_queue_duration_seconds_bucket{job="infera",model="${MODEL}"}))`))[0].value![1]);
  assert.ok(Number.isFinite(expectedP99) && expectedP99 > 0, `reference p99 ${expectedP99}`);
  assert.ok(Math.abs(promP99 - expectedP99) <= 1e-12 * expectedP99, `Prometheus p99 ${promP99} s vs the test's ${expectedP99} s`);

  // The recording rules: their inputs must stop changing before one of their evaluations can
  // be recomputed (a scrape committing while a rule evaluates would change rate()'s samples),
  // so the replicas stop first. rate1m covers the whole load only if less than a minute passed
  // since the first scrape; more scrapes before the stop narrow rate()'s extrapolation.
  await sleep(Math.max(0, warmScrape + 4_500 - Date.now()));
  for (const r of [a, b]) {
    const exited = new Promise<number | null>((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGTERM');
    assert.equal(await exited, 0, `replica ${r.name} drained and exited 0`);
  }
  const stopped = Date.now();
  await until('both targets down', 10_000, async () => ((await query('up{job="infera"} == 0')).length === 2 ? true : undefined));
  const [ruleT, ruleP99] = await until('a rule evaluation after the stop', 10_000, async () => {
    const r = await query(`${QUEUE_P99_RULE}{model="${MODEL}"}[5s]`);
    const last = r[0]?.values?.at(-1);
    return last && last[0] * 1000 > stopped + 1_500 ? [last[0], Number(last[1])] as const : undefined;
  });
  assert.ok(ruleT * 1000 - warmScrape < 55_000, `the test ran too slowly to check rate1m: ${ruleT * 1000 - warmScrape} ms from the first scrape to the rule evaluation`);

  // The p99 rule at its evaluation time against the test's own sum by (le) and quantile of
  // each replica's bucket rates at that time.
  const rates = await query(`rate(infera_queue_duration_seconds_bucket{job="infera",model="${MODEL}"}[5m])`, ruleT);
  assert.deepEqual(new Set(rates.map((s) => s.metric.instance)), new Set([a.instance, b.instance]));
  const ratesOf = (r: Replica) => rates.filter((s) => s.metric.instance === r.instance).map((s) => ({ le: parseLe(s.metric.le), count: Number(s.value![1]) }));
  const expectedRuleP99 = bucketQuantile(0.99, sumByLe([ratesOf(a), ratesOf(b)]));
  assert.ok(Number.isFinite(ruleP99) && ruleP99 > 0, `rule value ${ruleP99}`);
  assert.ok(Math.abs(ruleP99 - expectedRuleP99) <= 1e-9 * expectedRuleP99, `${QUEUE_P99_RULE} ${ruleP99} s vs the test's ${expectedRuleP99} s`);

  // rate1m × 60 s is the load's increase from the first scrape (LOAD.a + LOAD.b) stretched by
  // rate()'s extrapolation to the window's edges, which never shrinks it and with five or more
  // samples per series stretches it by at most 1 + 1.1/4 + 1/300 (the zero-point limit).
  const rate = Number((await query(`${RATE_RULE}{model="${MODEL}"}`, ruleT))[0].value![1]);
  const increase = rate * 60;
  assert.ok(increase >= (LOAD.a + LOAD.b) * (1 - 1e-12) && increase <= (LOAD.a + LOAD.b) * 1.3, `${RATE_RULE} × 60 = ${increase}, sent ${LOAD.a + LOAD.b} after the first scrape`);

  // The replica-down alerts see both stopped replicas (pending: they fire after 1m).
  const alerts = await until('InferaReplicaDown pending for both replicas', 10_000, async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    const down = res.data.alerts.filter((x) => x.labels.alertname === 'InferaReplicaDown');
    return down.length === 2 ? res.data.alerts : undefined;
  });
  assert.deepEqual(alerts.filter((x) => x.labels.alertname === 'InferaReplicaDown').map((x) => [x.labels.instance, x.state]).sort(), [[a.instance, 'pending'], [b.instance, 'pending']].sort());
  assert.ok(alerts.some((x) => x.labels.alertname === 'InferaNoReplicaUp' && x.state === 'pending'));

  t.diagnostic(`sent ${LOAD.a + 1} + ${LOAD.b + 1} requests in ${loadEnd - loadStart} ms; Prometheus sum ${summed[0].value![1]}; p99 queue wait over the raw buckets ${promP99} s (test ${expectedP99} s); ${QUEUE_P99_RULE} ${ruleP99} s (test ${expectedRuleP99} s); ${RATE_RULE} × 60 = ${increase}`);
});
