/**
 * Builds two real models that exchange the non-FP32 OIP types (issue 15), written with the
 * project's own ONNX writer into a Triton-style repository:
 *
 * - `airports`: BYTES in, INT64 and BYTES out. The origin-airport vocabulary fitted by the
 *   flights-delay pipeline on the real 2001 flights (models/flights-delay/1/feature_spec.json)
 *   as an ai.onnx.ml CategoryMapper lookup: `code` [N,1] → `index` [N,1] (position in the
 *   vocabulary, -1 when unknown) → `code_out` [N,1] (the vocabulary entry, "UNKNOWN" for -1).
 *   No normalisation: the feature transform upper-cases and trims before its lookup, this
 *   model matches the bytes it is given ("ord" is unknown here).
 * - `flights-delay-fp16`: the committed flights-delay MLP with FP16 at its boundary:
 *   `features` FP16 [N,width] → Cast(FLOAT) → the original graph → Cast(FLOAT16) →
 *   `probability` FP16 [N,1]. The weights and arithmetic stay FP32; FP16 is the exchange type.
 *
 * Usage: node dist/scripts/build-typed-models.js <outDir>
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodeOnnxModel } from '../src/quant/onnx-model-writer';
import { OnnxAttributeValue, OnnxModel, OnnxNode, OnnxValueInfo, readOnnxFile } from '../src/runtime/onnx-model-reader';

const ROOT = path.resolve(__dirname, '../..');
/** The committed flights-delay model repository entry. */
export const FLIGHTS_MODEL_DIR = path.join(ROOT, 'models/flights-delay');

/** TensorProto.DataType values used here. */
export const ELEM = { FLOAT: 1, INT64: 7, STRING: 8, FLOAT16: 10 } as const;
/** AttributeProto.AttributeType values used here. */
const ATTR = { INT: 2, STRING: 3, INTS: 7, STRINGS: 8 } as const;

export const AIRPORTS_MAX_BATCH = 256;
export const UNKNOWN_CODE = 'UNKNOWN';
export const UNKNOWN_INDEX = -1;

/** A model.json as models/flights-delay/model.json has it, without `predict`/`feature_spec`. */
export interface PlainModelJson {
  name: string;
  description: string;
  backend: 'onnxruntime';
  max_batch_size: number;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
  batching: { max_queue_delay_ms: number };
  version_policy: { latest: number };
}

/**
 * The fitted vocabulary of a categorical block of a feature spec file.
 * @throws Error when the spec has no categorical block for `input`.
 */
export function categoricalVocabulary(featureSpecFile: string, input: string): string[] {
  const spec = JSON.parse(fs.readFileSync(featureSpecFile, 'utf8')) as { blocks: { kind: string; input: string; vocabulary?: string[] }[] };
  const block = spec.blocks.find((b) => b.kind === 'categorical' && b.input === input);
  if (!block?.vocabulary) throw new Error(`${featureSpecFile}: no categorical block for '${input}'`);
  return block.vocabulary;
}

function node(name: string, opType: string, inputs: string[], outputs: string[], attrs: [string, number, OnnxAttributeValue][], domain = ''): OnnxNode {
  return {
    name, opType, domain, inputs, outputs,
    attributes: new Map(attrs.map(([k, , v]) => [k, v])),
    attributeTypes: new Map(attrs.map(([k, t]) => [k, t])),
  };
}

const io = (name: string, elemType: number, shape: (number | string)[]): OnnxValueInfo => ({ name, elemType, shape });

/**
 * The string → index → string lookup over `vocabulary` (ai.onnx.ml CategoryMapper, twice).
 * @throws Error when the vocabulary is empty, has duplicates, or holds the unknown marker.
 */
export function airportsModel(vocabulary: string[]): OnnxModel {
  if (vocabulary.length === 0) throw new Error('empty vocabulary');
  if (new Set(vocabulary).size !== vocabulary.length) throw new Error('the vocabulary has duplicate entries');
  if (vocabulary.includes(UNKNOWN_CODE)) throw new Error(`the vocabulary holds '${UNKNOWN_CODE}', the answer for an unknown code`);
  const indices = vocabulary.map((_, i) => i);
  return {
    irVersion: 8,
    producerName: 'infera',
    producerVersion: 'build-typed-models',
    opsets: new Map([['', 13], ['ai.onnx.ml', 3]]),
    metadata: new Map([['infera.source', 'models/flights-delay/1/feature_spec.json: origin vocabulary']]),
    graph: {
      name: 'airports',
      nodes: [
        node('code_to_index', 'CategoryMapper', ['code'], ['index'], [
          ['cats_strings', ATTR.STRINGS, vocabulary], ['cats_int64s', ATTR.INTS, indices], ['default_int64', ATTR.INT, UNKNOWN_INDEX],
        ], 'ai.onnx.ml'),
        node('index_to_code', 'CategoryMapper', ['index'], ['code_out'], [
          ['cats_strings', ATTR.STRINGS, vocabulary], ['cats_int64s', ATTR.INTS, indices], ['default_string', ATTR.STRING, UNKNOWN_CODE],
        ], 'ai.onnx.ml'),
      ],
      initializers: new Map(),
      inputs: [io('code', ELEM.STRING, ['N', 1])],
      outputs: [io('index', ELEM.INT64, ['N', 1]), io('code_out', ELEM.STRING, ['N', 1])],
    },
  };
}

