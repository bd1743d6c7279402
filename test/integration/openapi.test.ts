// GET /openapi.json against three independent references: the OpenAPI 3.1 meta-schema
// (@apidevtools/swagger-parser), the routes the server actually registered, and the answers
// the live server gives on the real models of the repository.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import { buildTypedModels } from '../../scripts/build-typed-models';
import { ErrorCodes } from '../../src/errors';
import { SERVER_VERSION } from '../../src/server/server';
import { ROOT, Running, startServer } from '../helpers/server';
import { flightsMissing } from '../unit/native/flights-model';

type Doc = Record<string, any>;

let srv: Running;
let doc: Doc;
let ajv: Ajv2020;

/** A JSON pointer into the document, as a $ref Ajv resolves (each segment ~-escaped, then URI-encoded). */
const pointer = (...segments: string[]) => `openapi.json#/${segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`;

/** The document's top-level members are not JSON Schema keywords; the schemas under them are. */
function schemaValidator(document: Doc): Ajv2020 {
  const a = new Ajv2020({ strictTypes: true, allowUnionTypes: true, allErrors: true });
  a.addVocabulary(['openapi', 'info', 'tags', 'paths', 'components']);
  a.addSchema(document, 'openapi.json');
  return a;
}

/** The validator of the body the document declares for `method path` answering `status`. */
function responseSchema(docPath: string, method: string, status: number, mediaType = 'application/json'): ValidateFunction {
  const declared = doc.paths[docPath]?.[method]?.responses?.[String(status)]?.content?.[mediaType];
  assert.ok(declared, `the document declares no ${mediaType} body for ${method.toUpperCase()} ${docPath} → ${status}`);
  return ajv.compile({ $ref: pointer('paths', docPath, method, 'responses', String(status), 'content', mediaType, 'schema') });
}

function assertValid(v: ValidateFunction, body: unknown, what: string): void {
  assert.ok(v(body), `${what}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body).slice(0, 300)}`);
}

/** Fetches `url`, then checks its JSON body against the schema the document gives for that route and status. */
async function checkLive(docPath: string, method: 'get' | 'post', url: string, expectStatus: number, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(`${srv.url}${url}`, { method: method.toUpperCase(), ...init });
  const body = await res.json();
  assert.equal(res.status, expectStatus, JSON.stringify(body).slice(0, 300));
  assertValid(responseSchema(docPath, method, res.status), body, `${method.toUpperCase()} ${url} → ${res.status}`);
  return body;
}

