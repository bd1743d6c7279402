/**
 * The OpenAPI 3.1 description of every HTTP route, served at GET /openapi.json. Written by
 * hand from the handlers (routes-*.ts); test/integration/openapi.test.ts keeps it in step
 * with the routes the server registers and checks live answers against its schemas.
 * Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect), so any JSON Schema validator reads
 * them as they are. They describe what the handlers produce and accept, no more.
 */
import { ErrorCodes } from '../errors';
import { DATATYPES, DataType } from '../protocol/datatypes';
import { MAX_PREDICT_INSTANCES } from '../protocol/predict-codec';
import type { ModelState } from '../repository/model-repository';
import type { DeploymentMode } from '../registry/registry';
import type { JobState } from '../scoring/score-jobs';
import { EXTENSIONS } from './oip-service';
import type { Router } from './router';

type Obj = Record<string, unknown>;

// Records rather than lists: the compiler then refuses a missing or a stray value.
const MODEL_STATES: Record<ModelState, true> = { READY: true, UNAVAILABLE: true, LOADING: true, UNLOADING: true };
const DEPLOYMENT_MODES: Record<DeploymentMode, true> = { canary: true, ab: true, shadow: true };
const JOB_STATES: Record<JobState, true> = { running: true, succeeded: true, failed: true, cancelled: true };
const DATATYPE_NAMES: DataType[] = [...(Object.keys(DATATYPES) as DataType[]), 'BYTES'];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Obj) => ({ 'application/json': { schema } });
const nullable = (type: string) => ({ type: [type, 'null'] });
const obj = (properties: Record<string, Obj>, required: string[] = Object.keys(properties), extra: Obj = {}) => ({ type: 'object', properties, required, additionalProperties: false, ...extra });
const str = { type: 'string' };
const int = { type: 'integer' };
const num = { type: 'number' };
const bool = { type: 'boolean' };
const arrayOf = (items: Obj) => ({ type: 'array', items });
const anyObject = { type: 'object' };

