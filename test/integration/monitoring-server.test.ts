/**
 * Monitoring through a running server: two real days of flights (2001-02-15 and -16,
 * 3000 rows each) scored by a real flights-delay model, observed as the serving hook
 * observes them, labelled through POST /v2/models/{m}/feedback, and read back through
 * GET /v2/models/{m}/monitoring, the HTML report (in headless Chromium when installed),
 * /metrics and an alert webhook on 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { auc } from '../../src/stats/classification';
import { DayRows, OfflineModel, readDays } from '../../src/monitoring/replay';
import { getJson, postJson, Running, startServer } from '../helpers/server';
import { FLIGHTS_PARQUET } from '../unit/monitoring/flight-rows';
import { labelItems, observeDay } from '../unit/monitoring/traffic';
import { TrainedModel, trainSmokeModel } from '../unit/monitoring/trained-model';
import { loadConfigFile } from '../../src/monitoring/config';

const CHROMIUM = '/usr/bin/chromium';

describe('monitoring through the server', () => {
  let trained: TrainedModel;
  let model: OfflineModel;
  let running: Running;
  let hook: http.Server;
  let hookUrl: string;
  const received: { status: number; body: any }[] = [];
  const days: { d: DayRows; p: Float32Array }[] = [];
  let base: string;

  before(async () => {
    trained = await trainSmokeModel();
    model = await OfflineModel.load(trained.repository, trained.model);
    for await (const d of readDays(FLIGHTS_PARQUET, model, '2001-02-15', '2001-02-17', 3000)) days.push({ d, p: await model.predict(d.columns, d.rows) });
    // The webhook refuses its first delivery with 503: the sink must retry.
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const status = received.length === 0 ? 503 : 200;
        received.push({ status, body: JSON.parse(body) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`;
    const config = {
      windows: [{ name: 'day', type: 'time', length: '1d', clock: 'event', keep: 30 }, { name: 'rows', type: 'count', length: 4000, step: 2000 }],
      performance: { min_labels: 100 },
      alerts: {
        cooldown_ms: 0,
        webhook: { url: hookUrl, backoff_ms: 20, max_attempts: 3 },
        rules: [{ type: 'target_drift', window: 'day' }, { type: 'auc_drop', window: 'day', max_drop: 0.05 }, { type: 'drift_share', threshold: 0.5 }, { type: 'latency_p99', objective_ms: 1, min_requests: 10 }, { type: 'error_rate', max: 0.02, min_requests: 10 }],
      },
    };
    const file = path.join(trained.tmp, 'monitoring.json');
    fs.writeFileSync(file, JSON.stringify(config));
    running = await startServer({ repository: trained.repository, monitoring: loadConfigFile(file) });
    base = `${running.url}/v2/models/${trained.model}`;
  });

  after(async () => {
    await running?.server.stop();
    await new Promise((r) => hook?.close(r));
    await model?.close();
    fs.rmSync(trained.tmp, { recursive: true, force: true });
  });

  it('profiles served traffic, joins labels and reports live quality per window', async () => {
    const hub = running.server.monitoring;
    const names = model.card.label.names as [string, string];
    observeDay(hub, model, days[0].d, days[0].p);
    const fb = await postJson(`${base}/feedback`, { items: labelItems(days[0].d, names) });
    assert.equal(fb.status, 200, JSON.stringify(fb.json));
    assert.deepEqual(fb.json, { matched: 3000, unknown: 0, unknown_ids: [] });
    observeDay(hub, model, days[1].d, days[1].p);
    const items = labelItems(days[1].d);
    assert.equal((await postJson(`${base}/feedback`, items[0])).json.matched, 1);
    assert.equal((await postJson(`${base}/feedback`, { items: items.slice(1) })).json.matched, 2999);

    const { status, json } = await getJson(`${base}/monitoring`);
    assert.equal(status, 200);
    assert.deepEqual(json.unmonitored_versions, []);
    const v = json.versions[0];
    assert.equal(v.version, trained.version);
    assert.equal(v.rows_observed, 6000);
    assert.deepEqual(v.log, { rows: 6000, labelled: 6000, sample_rate: 1 });
    const day = v.windows.find((w: any) => w.name === 'day');
    assert.equal(day.closed.length, 1);
    assert.equal(day.closed[0].from, '2001-02-15T00:00:00.000Z');
    assert.equal(day.closed[0].rows, 3000);
    assert.equal(day.current.from, '2001-02-16T00:00:00.000Z');
    for (const [w, { d, p }] of [[day.closed[0], days[0]], [day.current, days[1]]] as const) {
      assert.equal(w.performance.labelled, 3000);
      assert.ok(Math.abs(w.performance.auc - auc(d.labels, p)) < 1e-12, `live AUC ${w.performance.auc} vs offline ${auc(d.labels, p)}`);
      assert.ok(Math.abs(w.performance.positive_rate - d.labels.reduce((a, b) => a + b, 0) / d.rows) < 1e-12);
    }
    // Day windows skip the weekday column; the others are tested.
    assert.deepEqual(day.closed[0].drift.skipped.map((s: any) => s.column), ['date.day_of_week']);
    assert.ok(day.closed[0].drift.columns.length >= 4);
    assert.equal(day.closed[0].performance.target_drift.drifted, true, 'one third of the flights late vs the holdout base rate');
    assert.equal(day.closed[0].flagged, true);
    const rows = v.windows.find((w: any) => w.name === 'rows');
    assert.deepEqual(rows.closed.map((w: any) => [w.start, w.end, w.rows]), [[-2000, 2000, 2000], [0, 4000, 4000]]);
    // 120 requests of 50 rows at 2 ms each; then 5 failed requests: 4% errors.
    assert.deepEqual([v.ops.requests, v.ops.errors], [120, 0]);
    for (let i = 0; i < 5; i++) hub.observeError(trained.model, trained.version);
    // The latency and error-rate rules are evaluated at most once a second, as the thread profiles.
    await new Promise((r) => setTimeout(r, 1100));
    await hub.flush();
    const after = (await getJson(`${base}/monitoring`)).json.versions[0].ops;
    assert.equal(after.errors, 5);
    assert.ok(Math.abs(after.error_rate - 5 / 125) < 1e-12);
    assert.ok(after.p99_ms >= 2 && after.p99_ms < 2.1, `p99 ${after.p99_ms}`);
  });

  it('sends alerts to the webhook (retrying a 503) and counts them in /metrics', async () => {
    await running.server.monitoring.alerts.idle();
    const rules = received.filter((r) => r.status === 200).map((r) => r.body.rule).sort();
    assert.ok(rules.includes('target_drift'), `alerts: ${rules}`);
    assert.ok(rules.includes('latency_p99'), `alerts: ${rules}`);
    assert.ok(rules.includes('error_rate'), `alerts: ${rules}`);
    // The refused first delivery came again with the same alert id.
    assert.equal(received[0].status, 503);
    assert.ok(received.slice(1).some((r) => r.status === 200 && r.body.id === received[0].body.id), 'the refused alert was retried');
    const target = received.find((r) => r.body.rule === 'target_drift')!.body;
    assert.equal(target.model, trained.model);
    assert.equal(target.window, 'day');
    assert.deepEqual(target.bounds, { start: Date.parse('2001-02-15T00:00:00Z'), end: Date.parse('2001-02-16T00:00:00Z') });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    const v = trained.version;
    assert.match(metrics, new RegExp(`infera_live_auc\\{model="flights-delay",version="${v}",window="day"\\} 0\\.\\d+`));
    assert.match(metrics, new RegExp(`infera_drift_score\\{model="flights-delay",version="${v}",window="day",column="distance",test="wasserstein"\\} \\d`));
    assert.match(metrics, new RegExp(`infera_alerts_fired_total\\{model="flights-delay",version="${v}",rule="target_drift"\\} 1`));
    assert.match(metrics, /infera_feedback_labels_total\{model="flights-delay",outcome="matched"\} 6000/);
    assert.match(metrics, /infera_alert_webhook_deliveries_total\{outcome="delivered"\} \d/);
    // Every observation was taken by the monitoring thread (the feedback and status calls flushed).
    assert.match(metrics, /\ninfera_monitoring_backlog_rows 0\n/);
    assert.match(metrics, /\ninfera_monitoring_thread_idle_priority [01]\n/);
  });

  it('serves the HTML report with inline SVG charts', async () => {
    const res = await fetch(`${base}/monitoring/report`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    for (const chart of ['drift-over-time', 'auc-over-time', 'histogram-distance', 'histogram-origin', 'histogram-prediction']) assert.ok(html.includes(`data-chart="${chart}"`), chart);
    assert.ok(!/<script/i.test(html), 'no scripts');
  });

  it('renders the report in headless Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed` }, async () => {
    const { chromium } = await import('playwright-core');
    const profile = fs.mkdtempSync(path.join(trained.tmp, 'chromium-'));
    // A fresh profile directory: playwright passes it as --user-data-dir.
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      const res = await page.goto(`${base}/monitoring/report`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.title(), `Monitoring: ${trained.model}`);
      const charts = await page.$$eval('svg[data-chart]', (els) => els.map((e) => ({ id: e.getAttribute('data-chart'), w: e.getBoundingClientRect().width, marks: e.querySelectorAll('rect.bar, circle.point').length })));
      const byId = new Map(charts.map((c) => [c.id, c]));
      const bins = model.baseline.columns.find((c) => c.name === 'distance')!.counts.length;
      assert.equal(byId.get('histogram-distance')?.marks, 2 * bins, 'baseline and live bar per distance bin');
      assert.ok((byId.get('auc-over-time')?.marks ?? 0) >= 1, 'a live AUC point');
      for (const c of charts) assert.ok(c.w > 100, `${c.id} is laid out`);
      const windowRows = await page.$$eval('table[data-table="windows"] tr', (trs) => trs.length);
      assert.ok(windowRows >= 3, 'a header, the closed and the open day');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  it('BAD CALL - feedback: malformed JSON, no items, bad label, unknown model', async () => {
    const bad = await postJson(`${base}/feedback`, '{"items": [');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /^malformed JSON: /); // ENG_ERR_MALFORMED_JSON
    const empty = await postJson(`${base}/feedback`, { items: [] });
    assert.equal(empty.status, 400);
    assert.match(empty.json.error, /^bad request: 'items' must be a non-empty array/); // ENG_ERR_BAD_REQUEST
    const label = await postJson(`${base}/feedback`, { items: [{ id: '2001-02-15#0', label: 1 }, { id: '2001-02-15#1', label: 'maybe' }] });
    assert.equal(label.status, 400);
    assert.match(label.json.error, /^bad request: items\.1\.label must be 0, 1, true, false, 'on_time' or 'delayed', got "maybe"/);
    const noId = await postJson(`${base}/feedback`, { label: 1 });
    assert.equal(noId.status, 400);
    assert.match(noId.json.error, /^bad request: items\.0\.id must be a non-empty string/);
    const shape = await postJson(`${base}/feedback`, { labels: [] });
    assert.equal(shape.status, 400);
    assert.match(shape.json.error, /^bad request: send \{id, label\}/);
    const model = await postJson(`${running.url}/v2/models/nope/feedback`, { id: 'a', label: 1 });
    assert.equal(model.status, 404);
    assert.match(model.json.error, /^unknown model: /); // ENG_ERR_MODEL_NOT_FOUND
    const unknown = await postJson(`${base}/feedback`, { id: 'never-served', label: 0 });
    assert.deepEqual([unknown.status, unknown.json], [200, { matched: 0, unknown: 1, unknown_ids: ['never-served'] }]);
  });

  it('BAD CALL - monitoring: unknown window, bad limit, unknown version or model, bad name', async () => {
    const window = await getJson(`${base}/monitoring?window=fortnight`);
    assert.equal(window.status, 400);
    assert.match(window.json.error, /^bad request: unknown window 'fortnight'; configured: 'day', 'rows'/);
    const limit = await getJson(`${base}/monitoring?limit=0`);
    assert.equal(limit.status, 400);
    assert.match(limit.json.error, /^bad request: 'limit' must be an integer in \[1, 1000\]/);
    const version = await getJson(`${base}/monitoring?version=9`);
    assert.equal(version.status, 404);
    assert.match(version.json.error, /^unknown model version: /); // ENG_ERR_VERSION_NOT_FOUND
    const model = await getJson(`${running.url}/v2/models/nope/monitoring/report`);
    assert.equal(model.status, 404);
    assert.match(model.json.error, /^unknown model: /);
    const name = await getJson(`${running.url}/v2/models/bad%20name/monitoring`);
    assert.equal(name.status, 400);
    assert.match(name.json.error, /^invalid model name or version: /); // ENG_ERR_BAD_NAME
  });
});
