/** Scenario `infer-binary`: OIP v2 binary tensor extension on flights-delay at 1, 64, 256 rows per request (bench/lib/infer-flights.ts). */
import { inferScenario } from '../lib/infer-flights';

export const scenario = inferScenario('binary');
