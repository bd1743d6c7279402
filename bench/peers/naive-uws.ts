/**
 * The second naive peer: what a performance-aware Node.js user writes in fifty lines.
 * uWebSockets.js + onnxruntime-node, one InferenceSession, no batching, no workers: every
 * request is parsed with JSON.parse and run inline on the event loop.
 *
 * - POST /v2/models/<name>/infer: an Open Inference Protocol v2 JSON body (flat `data`),
 *   answered in the same JSON shape.
 *
 *   node dist/bench/peers/naive-uws.js --port 8081 [--host 127.0.0.1] [--model path.onnx] [--model-name vad]
 *        [--intra-op-threads N]
 */
import * as ort from 'onnxruntime-node';
import { App, HttpResponse } from 'uWebSockets.js';
import { argValue, defaultVadModel, hostFrom, portFrom } from './args';

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data: number[];
}

const TO_ORT: Record<string, ort.Tensor.Type> = { FP32: 'float32', INT64: 'int64' };
const FROM_ORT: Record<string, string> = { float32: 'FP32', int64: 'INT64' };

function readBody(res: HttpResponse, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) done(Buffer.concat(chunks));
  });
}

function reply(res: HttpResponse, aborted: { v: boolean }, status: string, body: string): void {
  if (aborted.v) return;
  res.cork(() => res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(body));
}

async function main(): Promise<void> {
  const modelPath = argValue('model') ?? process.env.MODEL ?? defaultVadModel();
  const modelName = argValue('model-name') ?? 'vad';
  const intra = Number(argValue('intra-op-threads') ?? process.env.INTRA_OP_THREADS ?? 0);
  const session = await ort.InferenceSession.create(modelPath, intra > 0 ? { intraOpNumThreads: intra } : {});

  const app = App();
  app.get('/v2/health/ready', (res) => {
    res.end('{}');
  });
  app.get('/v2/health/live', (res) => {
    res.end('{}');
  });
  app.post('/v2/models/:name/infer', (res, req) => {
    const aborted = { v: false };
    res.onAborted(() => (aborted.v = true));
    if (req.getParameter(0) !== modelName) return reply(res, aborted, '404 Not Found', '{"error":"unknown model"}');
    readBody(res, (raw) => {
      let inputs: InferInput[];
      try {
        inputs = (JSON.parse(raw.toString('utf8')) as { inputs: InferInput[] }).inputs;
        if (!Array.isArray(inputs)) throw new Error('missing inputs');
      } catch (e) {
        return reply(res, aborted, '400 Bad Request', JSON.stringify({ error: (e as Error).message }));
      }
      const feeds: Record<string, ort.Tensor> = {};
      for (const i of inputs) {
        const type = TO_ORT[i.datatype];
        if (!type) return reply(res, aborted, '400 Bad Request', JSON.stringify({ error: `unsupported datatype ${i.datatype}` }));
        feeds[i.name] = type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(i.data, (v) => BigInt(v)), i.shape) : new ort.Tensor('float32', Float32Array.from(i.data), i.shape);
      }
      session.run(feeds).then(
        (results) => {
          const outputs = session.outputNames.map((name) => {
            const t = results[name];
            return { name, datatype: FROM_ORT[t.type] ?? t.type, shape: t.dims, data: Array.from(t.data as Float32Array) };
          });
          reply(res, aborted, '200 OK', JSON.stringify({ model_name: modelName, model_version: '1', outputs }));
        },
        (e: Error) => reply(res, aborted, '500 Internal Server Error', JSON.stringify({ error: e.message })),
      );
    });
  });
  app.listen(hostFrom(), portFrom(), (sock) => {
    if (!sock) {
      console.error(`cannot listen on ${hostFrom()}:${portFrom()}`);
      process.exit(1);
    }
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