const schemas: Record<string, Obj> = {
  Error: obj({
    code: { type: 'string', enum: Object.keys(ErrorCodes), description: 'A code of src/errors.ts; see the README table "Errors".' },
    error: { type: 'string', description: 'What went wrong, for people.' },
  }),
  ModelState: { type: 'string', enum: Object.keys(MODEL_STATES) },
  Datatype: { type: 'string', enum: DATATYPE_NAMES, description: 'BF16 is not served (501).' },
  TensorMetadata: obj({ name: str, datatype: ref('Datatype'), shape: { ...arrayOf(int), description: '-1: any size' } }),
  TensorData: { type: 'array', items: { anyOf: [num, bool, str, { $ref: '#/components/schemas/TensorData' }] }, description: 'Row-major, flat or nested; strings for BYTES (UTF-8).' },
  ServerMetadata: obj({ name: str, version: str, extensions: { type: 'array', items: { type: 'string', enum: EXTENSIONS } } }),
  ModelMetadata: obj({ name: str, versions: arrayOf(str), platform: str, inputs: arrayOf(ref('TensorMetadata')), outputs: arrayOf(ref('TensorMetadata')) }),
  InferRequest: obj({
    id: { type: 'string', description: 'Echoed in the response.' },
    parameters: obj({
      timeout: { type: 'number', exclusiveMinimum: 0, description: 'µs; may only shorten the model\'s batching.timeout_ms' },
      priority: { type: 'integer', minimum: 0, description: '1 is the highest; 0: the model\'s default' },
      sequence_id: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', minLength: 1 }] },
      sequence_start: bool,
      sequence_end: bool,
      binary_data_output: { type: 'boolean', description: 'every output as binary data (binary tensor extension)' },
    }, [], { additionalProperties: true }),
    inputs: {
      type: 'array', minItems: 1,
      items: obj({
        name: { type: 'string', minLength: 1 },
        datatype: ref('Datatype'),
        shape: arrayOf({ type: 'integer', minimum: 0 }),
        data: ref('TensorData'),
        parameters: obj({ binary_data_size: { type: 'integer', minimum: 0, description: 'bytes of this tensor in the binary section' } }, [], { additionalProperties: true }),
      }, ['name', 'datatype', 'shape']),
    },
    outputs: {
      ...arrayOf(obj({ name: str, parameters: obj({ binary_data: bool }, [], { additionalProperties: true }) }, ['name'])),
      description: 'The outputs to return (default: all).',
    },
  }, ['inputs']),
  InferResponse: obj({
    model_name: str,
    model_version: str,
    id: str,
    outputs: arrayOf(obj({
      name: str, datatype: ref('Datatype'), shape: arrayOf(int),
      data: { type: 'array', items: { type: ['number', 'boolean', 'string'] }, description: 'flat, row-major; strings for BYTES' },
      parameters: obj({ binary_data_size: int }),
    }, ['name', 'datatype', 'shape'])),
  }, ['model_name', 'model_version', 'outputs']),
  Count: obj({ count: int, ns: int }),
  ModelStats: obj({
    model_stats: arrayOf(obj({
      name: str, version: str, last_inference: { type: 'number', description: 'ms since the epoch; 0: never' }, inference_count: int, execution_count: int,
      inference_stats: obj({ success: ref('Count'), fail: ref('Count'), queue: ref('Count'), compute_infer: ref('Count') }),
      batch_stats: arrayOf(obj({ batch_size: int, compute_infer: ref('Count') })),
    })),
  }),
  RepositoryIndex: arrayOf(obj({ name: str, version: str, state: ref('ModelState'), reason: str }, ['name', 'state', 'reason'])),
  FeatureRow: {
    type: 'object', description: 'feature name → value',
    additionalProperties: { anyOf: [{ type: ['number', 'string', 'boolean', 'null'] }, arrayOf({ type: ['number', 'string', 'boolean', 'null'] })] },
  },
  PredictRequest: {
    ...obj({
      features: ref('FeatureRow'),
      id: { type: 'string', minLength: 1, description: 'with features: the key feedback joins on' },
      instances: { type: 'array', minItems: 1, maxItems: MAX_PREDICT_INSTANCES, items: ref('FeatureRow') },
      ids: { ...arrayOf({ type: 'string', minLength: 1 }), description: 'with instances: one per row' },
      model: { type: 'string', description: 'default: --default-model, else the only model that declares predict' },
      model_version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^@' }] },
      routing_key: { type: 'string', description: 'A/B routing key (else the X-Routing-Key header)' },
      return_online_features: { type: 'boolean', description: 'answer the online feature values each row was predicted with' },
    }, []),
    oneOf: [{ required: ['features'] }, { required: ['instances'] }],
  },
  Prediction: obj({
    id: str,
    prediction: { type: ['number', 'string'] },
    confidence: nullable('number'),
    probabilities: arrayOf(num),
    online_features: { type: 'object', additionalProperties: num },
  }, ['id', 'prediction', 'confidence']),
  PredictResponse: {
    oneOf: [
      obj({
        id: str, prediction: { type: ['number', 'string'] }, confidence: nullable('number'), probabilities: arrayOf(num),
        model: str, model_version: str, processing_time_ms: num, from_cache: bool, warnings: arrayOf(str), online_features: { type: 'object', additionalProperties: num },
      }, ['id', 'prediction', 'confidence', 'model', 'model_version', 'processing_time_ms', 'from_cache']),
      obj({ predictions: arrayOf(ref('Prediction')), model: str, model_version: str, processing_time_ms: num, warnings: arrayOf(str) }, ['predictions', 'model', 'model_version', 'processing_time_ms']),
    ],
  },
  ModelSummary: obj({ name: str, state: ref('ModelState'), reason: str }, ['name', 'state']),
  CacheHealth: obj({ backend: { type: 'string', enum: ['memory', 'redis'] }, state: { type: 'string', enum: ['ok', 'degraded'] }, url: str, error: str }, ['backend', 'state']),
  ModelList: obj({
    models: arrayOf(obj({
      name: str, state: ref('ModelState'), reason: str, backend: str, max_batch_size: int,
      predict: obj({ features: arrayOf(str), task: str }),
      versions: arrayOf(obj({ version: str, state: ref('ModelState'), reason: str }, ['version', 'state'])),
    }, ['name', 'state', 'versions'])),
  }),
  Feedback: {
    oneOf: [
      obj({ id: { type: 'string', minLength: 1 }, label: { type: ['number', 'string', 'boolean'] } }),
      obj({ items: { type: 'array', minItems: 1, maxItems: 100_000, items: { $ref: '#/components/schemas/FeedbackItem' } } }),
    ],
  },
  FeedbackItem: obj({ id: { type: 'string', minLength: 1 }, label: { type: ['number', 'string', 'boolean'] } }),
  FeatureEvents: obj({ events: { type: 'array', minItems: 1, items: { type: 'object' }, description: "the source's events: its timestamp, entity and measured columns" } }),
  FeatureEventsResult: obj({ source: str, accepted: int, too_old: int }),
  FeatureSources: obj({
    sources: arrayOf(obj({ source: str, events: int, entities: { type: 'object', additionalProperties: int }, newest_event: nullable('string'), evicted_before: nullable('string') })),
  }),
  FeedbackResult: obj({
    matched: int, unknown: int, unknown_ids: { ...arrayOf(str), description: 'the first 20' },
    shared: { enum: ['stored', 'buffered'], description: "with --database-url: 'stored' (labels join every replica's predictions, now or when they arrive) or 'buffered' (the database is down; matched counts this replica's own)" },
  }, ['matched', 'unknown', 'unknown_ids']),
  Quality: {
    type: 'object', required: ['model', 'version', 'source', 'start_ms', 'end_ms', 'labelled', 'positives', 'auc', 'accuracy', 'log_loss'],
    description: 'Live quality of a version over its labelled predictions with start_ms ≤ arrival < end_ms; non-finite numbers are null.',
    properties: {
      model: str, version: int,
      source: { enum: ['shared', 'local'], description: "'shared': every replica's predictions (PostgreSQL); 'local': this replica's log" },
      start_ms: int, end_ms: int, replicas: { ...int, description: 'replicas whose predictions are counted (shared only)' },
      labelled: int, positives: int, positive_rate: { type: ['number', 'null'] },
      auc: { type: ['number', 'null'] }, accuracy: { type: ['number', 'null'] }, log_loss: { type: ['number', 'null'] }, brier: { type: ['number', 'null'] }, ece: { type: ['number', 'null'] },
      threshold: num, calibration: arrayOf(anyObject), target_drift: anyObject,
    },
    additionalProperties: false,
  },
  MonitoringStatus: {
    type: 'object', required: ['model', 'versions', 'unmonitored_versions', 'alerts'],
    description: 'Drift, prediction and performance windows per monitored version (README "Monitoring"); non-finite numbers are null.',
    properties: {
      model: str,
      versions: arrayOf({ type: 'object', required: ['version', 'rows_observed', 'windows'] }),
      unmonitored_versions: arrayOf(int),
      alerts: arrayOf({ type: 'object', required: ['id', 'rule', 'severity', 'model', 'version'] }),
    },
  },
  Deployment: obj({
    model: str, stable: int, candidate: nullable('integer'),
    mode: { enum: [...Object.keys(DEPLOYMENT_MODES), null] },
    share: { type: 'number', minimum: 0, maximum: 1 }, keyHeader: nullable('string'), updatedAt: num,
  }),
  RegistryState: obj({
    model: str,
    versions: arrayOf(obj({ version: int, registeredAt: num, registeredBy: str, source: nullable('string') })),
    aliases: { type: 'object', additionalProperties: int, description: 'alias → version' },
    deployment: { anyOf: [ref('Deployment'), { type: 'null' }] },
    rollout: obj({ evidence: { type: ['object', 'null'] }, decisions: arrayOf(anyObject) }),
  }, ['model', 'versions', 'aliases', 'deployment']),
  AuditEntry: obj({ id: int, at: num, actor: str, action: str, model: str, version: nullable('integer'), detail: anyObject }),
  ScoreJob: obj({
    id: int, model: str, version: nullable('string'), input: str, output: str,
    state: { type: 'string', enum: Object.keys(JOB_STATES) },
    started_at: str, finished_at: nullable('string'), run: nullable('integer'), done: int, total: nullable('integer'),
    result: { type: ['object', 'null'] }, error: nullable('string'),
  }),
};

