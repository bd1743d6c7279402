/**
 * What isolating inference costs (issue 11): a batch run by onnxruntime-node on the event
 * loop's own thread, against the same batch sent to a worker thread, against the same batch
 * sent to a child process, for the real Silero VAD model (1536-sample chunks of real speech)
 * and the real flights-delay model (February 2001 rows through the feature spec's transform).
 *
 *   node dist/bench/tools/worker-isolation-cost.js [--batches 2000] [--block 100] [--warmup 50]
 *       [--models vad,flights] [--sizes 1,16,64] [--no-pin] [--json FILE]
 *
 * Paths, each with its own session created by the server's own OrtSession.create (intra-op 1,
 * inter-op 1, sequential, all optimisations) and run by its run():
 *   inproc   the compute alone, on this thread (what an inline batch costs);
 *   thread   node:worker_threads, input and output ArrayBuffers transferred (as Piscina moves
 *            them in src/runtime/onnx-backend.ts);
 *   fork     child_process.fork, serialization 'advanced' (V8 serializer over the IPC pipe);
 *   pipe     a child process fed length-prefixed binary frames on its stdin / stdout (a small
 *            JSON header, then the raw tensor bytes, 8-byte aligned): no serializer, one copy
 *            on each side, but a large batch crosses the socket in 64 KiB reads (one wake-up
 *            of the reader each);
 *   shm      the same frames written to a file in /dev/shm (tmpfs) with one writev and read
 *            with one read, only a small doorbell frame on the pipe: one wake-up each way
 *            whatever the size. Node's standard library has no mmap and no shared memory
 *            across processes (SharedArrayBuffer stops at threads); this is the nearest.
 * One batch in flight at a time; every round trip is timed (µs) and every answer is compared
 * bit for bit with the in-process answer to the same feed (a mismatch fails the run). The
 * workers also time their own compute, so `transport` = round trip − remote compute is
 * reported beside the overhead over `inproc` (which also carries core-to-core differences).
 *
 * Pinning (default, when taskset exists and there are ≥ 2 cores): this process (all threads)
 * on core 0, the worker thread and the children on core 1, as a 2-core server would place an
 * event loop and its worker; for `inproc` blocks the main thread moves to core 1, so that all
 * paths compute on the same core (a neighbour busier on one core must not pass for overhead). Paths alternate in blocks of --block batches, ABBA order
 * (inproc thread fork pipe, pipe fork thread inproc, ...), so a slow phase of the shared
 * machine hits all of them.
 */
import { ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, readlinkSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { OrtSession, PlainTensor } from '../../src/runtime/ort-session';

/** The server's own session, created as a promise so that a load error settles like a run's. */
const createSession = async (modelPath: string, intraOpThreads: number): Promise<OrtSession> => OrtSession.create(modelPath, intraOpThreads);
import type { TypedArray } from '../../src/protocol/datatypes';
import { toolArg, toolPositiveInt } from '../lib/cli';
import { flightsModelFiles, flightsParquet, loadFebruaryFlights, loadSpec, prepareTensor } from '../lib/flights';
import { hasTaskset, pinProcess } from '../lib/pinning';
import { percentile, median } from '../lib/stats';
import { vadFeeds } from '../lib/vad';
import { loadSpeechChunks } from '../lib/wav';

export const PATHS = ['inproc', 'thread', 'fork', 'pipe', 'shm'] as const;
export type PathName = (typeof PATHS)[number];
export const PATH_LABELS: Record<PathName, string> = {
  inproc: '(a) in process, compute alone',
  thread: '(b) worker thread, buffers transferred',
  fork: "(c1) child process, fork + 'advanced' IPC",
  pipe: '(c2) child process, binary frames on stdin/stdout',
  shm: '(c3) child process, frames in a /dev/shm file, doorbell on stdin/stdout',
};

/** Tensors of a batch: typed arrays only (both models' inputs and outputs are). */
export type Batch = PlainTensor[];

export interface RunAnswer {
  outputs: Batch;
  /** The compute as timed where it ran (µs): runSession alone. */
  computeUs: number;
}

export interface Runner {
  name: PathName;
  run(inputs: Batch): Promise<RunAnswer>;
  close(): Promise<void>;
}

const hr = () => process.hrtime.bigint();
const usSince = (t: bigint) => Number(hr() - t) / 1e3;

async function computeOnce(s: OrtSession, inputs: Batch): Promise<RunAnswer> {
  const t = hr();
  const outputs = s.run(inputs, s.outputs.map((o) => o.name));
  return { outputs, computeUs: usSince(t) };
}

// ---------------------------------------------------------------- (a) in process

async function inprocRunner(modelPath: string): Promise<Runner> {
  const s = await createSession(modelPath, 1);
  return { name: 'inproc', run: (inputs) => computeOnce(s, inputs), close: async () => s.release() };
}

// ---------------------------------------------------------------- (b) worker thread

interface ThreadData {
  role: 'isolation-thread';
  modelPath: string;
}

function wholeBuffers(tensors: Batch): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const d = t.data as TypedArray;
    if (d.buffer instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength) seen.add(d.buffer);
  }
  return [...seen];
}