/**
 * `fp32` with FP16 at its boundary: its one FLOAT input and one FLOAT output become FLOAT16,
 * cast to and from FLOAT around the unchanged graph.
 * @throws Error when the model does not have exactly one FLOAT input and one FLOAT output.
 */
export function fp16BoundaryModel(fp32: OnnxModel): OnnxModel {
  const { inputs, outputs } = fp32.graph;
  if (inputs.length !== 1 || outputs.length !== 1 || inputs[0].elemType !== ELEM.FLOAT || outputs[0].elemType !== ELEM.FLOAT) {
    throw new Error('expected one FLOAT input and one FLOAT output');
  }
  const inName = inputs[0].name;
  const outName = outputs[0].name;
  const inner = { input: `${inName}_fp32`, output: `${outName}_fp32` };
  const taken = new Set(fp32.graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs]).concat([...fp32.graph.initializers.keys()]));
  for (const n of Object.values(inner)) if (taken.has(n)) throw new Error(`'${n}' is already a name in the graph`);
  const rename = (names: string[], from: string, to: string) => names.map((x) => (x === from ? to : x));
  const body = fp32.graph.nodes.map((n) => ({ ...n, inputs: rename(n.inputs, inName, inner.input), outputs: rename(n.outputs, outName, inner.output) }));
  return {
    ...fp32,
    producerVersion: `${fp32.producerVersion || 'unknown'}+fp16-io`,
    metadata: new Map([...fp32.metadata, ['infera.io_precision', 'fp16']]),
    graph: {
      ...fp32.graph,
      nodes: [
        node('cast_in', 'Cast', [inName], [inner.input], [['to', ATTR.INT, ELEM.FLOAT]]),
        ...body,
        node('cast_out', 'Cast', [inner.output], [outName], [['to', ATTR.INT, ELEM.FLOAT16]]),
      ],
      inputs: [{ ...inputs[0], elemType: ELEM.FLOAT16 }],
      outputs: [{ ...outputs[0], elemType: ELEM.FLOAT16 }],
    },
  };
}

/** model.json shape: symbolic/unknown dims as -1. */
const jsonShape = (v: OnnxValueInfo): number[] => {
  if (!v.shape) throw new Error(`'${v.name}' has no shape`);
  return v.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1));
};

function writeEntry(outDir: string, config: PlainModelJson, model: OnnxModel): string {
  const dir = path.join(outDir, config.name);
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(config, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, '1', 'model.onnx'), encodeOnnxModel(model));
  return dir;
}

export interface BuiltModels {
  /** `<outDir>/airports` */
  airports: string;
  /** `<outDir>/flights-delay-fp16` */
  fp16: string;
  vocabularySize: number;
}

/** Writes both models (model.json + 1/model.onnx each) under `outDir`. */
export function buildTypedModels(outDir: string, flightsDir = FLIGHTS_MODEL_DIR): BuiltModels {
  const vocabulary = categoricalVocabulary(path.join(flightsDir, '1', 'feature_spec.json'), 'origin');
  const airports = airportsModel(vocabulary);
  const airportsDir = writeEntry(outDir, {
    name: 'airports',
    description: `Origin-airport code → its index in the flights-delay vocabulary (${vocabulary.length} airports of the 2001 flights) and back; -1 / "${UNKNOWN_CODE}" when unknown.`,
    backend: 'onnxruntime',
    max_batch_size: AIRPORTS_MAX_BATCH,
    inputs: [{ name: 'code', datatype: 'BYTES', shape: [-1, 1] }],
    outputs: [{ name: 'index', datatype: 'INT64', shape: [-1, 1] }, { name: 'code_out', datatype: 'BYTES', shape: [-1, 1] }],
    batching: { max_queue_delay_ms: 0 },
    version_policy: { latest: 1 },
  }, airports);

  const flightsConfig = JSON.parse(fs.readFileSync(path.join(flightsDir, 'model.json'), 'utf8')) as PlainModelJson;
  const fp16 = fp16BoundaryModel(readOnnxFile(path.join(flightsDir, '1', 'model.onnx')));
  const fp16Dir = writeEntry(outDir, {
    name: 'flights-delay-fp16',
    description: 'The flights-delay MLP (models/flights-delay/1) with FP16 features in and FP16 probability out; FP32 inside.',
    backend: 'onnxruntime',
    max_batch_size: flightsConfig.max_batch_size,
    inputs: fp16.graph.inputs.map((v) => ({ name: v.name, datatype: 'FP16', shape: jsonShape(v) })),
    outputs: fp16.graph.outputs.map((v) => ({ name: v.name, datatype: 'FP16', shape: jsonShape(v) })),
    batching: { max_queue_delay_ms: 0 },
    version_policy: { latest: 1 },
  }, fp16);
  return { airports: airportsDir, fp16: fp16Dir, vocabularySize: vocabulary.length };
}

if (require.main === module) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: node dist/scripts/build-typed-models.js <outDir>');
    process.exit(2);
  }
  const built = buildTypedModels(path.resolve(outDir));
  console.log(`airports (${built.vocabularySize} codes): ${built.airports}`);
  console.log(`flights-delay-fp16: ${built.fp16}`);
}
