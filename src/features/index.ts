/**
 * Feature engineering shared by the training pipeline and the server:
 *   const spec = loadFeatureSpec('<version>/feature_spec.json');
 *   const cols = validateRow(spec, body.features);        // throws Error naming the field → 400
 *   const { data, width } = transform(spec, cols);        // Float32Array [1 × width]
 */
export { FEATURE_SPEC_FORMAT, blockWidth, canonicalJson, checkFeatureSpec, featureSpecHash, loadFeatureSpec, serializeFeatureSpec, sha256Hex } from './feature-spec';
export type { FeatureBlock, FeatureSpec, InputField, TimeUnit } from './feature-spec';
export { fitFeatures, sliceColumns } from './fit';
export type { FitOptions } from './fit';
export { fieldProblem, fnv1a, transform, transformSparse, validateRow } from './transform';
export type { Columns, FlightColumns, SparseRows, TransformResult } from './transform';
export { dayOfWeek, minuteOfDay, parseTimestamp, toEpochMs } from './time';