function threadMain(d: ThreadData): void {
  const port = parentPort!;
  let tid = -1;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    /* not Linux: not pinned */
  }
  createSession(d.modelPath, 1).then(
    (s) => {
      port.on('message', (m: { id: number; inputs?: Batch; close?: boolean }) => {
        if (m.close) {
          // release before exiting: terminating a worker inside onnxruntime aborts the process
          s.release();
          port.postMessage({ id: m.id, closed: true });
          return;
        }
        computeOnce(s, m.inputs!).then(
          (a) => port.postMessage({ id: m.id, ...a }, wholeBuffers(a.outputs)),
          (e: Error) => port.postMessage({ id: m.id, error: e.message }),
        );
      });
      port.postMessage({ ready: true, tid });
    },
    (e: Error) => port.postMessage({ error: e.message }),
  );
}

/** One request in flight at a time: a single pending slot. */
class Pending {
  private slot: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  private next = 1;
  open<T>(send: (id: number) => void): Promise<T> {
    if (this.slot) throw new Error('one batch at a time');
    const id = this.next++;
    const p = new Promise<T>((resolve, reject) => (this.slot = { id, resolve: resolve as (v: unknown) => void, reject }));
    send(id);
    return p;
  }
  settle(m: { id: number; error?: string }): void {
    const s = this.slot;
    if (!s || s.id !== m.id) return;
    this.slot = null;
    if (m.error !== undefined) s.reject(new Error(m.error));
    else s.resolve(m);
  }
  fail(e: Error): void {
    const s = this.slot;
    this.slot = null;
    s?.reject(e);
  }
}

