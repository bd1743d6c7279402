/**
 * `infera models list` and `infera models show <name> [--version N] [--json]`: the models of
 * a repository, and a readable summary of one version (its card.json: lineage, data windows,
 * gates and metrics per window; model.json alone for models not trained by `infera train`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { modelsOnDisk, nearestName, versionsOnDisk } from '../repository/model-repository';
import { checkModelName } from '../repository/paths';
import { repositoryOption } from './repository-option';
import { positive, registerRegistryCommands } from './registry-command';

interface ModelOnDisk {
  name: string;
  config: Record<string, any>;
  versions: number[];
}

function modelsIn(repository: string): ModelOnDisk[] {
  if (!fs.existsSync(repository)) throw new Error(`model repository ${repository} does not exist`);
  return modelsOnDisk(repository).map((name) => {
    const dir = path.join(repository, name);
    let config: Record<string, any> = {};
    try {
      config = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    } catch {
      // An unreadable model.json is shown as such; `serve` reports why.
    }
    return { name, config, versions: versionsOnDisk(dir) };
  });
}

const n = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : String(x ?? '-'));
const f3 = (x: unknown) => (typeof x === 'number' ? x.toFixed(3) : '-');
const pad = (s: string, w: number) => s.padEnd(w);

/** The summary lines of one version (card.json when it has one). */
export function describeVersion(repository: string, m: ModelOnDisk, version: number): string[] {
  const dir = path.join(repository, m.name, String(version));
  const cardFile = path.join(dir, 'card.json');
  const lines = [`${m.name} v${version}   (${dir})`];
  const io = (list: any[] | undefined) => (list ?? []).map((t) => `${t.name} ${t.datatype}[${(t.shape ?? []).join(', ')}]`).join(', ');
  if (!fs.existsSync(cardFile)) {
    if (m.config.description) lines.push(`  ${m.config.description}`);
    lines.push(`  backend   ${m.config.backend ?? 'onnxruntime'}, max_batch_size ${m.config.max_batch_size ?? '-'}`);
    lines.push(`  inputs    ${io(m.config.inputs)}`, `  outputs   ${io(m.config.outputs)}`);
    lines.push('  card      none: not trained by `infera train`, so no lineage, metrics or drift baseline');
    return lines;
  }
  const c = JSON.parse(fs.readFileSync(cardFile, 'utf8'));
  const tr = c.time_range ?? {};
  if (c.description) lines.push(`  ${c.description}`);
  lines.push(`  created   ${c.created_at ?? '-'}   code ${String(c.code?.commit ?? '-').slice(0, 10)}${c.code?.dirty ? ' (dirty tree)' : ''}   parent version ${c.parent_version ?? 'none'}`);
  lines.push(`  data      ${c.source?.path ?? '-'} (sha256 ${String(c.source?.sha256 ?? '-').slice(0, 12)}…, ${n(c.source?.total_rows)} rows)`);
  lines.push(`  windows   train ${tr.train?.from ?? '-'} → ${tr.train?.to ?? '-'} (${n(c.rows?.train)} rows), holdout ${tr.holdout?.from ?? '-'} → ${tr.holdout?.to ?? '-'} (${n(c.rows?.holdout)} rows)`);
  if (c.label) lines.push(`  label     ${c.label.column} ${c.label.op} ${c.label.value} → ${(c.label.names ?? []).join(' / ')}; decision threshold ${f3(c.threshold)}`);
  if (c.onnx) lines.push(`  model     ONNX opset ${c.onnx.opset}, ${n(c.onnx.bytes)} bytes, input ${c.onnx.input} [${c.onnx.width}], output ${c.onnx.output}`);
  const gates: any[] = c.gates ?? [];
  const failed = gates.filter((g) => !g.passed);
  lines.push(`  gates     ${gates.length - failed.length} of ${gates.length} passed${failed.length ? `; failed: ${failed.map((g) => `${g.gate} on ${g.window} (${g.detail})`).join(', ')}` : ''}`);
  const windows = Object.keys(c.metrics ?? {}).sort((a, b) => (a === 'holdout' ? -1 : b === 'holdout' ? 1 : a.localeCompare(b)));
  if (windows.length) {
    lines.push(`  metrics   ${pad('window', 9)}${pad('rows', 10)}${pad('AUC', 8)}${pad('log loss', 10)}${pad('Brier', 8)}${pad('ECE', 8)}baseline AUC`);
    for (const w of windows) {
      const x = c.metrics[w];
      lines.push(`            ${pad(w, 9)}${pad(n(x.rows), 10)}${pad(f3(x.auc), 8)}${pad(f3(x.log_loss), 10)}${pad(f3(x.brier), 8)}${pad(f3(x.ece), 8)}${f3(c.baseline_metrics?.[w]?.auc)}`);
    }
  }
  return lines;
}

export function registerModelsCommand(program: Command, print: (text: string) => void = (t) => process.stdout.write(t)): void {
  const models = program.command('models').description('the models of a repository');
  registerRegistryCommands(program, models, print);
  models
    .command('list')
    .description('every model on disk: versions, backend, /predict task, whether it has a card')
    .addOption(repositoryOption())
    .action((o: { repository: string }) => {
      const root = path.resolve(o.repository);
      const rows = modelsIn(root).map((m) => {
        const cards = m.versions.filter((v) => fs.existsSync(path.join(root, m.name, String(v), 'card.json'))).length;
        return `${pad(m.name, 20)}${pad(m.versions.join(',') || '-', 12)}${pad(m.config.backend ?? 'onnxruntime', 13)}${pad(m.config.predict?.task ?? '-', 12)}${cards ? `${cards} of ${m.versions.length}` : 'none'}`;
      });
      print(`${pad('model', 20)}${pad('versions', 12)}${pad('backend', 13)}${pad('predict', 12)}cards\n${rows.join('\n')}\n`);
    });
  models
    .command('show')
    .description('a readable summary of one version: lineage, data windows, gates, metrics per window')
    .argument('<name>', 'model name')
    .option('-v, --version <n>', 'version (default: the newest on disk)', positive('--version'))
    .option('--json', 'print the whole card.json instead', false)
    .addOption(repositoryOption())
    .action((name: string, o: { version?: number; json: boolean; repository: string }) => {
      checkModelName(name);
      const root = path.resolve(o.repository);
      const all = modelsIn(root);
      const m = all.find((x) => x.name === name);
      if (!m) {
        const near = nearestName(name, all.map((x) => x.name));
        throw new Error(`no model '${name}' in ${root}${near ? ` (did you mean '${near}'?)` : ''}; models: ${all.map((x) => x.name).join(', ') || 'none'}`);
      }
      const version = o.version ?? m.versions[m.versions.length - 1];
      if (version === undefined || !m.versions.includes(version)) throw new Error(`model '${name}' has no version ${version ?? ''} on disk (versions: ${m.versions.join(', ') || 'none'})`);
      if (o.json) {
        const card = path.join(root, name, String(version), 'card.json');
        if (!fs.existsSync(card)) throw new Error(`${name} v${version} has no card.json (not trained by \`infera train\`)`);
        print(fs.readFileSync(card, 'utf8'));
        return;
      }
      print(`${describeVersion(root, m, version).join('\n')}\n`);
    });
}
