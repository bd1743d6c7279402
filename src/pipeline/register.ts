/**
 * Registration in a Triton-style repository: models/<name>/<v>/{model.onnx,
 * feature_spec.json, card.json} and models/<name>/model.json.
 * Atomic: the version is written in a hidden temp folder next to its final place and
 * renamed into place (a reader sees no version or a complete one); model.json is
 * replaced by rename too. On any error the temp folder is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { modelConfigSchema, parseModelConfig } from '../config/model-config';
import { canonicalJson } from '../features';

const VERSION_RE = /^[1-9][0-9]{0,8}$/;

/** Integer versions present under models/<name>/. */
export function existingVersions(modelDir: string): number[] {
  if (!fs.existsSync(modelDir)) return [];
  return fs
    .readdirSync(modelDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && VERSION_RE.test(d.name))
    .map((d) => Number(d.name))
    .sort((a, b) => a - b);
}

function writeFileSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Writes a file by temp file + rename, so readers never see a partial one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  try {
    writeFileSynced(tmp, data);
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export interface RegisterRequest {
  repository: string;
  name: string;
  /** Files of the version folder, name → bytes/text. */
  files: Record<string, string | Uint8Array>;
  /** card.json content; `version` and `parent_version` are filled in here. */
  card: Record<string, unknown>;
  /** models/<name>/model.json content; checked against the server's schema first. */
  modelJson: Record<string, unknown>;
}

export interface Registered {
  version: number;
  parent_version: number | null;
  dir: string;
}

/**
 * Allocates the next integer version and moves the complete folder into place.
 * @throws Error when the model.json is invalid or the files cannot be written.
 */
export function registerModel(req: RegisterRequest): Registered {
  const modelDir = path.join(req.repository, req.name);
  // Refuse a model.json the server would reject before anything is written.
  parseModelConfig(req.modelJson, `${req.name}/model.json`, req.name);
  fs.mkdirSync(modelDir, { recursive: true });
  for (let attempt = 0; attempt < 10; attempt++) {
    const versions = existingVersions(modelDir);
    const parent = versions.length ? versions[versions.length - 1] : null;
    const version = (parent ?? 0) + 1;
    const finalDir = path.join(modelDir, String(version));
    const tmp = path.join(modelDir, `.tmp-v${version}-${process.pid}-${Date.now()}`);
    try {
      fs.mkdirSync(tmp);
      for (const [name, data] of Object.entries(req.files)) writeFileSynced(path.join(tmp, name), data);
      const card = { ...req.card, name: req.name, version, parent_version: parent };
      writeFileSynced(path.join(tmp, 'card.json'), canonicalJson(card));
      fsyncDir(tmp);
      // Another writer may have taken this number meanwhile: never rename onto it.
      if (fs.existsSync(finalDir)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        continue;
      }
      fs.renameSync(tmp, finalDir);
      fsyncDir(modelDir);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') continue;
      throw e;
    }
    writeFileAtomic(path.join(modelDir, 'model.json'), JSON.stringify(req.modelJson, null, 2) + '\n');
    return { version, parent_version: parent, dir: finalDir };
  }
  throw new Error(`register: could not allocate a version under ${modelDir}`);
}

/**
 * The server's model.json for a binary classifier over one FP32 feature row, pointing at each
 * version's feature_spec.json. The feature width is left open (-1): model.json is shared by
 * every version, and each version's model file and feature spec fix its own width, so a
 * retraining whose vocabulary changed serves next to the versions before it.
 */
export function servingModelJson(opts: {
  name: string;
  inputFields: string[];
  labels: [string, string];
  threshold: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** serving-backend.ts chooses it. */
  backend: 'native' | 'onnxruntime';
  description?: string;
}): Record<string, unknown> {
  return {
    name: opts.name,
    ...(opts.description ? { description: opts.description } : {}),
    backend: opts.backend,
    max_batch_size: opts.maxBatchSize,
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, -1] }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    batching: { max_queue_delay_ms: opts.maxQueueDelayMs },
    version_policy: { latest: 1 },
    feature_spec: 'feature_spec.json',
    predict: {
      input: 'features',
      features: opts.inputFields.map((name) => ({ name })),
      output: 'probability',
      task: 'binary',
      threshold: opts.threshold,
      labels: opts.labels,
    },
  };
}
