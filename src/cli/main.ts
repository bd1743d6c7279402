#!/usr/bin/env node
import path from 'node:path';
import { Command, Option } from 'commander';
import { DEFAULT_SERVER_OPTIONS, InferaServer, SERVER_VERSION } from '../server/server';
import { createLogger, LOG_LEVELS } from '../config/logger';
import { registerTrainCommand } from './train-command';
import { registerDriftCommand } from './drift-command';
import { registerQuantizeCommand } from './quantize-command';
import { registerBenchCommand } from './bench-command';
import { registerExampleCommand } from './example-command';
import { relaunchWithServingFlags } from './serving-runtime';
import { repositoryOption } from './repository-option';

const program = new Command();
program.name('infera').description('Infera model server and MLOps toolkit').version(SERVER_VERSION);

const d = DEFAULT_SERVER_OPTIONS;
program
  .command('serve')
  .description('serve the models of a repository over the Open Inference Protocol v2')
  .addOption(repositoryOption())
  .addOption(new Option('-p, --port <n>', 'HTTP port (0 picks a free one)').env('INFERA_PORT').default(String(d.port)))
  .addOption(new Option('-H, --host <host>', 'address to bind').env('INFERA_HOST').default(d.host))
  .addOption(new Option('-w, --workers <n>', 'inference worker threads').env('INFERA_WORKERS').default(String(d.workers)))
  .addOption(new Option('--max-body <bytes>', 'largest request body').env('INFERA_MAX_BODY').default(String(d.maxBodyBytes)))
  .addOption(new Option('--admin-token <token>', 'token required by load/unload/reload').env('INFERA_ADMIN_TOKEN'))
  .addOption(new Option('--predict-cache <n>', 'entries of the /predict result cache (0 disables)').env('INFERA_PREDICT_CACHE').default(String(d.predictCacheSize)))
  .addOption(new Option('--default-model <name>', 'the model POST /predict serves when a request names none (default: the only model with a predict section)').env('INFERA_DEFAULT_MODEL'))
  .addOption(new Option('--log-level <level>', 'log level').env('INFERA_LOG_LEVEL').default('info').choices(LOG_LEVELS))
  .addOption(new Option('--no-sandbox', 'open new model versions directly in the serving workers, without validating them in a child process first'))
  .addOption(new Option('--reuse-port', 'share the port with other processes (SO_REUSEPORT); without it a port in use is an error').env('INFERA_REUSE_PORT'))
  .action(async (o: Record<string, string>) => {
    if (relaunchWithServingFlags()) return;
    const logger = createLogger(o.logLevel);
    const int = (name: string, v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) program.error(`--${name} must be a non-negative integer, got '${v}'`);
      return n;
    };
    const port = (v: string) => {
      const n = int('port', v);
      if (n > 65535) program.error(`--port must be 0–65535, got '${v}'`);
      return n;
    };
    const server = new InferaServer({
      ...d,
      repository: path.resolve(o.repository),
      host: o.host,
      port: port(o.port),
      reusePort: Boolean(o.reusePort),
      sandbox: (o as Record<string, unknown>).sandbox === false ? false : undefined,
      workers: Math.max(1, int('workers', o.workers)),
      maxBodyBytes: int('max-body', o.maxBody),
      adminToken: o.adminToken,
      predictCacheSize: int('predict-cache', o.predictCache),
      defaultPredictModel: o.defaultModel,
      logger,
    });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal, inFlight: server.inFlight }, 'draining');
      server.stop().then(() => process.exit(0), (e) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    await server.start();
  });

registerTrainCommand(program);
registerDriftCommand(program);
registerQuantizeCommand(program);
registerBenchCommand(program);
registerExampleCommand(program);

program.parseAsync(process.argv).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
