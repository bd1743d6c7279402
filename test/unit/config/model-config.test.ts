import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { parseModelConfig } from '../../../src/config/model-config';
import { InferaError } from '../../../src/errors';

const root = path.resolve(__dirname, '../../../..');
const vad = () => JSON.parse(fs.readFileSync(path.join(root, 'models/vad/model.json'), 'utf8'));

test('the committed VAD model.json is valid and gets defaults', (t) => {
  const cfg = parseModelConfig(vad(), 'vad/model.json', 'vad');
  assert.strictEqual(cfg.max_batch_size, 64);
  assert.deepStrictEqual(cfg.batching.preferred_batch_sizes, []);
  assert.strictEqual(cfg.instance.intra_op_threads, 1);
});

test('BAD CALL - errors name the file and the field', (t) => {
  const cases: [(c: any) => void, RegExp][] = [
    [(c) => { c.inputs[0].datatype = 'FLOAT'; }, /vad\/model\.json: inputs\.0\.datatype/],
    [(c) => { c.batching.max_queue_size = 0; }, /vad\/model\.json: batching\.max_queue_size/],
    [(c) => { c.colour = 'red'; }, /unknown field 'colour'/],
    [(c) => { delete c.outputs; }, /missing field 'outputs'/],
    [(c) => { c.inputs[2].batch_axis = 0; }, /inputs\.2\.batch_axis/],
    [(c) => { c.name = 'other'; }, /name: 'other' does not match its folder 'vad'/],
    [(c) => { delete c.predict.fill.sr; }, /predict\.fill: input 'sr' needs a fill value/],
  ];
  for (const [mutate, re] of cases) {
    const c = vad();
    mutate(c);
    assert.throws(() => parseModelConfig(c, 'vad/model.json', 'vad'), (e: InferaError) => e.code === 'ENG_ERR_CONFIG' && re.test(e.message), String(re));
  }
});
