/** Scenario `infer-json`: OIP v2 JSON infer on flights-delay at 1, 64, 256 rows per request (bench/lib/infer-flights.ts). */
import { inferScenario } from '../lib/infer-flights';

export const scenario = inferScenario('json');
