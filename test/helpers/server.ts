import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { DEFAULT_SERVER_OPTIONS, InferaServer, ServerOptions } from '../../src/server/server';

export const ROOT = path.resolve(__dirname, '../../..');
export const MODELS = path.join(ROOT, 'models');
export const VAD_ONNX = path.join(MODELS, 'vad/1/model.onnx');
/** Real speech: Debian package linphone-common (installed by .ci/run). */
export const HELLO_WAV = '/usr/share/sounds/linphone/hello16000.wav';

export interface Running {
  server: InferaServer;
  url: string;
}

/** Starts a server on a free port with an injected registry and a silent logger. */
export async function startServer(opts: Partial<ServerOptions> = {}): Promise<Running> {
  const server = new InferaServer({
    ...DEFAULT_SERVER_OPTIONS,
    repository: MODELS,
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    ...opts,
  });
  const port = await server.start();
  return { server, url: `http://127.0.0.1:${port}` };
}

/** A scratch repository holding a copy of the real VAD model, plus whatever a test adds. */
export function scratchRepository(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-repo-'));
  fs.mkdirSync(path.join(dir, 'vad/1'), { recursive: true });
  fs.copyFileSync(path.join(MODELS, 'vad/model.json'), path.join(dir, 'vad/model.json'));
  fs.copyFileSync(VAD_ONNX, path.join(dir, 'vad/1/model.onnx'));
  return dir;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}
