#!/usr/bin/env node
// A gRPC client of the Open Inference Protocol built from proto/grpc_service.proto alone
// (@grpc/grpc-js + @grpc/proto-loader; no Infera code): prints a model's metadata, then sends
// an OIP JSON request file (e.g. examples/vad-request.json) as a ModelInfer with typed contents
// and prints the answer, raw output bytes decoded by the datatype the server names.
//
//   node examples/grpc-infer.js HOST:PORT MODEL REQUEST.json
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [address, model, requestFile] = process.argv.slice(2);
if (!address || !model || !requestFile) {
  console.error('usage: node examples/grpc-infer.js HOST:PORT MODEL REQUEST.json');
  process.exit(2);
}
const proto = loader.loadSync(path.join(__dirname, '../proto/grpc_service.proto'), { keepCase: true, longs: String, defaults: true, oneofs: true });
const { inference } = grpc.loadPackageDefinition(proto);
const client = new inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
const call = (method, request) => new Promise((resolve, reject) => client[method](request, (err, res) => (err ? reject(err) : resolve(res))));

// The typed-contents field of each datatype (FP16 travels raw only).
const FIELD = { BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents', UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents' };
const VIEW = { BOOL: Uint8Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array, FP32: Float32Array, FP64: Float64Array };

async function main() {
  const meta = await call('ModelMetadata', { name: model, version: '' });
  console.log(JSON.stringify({ metadata: meta }));
  const body = JSON.parse(fs.readFileSync(requestFile, 'utf8'));
  const request = {
    model_name: model,
    id: body.id ?? '',
    inputs: body.inputs.map((t) => {
      const values = t.data.flat(Infinity);
      return { name: t.name, datatype: t.datatype, shape: t.shape, contents: { [FIELD[t.datatype]]: t.datatype === 'BYTES' ? values.map((v) => Buffer.from(v)) : t.datatype.includes('INT64') ? values.map(String) : values } };
    }),
    outputs: (body.outputs ?? []).map((o) => ({ name: o.name })),
  };
  const res = await call('ModelInfer', request);
  const outputs = res.outputs.map((o, i) => {
    const raw = Buffer.from(res.raw_output_contents[i]);
    const View = VIEW[o.datatype];
    const data = View ? Array.from(new View(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), (v) => (typeof v === 'bigint' ? Number(v) : v)) : `${raw.byteLength} raw bytes (${o.datatype})`;
    return { name: o.name, datatype: o.datatype, shape: o.shape.map(Number), data };
  });
  console.log(JSON.stringify({ model_name: res.model_name, model_version: res.model_version, id: res.id, outputs }));
}

main().then(() => client.close(), (err) => {
  console.error(`${err.code !== undefined ? grpc.status[err.code] : 'error'}: ${err.details ?? err.message}`);
  client.close();
  process.exit(1);
});
