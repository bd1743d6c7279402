// The README's shell blocks marked `<!-- runnable -->` run as written against a server on a
// free port: every line must exit 0 (curl fails on any non-2xx answer). The only rewrites
// are the ports (localhost:8080 → the test server, localhost:8001 → its gRPC port), `npx --no-install infera` → this
// checkout's CLI (what npx runs), and curl's flags to fail on errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startServer } from '../helpers/server';

const CLI = path.join(ROOT, 'dist/src/cli/main.js');

/** The lines of every ```sh block that follows a `<!-- runnable` comment. */
function runnableBlocks(markdown: string): string[][] {
  const blocks: string[][] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('<!-- runnable') || lines[i + 1] !== '```sh') continue;
    const block: string[] = [];
    for (i += 2; i < lines.length && lines[i] !== '```'; i++) if (lines[i].trim() && !lines[i].trim().startsWith('#')) block.push(lines[i]);
    blocks.push(block);
  }
  return blocks;
}

test('every runnable README block runs as written against a live server', async (t) => {
  const blocks = runnableBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 3, `found ${blocks.length} runnable blocks`);
  const srv = await startServer({ grpcPort: 0 });
  const port = new URL(srv.url).port;
  try {
    for (const block of blocks) {
      for (const line of block) {
        const cmd = line
          .replaceAll('localhost:8080', `127.0.0.1:${port}`)
          .replaceAll('localhost:8001', `127.0.0.1:${srv.server.grpcPort}`)
          .replace(/^npx --no-install infera /, `${process.execPath} ${CLI} `)
          .replace(/^curl /, 'curl -sS --fail-with-body ');
        const env = { ...process.env };
        delete env.INFERA_REPOSITORY;
        // Asynchronously: the server answering these commands runs in this process.
        const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile('bash', ['-c', cmd], { cwd: ROOT, env, timeout: 60_000, maxBuffer: 1 << 24 }, (e, stdout, stderr) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stdout, stderr }));
        });
        assert.equal(r.code, 0, `README: ${line}\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(0, 500)}`);
        t.diagnostic(`ok: ${line.slice(0, 100)}`);
      }
    }
  } finally {
    await srv.server.stop();
  }
});
