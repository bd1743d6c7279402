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
      if (dim >= 0 && d.shape[j] !== dim) throw mismatch(file, `${kind}.${i}.shape: [${d.shape}] declared, the model file fixes dim ${j} of '${d.name}' to ${dim}`);
    });
  });
}

/**
 * Checks model.json against the inputs and outputs read from the ONNX file.
 * model.json may fix a symbolic dim, never contradict a fixed one.
 */
export function checkAgainstModelFile(cfg: ModelConfig, meta: ModelMetadata, file: string): void {
  checkList(file, 'inputs', cfg.inputs, meta.inputs);
  checkList(file, 'outputs', cfg.outputs, meta.outputs);
}
