import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { InferaError, toInferaError } from '../errors';

/**
 * Owns the uWS rules for one request, so routes never touch the response:
 * - onAborted is registered before anything can await;
 * - request headers and URL are copied eagerly (the uWS request dies with the handler's first tick);
 * - the body size is counted in onData and refused with 413 past the limit. A body refused by
 *   its declared Content-Length is answered at once and the connection kept: uWS reads and
 *   discards the rest (bounded by that length and the idle timeout), so the client, still
 *   sending, reads the 413 instead of EPIPE/ECONNRESET (a lingering close, as nginx does). A
 *   chunked body past the limit has no end to skip to: the answer closes the connection;
 * - a body of a media type the route cannot read is refused with 415 before it is read;
 * - every write after an await is corked; large bodies honour backpressure via onWritable.
 */
export class HttpExchange {
  readonly method: string;
  readonly url: string;
  readonly query: string;
  private readonly decodedParams: string[];
  private paramError?: InferaError;
  private readonly headers = new Map<string, string>();
  private aborted = false;
  private closeAfterError = false;
  private done = false;
  readonly startedAt = performance.now();
  status = 0;
  /** Headers every response of this exchange carries (CORS, set by the router). */
  responseHeaders: Record<string, string> | null = null;

  constructor(private readonly res: HttpResponse, req: HttpRequest, paramCount: number, wantedHeaders: readonly string[]) {
    /* Awaiting yields to C++, so onAborted must already be registered. */
    res.onAborted(() => {
      this.aborted = true;
    });
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.query = req.getQuery() ?? '';
    const raw = Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? '');
    this.decodedParams = raw.map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        this.paramError ??= new InferaError('ENG_ERR_BAD_REQUEST', `malformed percent-escape in the URL path segment '${p.slice(0, 64)}'`);
        return p;
      }
    });
    for (const h of wantedHeaders) {
      const v = req.getHeader(h);
      if (v !== '') this.headers.set(h, v);
    }
  }

  /**
   * The route's parameters, percent-decoded.
   * @throws InferaError 400 ENG_ERR_BAD_REQUEST when one holds a malformed percent-escape.
   */
  get params(): readonly string[] {
    if (this.paramError) throw this.paramError;
    return this.decodedParams;
  }

  /**
   * The peer's address as text (IPv4, or IPv6 in full form). Read on demand (management
   * routes only): each read allocates an ArrayBuffer, and the data plane has no use for it.
   * Valid until the response is sent.
   */
  get remoteAddress(): string {
    this.peer ??= Buffer.from(this.res.getRemoteAddressAsText()).toString();
    return this.peer;
  }

  private peer?: string;

  header(name: string): string | undefined {
    return this.headers.get(name);
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  /**
   * Reads the whole body, refusing more than maxBytes.
   *
   * With a Content-Length the body is copied once, chunk by chunk, into its own buffer
   * (uWS reuses a chunk's memory after the callback). `alignAt` places that buffer so that
   * body[alignAt] is 8-byte aligned: the binary tensor section of an OIP request then starts
   * aligned and its FP32/INT64 tensors are views, not copies.
   * @returns a Promise of the body; rejects with ENG_ERR_BODY_TOO_LARGE (413).
   */
  body(maxBytes: number, alignAt = 0): Promise<Buffer> {
    const declared = Number(this.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) return Promise.reject(new InferaError('ENG_ERR_BODY_TOO_LARGE', `${declared} bytes, the limit is ${maxBytes}`));
    const known = Number.isSafeInteger(declared) && declared >= 0;
    return new Promise((resolve, reject) => {
      const pad = known && Number.isSafeInteger(alignAt) && alignAt > 0 ? (8 - (alignAt % 8)) % 8 : 0;
      const whole = known ? Buffer.from(new ArrayBuffer(pad + declared), pad, declared) : null;
      // A chunked body grows one buffer (doubling): however many chunks a client sends, the
      // memory held is at most twice the body, never one object per chunk.
      let grown: Buffer | null = null;
      let size = 0;
      let failed = false;
      this.res.onData((chunk, isLast) => {
        if (failed) return;
        const n = chunk.byteLength;
        if (size + n > maxBytes || (whole && size + n > whole.byteLength)) {
          failed = true;
          // A body without Content-Length has no end uWS could skip to: close after the answer.
          if (!whole) this.closeAfterError = true;
          reject(new InferaError('ENG_ERR_BODY_TOO_LARGE', whole && size + n <= maxBytes ? `more than the declared Content-Length ${declared}` : `more than ${maxBytes} bytes`));
          return;
        }
        if (whole) whole.set(new Uint8Array(chunk), size);
        else {
          if (!grown || size + n > grown.byteLength) {
            const next = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(16 * 1024, 2 * (size + n))));
            if (grown) grown.copy(next, 0, 0, size);
            grown = next;
          }
          grown.set(new Uint8Array(chunk), size);
        }
        size += n;
        if (!isLast) return;
        if (whole) resolve(size === whole.byteLength ? whole : whole.subarray(0, size));
        else resolve(grown ? grown.subarray(0, size) : Buffer.alloc(0));
      });
    });
  }

  /**
   * Refuses a body the server cannot read: a Content-Encoding other than identity, or a
   * Content-Type other than JSON (application/json, application/*+json) or, where
   * `binaryAllowed`, application/octet-stream. A missing Content-Type is read as JSON.
   * @throws InferaError 415 ENG_ERR_UNSUPPORTED_MEDIA_TYPE saying what is accepted.
   */
  checkMediaType(binaryAllowed: boolean): void {
    const enc = this.headers.get('content-encoding');
    if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
      throw new InferaError('ENG_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding '${enc.slice(0, 64)}' is not supported; send the body uncompressed`);
    }
    const ct = this.headers.get('content-type');
    if (ct === undefined) return;
    const type = ct.split(';')[0].trim().toLowerCase();
    if (type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type)) return;
    if (binaryAllowed && type === 'application/octet-stream') return;
    const accepted = binaryAllowed ? 'application/json, or application/octet-stream with Inference-Header-Content-Length' : 'application/json';
    throw new InferaError('ENG_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type '${ct.slice(0, 64)}' is not supported; send ${accepted}`);
  }

  /**
   * Reads the body as a JSON object.
   * @throws InferaError 400 ENG_ERR_MALFORMED_JSON / ENG_ERR_BAD_REQUEST, 413 past maxBytes.
   */
  async jsonBody(maxBytes: number): Promise<Record<string, unknown>> {
    this.checkMediaType(false);
    const body = await this.body(maxBytes);
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new InferaError('ENG_ERR_MALFORMED_JSON', (e as Error).message);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InferaError('ENG_ERR_BAD_REQUEST', 'the request body must be a JSON object');
    return v as Record<string, unknown>;
  }

  /** Sends a response once; later calls and calls after an abort are ignored. */
  send(status: number, body: string | Uint8Array, headers: Record<string, string> = {}, closeConnection = false): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.status = status;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      if (this.responseHeaders) for (const [k, v] of Object.entries(this.responseHeaders)) this.res.writeHeader(k, v);
      if (closeConnection) {
        this.res.end(body, true);
        return;
      }
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const start = this.res.getWriteOffset();
      const [ok, responded] = this.res.tryEnd(bytes, bytes.byteLength);
      if (!ok && !responded) this.streamRest(bytes, start);
    });
  }

  /** Backpressure: the rest of the body goes out as the socket drains. */
  private streamRest(body: Uint8Array, start: number): void {
    this.res.onWritable((offset) => {
      if (this.aborted) return true;
      const [ok] = this.res.tryEnd(body.subarray(offset - start), body.byteLength);
      return ok;
    });
  }

  json(status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(status, JSON.stringify(value), { 'Content-Type': 'application/json', ...headers });
  }

  /** The one way errors reach clients: non-2xx with {"code": "ENG_ERR_...", "error": "..."}. */
  error(e: unknown): InferaError {
    const err = toInferaError(e);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (err.retryAfterS !== undefined) headers['Retry-After'] = String(err.retryAfterS);
    // A refused body may still be streaming in: close so the connection is not reused mid-body.
    this.send(err.status, JSON.stringify({ code: err.code, error: err.message }), headers, this.closeAfterError);
    return err;
  }
}

const REASONS: Record<number, string> = {
  200: 'OK', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Status'}`;
}
