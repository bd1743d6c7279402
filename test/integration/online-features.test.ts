// Online features end to end on real flights: `infera train` with online_features (the smoke
// windows), the server fed a replayed day (Feb 2, 2001) of events hour by hour through
// POST /v2/features/flights/events while /predict scores that hour's flights. The values
// served equal the training-set builder's for the same rows bit for bit, the predictions
// equal the model run in process on them, and the served AUC equals the offline one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ingest, readColumns, Warehouse } from '../../src/data/warehouse';
import { loadFeatureSpec, transform, type FeatureSpec } from '../../src/features';
import { addOnlineColumns } from '../../src/features/online-sql';
import { formatNaive } from '../../src/features/time';
import { runPipeline } from '../../src/pipeline/run-pipeline';
import { auc } from '../../src/stats/classification';
import { FLIGHTS, ROOT } from '../unit/features/flights-data';
import { getJson, postJson, Running, startServer } from '../helpers/server';

const HOUR = 3_600_000;
const DAY = { from: Date.UTC(2001, 1, 2), to: Date.UTC(2001, 1, 3) };
let tmp: string;
let srv: Running;
let spec: FeatureSpec;
let names: string[];
/** The day's flights with the builder's online columns, in time order. */
let day: Record<string, Float64Array | string[]>;
let dayRows: number;
/** Every event from seven days before the day to its end, in time order. */
let events: Record<string, Float64Array | string[]>;

async function offlineColumns(): Promise<void> {
  const wh = await Warehouse.open();
  try {
    await ingest(wh, FLIGHTS, 'day', { timestamp: 'date', window: { from: '2001-02-02', to: '2001-02-03' } });
    await wh.conn.run(`CREATE TABLE ev AS SELECT * FROM read_parquet('${FLIGHTS}') WHERE date >= TIMESTAMP '2001-01-26' AND date < TIMESTAMP '2001-02-03'`);
    await addOnlineColumns(wh, 'day', 'ev', spec.online!);
    const kinds = { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string', delay: 'number', ...Object.fromEntries(names.map((n) => [n, 'number'])) } as const;
    const d = await readColumns(wh, 'day', kinds, { timestamp: 'date' });
    day = d.columns;
    dayRows = d.rows;
    events = (await readColumns(wh, 'ev', { date: 'epoch_ms', origin: 'string', destination: 'string', delay: 'number' }, { timestamp: 'date' })).columns;
  } finally {
    wh.close();
  }
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-online-'));
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay-smoke.json'), 'utf8'));
  const online = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipelines/flights-delay-online.json'), 'utf8')).online_features;
  Object.assign(cfg, { name: 'flights-online', online_features: online, source: { path: FLIGHTS } });
  fs.writeFileSync(path.join(tmp, 'pipeline.json'), JSON.stringify(cfg));
  const res = await runPipeline({ pipelineFile: path.join(tmp, 'pipeline.json'), repository: path.join(tmp, 'models'), progress: false, log: () => undefined });
  assert.equal(res.registered, true);
  spec = loadFeatureSpec(path.join(tmp, 'models/flights-online/1/feature_spec.json'));
  names = spec.online!.features.map((f) => f.name);
  await offlineColumns();
  srv = await startServer({ repository: path.join(tmp, 'models') });
});

