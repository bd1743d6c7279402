/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, proto/grpc_service.proto)
 * on @grpc/grpc-js, on its own port (--grpc-port). Every RPC calls the same OipService as the
 * REST routes: same batchers, version routing, sequence state, metrics and error table
 * (GRPC_STATUS below maps each error code to the status Triton would answer). Data-plane calls
 * count as in flight for draining; on stop, open streams end with UNAVAILABLE and the server
 * waits for calls in flight before it closes.
 */
import http2 from 'node:http2';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ErrorCode, InferaError, logDetail, toInferaError } from '../errors';
import { decodeGrpcInferRequest, encodeGrpcInferResponse, GrpcInferRequest, GrpcInferResponse } from '../protocol/grpc-codec';
import { PACKAGE_ROOT } from '../native/binding';
import { parseVersionSelector } from '../repository/paths';
import { checkAdmin } from './admin-auth';
import { AccessPolicy } from './access';
import { EXTENSIONS, OipService } from './oip-service';
import type { ModelMetrics } from '../monitoring/metrics';

export const GRPC_PROTO = path.join(PACKAGE_ROOT, 'proto/grpc_service.proto');

/** How @grpc/proto-loader decodes messages: proto field names, int64 as strings (exact), defaults filled in. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** Each error code's gRPC status (documented in the README's gRPC section). */
export const GRPC_STATUS: Record<ErrorCode, grpc.status> = {
  ENG_ERR_BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_MALFORMED_JSON: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_BAD_TENSOR: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_BAD_NAME: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_MODEL_REJECTED_INPUT: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_UNSUPPORTED_MEDIA_TYPE: grpc.status.INVALID_ARGUMENT,
  ENG_ERR_UNAUTHORIZED: grpc.status.UNAUTHENTICATED,
  ENG_ERR_API_KEY_REQUIRED: grpc.status.UNAUTHENTICATED,
  ENG_ERR_MODEL_NOT_FOUND: grpc.status.NOT_FOUND,
  ENG_ERR_VERSION_NOT_FOUND: grpc.status.NOT_FOUND,
  ENG_ERR_ROUTE_NOT_FOUND: grpc.status.UNIMPLEMENTED,
  ENG_ERR_JOB_NOT_FOUND: grpc.status.NOT_FOUND,
  ENG_ERR_SOURCE_NOT_FOUND: grpc.status.NOT_FOUND,
  ENG_ERR_FORBIDDEN: grpc.status.PERMISSION_DENIED,
  ENG_ERR_CONFLICT: grpc.status.FAILED_PRECONDITION,
  ENG_ERR_BODY_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  ENG_ERR_INTERNAL: grpc.status.INTERNAL,
  ENG_ERR_UNSUPPORTED: grpc.status.UNIMPLEMENTED,
  ENG_ERR_MODEL_UNAVAILABLE: grpc.status.UNAVAILABLE,
  ENG_ERR_QUEUE_FULL: grpc.status.UNAVAILABLE,
  ENG_ERR_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  ENG_ERR_OVERLOADED: grpc.status.UNAVAILABLE,
  ENG_ERR_SHUTTING_DOWN: grpc.status.UNAVAILABLE,
  ENG_ERR_NOT_READY: grpc.status.UNAVAILABLE,
  ENG_ERR_DATABASE_UNAVAILABLE: grpc.status.UNAVAILABLE,
  ENG_ERR_WORKER_FAILED: grpc.status.UNAVAILABLE,
  ENG_ERR_EXECUTION_TIMEOUT: grpc.status.DEADLINE_EXCEEDED,
  ENG_ERR_CONFIG: grpc.status.INTERNAL,
};

export interface GrpcServerOptions {
  service: OipService;
  access: AccessPolicy;
  adminToken?: string;
  serverVersion: string;
  /** Largest request message (the REST body limit). */
  maxMessageBytes: number;
  ready: () => boolean;
  draining: () => boolean;
  /** Counts a data-plane call in flight (Router.track). */
  track: <T>(fn: () => Promise<T>) => Promise<T>;
  metrics?: ModelMetrics;
  log?: (obj: Record<string, unknown>, msg: string) => void;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>;

/** The version field of a request: empty means the model's policy decides. */
function versionField(v: string): number | string | undefined {
  return v === '' ? undefined : parseVersionSelector(v);
}

/** "ipv4:127.0.0.1:5000" / "ipv6:[::1]:5000" → the address alone. */
function peerAddress(peer: string): string {
  const m = /^ipv[46]:\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return m ? m[1] : peer;
}

function metadataValue(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : String(v);
}

/**
 * Each HTTP/2 connection's receive window. The protocol's default, 64 KiB, lets a client have
 * only ~8 one-chunk VAD requests (7.3 KB) on the wire at once: the batcher then formed batches
 * of 4-5 where REST's 64 connections gave 31. Measured on one core, 64 calls in flight on one
 * connection (h2load): 2.2-2.5k calls/s at 64 KiB, 3.3-3.7k at 16 MiB (bench/README.md, gRPC).
 */
export const CONNECTION_WINDOW_BYTES = 16 << 20;

export class GrpcServer {
  private readonly server: grpc.Server;
  private readonly streams = new Set<grpc.ServerDuplexStream<GrpcInferRequest, unknown>>();
  port = 0;
  /** The receive window set on each connection, or null when grpc-js gave no way to set it. */
  flowControlWindow: number | null = null;

