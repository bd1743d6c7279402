/**
 * Alert decisions (dedup per window, cooldown per rule) and the webhook sink against a
 * local HTTP server on 127.0.0.1: retries with backoff on 5xx and network errors, none on
 * other 4xx, and a failure after the last attempt.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Registry } from 'prom-client';
import { Alert, AlertManager, AlertSink, Candidate } from '../../../src/monitoring/alerts';
import { createMonitoringMetrics } from '../../../src/monitoring/metrics';
import { WebhookError, WebhookSink } from '../../../src/monitoring/sinks';

class Collect implements AlertSink {
  readonly name = 'collect';
  readonly alerts: Alert[] = [];
  async send(a: Alert): Promise<void> {
    this.alerts.push(a);
  }
}

const candidate = (over: Partial<Candidate> = {}): Candidate => ({
  rule: 'target_drift', type: 'target_drift', model: 'flights-delay', version: 1, window: 'day',
  bounds: { start: Date.parse('2001-02-16T00:00:00Z'), end: Date.parse('2001-02-17T00:00:00Z') },
  firing: true, value: 0.2, limit: 0.1, message: 'label share 0.406 vs reference 0.188', ...over,
});

describe('AlertManager', () => {
  it('sends a firing candidate to every sink, once per window (dedup)', async () => {
    const a = new Collect();
    const b = new Collect();
    const m = new AlertManager({ cooldownMs: 0, sinks: [a, b] });
    assert.ok(m.evaluate(candidate()));
    assert.equal(m.evaluate(candidate()), null, 'the same window re-evaluated as labels arrive');
    assert.equal(m.evaluate(candidate({ firing: false })), null);
    assert.ok(m.evaluate(candidate({ bounds: { start: Date.parse('2001-02-25T00:00:00Z'), end: Date.parse('2001-02-26T00:00:00Z') } })));
    await m.idle();
    assert.equal(a.alerts.length, 2);
    assert.deepEqual(b.alerts.map((x) => x.id), a.alerts.map((x) => x.id));
  });

  it('holds back a rule within its cooldown and counts it', async () => {
    let now = 1_000_000;
    const registry = new Registry();
    const metrics = createMonitoringMetrics(registry);
    const sink = new Collect();
    const m = new AlertManager({ cooldownMs: 60_000, sinks: [sink], metrics, now: () => now });
    const day = (d: number) => ({ bounds: { start: d, end: d + 1 } });
    assert.ok(m.evaluate(candidate(day(1))));
    now += 30_000;
    assert.equal(m.evaluate(candidate(day(2))), null, 'inside the cooldown');
    assert.ok(m.evaluate(candidate({ ...day(2), rule: 'auc_drop', type: 'auc_drop' })), 'another rule has its own cooldown');
    assert.ok(m.evaluate(candidate({ ...day(3), cooldownMs: 0 })), 'a rule may set its own cooldown');
    now += 60_000;
    assert.ok(m.evaluate(candidate(day(4))));
    await m.idle();
    assert.equal(sink.alerts.length, 4);
    const text = await registry.metrics();
    assert.match(text, /infera_alerts_suppressed_total\{model="flights-delay",version="1",rule="target_drift"\} 1/);
    assert.match(text, /infera_alerts_fired_total\{model="flights-delay",version="1",rule="target_drift"\} 3/);
  });

  it('keeps evaluating when a sink fails', async () => {
    const failing: AlertSink = { name: 'down', send: async () => Promise.reject(new Error('down')) };
    const errors: string[] = [];
    const m = new AlertManager({ cooldownMs: 0, sinks: [failing], onSinkError: (s, _a, e) => errors.push(`${s}: ${(e as Error).message}`) });
    assert.ok(m.evaluate(candidate()));
    await m.idle();
    assert.deepEqual(errors, ['down: down']);
  });
});

describe('WebhookSink', () => {
  let server: http.Server;
  let url: string;
  /** Status codes to answer, in order (200 once exhausted). */
  let script: number[] = [];
  const hits: { at: number; body: any }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hits.push({ at: performance.now(), body: JSON.parse(body) });
        const status = script.shift() ?? 200;
        if (status === 0) req.socket.destroy(); // a dropped connection
        else res.writeHead(status, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  });
  after(() => new Promise((r) => server.close(r)));

  const alert = (): Alert => ({ id: 'a1', rule: 'auc_drop', type: 'auc_drop', severity: 'critical', model: 'flights-delay', version: 1, value: 0.61, limit: 0.628, message: 'live AUC 0.61 < 0.628', at: '2026-01-01T00:00:00.000Z' });

  it('POSTs the alert as JSON and retries 5xx and dropped connections with exponential backoff', async () => {
    hits.length = 0;
    script = [503, 0, 200];
    const registry = new Registry();
    const metrics = createMonitoringMetrics(registry);
    await new WebhookSink({ url, backoff_ms: 40, max_attempts: 4 }, metrics).send(alert());
    assert.equal(hits.length, 3);
    assert.deepEqual(hits[2].body, alert());
    const gaps = [hits[1].at - hits[0].at, hits[2].at - hits[1].at];
    assert.ok(gaps[0] >= 35 && gaps[1] >= 75, `backoff 40 ms then 80 ms, got ${gaps.map((g) => g.toFixed(0))}`);
    assert.match(await registry.metrics(), /infera_alert_webhook_deliveries_total\{outcome="delivered"\} 1/);
  });

  it('BAD CALL - gives up after max_attempts, and at once on a 4xx refusal', async () => {
    hits.length = 0;
    script = [500, 500, 500];
    await assert.rejects(new WebhookSink({ url, backoff_ms: 5, max_attempts: 3 }).send(alert()), (e: unknown) => {
      assert.ok(e instanceof WebhookError);
      assert.equal(e.attempts, 3);
      assert.match(e.message, /HTTP 500$/);
      return true;
    });
    assert.equal(hits.length, 3);
    hits.length = 0;
    script = [400];
    await assert.rejects(new WebhookSink({ url, backoff_ms: 5, max_attempts: 3 }).send(alert()), (e: unknown) => e instanceof WebhookError && e.attempts === 1 && /HTTP 400$/.test(e.message));
    assert.equal(hits.length, 1);
  });

  it('BAD CALL - an unreachable receiver fails after the attempts', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(new WebhookSink({ url: `http://127.0.0.1:${port}/`, backoff_ms: 1, max_attempts: 2, timeout_ms: 500 }).send(alert()), (e: unknown) => e instanceof WebhookError && e.attempts === 2);
  });
});
