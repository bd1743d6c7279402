/**
 * The "naive" peer: what a Node.js user would write to serve a model.
 * Fastify + onnxruntime-node, one InferenceSession with default options, no
 * batching; every request runs the session on its own.
 *
 * - POST /v2/models/<name>/infer: an Open Inference Protocol v2 JSON body (flat `data`)
 *   answered in the same JSON shape, or the binary tensor extension
 *   (`Inference-Header-Content-Length`, `binary_data_size`, `binary_data_output`).
 * - POST /predict (with --feature-spec and --predict-config): a feature dict run through
 *   the model version's saved feature spec (src/features validateRow + transform), the
 *   session at batch 1, and the answer in the shape of Infera's /predict.
 *
 *   node dist/bench/peers/naive-fastify.js --port 8081 [--host 127.0.0.1] [--model path.onnx] [--model-name vad]
 *        [--intra-op-threads N] [--feature-spec feature_spec.json --predict-config model.json]
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { loadFeatureSpec, transform, validateRow } from '../../src/features';
import { argValue, defaultVadModel, hostFrom, portFrom } from './args';

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data?: (number | string)[];
  parameters?: { binary_data_size?: number };
}

interface InferRequest {
  id?: string;
  inputs: InferInput[];
  outputs?: { name: string; parameters?: { binary_data?: boolean } }[];
  parameters?: { binary_data_output?: boolean };
}

const TO_ORT: Record<string, ort.Tensor.Type> = { FP32: 'float32', INT64: 'int64' };
const FROM_ORT: Record<string, string> = { float32: 'FP32', int64: 'INT64' };

function toTensor(i: InferInput, binary: Buffer | null, offset: number): ort.Tensor {
  const type = TO_ORT[i.datatype];
  if (!type) throw new Error(`unsupported datatype ${i.datatype}`);
  const size = i.parameters?.binary_data_size;
  if (size !== undefined) {
    if (!binary || offset + size > binary.length) throw new Error(`input ${i.name}: binary data out of range`);
    // copy: the body's bytes need not be aligned for a typed array
    const bytes = new Uint8Array(binary.subarray(offset, offset + size));
    return type === 'int64' ? new ort.Tensor('int64', new BigInt64Array(bytes.buffer), i.shape) : new ort.Tensor('float32', new Float32Array(bytes.buffer), i.shape);
  }
  if (!Array.isArray(i.data)) throw new Error(`input ${i.name}: no data`);
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(i.data, (v) => BigInt(v)), i.shape);
  return new ort.Tensor('float32', Float32Array.from(i.data as number[]), i.shape);
}

async function main(): Promise<void> {
  const modelPath = argValue('model') ?? process.env.MODEL ?? defaultVadModel();
  const modelName = argValue('model-name') ?? 'vad';
  // Default session options, as a typical user would write. --intra-op-threads
  // is set by the harness only when it pins the server, to the pinned core count.
  const intra = Number(argValue('intra-op-threads') ?? process.env.INTRA_OP_THREADS ?? 0);
  const session = await ort.InferenceSession.create(modelPath, intra > 0 ? { intraOpNumThreads: intra } : {});
  // Fastify refuses bodies over 1 MiB by default; a user serving 256-row tensors raises it.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/v2/health/ready', async () => ({}));
  app.get('/v2/health/live', async () => ({}));

  app.post<{ Body: InferRequest | Buffer; Params: { name: string } }>('/v2/models/:name/infer', async (req, reply) => {
    if (req.params.name !== modelName) return reply.code(404).send({ error: `unknown model ${req.params.name}` });
    let body: InferRequest;
    let binary: Buffer | null = null;
    const headerLength = req.headers['inference-header-content-length'];
    try {
      if (Buffer.isBuffer(req.body)) {
        const n = Number(headerLength);
        if (!Number.isInteger(n) || n <= 0 || n > req.body.length) throw new Error('bad Inference-Header-Content-Length');
        body = JSON.parse(req.body.subarray(0, n).toString('utf8')) as InferRequest;
        binary = req.body.subarray(n);
      } else {
        body = req.body;
      }
    } catch (e) {
      return reply.code(400).send({ error: (e as Error).message });
    }
    if (!body || !Array.isArray(body.inputs)) return reply.code(400).send({ error: 'missing inputs' });
    const feeds: Record<string, ort.Tensor> = {};
    try {
      let offset = 0;
      for (const i of body.inputs) {
        feeds[i.name] = toTensor(i, binary, offset);
        offset += i.parameters?.binary_data_size ?? 0;
      }
    } catch (e) {
      return reply.code(400).send({ error: (e as Error).message });
    }
    const results = await session.run(feeds);
    const names = body.outputs?.length ? body.outputs.map((o) => o.name) : session.outputNames;
    const binaryOut = (name: string) => {
      const o = body.outputs?.find((x) => x.name === name);
      return o?.parameters?.binary_data ?? body.parameters?.binary_data_output === true;
    };
    const blobs: Buffer[] = [];
    const outputs = names.map((name) => {
      const t = results[name];
      const head = { name, datatype: FROM_ORT[t.type] ?? t.type, shape: t.dims };
      if (binaryOut(name)) {
        const a = t.data as Float32Array;
        blobs.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
        return { ...head, parameters: { binary_data_size: a.byteLength } };
      }
      return { ...head, data: Array.from(t.data as Float32Array) };
    });
    const answer = { model_name: modelName, model_version: '1', id: body.id, outputs };
    if (blobs.length === 0) return answer;
    const json = Buffer.from(JSON.stringify(answer));
    return reply
      .header('content-type', 'application/octet-stream')
      .header('inference-header-content-length', String(json.length))
      .send(Buffer.concat([json, ...blobs]));
  });

  const specPath = argValue('feature-spec');
  const predictPath = argValue('predict-config');
  if (specPath && predictPath) {
    const spec = loadFeatureSpec(specPath);
    const cfg = JSON.parse(readFileSync(predictPath, 'utf8')) as {
      name: string;
      predict: { input: string; output: string; threshold?: number; labels?: string[] };
    };
    const p = cfg.predict;
    app.post<{ Body: { model?: string; features?: Record<string, unknown> } }>('/predict', async (req, reply) => {
      const started = performance.now();
      const b = req.body;
      if (!b || typeof b !== 'object') return reply.code(400).send({ error: 'body must be a JSON object' });
      if (b.model !== undefined && b.model !== cfg.name) return reply.code(404).send({ error: `unknown model ${String(b.model)}` });
      let t;
      try {
        t = transform(spec, validateRow(spec, b.features ?? {}));
      } catch (e) {
        return reply.code(400).send({ error: (e as Error).message });
      }
      const out = await session.run({ [p.input]: new ort.Tensor('float32', t.data, [1, t.width]) });
      const p1 = (out[p.output].data as Float32Array)[0];
      const positive = p1 >= (p.threshold ?? 0.5);
      return {
        prediction: p.labels ? p.labels[positive ? 1 : 0] : positive ? 1 : 0,
        confidence: positive ? p1 : 1 - p1,
        probabilities: [1 - p1, p1],
        model: cfg.name,
        model_version: '1',
        processing_time_ms: Number((performance.now() - started).toFixed(3)),
        from_cache: false,
      };
    });
  }

  await app.listen({ port: portFrom(), host: hostFrom() });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
