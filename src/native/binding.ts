/**
 * The one place that loads the native addon (infera.node) and the typed API over it.
 *
 * Candidates, relative to the package root (three levels above dist/src/native/):
 *   1. build/Release/infera.node        (node-gyp, CPU only: `npm run build:native`)
 *   2. build-cmake/Release/infera.node  (cmake-js, CUDA when nvcc was found: `npm run build:cmake`)
 * The first one that loads and exports every function in BINDING_FUNCTIONS wins; it is
 * loaded lazily on first use and cached for the life of the process.
 *
 * Async functions here never throw synchronously: bad arguments reject the Promise.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { AudioBinding } from './audio';
import type { CudaBinding } from './cuda';
import type { ExecutorBinding } from './executor';
import type { FeatureBinding } from './features';
import type { GbdtBinding } from './gbdt';
import type { KernelBinding } from './kernels';

/** A CUDA device as reported by the CUDA runtime. */
export interface CudaDevice {
  name: string;
  /** "major.minor", e.g. "9.0" for an H100. */
  computeCapability: string;
  /** Global memory in bytes. */
  totalMemory: number;
}

/** Result of {@link cudaInfo}. `reason` is set exactly when `available` is false. */
export interface CudaInfo {
  available: boolean;
  deviceCount: number;
  reason?: string;
  devices?: CudaDevice[];
}

/** CPU features usable by this process (CPU support and OS register-state support). */
export interface CpuFeatures {
  avx2: boolean;
  fma: boolean;
  avx512f: boolean;
  avx512vnni: boolean;
  avxvnni: boolean;
}

/** How the loaded addon was built. */
export interface BuildInfo {
  cuda: boolean;
  /** TensorRT headers were found at build time (detection only). */
  tensorrt: boolean;
  compiler: string;
}

/** Result of {@link parseJsonNumberArrays}. */
export interface JsonNumberArrays {
  /** The input JSON text with every lifted "data" array replaced by its index k. */
  json: string;
  /** arrays[k]: the numbers of the k-th lifted array, flattened row-major. */
  arrays: Float64Array[];
  /** nested[k]: arrays[k] came from nested JSON arrays (shape must be checked by the caller). */
  nested: boolean[];
}

/** The raw addon exports (argument checks happen in C++; async ones throw synchronously). */
export interface Binding extends KernelBinding, ExecutorBinding, FeatureBinding, AudioBinding, CudaBinding, GbdtBinding {
  concatAxis(parts: Uint8Array[], outer: number, innerBytes: number[]): Promise<Uint8Array>;
  concatAxisSync(parts: Uint8Array[], outer: number, innerBytes: number[]): Uint8Array;
  sliceAxis(whole: Uint8Array, outer: number, innerBytes: number[]): Promise<Uint8Array[]>;
  sliceAxisSync(whole: Uint8Array, outer: number, innerBytes: number[]): Uint8Array[];
  parseJsonNumberArrays(body: Uint8Array): Promise<JsonNumberArrays>;
  parseJsonNumberArraysSync(body: Uint8Array): JsonNumberArrays;
  cudaInfo(): CudaInfo;
  cpuFeatures(): CpuFeatures;
  buildInfo(): BuildInfo;
  computeThreads(): number;
  setThreadPolicy(tid: number, idle: boolean): { ok: boolean; reason?: string };
}

