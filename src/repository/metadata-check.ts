import { ModelConfig, TensorConfig } from '../config/model-config';
import { InferaError } from '../errors';
import { ModelMetadata, TensorMetadata } from '../runtime/backend';

function mismatch(file: string, detail: string): InferaError {
  return new InferaError('ENG_ERR_CONFIG', `${file}: ${detail}`);
}

function checkList(file: string, kind: 'inputs' | 'outputs', declared: TensorConfig[], actual: TensorMetadata[]): void {
  const names = actual.map((t) => t.name);
  if (kind === 'inputs') {
    for (const a of actual) {
      if (!declared.some((d) => d.name === a.name)) throw mismatch(file, `inputs: the model file has input '${a.name}', which model.json does not declare`);
    }
  }
  declared.forEach((d, i) => {
    const a = actual.find((t) => t.name === d.name);
    if (!a) throw mismatch(file, `${kind}.${i}.name: '${d.name}' is not in the model file (it has ${names.map((n) => `'${n}'`).join(', ')})`);
    if (a.datatype !== d.datatype) throw mismatch(file, `${kind}.${i}.datatype: ${d.datatype} declared, the model file says ${a.datatype} for '${d.name}'`);
    if (a.shape === null) return;
    if (a.shape.length !== d.shape.length) throw mismatch(file, `${kind}.${i}.shape: [${d.shape}] declared, the model file says [${a.shape}] for '${d.name}'`);
    a.shape.forEach((dim, j) => {
      if (dim >= 0 && d.shape[j] >= 0 && d.shape[j] !== dim) throw mismatch(file, `${kind}.${i}.shape: [${d.shape}] declared, the model file fixes dim ${j} of '${d.name}' to ${dim}`);
    });
  });
}

/**
 * Checks model.json against the inputs and outputs read from the ONNX file.
 * model.json may fix a symbolic dim or leave a fixed one open (-1), never contradict one.
 */
export function checkAgainstModelFile(cfg: ModelConfig, meta: ModelMetadata, file: string): void {
  checkList(file, 'inputs', cfg.inputs, meta.inputs);
  checkList(file, 'outputs', cfg.outputs, meta.outputs);
}

/**
 * One version's view of model.json: a dim model.json leaves open (-1) and the version's file
 * fixes takes the file's size. model.json is shared by every version of a model, so this is
 * how versions trained with different feature widths (a refitted vocabulary) serve side by
 * side: the width lives in each version's model file (and feature spec).
 */
export function versionConfig(cfg: ModelConfig, meta: ModelMetadata): ModelConfig {
  const fill = (declared: TensorConfig[], actual: TensorMetadata[]): TensorConfig[] =>
    declared.map((d) => {
      const a = actual.find((t) => t.name === d.name);
      if (!a?.shape || a.shape.length !== d.shape.length || d.shape.every((dim, j) => dim >= 0 || a.shape![j] < 0)) return d;
      return { ...d, shape: d.shape.map((dim, j) => (dim >= 0 ? dim : a.shape![j] >= 0 ? a.shape![j] : dim)) };
    });
  const inputs = fill(cfg.inputs, meta.inputs);
  const outputs = fill(cfg.outputs, meta.outputs);
  return inputs.every((t, i) => t === cfg.inputs[i]) && outputs.every((t, i) => t === cfg.outputs[i]) ? cfg : { ...cfg, inputs, outputs };
}
