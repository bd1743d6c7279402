/**
 * The demonstration: days of February–May 2001 replayed through the server one after the
 * other against the registered flights-delay model (trained on January), with the day's
 * labels fed back after each day. Days that really differ from January in their delays
 * are flagged; calm days are not; the live AUC of every day window equals the AUC
 * computed offline on the same rows within 0.005.
 *
 * Traffic goes through POST /predict (feature dicts + id), which feeds the monitoring thread.
 * Needs models/flights-delay (`infera train pipelines/flights-delay.json`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auc } from '../../src/stats/classification';
import { DayRows, OfflineModel, readDays } from '../../src/monitoring/replay';
import { getJson, MODELS, postJson, Running, startServer } from '../helpers/server';
import { FLIGHTS_PARQUET } from '../unit/monitoring/flight-rows';
import { featureDicts, idsOf, labelItems } from '../unit/monitoring/traffic';
import { loadConfigFile } from '../../src/monitoring/config';

const REPOSITORY = process.env.INFERA_DEMO_REPOSITORY ?? MODELS;
const HAVE_MODEL = fs.existsSync(path.join(REPOSITORY, 'flights-delay/model.json'));
const ROWS_PER_DAY = 3000;
/** 38–42% of flights late (02-16, 02-25, 04-06), or 6% (04-28): far from January's 21%. */
const STORMY = ['2001-02-16', '2001-02-25', '2001-04-06', '2001-04-28'];
// Within 4 points of the training window's 21 % late (2001-04-04, 14 % late, is not: it moved 7
// points, past the target-drift floor of 5).
const CALM = ['2001-02-19', '2001-02-20', '2001-04-05', '2001-05-23'];
const DAYS = [...STORMY, ...CALM].sort();

/** Runs `work` over items with at most `n` in flight. */
async function pool<T>(items: T[], n: number, work: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

describe('replaying February–May 2001 through the server', { skip: !HAVE_MODEL && `waiting for ${REPOSITORY}/flights-delay (infera train pipelines/flights-delay.json)` }, () => {
  let model: OfflineModel;
  let running: Running;
  let tmp: string;
  const offline = new Map<string, { d: DayRows; p: Float32Array }>();

  before(async () => {
    model = await OfflineModel.load(REPOSITORY, 'flights-delay');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-demo-'));
    const config = {
      windows: [{ name: 'day', type: 'time', length: '1d', clock: 'event', keep: 60 }],
      performance: { min_labels: 200 },
      alerts: { cooldown_ms: 0, rules: [{ type: 'target_drift' }, { type: 'auc_drop', max_drop: 0.05 }, { type: 'drift_share', threshold: 0.5 }, { type: 'prediction_drift' }] },
    };
    fs.writeFileSync(path.join(tmp, 'monitoring.json'), JSON.stringify(config));
    running = await startServer({ repository: REPOSITORY, monitoring: loadConfigFile(path.join(tmp, 'monitoring.json')) });
  });

  after(async () => {
    await running?.server.stop();
    await model?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Serves one day's rows through POST /predict (feature dicts + id); returns the server's probabilities. */
  async function serveDay(d: DayRows): Promise<Float32Array> {
    const dicts = featureDicts(model, d);
    const ids = idsOf(d);
    const served = new Float32Array(d.rows);
    await pool(Array.from({ length: d.rows }, (_, i) => i), 32, async (i) => {
      const r = await postJson(`${running.url}/predict`, { model: 'flights-delay', features: dicts[i], id: ids[i] });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      served[i] = r.json.probabilities[1];
    });
    return served;
  }

  it('flags the days that differ from January, not the calm ones, with the live AUC of the offline computation', async () => {
    const served = new Map<string, Float32Array>();
    const names = model.card.label.names as [string, string];
    for (const day of DAYS) {
      const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      for await (const d of readDays(FLIGHTS_PARQUET, model, day, next, ROWS_PER_DAY)) {
        offline.set(day, { d, p: await model.predict(d.columns, d.rows) });
        served.set(day, await serveDay(d));
        const fb = await postJson(`${running.url}/v2/models/flights-delay/feedback`, { items: labelItems(d, names) });
        assert.deepEqual(fb.json, { matched: d.rows, unknown: 0, unknown_ids: [] });
      }
    }
    const { status, json } = await getJson(`${running.url}/v2/models/flights-delay/monitoring?window=day&limit=100`);
    assert.equal(status, 200);
    const v = json.versions.find((x: any) => x.version === model.baseline.version);
    const win = v.windows[0];
    const windows = [...win.closed, win.current];
    assert.deepEqual(windows.map((w: any) => w.from.slice(0, 10)), DAYS);
    const report: string[] = [];
    for (const w of windows) {
      const day = w.from.slice(0, 10);
      const { d, p } = offline.get(day)!;
      const offlineAuc = auc(d.labels, p);
      report.push(`${day} rows ${w.rows} late ${(100 * w.performance.positive_rate).toFixed(1)}% target ${(100 * w.performance.target_drift.difference).toFixed(1)}pt inputs ${w.drift.share} prediction ${w.predictions.score.toFixed(3)}${w.predictions.comparable ? '' : '(c)'} flagged ${w.flagged} AUC live ${w.performance.auc.toFixed(4)} offline ${offlineAuc.toFixed(4)}`);
      assert.equal(w.rows, d.rows);
      assert.equal(w.performance.labelled, d.rows);
      assert.ok(Math.abs(w.performance.auc - offlineAuc) < 0.005, `${day}: live AUC ${w.performance.auc} vs offline ${offlineAuc}`);
      assert.equal(w.flagged, STORMY.includes(day), `${day} flagged=${w.flagged}:\n${report.join('\n')}`);
    }
    // The server scored the rows as the offline model does.
    for (const [day, s] of served) {
      const p = offline.get(day)!.p;
      let worst = 0;
      for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(s[i] - p[i]));
      assert.ok(worst < 1e-5, `${day}: server vs offline probabilities differ by ${worst}`);
    }
    // Closed stormy days raised a target-drift alert each; calm days none.
    await running.server.monitoring.alerts.idle();
    const alerted = new Set(json.alerts.filter((a: any) => a.rule === 'target_drift').map((a: any) => new Date(a.bounds.start).toISOString().slice(0, 10)));
    assert.deepEqual([...alerted].sort(), STORMY.filter((d) => d !== DAYS[DAYS.length - 1]));
    process.stdout.write(`# monitoring demo (/predict):\n${report.map((l) => `#   ${l}`).join('\n')}\n`);
  });
});
