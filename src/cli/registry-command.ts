/**
 * The registry from the command line, on the repository's registry file (the server running
 * on the same repository picks changes up within REGISTRY_POLL_MS):
 *   infera models alias <name> <alias> <version>     (--remove to drop it)
 *   infera models history <name>
 *   infera deploy <name> --stable N [--candidate M --mode canary|ab|shadow --share 0.2]
 *   infera promote <name> [--reason TEXT]
 *   infera rollback <name> [--reason TEXT]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkModelName } from '../repository/paths';
import { modelsOnDisk, versionsOnDisk } from '../repository/model-repository';
import { defaultRegistryPath, DeploymentMode, ModelRegistry } from '../registry/registry';
import { repositoryOption } from './repository-option';

/** A commander parser for a positive integer argument; the message names it. */
export const positive = (what: string) => (v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError(`${what} must be a positive integer, got '${v}'`);
  return Number(v);
};

export function registryOption(): Option {
  return new Option('--registry <file>', 'registry file (default: <repository>/.infera/registry.sqlite)').env('INFERA_REGISTRY');
}

/** The registry file a command uses: --registry, else <repository>/.infera/registry.sqlite. */
export function registryFile(o: { repository: string; registry?: string }): string {
  return o.registry ? path.resolve(o.registry) : defaultRegistryPath(path.resolve(o.repository));
}

/** Opens the repository's registry with every version on disk registered. */
export function openRegistry(o: { repository: string; registry?: string }, name?: string): ModelRegistry {
  const root = path.resolve(o.repository);
  const registry = new ModelRegistry(registryFile(o));
  const names = name ? [name] : modelsOnDisk(root);
  for (const m of names) {
    const dir = path.join(root, m);
    if (!fs.existsSync(path.join(dir, 'model.json'))) {
      registry.close();
      throw new Error(`no model '${m}' in ${root}`);
    }
    for (const v of versionsOnDisk(dir)) registry.register(m, v, 'repository', `${m}/${v}`);
  }
  return registry;
}

const actor = () => `cli:${os.userInfo().username}`;

/**
 * After `infera train` / `infera quantize` wrote `version`: it becomes the `candidate`, and
 * if nothing pinned production yet, production pins what served before (the highest older
 * version), so the new version gets no traffic until it is deployed or promoted.
 * @returns a one-line summary for the command's output.
 */
export function registerCandidate(o: { repository: string; registry?: string }, model: string, version: number, source: string): string {
  const r = openRegistry(o, model);
  try {
    const who = `${actor()} (${source})`;
    let pinned = '';
    if (r.alias(model, 'production') === null && !r.deployment(model)) {
      const older = r.versions(model).map((v) => v.version).filter((v) => v < version);
      if (older.length) {
        r.setAlias(model, 'production', Math.max(...older), who, { reason: `pinned before version ${version} was registered, so that it gets no traffic until deployed` });
        pinned = `; production pinned to version ${Math.max(...older)}`;
      }
    }
    r.setAlias(model, 'candidate', version, who);
    return `${model} version ${version} registered as 'candidate'${pinned} (deploy it with \`infera deploy ${model} --stable ${r.alias(model, 'production') ?? version} --candidate ${version} --share 0.2\`)`;
  } finally {
    r.close();
  }
}

function withRegistry(o: { repository: string; registry?: string }, name: string, fn: (r: ModelRegistry) => unknown, print: (t: string) => void): void {
  checkModelName(name);
  const r = openRegistry(o, name);
  try {
    const out = fn(r);
    print(`${JSON.stringify(out ?? { model: name, aliases: r.aliases(name), deployment: r.deployment(name) }, null, 2)}\n`);
  } finally {
    r.close();
  }
}

export function registerRegistryCommands(program: Command, models: Command, print: (text: string) => void = (t) => process.stdout.write(t)): void {
  models
    .command('alias')
    .description('point an alias (production, staging, candidate, any name) at a version, or --remove it')
    .argument('<name>').argument('<alias>').argument('[version]', 'version number', positive('version'))
    .option('--remove', 'remove the alias', false)
    .addOption(repositoryOption()).addOption(registryOption())
    .action((name: string, alias: string, version: number | undefined, o: { remove: boolean; repository: string; registry?: string }) => {
      if (!o.remove && version === undefined) throw new InvalidArgumentError('give the version the alias points at, or --remove');
      withRegistry(o, name, (r) => (o.remove ? r.removeAlias(name, alias, actor()) : r.setAlias(name, alias, version!, actor())), print);
    });
  models
    .command('history')
    .description('the audit log of a model: registrations, alias moves, deployments, promotions, rollbacks')
    .argument('<name>')
    .addOption(repositoryOption()).addOption(registryOption())
    .action((name: string, o: { repository: string; registry?: string }) => {
      withRegistry(o, name, (r) => ({ model: name, history: r.history(name) }), print);
    });
  program
    .command('deploy')
    .description('set a model\'s deployment: a stable version and at most one candidate (canary, ab or shadow)')
    .argument('<name>')
    .requiredOption('--stable <n>', 'the version that serves', positive('--stable'))
    .option('--candidate <n>', 'the version under test', positive('--candidate'))
    .addOption(new Option('--mode <mode>', 'how the candidate gets traffic').choices(['canary', 'ab', 'shadow']).default('canary'))
    .option('--share <x>', "the candidate's share of requests, 0..1", (v) => {
      const x = Number(v);
      if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError(`--share must be in [0, 1], got '${v}'`);
      return x;
    }, 0.1)
    .option('--reason <text>', 'why, for the audit log')
    .addOption(repositoryOption()).addOption(registryOption())
    .action((name: string, o: { stable: number; candidate?: number; mode: DeploymentMode; share: number; reason?: string; repository: string; registry?: string }) => {
      withRegistry(o, name, (r) => { r.deploy(name, { stable: o.stable, candidate: o.candidate ?? null, mode: o.mode, share: o.share }, actor(), o.reason ? { reason: o.reason } : {}); }, print);
    });
  for (const action of ['promote', 'rollback'] as const) {
    program
      .command(action)
      .description(action === 'promote' ? 'the candidate becomes stable (and production)' : 'withdraw the candidate: all traffic on stable')
      .argument('<name>')
      .option('--reason <text>', 'why, for the audit log')
      .addOption(repositoryOption()).addOption(registryOption())
      .action((name: string, o: { reason?: string; repository: string; registry?: string }) => {
        withRegistry(o, name, (r) => { r[action](name, actor(), o.reason ? { reason: o.reason } : {}); }, print);
      });
  }
}
