/**
 * Online features across replicas sharing one real PostgreSQL: events posted to replica A
 * are served by B (pulled within a second) and by C, started afterwards (it loads the
 * history before it is ready); every replica answers the same values and probabilities for
 * the same real flights. With the database down, ingest answers 503 and stores nothing.
 * The model is trained here from pipelines/flights-online-smoke.json (real January flights).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readColumns, Warehouse } from '../../src/data/warehouse';
import { formatNaive } from '../../src/features/time';
import { runPipeline } from '../../src/pipeline/run-pipeline';
import { PostgresServer } from '../helpers/postgres-server';
import { getJson, postJson, Running, startServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { FLIGHTS, ROOT } from '../unit/features/flights-data';

async function flights(where: string, kinds: Record<string, 'epoch_ms' | 'string' | 'number'>): Promise<Record<string, unknown>[]> {
  const wh = await Warehouse.open();
  try {
    await wh.conn.run(`CREATE TABLE f AS SELECT * FROM read_parquet('${FLIGHTS}') WHERE ${where}`);
    const { columns, rows } = await readColumns(wh, 'f', kinds, { timestamp: 'date' });
    return Array.from({ length: rows }, (_, i) => Object.fromEntries(Object.keys(kinds).map((k) => [k, k === 'date' ? formatNaive((columns.date as Float64Array)[i]) : (columns[k] as ArrayLike<unknown>)[i]])));
  } finally {
    wh.close();
  }
}

describe('replicas share online feature events through PostgreSQL', () => {
  let pg: PostgresServer;
  let tmp: string;
  const running: Running[] = [];
  let events: Record<string, unknown>[];
  let morning: Record<string, unknown>[];
  const held = async (r: Running) => (await getJson(`${r.url}/v2/features`)).json.sources[0]?.events as number;
  const answers = async (r: Running) => {
    const res = await postJson(`${r.url}/predict`, { model: 'flights-online', instances: morning, return_online_features: true });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json.predictions.map((p: { probabilities: number[]; online_features: Record<string, number> }) => ({ p: p.probabilities[1], f: p.online_features }));
  };

  before(async () => {
    pg = await PostgresServer.start();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-online-replicas-'));
    const res = await runPipeline({ pipelineFile: path.join(ROOT, 'pipelines/flights-online-smoke.json'), repository: path.join(tmp, 'models'), progress: false, log: () => undefined });
    assert.equal(res.registered, true);
    events = await flights("date >= TIMESTAMP '2001-01-26' AND date < TIMESTAMP '2001-02-02 09:00'", { date: 'epoch_ms', origin: 'string', destination: 'string', delay: 'number' });
    morning = (await flights("date >= TIMESTAMP '2001-02-02 09:00' AND date < TIMESTAMP '2001-02-02 10:00'", { date: 'epoch_ms', distance: 'number', origin: 'string', destination: 'string' })).slice(0, 200);
    for (let i = 0; i < 2; i++) running.push(await startServer({ repository: path.join(tmp, 'models'), databaseUrl: pg.url, workers: 1 }));
  });

  after(async () => {
    for (const r of running) await r.server.stop();
    pg?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('events posted to A are served by B, and by C started afterwards, with the same values', async () => {
    const [a, b] = running;
    for (let i = 0; i < events.length; i += 50_000) {
      const r = await postJson(`${a.url}/v2/features/flights/events`, { events: events.slice(i, i + 50_000) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const total = await held(a);
    assert.ok(total > 50_000, `${total} events held`);
    await waitFor('B to hold the events', () => held(b), (n) => n === total);
    const fromA = await answers(a);
    assert.ok(fromA.every((x: { f: Record<string, number> }) => x.f.origin_flights_1d > 0), 'every morning flight sees its airport\'s day');
    assert.deepStrictEqual(await answers(b), fromA);
    const c = await startServer({ repository: path.join(tmp, 'models'), databaseUrl: pg.url, workers: 1 });
    running.push(c);
    assert.equal(await held(c), total, 'C holds the history as soon as it is ready');
    assert.deepStrictEqual(await answers(c), fromA);
  });

  it('with the database down, ingest answers 503 and no replica stores the events', async () => {
    const [a, b] = running;
    const before = await held(a);
    pg.stop();
    try {
      const r = await postJson(`${a.url}/v2/features/flights/events`, { events: [{ date: '2001-02-02T09:30:00', origin: 'ORD', destination: 'LGA', delay: 45 }] });
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.equal(r.json.code, 'ENG_ERR_DATABASE_UNAVAILABLE');
      assert.equal(await held(a), before);
      // /predict still answers from what the replica holds.
      assert.equal((await postJson(`${b.url}/predict`, { model: 'flights-online', features: morning[0] })).status, 200);
    } finally {
      pg.start();
    }
    const r = await waitFor('ingest after the database returns', () => postJson(`${a.url}/v2/features/flights/events`, { events: [{ date: '2001-02-02T09:30:00', origin: 'ORD', destination: 'LGA', delay: 45 }] }), (x) => x.status === 200);
    assert.equal(r.json.accepted, 1);
    await waitFor('B to hold the new event', () => held(b), (n) => n === before + 1);
  });
});
