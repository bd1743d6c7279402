// January and February 2001 of flights-3m.parquet (all the device runs read), zstd-compressed:
// 4.4 MB instead of 13 MB inside the 64 MiB a device call may carry.
//   node scripts/device/flights-subset.js OUT.parquet     (from the repository root)
const { DuckDBInstance } = require('@duckdb/node-api');

(async () => {
  const out = process.argv[2];
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const src = 'node_modules/vega-datasets/data/flights-3m.parquet';
  await c.run(`COPY (SELECT * FROM read_parquet('${src}') WHERE date >= TIMESTAMP '2001-01-01' AND date < TIMESTAMP '2001-03-01') TO '${out}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 19)`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