async function threadRunner(modelPath: string, pinCpu: string | null): Promise<Runner> {
  const w = new Worker(__filename, { workerData: { role: 'isolation-thread', modelPath } satisfies ThreadData });
  const ready = await new Promise<{ tid: number }>((resolve, reject) => {
    w.once('message', (m: { ready?: boolean; tid: number; error?: string }) => (m.ready ? resolve(m) : reject(new Error(m.error))));
    w.once('error', reject);
  });
  if (pinCpu !== null && ready.tid > 0) {
    const r = spawnSync('taskset', ['-pc', pinCpu, String(ready.tid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`taskset -pc ${pinCpu} ${ready.tid}: ${r.stderr}`);
  }
  const pending = new Pending();
  w.on('message', (m: { id: number; error?: string }) => pending.settle(m));
  w.on('error', (e) => pending.fail(e));
  w.on('exit', (code) => pending.fail(new Error(`worker thread exited (${code})`)));
  return {
    name: 'thread',
    run: (inputs) => pending.open<RunAnswer>((id) => w.postMessage({ id, inputs }, wholeBuffers(inputs))),
    close: async () => {
      await pending.open((id) => w.postMessage({ id, close: true }));
      await w.terminate();
    },
  };
}

// ---------------------------------------------------------------- (c1) fork + advanced IPC

function forkChildMain(modelPath: string): void {
  createSession(modelPath, 1).then(
    (s) => {
      process.on('message', (m: { id: number; inputs?: Batch; close?: boolean }) => {
        if (m.close) {
          s.release();
          process.send!({ id: m.id, closed: true }, () => process.exit(0));
          return;
        }
        computeOnce(s, m.inputs!).then(
          (a) => process.send!({ id: m.id, ...a }),
          (e: Error) => process.send!({ id: m.id, error: e.message }),
        );
      });
      process.send!({ ready: true });
    },
    (e: Error) => {
      process.send!({ error: e.message });
    },
  );
}

function childExit(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
}

async function forkRunner(modelPath: string, pinCpu: string | null): Promise<Runner> {
  const c = fork(__filename, ['--isolation-child', 'fork', modelPath], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    c.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
    c.once('error', reject);
    c.once('exit', (code, sig) => reject(new Error(`child exited (${code ?? sig}) before it was ready`)));
  });
  c.removeAllListeners('exit');
  if (pinCpu !== null) pinProcess(c.pid!, pinCpu);
  const pending = new Pending();
  c.on('message', (m: { id: number; error?: string }) => pending.settle(m));
  c.on('exit', (code, sig) => pending.fail(new Error(`child exited (${code ?? sig})`)));
  return {
    name: 'fork',
    run: (inputs) => pending.open<RunAnswer>((id) => c.send({ id, inputs })),
    close: async () => {
      await pending.open((id) => c.send({ id, close: true }));
      await childExit(c);
    },
  };
}

// ---------------------------------------------------------------- (c2) binary frames on a pipe

/**
 * Frame: u32 length of the rest, u32 header length, JSON header padded to 8 bytes, then each
 * tensor's bytes at the header's offsets (8-byte aligned, so the receiver views them in place).
 */
interface FrameHeader {
  id: number;
  computeUs?: number;
  error?: string;
  close?: boolean;
  /** shm path: the frame is in the shared file, this many bytes from offset 0. */
  shm?: number;
  tensors: { name: string; datatype: PlainTensor['datatype']; shape: number[]; offset: number; bytes: number }[];
}

const pad8 = (n: number) => (n + 7) & ~7;

/** The frame as buffers to write in order (the first holds the length word and the header). */
export function encodeFrame(head: Omit<FrameHeader, 'tensors'>, tensors: Batch): Buffer[] {
  const parts: Buffer[] = [];
  const tensorsHead: FrameHeader['tensors'] = [];
  let offset = 0;
  for (const t of tensors) {
    const d = t.data as TypedArray;
    tensorsHead.push({ name: t.name, datatype: t.datatype, shape: t.shape, offset, bytes: d.byteLength });
    parts.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    const padded = pad8(d.byteLength);
    if (padded > d.byteLength) parts.push(Buffer.alloc(padded - d.byteLength));
    offset += padded;
  }
  const json = Buffer.from(JSON.stringify({ ...head, tensors: tensorsHead }));
  const headLen = pad8(json.length);
  const pre = Buffer.alloc(8 + headLen);
  pre.writeUInt32LE(4 + headLen + offset, 0);
  pre.writeUInt32LE(headLen, 4);
  json.copy(pre, 8);
  return [pre, ...parts];
}

export function writeFrame(out: Writable, head: Omit<FrameHeader, 'tensors'>, tensors: Batch): void {
  out.cork();
  for (const p of encodeFrame(head, tensors)) out.write(p);
  out.uncork();
}

/** Decodes a whole frame held in `f` (length word included, at 0): tensors are views into f. */
export function parseFrame(f: Uint8Array): { head: FrameHeader; tensors: Batch } {
  const headLen = new DataView(f.buffer, f.byteOffset).getUint32(4, true);
  const head = JSON.parse(Buffer.from(f.buffer, f.byteOffset + 8, headLen).toString('utf8').replace(/\0+$/, '')) as FrameHeader;
  const base = f.byteOffset + 8 + headLen; // headLen is a multiple of 8: every tensor starts 8-aligned
  const tensors: Batch = head.tensors.map((t) => {
    const view = VIEWS[t.datatype];
    if (!view) throw new Error(`frame: datatype ${t.datatype} not handled`);
    return { name: t.name, datatype: t.datatype, shape: t.shape, data: view(f.buffer as ArrayBuffer, base + t.offset, t.bytes) };
  });
  return { head, tensors };
}

const VIEWS: Partial<Record<PlainTensor['datatype'], (b: ArrayBuffer, o: number, n: number) => TypedArray>> = {
  FP32: (b, o, n) => new Float32Array(b, o, n / 4),
  INT64: (b, o, n) => new BigInt64Array(b, o, n / 8),
  FP64: (b, o, n) => new Float64Array(b, o, n / 8),
  INT32: (b, o, n) => new Int32Array(b, o, n / 4),
};

/** Reassembles frames from stream chunks into one fresh ArrayBuffer each (one copy). */
export class FrameReader {
  private lenBuf = Buffer.alloc(4);
  private lenHave = 0;
  private frame: Uint8Array | null = null;
  private have = 0;

  constructor(private readonly onFrame: (head: FrameHeader, tensors: Batch) => void) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (!this.frame) {
        const n = Math.min(4 - this.lenHave, chunk.length - i);
        chunk.copy(this.lenBuf, this.lenHave, i, i + n);
        this.lenHave += n;
        i += n;
        if (this.lenHave < 4) return;
        // 4 leading bytes stand for the length word, so that offsets are the sender's (8-aligned)
        this.frame = new Uint8Array(4 + this.lenBuf.readUInt32LE(0));
        this.have = 4;
        this.lenHave = 0;
      }
      const n = Math.min(this.frame.length - this.have, chunk.length - i);
      this.frame.set(chunk.subarray(i, i + n), this.have);
      this.have += n;
      i += n;
      if (this.have === this.frame.length) {
        const f = this.frame;
        this.frame = null;
        this.emit(f);
      }
    }
  }

  private emit(f: Uint8Array): void {
    const { head, tensors } = parseFrame(f);
    this.onFrame(head, tensors);
  }
}

