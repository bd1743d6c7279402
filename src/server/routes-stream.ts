import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import { InferaError } from '../errors';
import type { ModelMetrics } from '../monitoring/metrics';
import type { ModelRepository } from '../repository/model-repository';
import type { ModelVersion } from '../serving/model-version';
import { checkModelName, parseVersion } from '../repository/paths';
import {
  CLOSE, DEFAULT_STREAM_LIMITS, SampleFormat, StreamBinding, StreamLimits, StreamSession, StreamSocket, WINDOW, parseStreamQuery,
} from '../stream/stream-session';
import { HttpExchange } from './http-exchange';
import { guarded } from './router';
import type { AccessPolicy } from './access';

/**
 * WebSocket streaming on the server's uWS app:
 *   /v2/models/{m}[/versions/{v}]/stream?format=pcm16|f32&rate=8000|16000|48000
 * The upgrade is refused with the usual JSON error (404 unknown model, 400 bad query
 * or a model that cannot stream, 503 draining or unavailable); after it, the
 * StreamSession owns the protocol. A frame over maxFrameBytes gets an error frame and
 * close 1009; uWS itself drops the connection (no close frame: 1006) for frames over
 * twice that, before buffering them. Handlers never throw into uWS.
 */

export interface StreamContext {
  app: TemplatedApp;
  repository: ModelRepository;
  metrics?: ModelMetrics;
  /** API keys (the query's api_key is accepted too: browsers cannot set headers on WebSockets). */
  access?: AccessPolicy;
  draining: () => boolean;
  log?: (obj: Record<string, unknown>, msg: string) => void;
  options?: Partial<StreamLimits>;
}

export interface StreamRoutes {
  /** The WebSocket routes (uWS patterns), registered on the app rather than the router. */
  readonly patterns: readonly string[];
  /** Open streams. */
  readonly open: number;
  /** Closes every stream with an error frame and `code` (shutdown: 1001). */
  closeAll(code: number, reason: string): void;
}

interface StreamData {
  mv: ModelVersion;
  format: SampleFormat;
  rate: number;
  key: string;
  label: string;
  binding: StreamBinding;
  session?: StreamSession;
}

const UPGRADE_HEADERS = ['sec-websocket-key', 'sec-websocket-protocol', 'sec-websocket-extensions', 'authorization', 'x-api-key'] as const;

/**
 * How a window feeds the model: a stream needs a stateful model whose request carries one
 * FP32 [batch, samples] input (samples -1 or 1536) and at most one INT64 scalar (the rate).
 * @throws InferaError 400 naming what the model lacks.
 */
export function streamBinding(mv: ModelVersion): StreamBinding {
  const fail = (why: string) => new InferaError('ENG_ERR_BAD_REQUEST', `model '${mv.name}' cannot be streamed: ${why}`);
  if (!mv.stateful) throw fail("its model.json declares no 'sequence'");
  const inputs = mv.sequenceInputs;
  const audio = inputs.filter((s) => s.datatype === 'FP32' && s.shape.length === 2 && (s.shape[1] === -1 || s.shape[1] === WINDOW));
  const rate = inputs.filter((s) => s.datatype === 'INT64' && s.shape.length === 0);
  if (audio.length !== 1 || rate.length > 1 || audio.length + rate.length !== inputs.length) {
    throw fail(`a stream feeds one FP32 [batch, ${WINDOW}] input and at most one INT64 scalar rate; the model takes ${inputs.map((s) => `${s.name} ${s.datatype}[${s.shape}]`).join(', ')}`);
  }
  const output = mv.sequenceOutputs[0];
  if (!output) throw fail('it has no output besides its state');
  return { input: audio[0].name, sampleRateInput: rate[0]?.name, output };
}

export function registerStreamRoutes(ctx: StreamContext): StreamRoutes {
  const opts = { ...DEFAULT_STREAM_LIMITS, ...ctx.options };
  const sessions = new Set<StreamSession>();
  let counter = 0;

  const upgrade = (pattern: string, withVersion: boolean) => (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => guarded(res, pattern, ctx.log, ctx.metrics, () => {
    const ex = new HttpExchange(res, req, withVersion ? 2 : 1, UPGRADE_HEADERS);
    try {
      if (ctx.draining()) throw new InferaError('ENG_ERR_SHUTTING_DOWN', undefined, { retryAfterS: 1 });
      ctx.access?.checkApiKey(ex, true);
      const name = checkModelName(ex.params[0]);
      const mv = ctx.repository.resolve(name, withVersion ? parseVersion(ex.params[1]) : undefined);
      const binding = streamBinding(mv);
      const { format, rate } = parseStreamQuery(ex.query);
      const n = ++counter;
      const data: StreamData = { mv, format, rate, key: `ws:${n}`, label: `stream ${n}`, binding };
      res.upgrade(data, ex.header('sec-websocket-key') ?? '', ex.header('sec-websocket-protocol') ?? '', ex.header('sec-websocket-extensions') ?? '', context);
      ctx.metrics?.http.inc({ route: pattern, status: '101' });
    } catch (e) {
      ex.error(e);
      ctx.metrics?.http.inc({ route: pattern, status: String(ex.status) });
    }
  });

  const behavior = (pattern: string, withVersion: boolean) => ({
    maxPayloadLength: 2 * opts.maxFrameBytes,
    // uWS drops sends beyond this; the session closes well before, at maxBufferedBytes.
    maxBackpressure: opts.maxBufferedBytes * 2,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: upgrade(pattern, withVersion),
    open: (ws: WebSocket<StreamData>) => {
      const d = ws.getUserData();
      const socket: StreamSocket = {
        send: (text) => ws.send(text, false),
        getBufferedAmount: () => ws.getBufferedAmount(),
        end: (code, reason) => ws.end(code, reason),
      };
      try {
        d.session = new StreamSession(socket, d.mv, { ...opts, format: d.format, rate: d.rate, key: d.key, label: d.label, binding: d.binding });
        sessions.add(d.session);
        ctx.metrics?.streams.inc({ model: d.mv.name });
      } catch (e) {
        ctx.log?.({ err: (e as Error).message }, 'stream open failed');
        ws.end(CLOSE.INTERNAL, 'internal error');
      }
    },
    message: (ws: WebSocket<StreamData>, message: ArrayBuffer, isBinary: boolean) => {
      const s = ws.getUserData().session;
      if (!s) return;
      try {
        // The ArrayBuffer is only valid during this call: the session decodes it synchronously.
        if (isBinary) s.onBinary(new Uint8Array(message));
        else s.onText(Buffer.from(message).toString('utf8'));
      } catch (e) {
        ctx.log?.({ err: (e as Error).message }, 'stream handler failed');
        s.abort(CLOSE.INTERNAL, 'internal error');
      }
    },
    close: (ws: WebSocket<StreamData>) => {
      const d = ws.getUserData();
      if (!d.session) return;
      try {
        d.session.onClose();
      } catch (e) {
        ctx.log?.({ err: (e as Error).message }, 'stream close failed');
      }
      if (sessions.delete(d.session)) ctx.metrics?.streams.dec({ model: d.mv.name });
    },
  });

  const patterns = ['/v2/models/:model/stream', '/v2/models/:model/versions/:version/stream'];
  ctx.app.ws<StreamData>(patterns[0], behavior(patterns[0], false));
  ctx.app.ws<StreamData>(patterns[1], behavior(patterns[1], true));

  return {
    patterns,
    get open() {
      return sessions.size;
    },
    closeAll(code: number, reason: string) {
      for (const s of [...sessions]) s.abort(code, reason);
    },
  };
}
