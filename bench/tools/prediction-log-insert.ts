/**
 * The prediction log's insert cost as it fills, with the ids /predict makes up (time-ordered,
 * src/server/request-id.ts) against random v4 UUIDs (what it made up before, and what a client
 * sending random ids gets), in process, on one core:
 *
 *   node dist/bench/tools/prediction-log-insert.js [--rows 640000]
 *
 * Rows are real February 2001 flights as /predict logs them (their feature dicts as JSON),
 * inserted in 64-row transactions as the monitoring hub writes them. Prints µs per row for
 * every 64,000 rows.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { PredictionLog, type LoggedPrediction } from '../../src/monitoring/prediction-log';
import { RequestIds } from '../../src/server/request-id';
import { featureDict, flightsParquet, loadFebruaryFlights } from '../lib/flights';

const ROOT = path.resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rows');
  const total = i >= 0 ? Number(process.argv[i + 1]) : 640_000;
  if (!Number.isInteger(total) || total < 64_000) throw new Error('--rows must be an integer ≥ 64000');
  const flights = await loadFebruaryFlights(flightsParquet(ROOT), 2048);
  const inputs = Array.from({ length: flights.rows }, (_, r) => JSON.stringify(featureDict(flights, r)));
  const serverIds = new RequestIds();
  for (const [name, nextId] of [['random v4 ids', () => crypto.randomUUID()], ['server ids (UUIDv7 + counter)', () => serverIds.next()]] as const) {
    const log = new PredictionLog();
    const perStep: string[] = [];
    let seq = 0;
    while (seq < total) {
      // Built before timing: only the inserts are measured.
      const batches: LoggedPrediction[][] = [];
      for (let b = 0; b < 1000; b++) {
        const rows: LoggedPrediction[] = [];
        for (let r = 0; r < 64; r++, seq++) rows.push({ model: 'flights-delay', version: 1, id: nextId(), seq, arrivalMs: Date.now(), eventMs: flights.date[seq % flights.rows], inputs: inputs[seq % flights.rows], output: 0.2 });
        batches.push(rows);
      }
      const t0 = process.hrtime.bigint();
      for (const rows of batches) log.insertMany(rows);
      perStep.push((Number(process.hrtime.bigint() - t0) / 1e3 / 64_000).toFixed(2));
    }
    log.close();
    console.log(`${name}: µs per row at 64k, 128k, … ${total / 1000}k rows: ${perStep.join(' ')}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
