/**
 * A real flights-delay model for the monitoring tests, trained by the real pipeline on
 * real rows (pipelines/flights-delay-smoke.json: train Jan 1–5, hold out Jan 6–7 2001)
 * into a temp repository. Only the quality gates are relaxed: the monitoring tests need
 * a registered model, not a good one. Takes ~15 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPipeline } from '../../../src/pipeline/run-pipeline';
import { FLIGHTS_PARQUET, REPO_ROOT } from './flight-rows';

export interface TrainedModel {
  /** The temp folder holding the repository (remove it when done). */
  tmp: string;
  repository: string;
  model: string;
  version: number;
}

export async function trainSmokeModel(): Promise<TrainedModel> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-monitoring-'));
  const cfg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'pipelines/flights-delay-smoke.json'), 'utf8'));
  cfg.source.path = FLIGHTS_PARQUET;
  cfg.gates = [{ name: 'sanity', metric: 'auc', min: 0.5, windows: ['holdout'] }];
  const file = path.join(tmp, 'pipeline.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const repository = path.join(tmp, 'models');
  const r = await runPipeline({ pipelineFile: file, repository, log: () => undefined, progress: false });
  if (!r.registered || r.version === null) throw new Error('the smoke pipeline registered nothing');
  return { tmp, repository, model: cfg.name, version: r.version };
}