const securitySchemes = {
  AdminToken: { type: 'http', scheme: 'bearer', description: 'Management token (--admin-token / INFERA_ADMIN_TOKEN). Without one configured, management routes answer loopback clients only.' },
  ApiKeyBearer: { type: 'http', scheme: 'bearer', description: 'An API key (auth.api_keys / --api-key); inference routes need one only when keys are configured.' },
  ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
  ApiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'WebSocket upgrades only (browsers cannot set headers on them).' },
};
// `{}`: also without credentials (no key configured; loopback without an admin token).
const DATA_PLANE = [{}, { ApiKeyBearer: [] }, { ApiKeyHeader: [] }];
const MANAGEMENT = [{}, { AdminToken: [] }];

const PARAMS: Record<string, Obj> = {
  model: { name: 'model', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } },
  version: { name: 'version', in: 'path', required: true, description: 'a version number, or an alias (`production` or `@production`)', schema: str },
  id: { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } },
  source: { name: 'source', in: 'path', required: true, description: "an online feature source (a pipeline's online_features.source)", schema: str },
};
const header = (name: string, description: string, schema: Obj = str) => ({ name, in: 'header', required: false, description, schema });
const query = (name: string, description: string, schema: Obj = str) => ({ name, in: 'query', required: false, description, schema });