/** Writes a frame into a shared file (from offset 0); returns its size. */
function writeShm(fd: number, head: Omit<FrameHeader, 'tensors'>, tensors: Batch): number {
  const parts = encodeFrame(head, tensors);
  const total = parts.reduce((s, p) => s + p.length, 0);
  let done = 0;
  while (done < total) done += writevSync(fd, done === 0 ? parts : [Buffer.concat(parts).subarray(done)], done);
  return total;
}

function readShm(fd: number, bytes: number): { head: FrameHeader; tensors: Batch } {
  const f = new Uint8Array(bytes);
  let got = 0;
  while (got < bytes) {
    const n = readSync(fd, f, got, bytes - got, got);
    if (n === 0) throw new Error(`shared file ended at ${got} of ${bytes} bytes`);
    got += n;
  }
  return parseFrame(f);
}

function pipeChildMain(modelPath: string, shm?: { input: string; output: string }): void {
  const out = process.stdout;
  const fdIn = shm ? openSync(shm.input, 'r') : -1;
  const fdOut = shm ? openSync(shm.output, 'r+') : -1;
  createSession(modelPath, 1).then(
    (s) => {
      const reader = new FrameReader((doorbell, framed) => {
        const { head, tensors: inputs } = shm && doorbell.shm !== undefined ? readShm(fdIn, doorbell.shm) : { head: doorbell, tensors: framed };
        if (head.close) {
          s.release();
          writeFrame(out, { id: head.id }, []);
          process.exitCode = 0;
          process.stdin.destroy();
          return;
        }
        computeOnce(s, inputs).then(
          (a) =>
            shm
              ? writeFrame(out, { id: head.id, shm: writeShm(fdOut, { id: head.id, computeUs: a.computeUs }, a.outputs) }, [])
              : writeFrame(out, { id: head.id, computeUs: a.computeUs }, a.outputs),
          (e: Error) => writeFrame(out, { id: head.id, error: e.message }, []),
        );
      });
      process.stdin.on('data', (c: Buffer) => reader.push(c));
      writeFrame(out, { id: 0 }, []);
    },
    (e: Error) => writeFrame(out, { id: 0, error: e.message }, []),
  );
}

