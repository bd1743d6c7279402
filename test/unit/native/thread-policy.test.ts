// setThreadPolicy: one thread of the process to SCHED_IDLE and back, by its Linux thread id.
// Reference: the kernel's own view, /proc/self/task/<tid>/stat (field 41: the scheduling
// policy, 0 SCHED_OTHER, 5 SCHED_IDLE; field 19: the nice value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { setThreadPolicy } from '../../../src/native/binding';
import { HubThread } from '../../../src/monitoring/thread/hub-thread';

const linux = process.platform === 'linux';

function schedOf(tid: number): { policy: number; nice: number } {
  const f = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Fields from the third on (state is field 3 → index 0).
  return { policy: Number(f[41 - 3]), nice: Number(f[19 - 3]) };
}

const threads = () => fs.readdirSync('/proc/self/task').map(Number);

test('a worker thread to SCHED_IDLE and back to SCHED_OTHER, the other threads untouched', { skip: !linux && 'Linux only' }, async () => {
  const w = new Worker(`const { parentPort } = require('node:worker_threads'); parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self')); setInterval(() => {}, 1000);`, { eval: true });
  try {
    const self = await new Promise<string>((resolve) => w.once('message', resolve));
    const tid = Number(self.split('/').pop());
    assert.equal(Number(self.split('/')[0]), process.pid);
    assert.deepEqual(schedOf(tid), { policy: 0, nice: 0 });
    assert.deepEqual(setThreadPolicy(tid, true), { ok: true });
    assert.equal(schedOf(tid).policy, 5);
    for (const t of threads()) if (t !== tid) assert.equal(schedOf(t).policy, 0, `thread ${t} kept its class`);
    assert.deepEqual(setThreadPolicy(tid, false), { ok: true });
    assert.equal(schedOf(tid).policy, 0);
  } finally {
    await w.terminate();
  }
});

test('the monitoring thread runs at SCHED_IDLE and nice 10', { skip: !linux && 'Linux only' }, async () => {
  const before = new Set(threads());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-thread-'));
  const hub = new HubThread({ repository: dir });
  try {
    await hub.flush(); // the thread runs and has answered
    const added = threads().filter((t) => !before.has(t)).map(schedOf);
    // Where raising a priority is not permitted the thread stays at nice 10 (and says so in the log).
    let canRaise = true;
    try {
      os.setPriority(-1);
      os.setPriority(0);
    } catch {
      canRaise = false;
    }
    assert.equal(added.filter((s) => s.nice === 10 && s.policy === (canRaise ? 5 : 0)).length, 1, JSON.stringify(added));
  } finally {
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('BAD CALL - setThreadPolicy: wrong argument types, a thread id out of range, a thread that does not exist', () => {
  assert.throws(() => (setThreadPolicy as (...a: unknown[]) => unknown)('1', true), TypeError);
  assert.throws(() => (setThreadPolicy as (...a: unknown[]) => unknown)(1), TypeError);
  assert.throws(() => setThreadPolicy(0, true), RangeError);
  assert.throws(() => setThreadPolicy(2 ** 40, true), RangeError);
  if (linux) {
    const r = setThreadPolicy(2 ** 31 - 1, true);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? '', /sched_setscheduler\(SCHED_IDLE\): No such process/);
  }
});