  constructor(private readonly opts: GrpcServerOptions) {
    // A busy port is an error: grpc-js has no SO_REUSEPORT (Node 20's servers cannot set it),
    // so processes share a gRPC port only as cluster workers (`--processes`).
    // Channelz off: Infera serves no channelz service, so grpc-js's per-call tracking (an
    // event tracker of four closures, two clock reads and counters per call) bought nothing.
    // Measured gain within this machine's noise (bench/README, "Stop 26").
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes, 'grpc.max_send_message_length': -1,
      'grpc.enable_channelz': 0,
    });
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(GRPC_PROTO, PROTO_LOADER_OPTIONS)) as unknown as { inference: { GRPCInferenceService: { service: grpc.ServiceDefinition } } };
    this.server.addService(pkg.inference.GRPCInferenceService.service, this.handlers());
  }

  /** Binds and serves. @returns the port (a free one for 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err) return reject(new Error(`cannot listen for gRPC on ${host}:${port}: ${err.message}`));
        this.port = bound;
        this.flowControlWindow = this.widenFlowControlWindow() ? CONNECTION_WINDOW_BYTES : null;
        if (this.flowControlWindow === null) this.opts.log?.({ grpcJs: 'no http2Servers' }, 'gRPC connections keep the 64 KiB HTTP/2 window: batches will be small');
        resolve(bound);
      });
    });
  }

  /**
   * Raises the receive window of every HTTP/2 connection to CONNECTION_WINDOW_BYTES. grpc-js
   * has no server option for it; its http2 servers sit in a private field, so this checks that
   * the field is there and says whether it could (the gRPC test fails if an upgrade moves it).
   */
  private widenFlowControlWindow(): boolean {
    const servers = (this.server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
    if (!(servers instanceof Map) || servers.size === 0) return false;
    for (const h2 of servers.keys()) {
      h2.on('session', (session: http2.ServerHttp2Session) => {
        const widen = () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
        if (session.connecting) session.once('connect', widen);
        else widen();
      });
    }
    return true;
  }

  /** Ends every open ModelStreamInfer with UNAVAILABLE (draining). */
  closeStreams(): void {
    // grpc-js ends a server stream with the status of an 'error' event (destroy() would cancel it).
    for (const call of this.streams) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server is shutting down' });
    this.streams.clear();
  }

  /** Stops accepting calls; waits at most `timeoutMs` for the ones in progress, then cuts them. */
  close(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private count(method: string, code: grpc.status): void {
    this.opts.metrics?.grpc.inc({ method, code: grpc.status[code] });
  }

  /** A coded InferaError as a gRPC error: its status, its message, its code in the `infera-error-code` trailer. */
  private toGrpcError(method: string, e: unknown): Partial<grpc.ServiceError> {
    const err = toInferaError(e);
    if (err.code === 'ENG_ERR_INTERNAL') this.opts.log?.({ method, err: logDetail(err) }, 'gRPC call failed');
    const metadata = new grpc.Metadata();
    metadata.set('infera-error-code', err.code);
    if (err.retryAfterS !== undefined) metadata.set('retry-after', String(err.retryAfterS));
    const code = GRPC_STATUS[err.code];
    this.count(method, code);
    return { code, details: err.message, metadata };
  }

  /** A unary RPC whose every throw (sync or async) becomes a coded gRPC error: nothing escapes a handler. */
  private unary<Req, Res>(method: string, fn: Unary<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => fn(call))
        .then((res) => {
          this.count(method, grpc.status.OK);
          callback(null, res);
        }, (e) => callback(this.toGrpcError(method, e)));
    };
  }

  /** Data-plane checks shared by ModelInfer and each stream message: not draining, a valid API key. */
  private admit(md: grpc.Metadata): void {
    if (this.opts.draining()) throw new InferaError('ENG_ERR_SHUTTING_DOWN', undefined, { retryAfterS: 1 });
    this.opts.access.checkKey(metadataValue(md, 'authorization'), metadataValue(md, 'x-api-key'));
  }

  private infer(msg: GrpcInferRequest, md: grpc.Metadata): Promise<GrpcInferResponse> {
    return this.opts.track(async () => {
      this.admit(md);
      let response: GrpcInferResponse | undefined;
      await this.opts.service.infer(
        { model: msg.model_name, version: versionField(msg.model_version), routingKey: metadataValue(md, 'x-routing-key') },
        (mv) => decodeGrpcInferRequest(msg, mv.inputTypes),
        (mv, req, outputs) => {
          response = encodeGrpcInferResponse(mv.name, mv.version, req.id, outputs);
        },
      );
      return response!;
    });
  }

  private admin(call: grpc.ServerUnaryCall<unknown, unknown>): void {
    checkAdmin(peerAddress(call.getPeer()), metadataValue(call.metadata, 'authorization'), this.opts.adminToken);
  }

  private handlers(): grpc.UntypedServiceImplementation {
    const { service } = this.opts;
    type Named = { name: string; version: string };
    return {
      ServerLive: this.unary('ServerLive', () => ({ live: true })),
      ServerReady: this.unary('ServerReady', () => ({ ready: this.opts.ready() })),
      ServerMetadata: this.unary('ServerMetadata', () => ({ name: 'infera', version: this.opts.serverVersion, extensions: EXTENSIONS })),
      ModelReady: this.unary<Named, { ready: boolean }>('ModelReady', (call) => ({ ready: service.modelReady(call.request.name, versionField(call.request.version)).ready })),
      ModelMetadata: this.unary<Named, unknown>('ModelMetadata', (call) => service.metadata(call.request.name, versionField(call.request.version))),
      ModelInfer: this.unary<GrpcInferRequest, GrpcInferResponse>('ModelInfer', (call) => this.infer(call.request, call.metadata)),
      ModelStreamInfer: (call: grpc.ServerDuplexStream<GrpcInferRequest, unknown>) => this.stream(call),
      ModelStatistics: this.unary<Named, unknown>('ModelStatistics', async (call) => {
        const { name, version } = call.request;
        return { model_stats: await service.stats(name === '' ? undefined : name, name === '' ? undefined : versionField(version)) };
      }),
      RepositoryIndex: this.unary<{ ready: boolean }, unknown>('RepositoryIndex', (call) => ({
        models: service.index().filter((m) => !call.request.ready || m.state === 'READY').map((m) => ({ ...m, version: m.version ?? '' })),
      })),
      RepositoryModelLoad: this.unary<{ model_name: string }, unknown>('RepositoryModelLoad', async (call) => {
        this.admin(call);
        await service.load(call.request.model_name);
        return {};
      }),
      RepositoryModelUnload: this.unary<{ model_name: string }, unknown>('RepositoryModelUnload', async (call) => {
        this.admin(call);
        await service.unload(call.request.model_name);
        return {};
      }),
    };
  }

  /**
   * ModelStreamInfer: each message is an infer request answered by one ModelStreamInferResponse
   * (an error is a message with error_message, not the end of the stream, as in Triton). Requests
   * enter the batchers in arrival order, so a sequence's steps keep their order; answers are
   * written as they finish. The stream ends once the client has ended and every answer is out.
   */
  private stream(call: grpc.ServerDuplexStream<GrpcInferRequest, unknown>): void {
    this.streams.add(call);
    let pending = 0;
    let ended = false;
    const finish = () => {
      if (ended && pending === 0 && this.streams.delete(call)) call.end();
    };
    call.on('data', (msg: GrpcInferRequest) => {
      pending += 1;
      this.infer(msg, call.metadata).then(
        (res) => {
          this.count('ModelStreamInfer', grpc.status.OK);
          call.write({ error_message: '', infer_response: res });
        },
        (e) => {
          const err = this.toGrpcError('ModelStreamInfer', e);
          call.write({ error_message: err.details, infer_response: { model_name: msg.model_name, model_version: msg.model_version, id: msg.id } });
        },
      ).finally(() => {
        pending -= 1;
        finish();
      });
    });
    call.on('end', () => {
      ended = true;
      finish();
    });
    call.on('error', () => this.streams.delete(call));
    call.on('cancelled', () => this.streams.delete(call));
  }
}
