/**
 * What a model version answers /predict with, as one sha256: the bytes of its model.onnx,
 * model.json's `predict` section (features, threshold, labels) and its fitted feature spec.
 * Replicas serving the same files compute the same digest, and editing the threshold then
 * reloading changes it, so a result cache shared between replicas (src/server/prediction-cache.ts)
 * keys answers by it and never serves an answer another model made.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { canonicalJson } from '../features/feature-spec';
import type { FeatureSpec } from '../features';
import type { PredictConfig } from '../config/model-config';

/** sha256 (hex) of the model file, streamed, then of the predict section and the feature spec. */
export async function versionDigest(modelFile: string, predict: PredictConfig | undefined, featureSpec: FeatureSpec | undefined): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(modelFile)) hash.update(chunk as Buffer);
  hash.update('\n');
  hash.update(canonicalJson({ predict: predict ?? null, feature_spec: featureSpec ?? null }, 0));
  return hash.digest('hex');
}