async function pipeRunner(modelPath: string, pinCpu: string | null, useShm: boolean): Promise<Runner> {
  let shm: { dir: string; input: string; output: string; fdIn: number; fdOut: number } | null = null;
  if (useShm) {
    const dir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'infera-isolation-'));
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    writeFileSync(input, '');
    writeFileSync(output, '');
    shm = { dir, input, output, fdIn: openSync(input, 'r+'), fdOut: openSync(output, 'r') };
  }
  const args = [__filename, '--isolation-child', useShm ? 'shm' : 'pipe', modelPath, ...(shm ? [shm.input, shm.output] : [])];
  const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const stdin = c.stdin as Writable;
  const stdout = c.stdout as Readable;
  const pending = new Pending();
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((readyResolve = res), (readyReject = rej)));
  const reader = new FrameReader((head, tensors) => {
    if (head.id === 0) return head.error ? readyReject(new Error(head.error)) : readyResolve();
    if (shm && head.shm !== undefined) ({ head, tensors } = readShm(shm.fdOut, head.shm));
    pending.settle({ id: head.id, error: head.error, outputs: tensors, computeUs: head.computeUs } as { id: number; error?: string });
  });
  stdout.on('data', (chunk: Buffer) => reader.push(chunk));
  c.on('exit', (code, sig) => {
    const e = new Error(`child exited (${code ?? sig})`);
    readyReject(e);
    pending.fail(e);
  });
  await ready;
  if (pinCpu !== null) pinProcess(c.pid!, pinCpu);
  return {
    name: useShm ? 'shm' : 'pipe',
    run: (inputs) => pending.open<RunAnswer>((id) => (shm ? writeFrame(stdin, { id, shm: writeShm(shm.fdIn, { id }, inputs) }, []) : writeFrame(stdin, { id }, inputs))),
    close: async () => {
      await pending.open((id) => writeFrame(stdin, { id, close: true }, []));
      stdin.end();
      await childExit(c);
      if (shm) {
        closeSync(shm.fdIn);
        closeSync(shm.fdOut);
        rmSync(shm.dir, { recursive: true, force: true });
      }
    },
  };
}

export function startRunner(name: PathName, modelPath: string, pinCpu: string | null = null): Promise<Runner> {
  switch (name) {
    case 'inproc':
      return inprocRunner(modelPath);
    case 'thread':
      return threadRunner(modelPath, pinCpu);
    case 'fork':
      return forkRunner(modelPath, pinCpu);
    case 'pipe':
      return pipeRunner(modelPath, pinCpu, false);
    case 'shm':
      return pipeRunner(modelPath, pinCpu, true);
  }
}

// ---------------------------------------------------------------- workloads (real data)

export interface Workload {
  model: 'vad' | 'flights';
  modelPath: string;
  rows: number;
  /** Distinct batches of real rows, rotated through. */
  feeds: Batch[];
  /** Bytes of one batch's inputs. */
  inputBytes: number;
}

/** Silero VAD: `rows` consecutive 1536-sample chunks of hello16000.wav per batch, zero state. */
export function vadWorkload(root: string, rows: number): Workload {
  const speech = loadSpeechChunks();
  const feeds = vadFeeds(speech.chunks, rows, speech.sampleRate).map((f) =>
    f.map((t) => ({ name: t.name, datatype: t.type === 'int64' ? ('INT64' as const) : ('FP32' as const), shape: t.dims, data: t.data })),
  );
  return { model: 'vad', modelPath: path.join(root, 'models/vad/1/model.onnx'), rows, feeds, inputBytes: batchBytes(feeds[0]) };
}

