#!/usr/bin/env node
// Online features end to end: starts `infera serve` on REPOSITORY (holding a model trained with
// online_features, e.g. pipelines/flights-online-smoke.json), posts the real flights of the two
// days before Feb 2, 2001 as events of the 'flights' source, then asks /predict about three
// flights of Feb 2 morning with the online feature values they were predicted with.
//
//   node examples/online-features.js REPOSITORY [MODEL]
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { DuckDBInstance } = require('@duckdb/node-api');

const [repository, model = 'flights-online'] = process.argv.slice(2);
if (!repository) {
  console.error('usage: node examples/online-features.js REPOSITORY [MODEL]');
  process.exit(2);
}
const FLIGHTS = path.join(__dirname, '../node_modules/vega-datasets/data/flights-3m.parquet');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

async function rows(sql) {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const out = (await conn.runAndReadAll(sql)).getRowObjectsJS();
  conn.closeSync();
  db.closeSync();
  return out;
}

async function main() {
  const port = await freePort();
  const server = spawn(process.execPath, [path.join(__dirname, '../dist/src/cli/main.js'), 'serve', '--repository', repository, '--port', String(port), '--workers', '1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/v2/health/ready`)).ok) break;
      } catch { /* not listening yet */ }
      if (i > 300) throw new Error('the server did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const post = async (route, body) => {
      const res = await fetch(`${url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const json = await res.json();
      if (!res.ok) throw new Error(`${route}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const time = "strftime(date, '%Y-%m-%dT%H:%M:%S') AS date";
    const events = await rows(`SELECT ${time}, origin, destination, delay::DOUBLE AS delay FROM read_parquet('${FLIGHTS}') WHERE date >= '2001-01-31' AND date < '2001-02-02 09:00' ORDER BY date`);
    console.log(JSON.stringify(await post('/v2/features/flights/events', { events })));
    const flights = await rows(`SELECT ${time}, distance::DOUBLE AS distance, origin, destination FROM read_parquet('${FLIGHTS}') WHERE date >= '2001-02-02 09:00' AND origin IN ('ORD', 'ATL', 'DFW') ORDER BY date, origin LIMIT 3`);
    const answer = await post('/predict', { model, instances: flights, return_online_features: true });
    for (const [i, p] of answer.predictions.entries()) console.log(JSON.stringify({ flight: flights[i], prediction: p.prediction, probability: p.probabilities[1], online_features: p.online_features }));
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exitCode = 1;
});