type Responses = Record<string, Obj>;
const ok = (description: string, schema: Obj = anyObject, status = '200'): Responses => ({ [status]: { description, content: json(schema) } });
const errors = (described: Record<number, string>): Responses =>
  Object.fromEntries([...Object.entries(described), [500, 'internal error (the detail is in the server log)']].map(([s, d]) => [String(s), { description: d, content: json(ref('Error')) }]));

const MODEL_ERRORS = { 400: 'invalid model name or version', 404: 'unknown model or version', 503: 'the model is not available (Retry-After)' };
const BODY_ERRORS = { 400: 'malformed JSON or a field of the wrong shape', 413: 'body over --max-body', 415: 'not JSON, or a Content-Encoding' };
const ADMIN_ERRORS = { 401: 'management token missing or wrong (or a remote client when none is configured)' };
const DATA_ERRORS = { 401: 'API key missing or not valid (when keys are configured)', 503: 'unavailable, queue full, queue timeout, over capacity, draining or worker failure (Retry-After)', 504: 'the batch ran past execution_timeout_ms' };

interface Op {
  summary: string;
  tag: string;
  responses: Responses;
  body?: Obj;
  parameters?: Obj[];
  security?: Obj[];
  description?: string;
}

/** One operation; the path parameters come from the template. */
function operation(path: string, o: Op): Obj {
  const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => {
    if (!PARAMS[m[1]]) throw new Error(`openapi: no parameter '${m[1]}' (${path})`);
    return PARAMS[m[1]];
  });
  const parameters = [...pathParams, ...(o.parameters ?? [])];
  return {
    summary: o.summary, tags: [o.tag], ...(o.description ? { description: o.description } : {}),
    ...(parameters.length ? { parameters } : {}), ...(o.body ? { requestBody: o.body } : {}),
    ...(o.security ? { security: o.security } : {}), responses: o.responses,
  };
}

const jsonBody = (schema: Obj, required = true) => ({ required, content: json(schema) });
const INFER_HEADER_LENGTH = 'Inference-Header-Content-Length';

