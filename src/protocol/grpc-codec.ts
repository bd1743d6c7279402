/**
 * The gRPC form of OIP infer requests and responses (proto/grpc_service.proto, decoded by
 * @grpc/proto-loader with longs as strings) ↔ the InferRequest every transport shares.
 * raw_input_contents are viewed in place, as the REST binary extension's tensors are (a copy
 * only when an element would be misaligned); answers always carry raw_output_contents, as
 * Triton's do.
 */
import { InferaError } from '../errors';
import { decodeBytesElements, utf8Element } from './bytes-tensor';
import { DATATYPES, DataType, FixedDataType, Tensor, TensorData, elementCount, isDataType, typedFromBytes } from './datatypes';
import { InferRequest, fromNumbers, timeoutFromParameters, wireBytes } from './oip-codec';
import { checkShape } from './validate';

/** An InferParameter as proto-loader hands it over (`oneofs: true`). */
export interface GrpcParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export interface GrpcContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParameter>;
  inputs: { name: string; datatype: string; shape: string[]; parameters: Record<string, GrpcParameter>; contents: GrpcContents | null }[];
  outputs: { name: string; parameters: Record<string, GrpcParameter> }[];
  raw_input_contents: Buffer[];
}

export interface GrpcInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[] }[];
  raw_output_contents: Uint8Array[];
}

/** The typed-contents field each datatype is carried in (FP16 has none: raw only). */
const CONTENTS_FIELD: Record<Exclude<DataType, 'FP16'>, keyof GrpcContents> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_TENSOR', detail);
}

/** Plain values of a parameter map, as the REST JSON would carry them (int64 as a number when exact). */
export function plainParameters(params: Record<string, GrpcParameter> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(params ?? {})) {
    const choice = p.parameter_choice;
    if (!choice) continue;
    const v = p[choice];
    if (choice === 'int64_param' || choice === 'uint64_param') {
      const n = Number(v);
      out[k] = Number.isSafeInteger(n) ? n : String(v);
    } else out[k] = v;
  }
  return out;
}

function fromContents(name: string, dt: DataType, contents: GrpcContents, count: number): TensorData {
  if (dt === 'FP16') throw bad(`input '${name}': FP16 has no typed contents field; send it in raw_input_contents`);
  const field = CONTENTS_FIELD[dt];
  for (const [f, v] of Object.entries(contents)) {
    if (f !== field && Array.isArray(v) && v.length > 0) throw bad(`input '${name}': datatype ${dt} is carried in ${field}, the request filled ${f}`);
  }
  const values = contents[field] as unknown[];
  if (values.length !== count) throw bad(`input '${name}': its shape holds ${count} elements, ${field} has ${values.length}`);
  if (dt === 'BYTES') return (values as Buffer[]).map((v, i) => utf8Element(name, i, v));
  if (dt === 'INT64') return BigInt64Array.from(values as string[], (v) => BigInt(v));
  if (dt === 'UINT64') return BigUint64Array.from(values as string[], (v) => BigInt(v));
  if (dt === 'BOOL') return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
  return fromNumbers(name, dt, Float64Array.from(values as number[]));
}


/**
 * Decodes a ModelInferRequest. `expected` (input name → datatype) names a mismatch first.
 * @throws InferaError 400 for bad tensors, mixed raw and typed contents, or a raw entry of the wrong size.
 */
export function decodeGrpcInferRequest(msg: GrpcInferRequest, expected?: ReadonlyMap<string, DataType>): InferRequest {
  if (msg.inputs.length === 0) throw new InferaError('ENG_ERR_BAD_REQUEST', "'inputs' must be a non-empty list");
  const raw = msg.raw_input_contents;
  if (raw.length > 0 && raw.length !== msg.inputs.length) throw bad(`raw_input_contents has ${raw.length} entries for ${msg.inputs.length} inputs`);
  const inputs = msg.inputs.map((t, i): Tensor => {
    const name = t.name;
    if (!name) throw new InferaError('ENG_ERR_BAD_REQUEST', `inputs[${i}].name must be a non-empty string`);
    const dt = t.datatype;
    if (dt === 'BF16') throw new InferaError('ENG_ERR_UNSUPPORTED', `input '${name}': datatype BF16 is not served (onnxruntime-node has no bfloat16 tensors)`);
    if (!isDataType(dt)) throw bad(`input '${name}': unknown datatype ${JSON.stringify(dt)}`);
    const want = expected?.get(name);
    if (want && want !== dt) throw bad(`input '${name}': datatype ${dt}, expected ${want}`);
    const shape = checkShape(name, t.shape.map(Number));
    const count = elementCount(shape);
    if (raw.length > 0) {
      if (t.contents) throw bad(`input '${name}': contents given although the request uses raw_input_contents`);
      const bytes = raw[i];
      if (dt === 'BYTES') return { name, datatype: dt, shape, data: decodeBytesElements(name, bytes, count) };
      const need = count * DATATYPES[dt as FixedDataType].bytes;
      if (bytes.byteLength !== need) throw bad(`input '${name}': shape [${shape}] of ${dt} needs ${need} bytes, raw_input_contents[${i}] has ${bytes.byteLength}`);
      return { name, datatype: dt, shape, data: typedFromBytes(dt as FixedDataType, bytes) };
    }
    if (!t.contents) throw bad(`input '${name}': no contents and no raw_input_contents`);
    return { name, datatype: dt, shape, data: fromContents(name, dt, t.contents, count) };
  });
  const parameters = plainParameters(msg.parameters);
  const outputs = msg.outputs.map((o) => ({ name: o.name, binary: true }));
  if (new Set(outputs.map((o) => o.name)).size !== outputs.length) throw new InferaError('ENG_ERR_BAD_REQUEST', "'outputs' names an output more than once");
  return { id: msg.id || undefined, inputs, outputs, binaryOutput: true, timeoutMs: timeoutFromParameters(parameters), parameters };
}

/** A ModelInferResponse: tensors' metadata, and their bytes as raw_output_contents (views for fixed-width types). */
export function encodeGrpcInferResponse(model: string, version: number, id: string | undefined, outputs: Tensor[]): GrpcInferResponse {
  return {
    model_name: model,
    model_version: String(version),
    id: id ?? '',
    outputs: outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_output_contents: outputs.map(wireBytes),
  };
}
