// cudaInfo / cpuFeatures / buildInfo and the addon loader, for every built addon.
// References: /proc/cpuinfo flags (the kernel's view of cpuid + enabled register state) and
// /proc/driver/nvidia/gpus (present only when an NVIDIA driver sees a GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ADDON_CANDIDATES, BINDING_FUNCTIONS, PACKAGE_ROOT, addonPath, buildInfo, computeThreads, cpuFeatures, cudaInfo, loadBinding, loadBindingFrom,
} from '../../../src/native/binding';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));

/** The kernel's CPU flags, or null where /proc/cpuinfo has none (non-Linux, non-x86). */
function procCpuFlags(): Set<string> | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
  return line ? new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/)) : null;
}

/** GPUs the NVIDIA kernel driver reports (0 when there is no driver). */
function driverGpuCount(): number {
  try {
    return fs.readdirSync('/proc/driver/nvidia/gpus').length;
  } catch {
    return 0;
  }
}

test('loader: the cmake build when it has a CUDA device, else the first usable candidate; every function exported', () => {
  assert.ok(BUILDS.length > 0, `no addon built; tried ${ADDON_CANDIDATES.join(', ')}`);
  const cmake = BUILDS.find((f) => f.includes('build-cmake'));
  const gpu = cmake !== undefined && loadBindingFrom(cmake).cudaInfo().available;
  assert.equal(addonPath(), gpu ? cmake : BUILDS[0]);
  const b = loadBinding();
  assert.equal(loadBinding(), b, 'cached');
  for (const name of BINDING_FUNCTIONS) assert.equal(typeof b[name], 'function', name);
  assert.deepEqual(ADDON_CANDIDATES.map((f) => path.relative(PACKAGE_ROOT, f)),
    [path.join('build', 'Release', 'infera.node'), path.join('build-cmake', 'Release', 'infera.node')]);
});

test('BAD CALL - loader: a missing file or a module without the functions is refused', () => {
  assert.throws(() => loadBindingFrom(path.join(PACKAGE_ROOT, 'build', 'Release', 'missing.node')), { code: 'MODULE_NOT_FOUND' });
  assert.throws(() => loadBindingFrom(path.join(PACKAGE_ROOT, 'package.json')), { message: /is a stale build: missing concatAxis, .*buildInfo, computeThreads, setThreadPolicy, kernelInfo, .*quantizeRows/ });
});

test('wrappers return what the loaded addon returns', () => {
  const b = loadBinding();
  assert.deepEqual(cudaInfo(), b.cudaInfo());
  assert.deepEqual(cpuFeatures(), b.cpuFeatures());
  assert.deepEqual(buildInfo(), b.buildInfo());
});

for (const file of BUILDS) {
  const b = loadBindingFrom(file);
  const tag = path.relative(PACKAGE_ROOT, file);

  test(`${tag}: buildInfo describes the build`, () => {
    const info = b.buildInfo();
    assert.deepEqual(Object.keys(info).sort(), ['compiler', 'cuda', 'tensorrt']);
    assert.match(info.compiler, /^(gcc|clang|msvc) \d/);
    if (tag.startsWith('build' + path.sep)) assert.deepEqual([info.cuda, info.tensorrt], [false, false], 'node-gyp builds are CPU only');
    if (info.tensorrt) assert.equal(info.cuda, true);
  });

  test(`${tag}: cudaInfo agrees with the build and the NVIDIA driver`, () => {
    const info = b.cudaInfo();
    if (!b.buildInfo().cuda) {
      assert.deepEqual(info, { available: false, deviceCount: 0, reason: 'built without CUDA' });
      return;
    }
    const gpus = driverGpuCount();
    if (gpus === 0) {
      assert.equal(info.available, false);
      assert.equal(info.deviceCount, 0);
      assert.match(info.reason ?? '', /^no CUDA device: \S/);
      assert.equal(info.devices, undefined);
      return;
    }
    assert.equal(info.available, true, info.reason);
    assert.equal(info.reason, undefined);
    assert.ok(info.deviceCount >= 1 && info.deviceCount <= gpus); // CUDA_VISIBLE_DEVICES may hide some
    assert.equal(info.devices?.length, info.deviceCount);
    for (const d of info.devices ?? []) {
      assert.match(d.computeCapability, /^\d+\.\d+$/);
      assert.ok(d.totalMemory > 0 && Number.isSafeInteger(d.totalMemory));
      assert.ok(d.name.length > 0);
    }
  });

  test(`${tag}: cpuFeatures matches /proc/cpuinfo`, { skip: procCpuFlags() === null && 'no /proc/cpuinfo flags here' }, () => {
    const flags = procCpuFlags()!;
    assert.deepEqual(b.cpuFeatures(), {
      avx2: flags.has('avx2'),
      fma: flags.has('fma'),
      avx512f: flags.has('avx512f'),
      avx512vnni: flags.has('avx512_vnni'),
      avxvnni: flags.has('avx_vnni'),
    });
  });
}

test('the compute pool has one thread per CPU the process may run on: all of them, or one under taskset', { skip: spawnSync('taskset', ['--version']).error ? 'taskset is not installed' : false }, () => {
  assert.strictEqual(computeThreads(), os.availableParallelism());
  const script = `console.log(require(${JSON.stringify(require.resolve('../../../src/native/binding'))}).computeThreads())`;
  const pinned = spawnSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.strictEqual(pinned.status, 0, pinned.stderr);
  assert.strictEqual(Number(pinned.stdout.trim()), 1);
});
