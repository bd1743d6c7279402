/**
 * An independent gRPC client for the tests: generated at test time from proto/grpc_service.proto
 * by @grpc/proto-loader with its own options (none of Infera's server code), promisified.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from './server';

export const PROTO = path.join(ROOT, 'proto/grpc_service.proto');

export interface GrpcError {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

export class OipGrpcClient {
  readonly raw: grpc.Client & Record<string, any>;

  constructor(address: string) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    this.raw = new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  }

  /** A unary RPC; rejects with the gRPC error (code, details, trailing metadata). */
  call<T = any>(method: string, request: object, metadata = new grpc.Metadata()): Promise<T> {
    return new Promise((resolve, reject) => {
      this.raw[method](request, metadata, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }

  /** The error a call fails with (fails the test if it succeeds). */
  async error(method: string, request: object, metadata?: grpc.Metadata): Promise<GrpcError> {
    try {
      await this.call(method, request, metadata);
    } catch (e) {
      return e as GrpcError;
    }
    throw new Error(`${method} succeeded; an error was expected`);
  }

  /** Sends every request on one ModelStreamInfer stream, then half-closes; resolves with the answers in arrival order. */
  stream(requests: object[], metadata = new grpc.Metadata()): Promise<any[]> {
    return new Promise((resolve, reject) => {
      const call = this.raw.ModelStreamInfer(metadata);
      const answers: any[] = [];
      call.on('data', (m: any) => answers.push(m));
      call.on('error', reject);
      call.on('end', () => resolve(answers));
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  close(): void {
    this.raw.close();
  }
}

/** An InferParameter map from plain values (as the REST JSON would carry them). */
export function grpcParameters(params: Record<string, boolean | number | string>): Record<string, object> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'boolean' ? { bool_param: v } : typeof v === 'string' ? { string_param: v } : Number.isInteger(v) ? { int64_param: v } : { double_param: v }]));
}
