import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import fs from 'node:fs';
import { MODELS, ROOT, postJson, startServer } from '../helpers/server';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');

test('infera serve: JSON logs, serves on the chosen port, drains and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--repository', MODELS, '--host', '127.0.0.1'], {
    env: { ...process.env, INFERA_PORT: '0', INFERA_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const logs: any[] = [];
  const ready = new Promise<number>((resolve, reject) => {
    lines.on('line', (l) => {
      const rec = JSON.parse(l);
      logs.push(rec);
      if (rec.msg === 'infera ready') resolve(rec.port);
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
  const port = await ready;
  const r = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
  assert.equal(r.status, 200);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(logs.some((l) => l.msg === 'draining' && l.signal === 'SIGTERM'));
  assert.ok(logs.some((l) => l.msg === 'infera stopped'));
  assert.ok(logs.every((l) => l.service === 'infera' && typeof l.time === 'string'), 'structured JSON logs');
});

test('BAD CALL - infera serve rejects a bad option value with a clear message', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(err, /--port must be a non-negative integer, got 'eighty'/);
});

test('BAD CALL - infera serve --port 99999 is refused, not wrapped to another port', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '99999'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.notEqual(code, 0);
  assert.match(err, /--port must be 0–65535, got '99999'/);
});

test('BAD CALL - infera serve --log-level loud lists the levels', () => {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--log-level', 'loud'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /argument 'loud' is invalid\. Allowed choices are trace, debug, info, warn, error, fatal, silent/);
});

test('infera bench: lists the scenarios found in dist/bench/scenarios; a bad option exits 2 with the usage', async () => {
  const { readdirSync } = await import('node:fs');
  const list = spawnSync(process.execPath, [CLI, 'bench', '--list'], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  const files = readdirSync(path.join(ROOT, 'dist/bench/scenarios')).filter((f) => f.endsWith('.js')).map((f) => f.replace(/\.js$/, ''));
  assert.ok(files.length >= 7);
  for (const name of files) assert.match(list.stdout, new RegExp(`^  ${name} `, 'm'), `lists ${name}`);
  const bad = spawnSync(process.execPath, [CLI, 'bench', 'vad-infer', '--connections', 'zero'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--connections needs an integer >= 1, got zero/);
  assert.match(bad.stderr, /usage: infera bench <scenario>/);
  const unknown = spawnSync(process.execPath, [CLI, 'bench', 'no-such-scenario'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown scenario "no-such-scenario"; known: .*predict-one-row/);
});

test('infera example vad: the committed examples/vad-request.json is what it prints for the linphone speech, and the server answers it', async () => {
  const wav = '/usr/share/sounds/linphone/hello16000.wav';
  const r = spawnSync(process.execPath, [CLI, 'example', 'vad', '--wav', wav, '--at', '0.96'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const committed = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/vad-request.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), committed);
  const srv = await startServer();
  try {
    const answer = await postJson(`${srv.url}/v2/models/vad/infer`, committed);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.deepEqual(answer.json.outputs.map((o: { name: string }) => o.name), ['output'], 'only the probability');
    const p = answer.json.outputs[0].data[0];
    assert.ok(p > 0 && p < 1, `a probability (${p})`);
  } finally {
    await srv.server.stop();
  }
  const late = spawnSync(process.execPath, [CLI, 'example', 'vad', '--wav', wav, '--at', '99'], { encoding: 'utf8' });
  assert.notEqual(late.status, 0);
  assert.match(late.stderr, /10\.62 s of audio; a window at 99 s needs 99\.096 s/);
  const other = spawnSync(process.execPath, [CLI, 'example', 'flights', '--wav', wav], { encoding: 'utf8' });
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /no example for model 'flights'/);
});

test('infera models list / show: a readable summary of the card (metrics per window as recorded), model.json alone without a card', () => {
  const list = spawnSync(process.execPath, [CLI, 'models', 'list', '--repository', MODELS], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^flights-delay\s+1\s+native\s+binary\s+1 of 1$/m);
  assert.match(list.stdout, /^vad\s+1\s+onnxruntime\s+binary\s+none$/m);
  const show = spawnSync(process.execPath, [CLI, 'models', 'show', 'flights-delay', '--repository', MODELS], { encoding: 'utf8' });
  assert.equal(show.status, 0, show.stderr);
  const card = JSON.parse(fs.readFileSync(path.join(MODELS, 'flights-delay/1/card.json'), 'utf8'));
  assert.match(show.stdout, /^flights-delay v1 /);
  for (const [w, m] of Object.entries(card.metrics) as [string, { auc: number; rows: number }][]) {
    assert.match(show.stdout, new RegExp(`^\\s+${w}\\s+${m.rows.toLocaleString('en-US')}\\s+${m.auc.toFixed(3)}\\s`, 'm'), `window ${w}`);
  }
  assert.match(show.stdout, new RegExp(`gates\\s+${card.gates.length} of ${card.gates.length} passed`));
  const vad = spawnSync(process.execPath, [CLI, 'models', 'show', 'vad', '--repository', MODELS], { encoding: 'utf8' });
  assert.match(vad.stdout, /card\s+none: not trained by `infera train`/);
  const typo = spawnSync(process.execPath, [CLI, 'models', 'show', 'flights-dealy', '--repository', MODELS], { encoding: 'utf8' });
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /no model 'flights-dealy' in .* \(did you mean 'flights-delay'\?\); models: flights-delay, vad/);
});