before(async () => {
  srv = await startServer();
  const res = await fetch(`${srv.url}/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  doc = (await res.json()) as Doc;
  ajv = schemaValidator(doc);
});

after(async () => {
  await srv.server.stop();
});

test('the document is valid OpenAPI 3.1 (swagger-parser), and a broken copy is refused', async () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.title, 'Infera');
  assert.equal(doc.info.version, SERVER_VERSION);
  // validate() dereferences in place: give it copies.
  await SwaggerParser.validate(structuredClone(doc) as never);
  const broken = structuredClone(doc);
  delete broken.paths['/v2'].get.responses['200'].description;
  await assert.rejects(SwaggerParser.validate(broken as never), /must have required property 'description'/);
});

test('every schema in the document is valid JSON Schema 2020-12 (Ajv, strict), and a bad type is refused', () => {
  // swagger-parser checks the document's structure only; the schemas inside are checked here.
  let compiled = 0;
  for (const name of Object.keys(doc.components.schemas)) {
    assert.ok(ajv.getSchema(pointer('components', 'schemas', name)), name);
    compiled++;
  }
  for (const [p, item] of Object.entries<Doc>(doc.paths)) {
    for (const [method, op] of Object.entries<Doc>(item)) {
      for (const [status, r] of Object.entries<Doc>(op.responses)) {
        for (const mediaType of Object.keys(r.content ?? {})) {
          ajv.compile({ $ref: pointer('paths', p, method, 'responses', status, 'content', mediaType, 'schema') });
          compiled++;
        }
      }
      for (const mediaType of Object.keys(op.requestBody?.content ?? {})) {
        ajv.compile({ $ref: pointer('paths', p, method, 'requestBody', 'content', mediaType, 'schema') });
        compiled++;
      }
    }
  }
  assert.ok(compiled > 100, `${compiled} schemas`);
  const broken = structuredClone(doc);
  broken.components.schemas.Error.properties.code.type = 'strin';
  assert.throws(() => schemaValidator(broken).getSchema(pointer('components', 'schemas', 'Error')), /type must be JSONType/);
});

test('the Error schema is {code, error} with exactly the codes of src/errors.ts', () => {
  const e = doc.components.schemas.Error;
  assert.deepEqual(e.required, ['code', 'error']);
  assert.deepEqual([...e.properties.code.enum].sort(), Object.keys(ErrorCodes).sort());
});

test('the document describes exactly the routes the server registered, both ways', () => {
  const toOpenApi = (pattern: string) => pattern.replace(/:(\w+)/g, '{$1}');
  const served = new Set(srv.server.routes().map((r) => `${r.method.toUpperCase()} ${toOpenApi(r.pattern)}`));
  const described = new Set<string>();
  for (const [p, item] of Object.entries<Doc>(doc.paths)) for (const method of Object.keys(item)) described.add(`${method.toUpperCase()} ${p}`);
  const undocumented = [...served].filter((r) => !described.has(r));
  const notServed = [...described].filter((r) => !served.has(r));
  assert.deepEqual({ undocumented, notServed }, { undocumented: [], notServed: [] }, `served but not in /openapi.json: ${undocumented.join(', ') || '-'}; in /openapi.json but not served: ${notServed.join(', ') || '-'}`);
  assert.ok(served.has('GET /openapi.json') && served.has('POST /v2/models/{model}/infer') && served.has('GET /v2/models/{model}/stream'));
});

test('every operation declares exactly the path parameters of its template', () => {
  for (const [p, item] of Object.entries<Doc>(doc.paths)) {
    const inTemplate = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<Doc>(item)) {
      const declared = (op.parameters ?? []).filter((x: Doc) => x.in === 'path').map((x: Doc) => x.name);
      assert.deepEqual(declared, inTemplate, `${method.toUpperCase()} ${p}`);
    }
  }
});

test('live OIP answers validate against the schemas the document declares', async () => {
  const meta = await checkLive('/v2', 'get', '/v2', 200);
  assert.equal((meta as Doc).version, SERVER_VERSION);
  await checkLive('/v2/health/ready', 'get', '/v2/health/ready', 200);
  await checkLive('/v2/models/{model}', 'get', '/v2/models/vad', 200);
  await checkLive('/v2/models/{model}/versions/{version}', 'get', '/v2/models/vad/versions/1', 200);
  await checkLive('/v2/models/stats', 'get', '/v2/models/stats', 200);
  await checkLive('/v2/repository/index', 'post', '/v2/repository/index', 200);

  const request = fs.readFileSync(path.join(ROOT, 'examples/vad-request.json'), 'utf8');
  const requestSchema = ajv.compile({ $ref: pointer('paths', '/v2/models/{model}/infer', 'post', 'requestBody', 'content', 'application/json', 'schema') });
  assertValid(requestSchema, JSON.parse(request), 'examples/vad-request.json');
  const answer = await checkLive('/v2/models/{model}/infer', 'post', '/v2/models/vad/infer', 200, { body: request, headers: { 'Content-Type': 'application/json' } }) as Doc;
  assert.equal(answer.model_name, 'vad');
});

test('a binary infer answer carries the header the document names, and its JSON part validates', async () => {
  const request = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/vad-request.json'), 'utf8'));
  request.parameters = { ...request.parameters, binary_data_output: true };
  const res = await fetch(`${srv.url}/v2/models/vad/infer`, { method: 'POST', body: JSON.stringify(request), headers: { 'Content-Type': 'application/json' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  const op = doc.paths['/v2/models/{model}/infer'].post;
  assert.ok(op.responses['200'].content['application/octet-stream'] && op.responses['200'].headers['Inference-Header-Content-Length']);
  const jsonBytes = Number(res.headers.get('inference-header-content-length'));
  const body = Buffer.from(await res.arrayBuffer());
  const header = JSON.parse(body.subarray(0, jsonBytes).toString('utf8'));
  assertValid(responseSchema('/v2/models/{model}/infer', 'post', 200), header, 'binary answer, JSON part');
  const binaryBytes = header.outputs.reduce((n: number, o: Doc) => n + o.parameters.binary_data_size, 0);
  assert.equal(body.byteLength, jsonBytes + binaryBytes);
});

test('live /predict answers (one row, several rows) validate against PredictResponse', async () => {
  const row = { date: '2001-02-03T14:05:00', distance: 1452, origin: 'ORD', destination: 'LAX' };
  const post = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  const one = await checkLive('/predict', 'post', '/predict', 200, post({ model: 'flights-delay', features: row })) as Doc;
  assert.equal(typeof one.prediction === 'number' || typeof one.prediction === 'string', true);
  const many = await checkLive('/predict', 'post', '/predict', 200, post({ model: 'flights-delay', ids: ['a', 'b'], instances: [row, { ...row, distance: 2475 }] })) as Doc;
  assert.deepEqual(many.predictions.map((p: Doc) => p.id), ['a', 'b']);
  await checkLive('/health', 'get', '/health', 200);
  await checkLive('/models', 'get', '/models', 200);
});

test('a BYTES tensor (the airports string lookup) validates in both directions', { skip: flightsMissing() }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-openapi-typed-'));
  buildTypedModels(dir);
  const typed = await startServer({ repository: dir });
  try {
    const metadata = await (await fetch(`${typed.url}/v2/models/airports`)).json();
    assertValid(responseSchema('/v2/models/{model}', 'get', 200), metadata, 'GET /v2/models/airports');
    const request = { inputs: [{ name: 'code', datatype: 'BYTES', shape: [2, 1], data: [['ORD'], ['LAX']] }] };
    const requestSchema = ajv.compile({ $ref: pointer('paths', '/v2/models/{model}/infer', 'post', 'requestBody', 'content', 'application/json', 'schema') });
    assertValid(requestSchema, request, 'BYTES request');
    const res = await fetch(`${typed.url}/v2/models/airports/infer`, { method: 'POST', body: JSON.stringify(request), headers: { 'Content-Type': 'application/json' } });
    const answer = (await res.json()) as Doc;
    assert.equal(res.status, 200, JSON.stringify(answer));
    assertValid(responseSchema('/v2/models/{model}/infer', 'post', 200), answer, 'BYTES answer');
    assert.ok(answer.outputs.some((o: Doc) => o.datatype === 'BYTES' && o.data.every((v: unknown) => typeof v === 'string')), JSON.stringify(answer));
  } finally {
    await typed.server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('BAD CALL - error answers validate against the Error schema of their route', async () => {
  const notFound = await checkLive('/v2/models/{model}', 'get', '/v2/models/no-such-model', 404) as Doc;
  assert.equal(notFound.code, 'ENG_ERR_MODEL_NOT_FOUND');
  const badInfer = await checkLive('/v2/models/{model}/infer', 'post', '/v2/models/vad/infer', 400, { body: '{"inputs": [', headers: { 'Content-Type': 'application/json' } }) as Doc;
  assert.equal(badInfer.code, 'ENG_ERR_MALFORMED_JSON');
  const badPredict = await checkLive('/predict', 'post', '/predict', 400, { body: '{"model": "flights-delay"}', headers: { 'Content-Type': 'application/json' } }) as Doc;
  assert.equal(badPredict.code, 'ENG_ERR_BAD_REQUEST');
  // An unknown route is in no path; its body is still the shared Error.
  const res = await fetch(`${srv.url}/no/such/route`);
  assert.equal(res.status, 404);
  assertValid(ajv.getSchema(pointer('components', 'schemas', 'Error'))!, await res.json(), 'GET /no/such/route');
});

test('EXPECTED FAILURE - wrong bodies fail the same validators', async () => {
  const metadata = responseSchema('/v2/models/{model}', 'get', 200);
  const good = (await (await fetch(`${srv.url}/v2/models/vad`)).json()) as Doc;
  assert.equal(metadata(good), true);
  assert.equal(metadata({ ...good, versions: [1] }), false, 'versions are strings');
  assert.equal(metadata({ ...good, extra: 1 }), false, 'no undeclared fields');
  const notFound = responseSchema('/v2/models/{model}', 'get', 404);
  assert.equal(notFound({ code: 'ENG_ERR_NOPE', error: 'x' }), false, 'code outside the error table');
  assert.equal(notFound({ error: 'x' }), false, 'code missing');
  const infer = responseSchema('/v2/models/{model}/infer', 'post', 200);
  assert.equal(infer({ model_name: 'vad', model_version: '1' }), false, 'outputs missing');
  assert.equal(infer({ model_name: 'vad', model_version: 1, outputs: [] }), false, 'model_version is a string');
  const predict = responseSchema('/predict', 'post', 200);
  assert.equal(predict({ id: 'a', prediction: 1, confidence: 'high', model: 'm', model_version: '1', processing_time_ms: 1, from_cache: false }), false, 'confidence is a number or null');
});
