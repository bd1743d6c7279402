/**
 * The "naive" peer: what a Node.js user would write to serve the VAD model.
 * Fastify + onnxruntime-node, one InferenceSession with default options, no
 * batching; POST /v2/models/vad/infer takes an Open Inference Protocol v2 JSON
 * body and answers the same JSON shape (outputs with name, datatype, shape, data).
 *
 *   node dist/bench/peers/naive-fastify.js --port 8081 [--host 127.0.0.1] [--model path.onnx] [--intra-op-threads N]
 */
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { argValue, defaultVadModel, hostFrom, portFrom } from './args';

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data: (number | string)[];
}

interface InferRequest {
  id?: string;
  inputs: InferInput[];
  outputs?: { name: string }[];
}

const TO_ORT: Record<string, ort.Tensor.Type> = { FP32: 'float32', INT64: 'int64' };
const FROM_ORT: Record<string, string> = { float32: 'FP32', int64: 'INT64' };

function toTensor(i: InferInput): ort.Tensor {
  const type = TO_ORT[i.datatype];
  if (!type) throw new Error(`unsupported datatype ${i.datatype}`);
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(i.data, (v) => BigInt(v)), i.shape);
  return new ort.Tensor('float32', Float32Array.from(i.data as number[]), i.shape);
}

async function main(): Promise<void> {
  const modelPath = argValue('model') ?? process.env.MODEL ?? defaultVadModel();
  // Default session options, as a typical user would write. --intra-op-threads
  // is set by the harness only when it pins the server, to the pinned core count.
  const intra = Number(argValue('intra-op-threads') ?? process.env.INTRA_OP_THREADS ?? 0);
  const session = await ort.InferenceSession.create(modelPath, intra > 0 ? { intraOpNumThreads: intra } : {});
  const app = Fastify({ logger: false });

  app.get('/v2/health/ready', async () => ({}));
  app.get('/v2/health/live', async () => ({}));

  app.post<{ Body: InferRequest }>('/v2/models/vad/infer', async (req, reply) => {
    const body = req.body;
    if (!body || !Array.isArray(body.inputs)) return reply.code(400).send({ error: 'missing inputs' });
    const feeds: Record<string, ort.Tensor> = {};
    try {
      for (const i of body.inputs) feeds[i.name] = toTensor(i);
    } catch (e) {
      return reply.code(400).send({ error: (e as Error).message });
    }
    const results = await session.run(feeds);
    const names = body.outputs?.length ? body.outputs.map((o) => o.name) : session.outputNames;
    const outputs = names.map((name) => {
      const t = results[name];
      return {
        name,
        datatype: FROM_ORT[t.type] ?? t.type,
        shape: t.dims,
        data: Array.from(t.data as Float32Array),
      };
    });
    return { model_name: 'vad', model_version: '1', id: body.id, outputs };
  });

  await app.listen({ port: portFrom(), host: hostFrom() });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
