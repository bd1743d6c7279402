/**
 * A lean HTTP/1.1 keep-alive client for the open-loop generator: pre-serialised
 * requests written straight to a pool of TCP sockets (one request in flight per
 * socket, no pipelining), responses parsed just enough to find their end
 * (Content-Length or chunked). node:http costs ~100+ µs of the generator's core per
 * request, which capped the old generator near 3–5k req/s on a busy core; this one
 * does the same work for a fraction of that.
 */
import * as net from 'node:net';

export interface RawReply {
  status: number;
  bodyBytes: number;
  /** The body itself, only when the parser was asked to keep it. */
  body?: Buffer;
}

type Callback = (err: Error | null, reply?: RawReply) => void;

interface Pending {
  buf: Buffer;
  cb: Callback;
}

/** Serialises one POST request (head + body) once, to be written as is many times. */
export function serializePost(host: string, port: number, path: string, body: Buffer, headers: Record<string, string>): Buffer {
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${host}:${port}`, 'Connection: keep-alive', `Content-Length: ${body.length}`];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'content-length') lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Incremental response parser. feed() returns the bytes of `data` it did not consume
 * (the start of a next response, which keep-alive without pipelining never has) once a
 * response is complete, or null while it is not.
 */
export class ResponseParser {
  constructor(private readonly keepBody = false) {}
  private head: Buffer | null = null;
  private kept: Buffer[] = [];
  private status = 0;
  private remaining = -1;
  private chunked = false;
  private chunkBuf: Buffer | null = null;
  private bodyBytes = 0;
  done: RawReply | null = null;

  reset(): void {
    this.head = null;
    this.status = 0;
    this.remaining = -1;
    this.chunked = false;
    this.chunkBuf = null;
    this.bodyBytes = 0;
    this.kept = [];
    this.done = null;
  }

  private complete(): void {
    this.done = { status: this.status, bodyBytes: this.bodyBytes, ...(this.keepBody ? { body: Buffer.concat(this.kept) } : {}) };
  }

  /** @throws Error on a response it cannot frame. */
  feed(data: Buffer): void {
    if (this.remaining < 0 && !this.chunked) {
      this.head = this.head ? Buffer.concat([this.head, data]) : data;
      const end = this.head.indexOf(CRLFCRLF);
      if (end < 0) return;
      const text = this.head.subarray(0, end).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) throw new Error(`bad status line: ${text.slice(0, 40)}`);
      this.status = Number(m[1]);
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text);
      const rest = this.head.subarray(end + 4);
      this.head = null;
      if (cl) {
        this.remaining = Number(cl[1]);
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(text)) {
        this.chunked = true;
      } else if (this.status === 204 || this.status === 304) {
        this.remaining = 0;
      } else {
        throw new Error('response without Content-Length or chunked encoding');
      }
      data = rest;
    }
    if (this.chunked) return this.feedChunked(data);
    const take = Math.min(this.remaining, data.length);
    if (this.keepBody && take > 0) this.kept.push(Buffer.from(data.subarray(0, take)));
    this.remaining -= take;
    this.bodyBytes += take;
    if (this.remaining === 0) this.complete();
  }

  private feedChunked(data: Buffer): void {
    let buf = this.chunkBuf ? Buffer.concat([this.chunkBuf, data]) : data;
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) break;
      const size = parseInt(buf.subarray(0, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size');
      if (size === 0) {
        // last chunk, no trailers expected: "0\r\n\r\n"
        if (buf.length < eol + 4) break;
        this.complete();
        this.chunkBuf = null;
        return;
      }
      if (buf.length < eol + 2 + size + 2) break;
      this.bodyBytes += size;
      if (this.keepBody) this.kept.push(Buffer.from(buf.subarray(eol + 2, eol + 2 + size)));
      buf = buf.subarray(eol + 2 + size + 2);
    }
    this.chunkBuf = buf.length ? Buffer.from(buf) : null;
  }
}

interface Conn {
  socket: net.Socket;
  parser: ResponseParser;
  busy: Pending | null;
  sentAt: number;
}

/** At most `maxSockets` keep-alive connections; requests beyond wait in FIFO order. */
export class RawHttpPool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private readonly queue: Pending[] = [];
  private head = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxSockets: number,
    private readonly timeoutMs = 10000,
    /** Keep each response's body (RawReply.body); off, only its length is counted. */
    private readonly keepBodies = false,
  ) {
    this.timer = setInterval(() => this.sweepTimeouts(), 100);
    this.timer.unref();
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  request(buf: Buffer, cb: Callback): void {
    if (this.closed) return cb(new Error('pool closed'));
    const c = this.idle.pop();
    if (c) return this.send(c, { buf, cb });
    this.queue.push({ buf, cb });
    if (this.all.size < this.maxSockets) this.connect();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  private connect(): void {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    const c: Conn = { socket, parser: new ResponseParser(this.keepBodies), busy: null, sentAt: 0 };
    this.all.add(c);
    socket.on('connect', () => this.next(c));
    socket.on('data', (d: Buffer) => {
      const p = c.busy;
      if (!p) return; // stray bytes
      try {
        c.parser.feed(d);
      } catch (e) {
        this.fail(c, e as Error);
        return;
      }
      const done = c.parser.done;
      if (done) {
        c.busy = null;
        c.parser.reset();
        p.cb(null, done);
        this.next(c);
      }
    });
    const gone = (err?: Error) => {
      if (!this.all.has(c)) return;
      this.all.delete(c);
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
      const p = c.busy;
      c.busy = null;
      if (p) p.cb(err ?? new Error('connection closed'));
      // replace the lost connection when requests wait
      if (!this.closed && this.waiting > 0 && this.all.size < this.maxSockets) this.connect();
    };
    socket.on('error', (e) => gone(e));
    socket.on('close', () => gone());
  }

  private fail(c: Conn, e: Error): void {
    const p = c.busy;
    c.busy = null;
    this.all.delete(c);
    c.socket.destroy();
    if (p) p.cb(e);
    if (!this.closed && this.waiting > 0 && this.all.size < this.maxSockets) this.connect();
  }

  private next(c: Conn): void {
    if (this.closed) return;
    if (this.head < this.queue.length) {
      const p = this.queue[this.head];
      this.queue[this.head++] = undefined as unknown as Pending;
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.send(c, p);
    } else {
      this.idle.push(c);
    }
  }

  private send(c: Conn, p: Pending): void {
    c.busy = p;
    c.sentAt = Date.now();
    c.socket.write(p.buf);
  }

  private sweepTimeouts(): void {
    const now = Date.now();
    for (const c of this.all) {
      if (c.busy && now - c.sentAt > this.timeoutMs) this.fail(c, new Error('timeout'));
    }
  }
}