/** Every function a usable addon must export (a stale build missing one is skipped). */
export const BINDING_FUNCTIONS: readonly (keyof Binding)[] = [
  'concatAxis', 'concatAxisSync', 'sliceAxis', 'sliceAxisSync',
  'parseJsonNumberArrays', 'parseJsonNumberArraysSync', 'cudaInfo', 'cpuFeatures', 'buildInfo', 'computeThreads',
  'setThreadPolicy',
  // native/src/quant (typed wrappers in kernels.ts)
  'kernelInfo', 'gemmF32', 'int8Gemm', 'quantizeWeights', 'quantizeRows',
  // native/src/exec (typed wrappers in executor.ts)
  'createNativeModel', 'nativeModelRun', 'nativeModelRunSync', 'nativeModelInfo',
  // native/src/features (typed wrappers in features.ts)
  'compileFeatureSpec', 'transformFeatures', 'transformFeaturesSync', 'transformRowSync',
  // native/src/audio (typed wrappers in audio.ts)
  'pcm16ToFloat', 'resampleTo16k', 'resampleTo16kSync', 'createStreamResampler', 'streamResamplerPush', 'streamResamplerFlush',
  // native/src/cuda (typed wrappers in cuda.ts; features.ts for the transform)
  'cudaInt8Gemm', 'cudaTransformFeatures',
  // native/src/gbdt (types in gbdt.ts; API in src/pipeline/gbdt.ts)
  'gbdtTrainSync', 'gbdtPredictSync',
];

/** Package root, found from dist/src/native/binding.js. */
export const PACKAGE_ROOT = path.resolve(__dirname, '../../..');

/** The node-gyp build (`npm install`): CPU only. */
export const NODE_GYP_ADDON = path.join(PACKAGE_ROOT, 'build', 'Release', 'infera.node');
/** The cmake-js build (`npm run build:cmake`): the same sources, plus CUDA where nvcc was found. */
export const CMAKE_ADDON = path.join(PACKAGE_ROOT, 'build-cmake', 'Release', 'infera.node');

/**
 * Addon files tried in order: the node-gyp build (`npm install` always makes it), then the cmake
 * one. loadBinding() takes the cmake build first when it has a usable CUDA device: it is a
 * superset (the same sources plus CUDA), and with the node-gyp build first the CUDA paths were
 * unreachable (seen on the H200 device). Without a device the node-gyp build stays first: one-row
 * /predict at one connection ran ~7 % faster on it (5.1k vs 4.7-4.8k req/s, two ABAB pairs;
 * cause not established).
 */
export const ADDON_CANDIDATES: readonly string[] = [NODE_GYP_ADDON, CMAKE_ADDON];

/**
 * Below this many bytes the batch functions copy on the JS thread: an AsyncWorker round
 * trip costs ~20-28 µs (~5-8 µs of it on the JS thread) while a sync copy of 64 KiB takes
 * ~6-7 µs, so smaller copies are cheaper inline (measured, see the addon's build notes).
 */
export const BATCH_SYNC_THRESHOLD_BYTES = 64 * 1024;

/** Same trade-off for JSON scanning (~1.3 µs per KiB of body): 8 KiB ≈ 10 µs inline. */
export const JSON_SYNC_THRESHOLD_BYTES = 8 * 1024;

/**
 * The threshold for a process that may use one core: the pool thread would run on the event
 * loop's core anyway, so the hop buys nothing but a scheduler wake-up (0.1–0.2 ms, more at
 * the tail). Only bodies whose scan would stall the loop for long (≥ 256 KiB, ~0.3 ms) go
 * to the pool there.
 */
export const JSON_SYNC_THRESHOLD_BYTES_ONE_CORE = 256 * 1024;

/** Below this many body bytes, JSON is scanned on the calling thread. */
export function jsonSyncThreshold(cores: number): number {
  return cores <= 1 ? JSON_SYNC_THRESHOLD_BYTES_ONE_CORE : JSON_SYNC_THRESHOLD_BYTES;
}

let loaded: { binding: Binding; file: string } | undefined;

/**
 * Loads one addon file and checks its exports.
 * @returns the addon's exports, typed.
 * @throws Error when the file cannot be loaded or lacks a function of {@link BINDING_FUNCTIONS}.
 */
export function loadBindingFrom(file: string): Binding {
  const mod = require(file) as Partial<Record<keyof Binding, unknown>>;
  const missing = BINDING_FUNCTIONS.filter((name) => typeof mod[name] !== 'function');
  if (missing.length > 0) throw new Error(`${file} is a stale build: missing ${missing.join(', ')}`);
  return mod as Binding;
}

/**
 * Loads (once) the first usable addon of {@link ADDON_CANDIDATES}.
 * @returns the cached addon exports.
 * @throws Error listing every candidate and why it failed, when none is usable.
 */