after(async () => {
  await srv?.server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const clientRow = (i: number) => ({ date: formatNaive((day.date as Float64Array)[i]), distance: (day.distance as Float64Array)[i], origin: (day.origin as string[])[i], destination: (day.destination as string[])[i] });
const eventOf = (k: number) => ({ date: formatNaive((events.date as Float64Array)[k]), origin: (events.origin as string[])[k], destination: (events.destination as string[])[k], delay: (events.delay as Float64Array)[k] });
const metric = async (pattern: RegExp): Promise<number> => {
  const m = (await (await fetch(`${srv.url}/metrics`)).text()).match(pattern);
  return m ? Number(m[1]) : 0;
};

test('the trained version declares its online features; the client sends only its own fields', () => {
  assert.deepStrictEqual(names, ['origin_late_1d', 'origin_late_7d', 'origin_delay_1d', 'origin_flights_1d', 'destination_late_1d', 'route_late_7d']);
  const model = JSON.parse(fs.readFileSync(path.join(tmp, 'models/flights-online/model.json'), 'utf8'));
  assert.deepStrictEqual(model.predict.features.map((f: { name: string }) => f.name), ['date', 'distance', 'origin', 'destination']);
});

test('without events the source is stale: /predict answers with the defaults and counts them', async () => {
  const before = await metric(/infera_online_feature_defaults_total\{model="flights-online",version="1",feature="origin_late_1d",reason="stale"\} (\d+)/);
  const r = await postJson(`${srv.url}/predict`, { model: 'flights-online', features: clientRow(0), return_online_features: true });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepStrictEqual(r.json.online_features, Object.fromEntries(spec.online!.features.map((f) => [f.name, f.default])));
  assert.equal(await metric(/infera_online_feature_defaults_total\{model="flights-online",version="1",feature="origin_late_1d",reason="stale"\} (\d+)/), before + 1);
});

test('bad events and requests get a 4xx with a code and change nothing', async () => {
  const held = async () => (await getJson(`${srv.url}/v2/features`)).json.sources[0].events as number;
  const before = await held();
  const bad = await postJson(`${srv.url}/v2/features/flights/events`, { events: [eventOf(0), { ...eventOf(1), delay: 'late' }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, 'ENG_ERR_BAD_REQUEST');
  assert.match(bad.json.error, /events\[1\]: field 'delay': expected a finite number; no event of this request was stored/);
  assert.equal(await held(), before);
  const unknown = await postJson(`${srv.url}/v2/features/trains/events`, { events: [eventOf(0)] });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.code, 'ENG_ERR_SOURCE_NOT_FOUND');
  const empty = await postJson(`${srv.url}/v2/features/flights/events`, { events: [] });
  assert.equal(empty.status, 400);
  const sent = await postJson(`${srv.url}/predict`, { model: 'flights-online', features: { ...clientRow(0), origin_late_1d: 0.9 } });
  assert.equal(sent.status, 400);
  assert.match(sent.json.error, /field 'origin_late_1d': computed by the server from the 'flights' events; do not send it/);
});

test('a replayed day: served values equal the builder\'s bit for bit, predictions the in-process model\'s, the AUC the offline AUC', async () => {
  const evTimes = events.date as Float64Array;
  let nextEvent = 0;
  const sendEventsUntil = async (t: number) => {
    const batch: number[] = [];
    while (nextEvent < evTimes.length && evTimes[nextEvent] < t) batch.push(nextEvent++);
    for (let i = 0; i < batch.length; i += 20_000) {
      const r = await postJson(`${srv.url}/v2/features/flights/events`, { events: batch.slice(i, i + 20_000).map(eventOf) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.too_old, 0);
    }
  };
  const served = new Float64Array(dayRows);
  const servedFeatures: Record<string, number>[] = [];
  const times = day.date as Float64Array;
  let row = 0;
  // Hour by hour: the events of everything before the hour arrive, then the hour's flights are scored.
  for (let h = DAY.from; h < DAY.to; h += HOUR) {
    await sendEventsUntil(h);
    const idx: number[] = [];
    while (row < dayRows && times[row] < h + HOUR) idx.push(row++);
    for (let i = 0; i < idx.length; i += 256) {
      const part = idx.slice(i, i + 256);
      const r = await postJson(`${srv.url}/predict`, { model: 'flights-online', instances: part.map(clientRow), return_online_features: true });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      r.json.predictions.forEach((p: { probabilities: number[]; online_features: Record<string, number> }, k: number) => {
        served[part[k]] = p.probabilities[1];
        servedFeatures[part[k]] = p.online_features;
      });
    }
  }
  assert.equal(row, dayRows);
  assert.ok(dayRows > 10_000, `${dayRows} flights`);
  // Every served value is the builder's.
  let nonDefault = 0;
  for (let i = 0; i < dayRows; i++) {
    for (const f of spec.online!.features) {
      assert.strictEqual(servedFeatures[i][f.name], (day[f.name] as Float64Array)[i], `row ${i} ${f.name}`);
      if (servedFeatures[i][f.name] !== f.default) nonDefault++;
    }
  }
  assert.ok(nonDefault > dayRows * names.length * 0.9, `${nonDefault} values from events`);
  // The model in process on the builder's columns (the trainer's transform).
  const t = transform(spec, day as never);
  const session = await ort.InferenceSession.create(path.join(tmp, 'models/flights-online/1/model.onnx'));
  const offline = (await session.run({ features: new ort.Tensor('float32', t.data, [dayRows, t.width]) })).probability.data as Float32Array;
  await session.release();
  let worst = 0;
  for (let i = 0; i < dayRows; i++) worst = Math.max(worst, Math.abs(served[i] - offline[i]));
  assert.ok(worst <= 1e-5, `max |served − offline| ${worst}`);
  const labels = Uint8Array.from(day.delay as Float64Array, (d) => (d > 15 ? 1 : 0));
  const [aucServed, aucOffline] = [auc(labels, served), auc(labels, Float64Array.from(offline))];
  assert.ok(Math.abs(aucServed - aucOffline) <= 0.005, `served AUC ${aucServed} vs offline ${aucOffline}`);
  assert.ok(aucOffline > 0.6, `AUC ${aucOffline}`);
});

test('a restarted server keeps the events it was sent (the registry\'s SQLite file) and serves the same values', async () => {
  const registryPath = path.join(tmp, 'registry.sqlite');
  // The last 20,000 events before the day, and three of its flights.
  const times = events.date as Float64Array;
  let end = 0;
  while (end < times.length && times[end] < DAY.from) end++;
  const sent = Array.from({ length: 20_000 }, (_, k) => eventOf(end - 20_000 + k));
  const rows = [0, 100, 200].map(clientRow);
  const first = await startServer({ repository: path.join(tmp, 'models'), registryPath });
  let before;
  try {
    const r = await postJson(`${first.url}/v2/features/flights/events`, { events: sent });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    before = await postJson(`${first.url}/predict`, { model: 'flights-online', instances: rows, return_online_features: true });
    assert.ok(before.json.predictions.some((p: { online_features: Record<string, number> }) => p.online_features.origin_flights_1d > 0));
  } finally {
    await first.server.stop();
  }
  const second = await startServer({ repository: path.join(tmp, 'models'), registryPath });
  try {
    const held = (await getJson(`${second.url}/v2/features`)).json.sources[0].events;
    assert.equal(held, 20_000);
    const after = await postJson(`${second.url}/predict`, { model: 'flights-online', instances: rows, return_online_features: true });
    assert.deepStrictEqual(after.json.predictions.map((p: { online_features: unknown; probabilities: unknown }) => [p.online_features, p.probabilities]), before.json.predictions.map((p: { online_features: unknown; probabilities: unknown }) => [p.online_features, p.probabilities]));
  } finally {
    await second.server.stop();
  }
});
