/** Public API. */
export { InferaServer, DEFAULT_SERVER_OPTIONS } from './server/server';
export type { ServerOptions } from './server/server';
export { ModelRepository } from './repository/model-repository';
export { OnnxBackend } from './runtime/onnx-backend';
export type { Backend, ModelMetadata } from './runtime/backend';
export { StaticPolicy } from './batching/batch-policy';
export type { BatchPolicy, Decision } from './batching/batch-policy';
export { DynamicBatcher } from './batching/dynamic-batcher';
export { ErrorCodes, InferaError } from './errors';
export { parseModelConfig } from './config/model-config';
export type { ModelConfig } from './config/model-config';