export function loadBinding(): Binding {
  if (loaded) return loaded.binding;
  const failures: string[] = [];
  if (fs.existsSync(CMAKE_ADDON)) {
    try {
      const withCuda = loadBindingFrom(CMAKE_ADDON);
      if (withCuda.cudaInfo().available) {
        loaded = { binding: withCuda, file: CMAKE_ADDON };
        return withCuda;
      }
    } catch {
      // Tried again below in its turn, where its failure is reported.
    }
  }
  for (const file of ADDON_CANDIDATES) {
    try {
      loaded = { binding: loadBindingFrom(file), file };
      return loaded.binding;
    } catch (e) {
      failures.push(`  ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`infera native addon not found; build it with \`npm run build:native\` or \`npm run build:cmake\`.\n${failures.join('\n')}`);
}

/**
 * Which addon file is in use.
 * @returns the absolute path of the loaded infera.node (loading it if needed).
 * @throws Error when no addon is usable (see {@link loadBinding}).
 */
export function addonPath(): string {
  loadBinding();
  return loaded!.file;
}

/** Runs `fn`, turning a synchronous throw into a rejected Promise. */
function settle<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

function byteLengthOf(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p?.byteLength ?? 0;
  return n;
}

/**
 * [async] Concatenates request tensors along a batch axis: part i is `outer` rows of
 * `innerBytes[i]` bytes; the result holds, for each row r, every part's row r back to back
 * (outer = 1 is plain concatenation). Copies inline below {@link BATCH_SYNC_THRESHOLD_BYTES}
 * total bytes, otherwise on the libuv thread pool. Inputs must not be detached until it settles.
 * @returns a Promise that resolves to a new Uint8Array of outer * sum(innerBytes) bytes.
 * @throws TypeError (as a rejection) when parts is not an array of Uint8Array, outer or an
 *   innerBytes entry is not a non-negative safe integer, the lengths differ, or
 *   parts[i].byteLength !== outer * innerBytes[i] (the message names i).
 *   RangeError when the total size overflows.
 */
export function concatAxis(parts: Uint8Array[], outer: number, innerBytes: number[]): Promise<Uint8Array> {
  return settle(() => {
    const b = loadBinding();
    return Array.isArray(parts) && byteLengthOf(parts) < BATCH_SYNC_THRESHOLD_BYTES
      ? b.concatAxisSync(parts, outer, innerBytes)
      : b.concatAxis(parts, outer, innerBytes);
  });
}

/**
 * Concatenates along a batch axis on the calling thread (see {@link concatAxis}).
 * @returns a new Uint8Array of outer * sum(innerBytes) bytes.
 * @throws TypeError / RangeError as {@link concatAxis} rejects.
 */
export function concatAxisSync(parts: Uint8Array[], outer: number, innerBytes: number[]): Uint8Array {
  return loadBinding().concatAxisSync(parts, outer, innerBytes);
}

/**
 * [async] Splits a batched tensor back per request, the inverse of {@link concatAxis}:
 * piece i gets, for each of the `outer` rows, the next `innerBytes[i]` bytes. Inline below
 * {@link BATCH_SYNC_THRESHOLD_BYTES}, otherwise on the thread pool.
 * @returns a Promise that resolves to new Uint8Arrays, piece i of outer * innerBytes[i] bytes.
 * @throws TypeError (as a rejection) when whole is not a Uint8Array, outer or an innerBytes
 *   entry is not a non-negative safe integer, or whole.byteLength !== outer * sum(innerBytes).
 */
export function sliceAxis(whole: Uint8Array, outer: number, innerBytes: number[]): Promise<Uint8Array[]> {
  return settle(() => {
    const b = loadBinding();
    return (whole?.byteLength ?? 0) < BATCH_SYNC_THRESHOLD_BYTES
      ? b.sliceAxisSync(whole, outer, innerBytes)
      : b.sliceAxis(whole, outer, innerBytes);
  });
}

/**
 * Splits a batched tensor on the calling thread (see {@link sliceAxis}).
 * @returns new Uint8Arrays, piece i of outer * innerBytes[i] bytes.
 * @throws TypeError / RangeError as {@link sliceAxis} rejects.
 */
export function sliceAxisSync(whole: Uint8Array, outer: number, innerBytes: number[]): Uint8Array[] {
  return loadBinding().sliceAxisSync(whole, outer, innerBytes);
}

/**
 * [async] Decodes the hot part of an Open Inference Protocol v2 JSON body: validates the
 * JSON text (RFC 8259; a leading UTF-8 BOM is skipped; invalid UTF-8 inside strings becomes
 * U+FFFD as with TextDecoder) and lifts every `"data"` member whose value is a (possibly nested) array of
 * only numbers / true / false into a Float64Array (row-major, bitwise equal to JSON.parse),
 * replacing it in the text by its index k (document order). Arrays of strings, mixed or
 * leafless arrays (`[]`) stay in the text. Inline below `syncBelowBytes` (default
 * {@link JSON_SYNC_THRESHOLD_BYTES}; see {@link jsonSyncThreshold}).
 * @returns a Promise that resolves to { json, arrays, nested }.
 * @throws TypeError (as a rejection) when body is not a Uint8Array.
 *   SyntaxError "malformed JSON at byte N (...)" with a numeric `byteOffset` = N when the
 *   text is not valid JSON (or nests deeper than 1024).
 */
export function parseJsonNumberArrays(body: Uint8Array, syncBelowBytes = JSON_SYNC_THRESHOLD_BYTES): Promise<JsonNumberArrays> {
  return settle(() => {
    const b = loadBinding();
    return (body?.byteLength ?? 0) < syncBelowBytes
      ? b.parseJsonNumberArraysSync(body)
      : b.parseJsonNumberArrays(body);
  });
}

/**
 * Same as {@link parseJsonNumberArrays}, on the calling thread.
 * @returns { json, arrays, nested }.
 * @throws TypeError when body is not a Uint8Array; SyntaxError for malformed JSON.
 */
export function parseJsonNumberArraysSync(body: Uint8Array): JsonNumberArrays {
  return loadBinding().parseJsonNumberArraysSync(body);
}

/**
 * Queries CUDA devices (sync). The node-gyp build reports reason 'built without CUDA';
 * the CUDA build reports 'no CUDA device: <CUDA runtime error>' when no driver/device.
 * @returns { available, deviceCount, reason? , devices? }.
 * @throws Error when no addon is usable.
 */
export function cudaInfo(): CudaInfo {
  return loadBinding().cudaInfo();
}

/**
 * Detects SIMD features via cpuid/xgetbv (sync), counting only those the OS enables.
 * @returns { avx2, fma, avx512f, avx512vnni, avxvnni }, all false on non-x86.
 * @throws Error when no addon is usable.
 */
export function cpuFeatures(): CpuFeatures {
  return loadBinding().cpuFeatures();
}

/**
 * Describes how the loaded addon was built (sync).
 * @returns { cuda, tensorrt, compiler }.
 * @throws Error when no addon is usable.
 */
export function buildInfo(): BuildInfo {
  return loadBinding().buildInfo();
}

/**
 * Threads of the addon's compute pool (GBDT training, native batches, batched feature
 * transforms): one per CPU this process may run on (its affinity mask when the pool started),
 * the caller included. A process pinned to one core computes on that core alone.
 */
export function computeThreads(): number {
  return loadBinding().computeThreads();
}

/**
 * Moves one thread of this process (a Linux thread id: /proc/thread-self names the caller's)
 * to SCHED_IDLE, or back to SCHED_OTHER at its nice value. Another thread may call it: the
 * monitoring thread is raised by the main thread while an answer from it is awaited
 * (src/monitoring/thread/hub-thread.ts).
 * @returns ok, or the reason it could not (not Linux; going back to SCHED_OTHER needs
 * RLIMIT_NICE room or CAP_SYS_NICE).
 */
export function setThreadPolicy(tid: number, idle: boolean): { ok: boolean; reason?: string } {
  return loadBinding().setThreadPolicy(tid, idle);
}