/** flights-delay: `rows` real February 2001 flights per batch through the saved feature spec's transform. */
export async function flightsWorkload(root: string, rows: number, distinctRows = 512): Promise<Workload> {
  const files = flightsModelFiles(path.join(root, 'models'));
  const f = await loadFebruaryFlights(flightsParquet(root), Math.max(distinctRows, rows));
  const t = prepareTensor(loadSpec(files.featureSpec), f);
  const feeds: Batch[] = [];
  for (let first = 0; first + rows <= f.rows; first += rows) {
    feeds.push([{ name: 'features', datatype: 'FP32', shape: [rows, t.width], data: t.data.slice(first * t.width, (first + rows) * t.width) }]);
  }
  return { model: 'flights', modelPath: files.model, rows, feeds, inputBytes: batchBytes(feeds[0]) };
}

function batchBytes(b: Batch): number {
  return b.reduce((s, t) => s + (t.data as TypedArray).byteLength, 0);
}

/** A fresh copy of a feed (a batch owns its buffers: the thread path transfers them away). */
export function freshCopy(b: Batch): Batch {
  return b.map((t) => ({ ...t, shape: [...t.shape], data: (t.data as TypedArray).slice() }));
}

function bytesOf(t: PlainTensor): Buffer {
  const d = t.data as TypedArray;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

/** Bit-for-bit equality of two answers (names, datatypes, shapes, bytes). Returns why not, or null. */
export function sameOutputs(a: Batch, b: Batch): string | null {
  if (a.length !== b.length) return `${a.length} outputs vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.name !== y.name || x.datatype !== y.datatype || x.shape.join(',') !== y.shape.join(',')) return `output ${i}: ${x.name} ${x.datatype} [${x.shape}] vs ${y.name} ${y.datatype} [${y.shape}]`;
    if (!bytesOf(x).equals(bytesOf(y))) return `output ${x.name}: bytes differ`;
  }
  return null;
}

// ---------------------------------------------------------------- measurement

export interface PathResult {
  path: PathName;
  batches: number;
  rttUs: { p50: number; p99: number; mean: number };
  /** Median of round trip − the compute timed where it ran. */
  transportP50Us: number;
  remoteComputeP50Us: number;
  /** Median of each block, min and max (the run-to-run spread). */
  blockP50Us: { min: number; max: number };
  /** Every block's median, in run order (paired with the other paths' neighbouring blocks). */
  blockP50sUs: number[];
  mismatches: number;
}

export interface CaseResult {
  model: string;
  rows: number;
  inputBytes: number;
  distinctFeeds: number;
  paths: PathResult[];
}

export interface MeasureOptions {
  batches: number;
  block: number;
  warmup: number;
  paths?: readonly PathName[];
  log?: (s: string) => void;
  /** Called before each path's warm-up and blocks (e.g. to move this thread to the workers' core for `inproc`). */
  onPath?: (p: PathName) => void;
}

/**
 * Times `batches` round trips per path over the workload's feeds, in ABBA-ordered blocks, each
 * answer checked bit for bit against the in-process answer to that feed.
 * @throws Error on the first mismatch's description when `strict` (the default).
 */
export async function measure(w: Workload, runners: Record<PathName, Runner>, o: MeasureOptions): Promise<CaseResult> {
  const paths = o.paths ?? PATHS;
  // references: the in-process answer to every distinct feed
  const ref: Batch[] = [];
  for (const f of w.feeds) ref.push((await runners.inproc.run(freshCopy(f))).outputs.map((t) => ({ ...t, data: (t.data as TypedArray).slice() })));
  const rtt: Record<string, number[]> = {};
  const transport: Record<string, number[]> = {};
  const remote: Record<string, number[]> = {};
  const blockMedians: Record<string, number[]> = {};
  const mismatches: Record<string, number> = {};
  const done: Record<string, number> = {};
  for (const p of paths) {
    rtt[p] = [];
    transport[p] = [];
    remote[p] = [];
    blockMedians[p] = [];
    mismatches[p] = 0;
    done[p] = 0;
    o.onPath?.(p);
    for (let i = 0; i < o.warmup; i++) await runners[p].run(freshCopy(w.feeds[i % w.feeds.length]));
  }
  const blocks = Math.ceil(o.batches / o.block);
  for (let b = 0; b < blocks; b++) {
    const order = b % 2 === 0 ? paths : [...paths].reverse();
    for (const p of order) {
      o.onPath?.(p);
      const n = Math.min(o.block, o.batches - done[p]);
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const k = (done[p] + i) % w.feeds.length;
        const inputs = freshCopy(w.feeds[k]);
        const t = hr();
        const a = await runners[p].run(inputs);
        const us = usSince(t);
        times.push(us);
        rtt[p].push(us);
        remote[p].push(a.computeUs);
        transport[p].push(us - a.computeUs);
        const why = sameOutputs(ref[k], a.outputs);
        if (why) {
          mismatches[p] += 1;
          o.log?.(`MISMATCH ${w.model} batch ${w.rows} ${p} feed ${k}: ${why}`);
        }
      }
      done[p] += n;
      blockMedians[p].push(median(times));
    }
  }
  return {
    model: w.model,
    rows: w.rows,
    inputBytes: w.inputBytes,
    distinctFeeds: w.feeds.length,
    paths: paths.map((p) => ({
      path: p,
      batches: rtt[p].length,
      rttUs: { p50: percentile(rtt[p], 50), p99: percentile(rtt[p], 99), mean: rtt[p].reduce((s, x) => s + x, 0) / rtt[p].length },
      transportP50Us: median(transport[p]),
      remoteComputeP50Us: median(remote[p]),
      blockP50Us: { min: Math.min(...blockMedians[p]), max: Math.max(...blockMedians[p]) },
      blockP50sUs: blockMedians[p].map((x) => Math.round(x)),
      mismatches: mismatches[p],
    })),
  };
}

// ---------------------------------------------------------------- report

const f0 = (x: number) => Math.round(x).toLocaleString('en-US');

export function tableOf(cases: CaseResult[]): string {
  const lines = [
    '| model | rows | input KiB | path | p50 µs | p99 µs | block p50 min–max µs | overhead p50 vs (a) µs | transport p50 µs | throughput vs (a) | mismatches |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    const a = c.paths.find((p) => p.path === 'inproc');
    for (const p of c.paths) {
      const over = a && p.path !== 'inproc' ? `${f0(p.rttUs.p50 - a.rttUs.p50)} (${Math.round(((p.rttUs.p50 - a.rttUs.p50) / a.rttUs.p50) * 100)} %)` : '—';
      const thr = a ? (a.rttUs.mean / p.rttUs.mean).toFixed(2) : '—';
      const transport = p.path === 'inproc' ? '—' : f0(p.transportP50Us);
      lines.push(`| ${c.model} | ${c.rows} | ${(c.inputBytes / 1024).toFixed(1)} | ${p.path} | ${f0(p.rttUs.p50)} | ${f0(p.rttUs.p99)} | ${f0(p.blockP50Us.min)}–${f0(p.blockP50Us.max)} | ${over} | ${transport} | ${thr} | ${p.mismatches} |`);
    }
  }
  return lines.join('\n');
}

function cpuLine(): string {
  const r = spawnSync('lscpu', [], { encoding: 'utf8' });
  const get = (k: string) => r.stdout?.match(new RegExp(`^${k}:\\s*(.+)$`, 'm'))?.[1].trim();
  const flags = get('Flags') ?? '';
  const simd = ['avx512f', 'avx512_vnni', 'amx_tile', 'avx2'].filter((x) => flags.split(' ').includes(x)).join(' ');
  return `${get('Model name') ?? os.cpus()[0]?.model} × ${get('CPU\\(s\\)') ?? os.cpus().length} (${get('Hypervisor vendor') ? `${get('Hypervisor vendor')} VM, ` : ''}${simd})`;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '../../..');
  const batches = toolPositiveInt('batches', 2000);
  const block = toolPositiveInt('block', 100);
  const warmup = toolPositiveInt('warmup', 50);
  const models = (toolArg('models') ?? 'vad,flights').split(',').filter(Boolean);
  const sizes = (toolArg('sizes') ?? '1,16,64').split(',').map(Number);
  const jsonOut = toolArg('json');
  const pin = !process.argv.includes('--no-pin') && hasTaskset() && os.availableParallelism() >= 2;
  for (const m of models) if (m !== 'vad' && m !== 'flights') throw new Error(`--models: vad and/or flights, got ${m}`);
  for (const s of sizes) if (!Number.isInteger(s) || s <= 0) throw new Error(`--sizes: positive integers, got ${toolArg('sizes')}`);
  if (pin) pinProcess(process.pid, '0');
  const pinCpu = pin ? '1' : null;
  // (a) computes on the workers' core (only this thread moves; taskset -pc on the pid is the main
  // thread): a neighbour busier on one core than the other must not pass for overhead.
  let mainCpu = '0';
  const onPath = (p: PathName) => {
    const want = p === 'inproc' ? '1' : '0';
    if (!pin || want === mainCpu) return;
    const r = spawnSync('taskset', ['-pc', want, String(process.pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`taskset -pc ${want} ${process.pid}: ${r.stderr}`);
    mainCpu = want;
  };
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const cpu = cpuLine();
  log(`${cpu}; node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  log(pin ? 'pinned: this process (all threads) on core 0, worker thread and children on core 1; the main thread moves to core 1 for (a)' : 'not pinned');
  const cases: CaseResult[] = [];
  const t0 = Date.now();
  for (const m of models) {
    const modelPath = m === 'vad' ? path.join(root, 'models/vad/1/model.onnx') : flightsModelFiles(path.join(root, 'models')).model;
    const runners = {} as Record<PathName, Runner>;
    for (const p of PATHS) runners[p] = await startRunner(p, modelPath, pinCpu);
    try {
      for (const rows of sizes) {
        const w = m === 'vad' ? vadWorkload(root, rows) : await flightsWorkload(root, rows);
        const c = await measure(w, runners, { batches, block, warmup, log, onPath });
        cases.push(c);
        log(tableOf([c]).split('\n').slice(2).join('\n'));
      }
    } finally {
      for (const p of PATHS) await runners[p].close();
    }
  }
  log('');
  log(tableOf(cases));
  log(`\n${batches} batches per path and case, blocks of ${block} (ABBA), ${warmup} warm-up batches excluded; ${((Date.now() - t0) / 1000).toFixed(0)} s; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ cpu, node: process.version, pinned: pin, batches, block, warmup, loadAvg: os.loadavg(), cases }, null, 2));
  const bad = cases.reduce((s, c) => s + c.paths.reduce((t, p) => t + p.mismatches, 0), 0);
  if (bad > 0) throw new Error(`${bad} answers differ from the in-process answer`);
}

// ---------------------------------------------------------------- entry points

if (!isMainThread && (workerData as ThreadData | undefined)?.role === 'isolation-thread') {
  threadMain(workerData as ThreadData);
} else if (process.argv[2] === '--isolation-child') {
  if (process.argv[3] === 'fork') forkChildMain(process.argv[4]);
  else if (process.argv[3] === 'shm') pipeChildMain(process.argv[4], { input: process.argv[5], output: process.argv[6] });
  else pipeChildMain(process.argv[4]);
} else if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? e.stack : e);
      process.exit(1);
    },
  );
}
