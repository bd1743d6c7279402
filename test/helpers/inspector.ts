import type { ChildProcess } from 'node:child_process';

/**
 * Forces a full garbage collection in another Node process through its inspector
 * (`--inspect=127.0.0.1:0` on its command line, stderr piped), so a memory figure taken next
 * counts what the process retains, not garbage a collection has not reached yet. No code in
 * the server is involved: this is the DevTools protocol's HeapProfiler.collectGarbage.
 */
interface InspectorSocket {
  on(event: 'open', cb: () => void): this;
  on(event: 'message', cb: (data: Buffer) => void): this;
  on(event: 'error', cb: (e: Error) => void): this;
  send(data: string): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as new (url: string) => InspectorSocket;

/** The inspector's WebSocket address, read from the child's stderr as it starts. */
export function inspectorUrl(child: ChildProcess, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no inspector address on stderr: ${seen.slice(0, 500)}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      seen += d.toString();
      const m = /Debugger listening on (ws:\/\/\S+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

/** Runs HeapProfiler.collectGarbage in the process behind `url`; resolves once it has answered. */
export function collectGarbage(url: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocketImpl(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error('HeapProfiler.collectGarbage did not answer'));
    }, timeoutMs);
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (data) => {
      const reply = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
      if (reply.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (reply.error) reject(new Error(reply.error.message));
      else resolve();
    });
  });
}
