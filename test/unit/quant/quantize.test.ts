// `infera quantize` end to end on a copy of the pipeline's flights-delay model: the next version
// is registered with int8 weights and a card.json that reports AUC and accuracy before and after
// on held-out real rows, the per-layer calibration, and the measured speed of native int8 vs
// native fp32 vs onnxruntime; --calibration reads another real file; refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerQuantizeCommand } from '../../../src/cli/quantize-command';
import { NativeBackend } from '../../../src/runtime/native-backend';
import { quantizeVersion } from '../../../src/quant/quantize';
import { Warehouse } from '../../../src/data/warehouse';
import { FLIGHTS_DIR, flightsMissing } from '../native/flights-model';
import { FLIGHTS_3M } from '../native/flights-columns';

const skip = flightsMissing();
/** The command's own default bound on the calibration AUC drop; the held-out drop is reported. */
const MAX_AUC_DROP = 0.002;
const FAST = { calibrationRows: 6000, evalRows: 8000, speedBatches: [64, 256], speed: { reps: 2, repSeconds: 0.05, warmup: 5 } };

function repoCopy(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-quantize-'));
  fs.mkdirSync(path.join(root, 'flights-delay'));
  fs.cpSync(path.join(FLIGHTS_DIR), path.join(root, 'flights-delay', '1'), { recursive: true });
  fs.copyFileSync(path.join(FLIGHTS_DIR, '..', 'model.json'), path.join(root, 'flights-delay', 'model.json'));
  return root;
}

test('quantize registers version 2 with an int8 file and a card measured on held-out rows', { skip }, async (t) => {
  const root = repoCopy();
  try {
    const r = await quantizeVersion({ repository: root, model: 'flights-delay', ...FAST });
    assert.equal(r.version, 2);
    const dir = path.join(root, 'flights-delay', '2');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['card.json', 'feature_spec.json', 'model.onnx']);
    const card = JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8'));
    const q = card.quantization;
    assert.equal(card.version, 2);
    assert.equal(card.parent_version, 1);
    assert.equal(q.source_version, 1);
    assert.equal(card.inherited_from_parent.version, 1);
    assert.ok(card.profile, 'the drift baseline stays usable for monitoring');
    assert.deepEqual(q.evaluation.window, { from: '2001-02-01', to: '2001-03-01' });
    assert.deepEqual(q.calibration.window, { from: '2001-01-25', to: '2001-02-01' });
    assert.equal(q.evaluation.rows, FAST.evalRows);
    for (const k of ['auc', 'accuracy']) {
      assert.ok(q.evaluation.before[k] > 0.5 && q.evaluation.after[k] > 0.5, k);
      assert.equal(q.evaluation.retention[k], q.evaluation.after[k] / q.evaluation.before[k]);
    }
    assert.ok(q.calibration.auc_drop <= MAX_AUC_DROP);
    assert.ok(q.evaluation.native_fp32_vs_onnxruntime_max_abs_diff <= 1e-5);
    assert.ok(q.layers.length === 3 && q.layers.every((l: { int8: boolean }) => l.int8));
    for (const b of ['64', '256']) {
      const s = q.speed.batches[b];
      for (const k of ['onnxruntime_fp32', 'native_fp32', 'native_int8']) assert.ok(s.rows_per_second[k] > 0, `${b} ${k}`);
      assert.equal(s.ratio.int8_vs_onnxruntime, s.rows_per_second.native_int8 / s.rows_per_second.onnxruntime_fp32);
    }
    assert.ok(q.bytes.after < q.bytes.before / 3);
    t.diagnostic(`held-out AUC ${q.evaluation.before.auc.toFixed(4)} -> ${q.evaluation.after.auc.toFixed(4)} (drop ${q.evaluation.auc_drop.toFixed(5)}), accuracy ${q.evaluation.before.accuracy.toFixed(4)} -> ${q.evaluation.after.accuracy.toFixed(4)}; int8/onnxruntime at 256: ${q.speed.batches['256'].ratio.int8_vs_onnxruntime.toFixed(2)}x (short run)`);
    // The new version loads in the native backend as int8 from its own metadata.
    const b = new NativeBackend();
    await b.load('v2', path.join(dir, 'model.onnx'), { intraOpThreads: 1 });
    assert.equal(b.describe('v2')!.precision, 'int8');
    // A dry run of version 2 writes nothing.
    const dry = await quantizeVersion({ repository: root, model: 'flights-delay', version: 1, dryRun: true, ...FAST, speedBatches: [64] });
    assert.equal(dry.version, null);
    assert.deepEqual(fs.readdirSync(path.join(root, 'flights-delay')).sort(), ['1', '2', 'model.json']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('--calibration reads real rows from another file (CSV of the holdout week)', { skip }, async () => {
  const root = repoCopy();
  const csv = path.join(root, 'holdout.csv');
  const wh = await Warehouse.open();
  try {
    await wh.conn.run(`COPY (SELECT * FROM read_parquet('${FLIGHTS_3M.replace(/'/g, "''")}') WHERE date >= TIMESTAMP '2001-01-25' AND date < TIMESTAMP '2001-02-01' ORDER BY date, origin, destination, distance, delay LIMIT 8000) TO '${csv.replace(/'/g, "''")}' (HEADER)`);
    const r = await quantizeVersion({ repository: root, model: 'flights-delay', calibrationFile: csv, dryRun: true, ...FAST, speedBatches: [64] });
    const cal = r.quantization.calibration as { source: string; rows: number };
    assert.equal(cal.source, csv);
    assert.equal(cal.rows, 6000);
  } finally {
    wh.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('BAD CALL - the command refuses unknown models and versions and bad options (exit status 1)', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-quantize-'));
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => errors.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const run = async (...args: string[]) => {
      const p = new Command().exitOverride();
      registerQuantizeCommand(p);
      process.exitCode = 0;
      await p.parseAsync(['node', 'infera', 'quantize', ...args]);
      return process.exitCode;
    };
    assert.equal(await run('nope', '-r', root), 1);
    assert.match(errors.join(''), /quantize: no versions of 'nope' under /);
    if (!skip) {
      fs.cpSync(path.dirname(FLIGHTS_DIR), path.join(root, 'flights-delay'), { recursive: true, filter: (src) => !/\/[2-9][0-9]*$/.test(src) });
      assert.equal(await run('flights-delay', '-r', root, '--from-version', '7'), 1);
      assert.match(errors.join(''), /'flights-delay' has no version 7 \(has 1/);
    }
    await assert.rejects(run('flights-delay', '-r', root, '--max-auc-drop', '2'), /must be a number in \[0, 1\], got '2'/);
    await assert.rejects(run('flights-delay', '-r', root, '--eval-window', '2001-02-01'), /must be FROM,TO/);
  } finally {
    process.stderr.write = write;
    process.exitCode = 0;
    fs.rmSync(root, { recursive: true, force: true });
  }
});