/** Every route as [method, OpenAPI path, operation]; `versioned` adds the /versions/{version} twin. */
function routes(): [string, string, Op][] {
  const out: [string, string, Op][] = [];
  const add = (method: string, path: string, o: Op) => out.push([method, path, o]);
  const versioned = (method: string, suffix: string, o: Op) => {
    add(method, `/v2/models/{model}${suffix}`, o);
    add(method, `/v2/models/{model}/versions/{version}${suffix}`, o);
  };

  add('get', '/v2', { tag: 'oip', summary: 'server metadata', responses: ok('name, version and the protocol extensions served', ref('ServerMetadata')) });
  add('get', '/v2/health/live', { tag: 'oip', summary: 'liveness', responses: ok('the process answers', obj({ live: { const: true } })) });
  add('get', '/v2/health/ready', {
    tag: 'oip', summary: 'readiness',
    responses: {
      ...ok('every model has been loaded (or failed to)', obj({
        ready: { const: true },
        dependencies: { type: 'object', description: "shared services and their state ('ok' or 'degraded', with the error and the rows buffered); a degraded one never makes the replica unready", additionalProperties: { type: 'object', required: ['state'], properties: { state: { enum: ['ok', 'degraded'] } } } },
        process: { ...obj({ index: int, count: int }, ['index', 'count']), description: 'with --processes N: the serving process that answered (0 … N−1)' },
      }, ['ready'])),
      ...errors({ 503: 'still loading, or draining (Retry-After)' }),
    },
  });
  versioned('get', '', { tag: 'oip', summary: 'model metadata', responses: { ...ok('inputs and outputs from model.json', ref('ModelMetadata')), ...errors(MODEL_ERRORS) } });
  versioned('get', '/ready', {
    tag: 'oip', summary: 'model readiness',
    responses: { ...ok('ready', obj({ name: str, ready: { const: true } })), ...errors({ 400: 'not ready (OIP), or an invalid name', 404: 'unknown model or version' }) },
  });
  versioned('post', '/infer', {
    tag: 'oip', summary: 'inference', security: DATA_PLANE,
    description: `JSON, or the binary tensor extension: a body of Content-Type application/octet-stream whose first ${INFER_HEADER_LENGTH} bytes are an InferRequest in JSON, followed by the raw little-endian tensors (inputs with parameters.binary_data_size) in input order (BYTES: each element as a 4-byte little-endian length, then its UTF-8 bytes). Outputs asked for as binary come back the same way.`,
    parameters: [header(INFER_HEADER_LENGTH, 'bytes of JSON before the binary tensors', { type: 'integer', minimum: 0 }), header('X-Routing-Key', 'A/B routing key of a deployment')],
    body: { required: true, content: { 'application/json': { schema: ref('InferRequest') }, 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
    responses: {
      200: {
        description: 'the outputs; application/octet-stream when any output is binary',
        headers: { [INFER_HEADER_LENGTH]: { description: 'bytes of JSON before the binary outputs (binary responses only)', schema: int } },
        content: { 'application/json': { schema: ref('InferResponse') }, 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      },
      ...errors({ ...BODY_ERRORS, 400: 'bad request, tensor, name, or input the model refused', ...DATA_ERRORS, 404: 'unknown model or version', 501: 'BF16 tensors' }),
    },
  });
  add('get', '/v2/models/stats', { tag: 'oip', summary: 'statistics of every serving version', responses: ok('Triton\'s model_stats shape', ref('ModelStats')) });
  versioned('get', '/stats', { tag: 'oip', summary: 'statistics', responses: { ...ok('Triton\'s model_stats shape', ref('ModelStats')), ...errors(MODEL_ERRORS) } });
  versioned('get', '/stream', {
    tag: 'streaming', summary: 'audio stream through a stateful model (WebSocket)', security: [...DATA_PLANE, { ApiKeyQuery: [] }],
    description: 'A WebSocket upgrade (registered on the uWS app, not the router); after it the protocol is the README\'s "Streaming over WebSocket". The version here must be a number.',
    parameters: [query('format', 'sample format', { type: 'string', enum: ['pcm16', 'f32'] }), query('rate', 'sample rate', { type: 'integer', enum: [8000, 16000, 48000] })],
    responses: { 101: { description: 'switching to WebSocket' }, ...errors({ ...MODEL_ERRORS, 400: 'bad query, or a model that cannot stream', 401: 'API key missing or not valid' }) },
  });
  add('post', '/v2/repository/index', { tag: 'oip', summary: 'every model on disk with its state', responses: ok('one entry per model, or per loaded version', ref('RepositoryIndex')) });
  for (const action of ['load', 'unload']) {
    add('post', `/v2/repository/models/{model}/${action}`, {
      tag: 'management', summary: `${action} a model`, security: MANAGEMENT,
      responses: { ...ok('done', obj({})), ...errors({ ...ADMIN_ERRORS, ...MODEL_ERRORS, 503: 'a version failed to load (the message says which still serve)' }) },
    });
  }

  add('post', '/predict', {
    tag: 'convenience', summary: 'predict from named features', security: DATA_PLANE,
    parameters: [header('X-Routing-Key', 'A/B routing key (routing_key in the body wins)')],
    body: jsonBody(ref('PredictRequest')),
    responses: { ...ok('one prediction (features) or a list (instances)', ref('PredictResponse')), ...errors({ ...BODY_ERRORS, ...DATA_ERRORS, 404: 'unknown model or version', 501: 'the model declares no predict section' }) },
  });
  add('get', '/health', {
    tag: 'convenience', summary: 'health, model states and the result cache',
    description: "A shared result cache that is away shows as cache.state 'degraded' while the status stays 'ok': predictions are then computed without it.",
    responses: {
      ...ok('ready', obj({ status: { const: 'ok' }, models: { type: 'object', additionalProperties: ref('ModelState') }, cache: ref('CacheHealth') })),
      503: { description: 'not ready', content: json(obj({ code: { const: 'ENG_ERR_NOT_READY' }, error: str, status: { const: 'unavailable' }, models: { type: 'object', additionalProperties: ref('ModelState') }, cache: ref('CacheHealth') })) },
    },
  });
  add('get', '/models', { tag: 'convenience', summary: 'models, states and versions', responses: ok('every model of the repository', ref('ModelList')) });
  add('get', '/metrics', { tag: 'convenience', summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text format (prom-client)', content: { 'text/plain': { schema: str } } } } });
  add('post', '/reload', {
    tag: 'management', summary: 'reload every model on disk, unload removed ones', security: MANAGEMENT,
    responses: { ...ok('the models after the reload', obj({ models: arrayOf(ref('ModelSummary')) })), ...errors(ADMIN_ERRORS) },
  });

  const monitoringQuery = [query('version', 'one version only', { type: 'integer', minimum: 1 }), query('window', 'one configured window only')];
  add('get', '/v2/models/{model}/monitoring', {
    tag: 'monitoring', summary: 'monitoring state', parameters: [...monitoringQuery, query('limit', 'closed windows per spec (30)', { type: 'integer', minimum: 1, maximum: 1000 })],
    responses: { ...ok('drift, predictions, performance, alerts', ref('MonitoringStatus')), ...errors({ ...MODEL_ERRORS, 400: 'unknown window, bad limit or name' }) },
  });
  add('get', '/v2/models/{model}/monitoring/report', {
    tag: 'monitoring', summary: 'monitoring report', parameters: monitoringQuery,
    responses: { 200: { description: 'an HTML page with inline SVG', content: { 'text/html': { schema: str } } }, ...errors({ ...MODEL_ERRORS, 400: 'unknown window or bad name' }) },
  });
  add('post', '/v2/models/{model}/feedback', {
    tag: 'monitoring', summary: 'delayed ground truth, joined to predictions by id', body: jsonBody(ref('Feedback')),
    responses: { ...ok('how many labels matched a logged prediction', ref('FeedbackResult')), ...errors({ ...BODY_ERRORS, 404: 'unknown model' }) },
  });

  add('post', '/v2/features/{source}/events', {
    tag: 'features', summary: 'events of an online feature source, all or none (the aggregates /predict joins)', body: jsonBody(ref('FeatureEvents')),
    security: DATA_PLANE,
    responses: { ...ok('how many events were stored', ref('FeatureEventsResult')), ...errors({ ...BODY_ERRORS, ...DATA_ERRORS, 404: 'no loaded model reads this source' }) },
  });
  add('get', '/v2/features', { tag: 'features', summary: 'the online feature sources of the loaded models', responses: ok('events held per source and entity', ref('FeatureSources')) });

  add('get', '/v2/models/{model}/quality', {
    tag: 'monitoring', summary: 'live quality over labelled predictions (every replica\'s with --database-url)',
    parameters: [query('version', 'the version (default: the newest loaded)', int), query('start_ms', 'arrival from (epoch ms, inclusive)', int), query('end_ms', 'arrival until (epoch ms, exclusive)', int)],
    responses: { ...ok('AUC, accuracy, log loss, calibration', ref('Quality')), ...errors({ ...MODEL_ERRORS, 400: 'bad name, version or bound', 503: 'the shared database is unreachable' }) },
  });
  add('get', '/v2/models/{model}/registry', { tag: 'registry', summary: 'versions, aliases, deployment, rollout', responses: { ...ok('the registry state', ref('RegistryState')), ...errors(MODEL_ERRORS) } });
  add('get', '/v2/models/{model}/registry/history', {
    tag: 'registry', summary: 'the audit log, newest first', responses: { ...ok('the last 100 changes', obj({ model: str, history: arrayOf(ref('AuditEntry')) })), ...errors(MODEL_ERRORS) },
  });
  const change = (summary: string, body: Obj, required: boolean): Op => ({
    tag: 'registry', summary, security: MANAGEMENT, body: jsonBody(body, required),
    responses: {
      ...ok('the registry state once the versions named serve', ref('RegistryState')),
      // promote and rollback read their optional body leniently: no 413/415 there.
      ...errors({ ...ADMIN_ERRORS, ...(required ? BODY_ERRORS : ({} as Record<number, string>)), ...MODEL_ERRORS, 400: required ? 'bad body, version or alias' : 'no candidate, or a bad name' }),
    },
  });
  const reason = { type: 'string', description: 'kept in the audit log (500 characters)' };
  add('post', '/v2/repository/models/{model}/aliases', change('set or remove an alias', obj({ alias: str, version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }], description: 'null removes the alias' }, reason }, ['alias']), true));
  add('post', '/v2/repository/models/{model}/deployment', change('set the deployment', obj({
    stable: { type: 'integer', minimum: 1 }, candidate: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] },
    mode: { enum: [...Object.keys(DEPLOYMENT_MODES), null] }, share: { type: 'number', minimum: 0, maximum: 1 }, reason,
  }, ['stable']), true));
  add('post', '/v2/repository/models/{model}/promote', change('make the candidate stable', obj({ reason }, []), false));
  add('post', '/v2/repository/models/{model}/rollback', change('drop the candidate', obj({ reason }, []), false));

  add('post', '/v2/repository/models/{model}/score', {
    tag: 'scoring', summary: 'start a batch scoring job on files in --score-dir', security: MANAGEMENT,
    body: jsonBody(obj({
      input: str, output: str, version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^@?[A-Za-z][\\w-]*$' }] },
      rejects: str, chunk_rows: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1 },
    }, ['input', 'output'])),
    responses: { ...ok('the job, running', ref('ScoreJob'), '202'), ...errors({ ...ADMIN_ERRORS, ...BODY_ERRORS, 400: 'bad body, or a path outside --score-dir', 403: 'the server runs without --score-dir', 409: 'a job is already writing that output' }) },
  });
  add('get', '/v2/score/jobs', { tag: 'scoring', summary: 'every job, newest first', security: MANAGEMENT, responses: { ...ok('the jobs', obj({ jobs: arrayOf(ref('ScoreJob')) })), ...errors(ADMIN_ERRORS) } });
  add('get', '/v2/score/jobs/{id}', {
    tag: 'scoring', summary: 'one job', security: MANAGEMENT,
    responses: { ...ok('state, rows done of total, run id, result or error', ref('ScoreJob')), ...errors({ ...ADMIN_ERRORS, 400: 'the id is not a positive integer', 404: 'unknown job' }) },
  });
  add('post', '/v2/score/jobs/{id}/cancel', {
    tag: 'scoring', summary: 'stop a job (its committed chunks stay)', security: MANAGEMENT,
    responses: { ...ok('the job', ref('ScoreJob')), ...errors({ ...ADMIN_ERRORS, 400: 'the id is not a positive integer', 404: 'unknown job' }) },
  });

  add('get', '/openapi.json', { tag: 'meta', summary: 'this document', responses: ok('OpenAPI 3.1', anyObject) });
  return out;
}

/** The OpenAPI document; `version` is the server's (SERVER_VERSION, passed in to avoid an import cycle). */
export function openApiDocument(version: string): Obj {
  const paths: Record<string, Obj> = {};
  for (const [method, path, o] of routes()) {
    paths[path] ??= {};
    if (paths[path][method]) throw new Error(`openapi: ${method.toUpperCase()} ${path} described twice`);
    paths[path][method] = operation(path, o);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Infera', version, license: { name: 'MIT', identifier: 'MIT' },
      description: 'Open Inference Protocol v2, the convenience API, model management, registry, monitoring and batch scoring. Every error is a non-2xx status with {"code", "error"}; unknown routes answer 404 ENG_ERR_ROUTE_NOT_FOUND.',
    },
    tags: ['oip', 'streaming', 'management', 'convenience', 'monitoring', 'registry', 'scoring', 'features', 'meta'].map((name) => ({ name })),
    paths,
    components: { schemas, securitySchemes },
  };
}

/** Serves the document at GET /openapi.json (built once). */
export function registerOpenApiRoute(router: Router, version: string): void {
  const body = JSON.stringify(openApiDocument(version));
  router.add('get', '/openapi.json', (ex) => ex.send(200, body, { 'Content-Type': 'application/json' }));
}
