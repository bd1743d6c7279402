/**
 * Temporary copies of the model repository with an edited model.json (batching policy,
 * max_batch_size): written under the OS temp dir, never under models/. Files are copied,
 * not linked (the server realpath-checks every path to stay inside its repository).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type ModelJson = Record<string, unknown> & { batching?: Record<string, unknown> };

export interface RepoCopy {
  dir: string;
  /** The edited model.json of each copied model, as written. */
  configs: Record<string, ModelJson>;
  remove(): void;
}

/** Copies `models` of `source` into a fresh temp repository, applying `edit` to each model.json. */
export function copyRepository(source: string, models: string[], edit: (name: string, cfg: ModelJson) => ModelJson = (_n, c) => c, label = 'repo'): RepoCopy {
  const dir = mkdtempSync(path.join(os.tmpdir(), `infera-bench-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  const configs: Record<string, ModelJson> = {};
  for (const m of models) {
    cpSync(path.join(source, m), path.join(dir, m), { recursive: true, dereference: true });
    const file = path.join(dir, m, 'model.json');
    const cfg = edit(m, JSON.parse(readFileSync(file, 'utf8')) as ModelJson);
    writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
    configs[m] = cfg;
  }
  return { dir, configs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Removes every copy when the process exits, even on failure; the returned function removes them now. */
export function removeOnExit(copies: RepoCopy[]): () => void {
  const cleanup = () => {
    for (const c of copies) c.remove();
  };
  process.once('exit', cleanup);
  return () => {
    process.removeListener('exit', cleanup);
    cleanup();
  };
}
