// The prediction log's schema change: a file written keyed by (model, id) opens keyed by
// (model, id, version), its rows kept; a shadow candidate's answer to the same request then
// sits next to stable's, and one label joins both.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PredictionLog } from '../../../src/monitoring/prediction-log';

test('a version-1 log file migrates with its rows; two versions answer one id; a label joins both', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-log-'));
  const file = path.join(dir, 'predictions.sqlite');
  try {
    const old = new Database(file);
    old.exec(`CREATE TABLE predictions (model TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,
      arrival_ms INTEGER NOT NULL, event_ms INTEGER, inputs TEXT, output REAL NOT NULL, label REAL, label_ms INTEGER, PRIMARY KEY (model, id))`);
    const inputs = '{"date":"2001-03-04T17:35:00","distance":733,"origin":"SFO","destination":"LAX"}';
    old.prepare('INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)').run('flights-delay', 'UA-1-0304', 1, 0, 1_700_000_000_000, 983_727_300_000, inputs, 0.31);
    old.close();
    const log = new PredictionLog({ path: file });
    assert.deepEqual(log.count('flights-delay'), { rows: 1, labelled: 0 });
    log.insertMany([{ model: 'flights-delay', id: 'UA-1-0304', version: 2, seq: 0, arrivalMs: 1_700_000_000_001, eventMs: 983_727_300_000, inputs, output: 0.27 }]);
    assert.deepEqual(log.count('flights-delay'), { rows: 2, labelled: 0 }, 'the shadow row does not replace stable\'s');
    const r = log.setLabels('flights-delay', [{ id: 'UA-1-0304', label: 1 }], 1_700_000_100_000);
    assert.equal(r.matched, 1);
    assert.deepEqual([...r.ranges.keys()].sort(), [1, 2], 'both versions labelled');
    const p = log.paired('flights-delay', 1, 2, 0);
    assert.deepEqual([...p.stable, ...p.candidate, ...p.labels], [0.31, 0.27, 1]);
    log.close();
    const again = new PredictionLog({ path: file });
    assert.deepEqual(again.count('flights-delay'), { rows: 2, labelled: 2 }, 'reopening does not migrate twice');
    again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
