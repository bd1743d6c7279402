import type { IncomingMessage } from 'node:http';

/**
 * A minimal typed WebSocket client for tests over the `ws` package, which is present as
 * a dependency of uWebSockets.js (it ships no types, and @types/ws is not installed).
 */
interface WsSocket {
  on(event: 'open', cb: () => void): this;
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', cb: (code: number, reason: Buffer) => void): this;
  on(event: 'error', cb: (e: Error) => void): this;
  on(event: 'unexpected-response', cb: (req: unknown, res: IncomingMessage) => void): this;
  send(data: string | Uint8Array, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}
type WsConstructor = new (url: string) => WsSocket;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as WsConstructor;

export interface StreamMessage {
  type: string;
  [field: string]: any;
}

export interface Closed {
  code: number;
  reason: string;
}

/** One client connection: every text message it receives, and how it closed. */
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  readonly closed: Promise<Closed>;

  private constructor(readonly ws: WsSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.messages.push(JSON.parse(data.toString()));
    });
  }

  /** Connects; rejects with {status, body} when the server refuses the upgrade. */
  static open(url: string): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocketImpl(url);
      ws.on('open', () => resolve(new StreamClient(ws)));
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body || 'null') })));
      });
      ws.on('error', (e) => reject(e));
    });
  }

  send(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Sends `bytes` in frames of the given sizes (cycled), then {"type":"end"}. */
  async sendAll(bytes: Uint8Array, frameSizes: number[]): Promise<void> {
    let off = 0;
    for (let k = 0; off < bytes.length; k++) {
      const n = frameSizes[k % frameSizes.length];
      await this.send(bytes.subarray(off, off + n));
      off += n;
    }
    await this.send(JSON.stringify({ type: 'end' }));
  }

  of(type: string): StreamMessage[] {
    return this.messages.filter((m) => m.type === type);
  }
}

/** Little-endian PCM16 bytes of float samples read from a PCM16 file (exact: x·32768 is an integer). */
export function pcm16Bytes(samples: Float32Array): Uint8Array {
  const b = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.round(samples[i] * 32768), 2 * i);
  return b;
}

/** Little-endian float32 bytes. */
export function f32Bytes(samples: Float32Array): Uint8Array {
  const b = Buffer.alloc(samples.length * 4);
  for (let i = 0; i < samples.length; i++) b.writeFloatLE(samples[i], 4 * i);
  return b;
}
