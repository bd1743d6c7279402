// The native feature transform against the TypeScript `transform`, bit for bit, on real
// flights rows (flights-3m.parquet): specs fitted by the pipeline's fitFeatures on January
// 2001 (one of them with hashed airport x hour crosses and an un-normalized vocabulary),
// applied to February rows — numbers as Float64Array and as arrays, timestamps as epoch ms
// and as ISO text in several spellings, categories as sent by clients (lower case, padded,
// non-ASCII look-alikes that only JavaScript's case mapping defines), errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Columns, FeatureSpec, transform, validateRow } from '../../../src/features';
import { formatNaive } from '../../../src/features/time';
import { FEATURES_SYNC_MAX_ROWS, NativeFeatureTransform } from '../../../src/native/features';
import { Warehouse } from '../../../src/data/warehouse';
import { FLIGHTS_3M as SOURCE, realFlights as real } from './flights-columns';

/** Bitwise comparison (so -0 vs 0 and NaN payloads count), with the first difference named. */
function assertSameBits(got: Float32Array, want: Float32Array, width: number): void {
  assert.equal(got.length, want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`row ${Math.floor(i / width)} column ${i % width}: native ${got[i]} vs TypeScript ${want[i]}`);
  }
}

async function check(spec: FeatureSpec, columns: Columns, threads = 1): Promise<void> {
  const native = NativeFeatureTransform.compile(spec);
  const want = transform(spec, columns);
  const got = await native.transform(columns, { threads });
  assert.equal(got.rows, want.rows);
  assert.equal(got.unknownCategories, want.unknownCategories);
  assertSameBits(got.data, want.data, spec.width);
  const sync = native.transformSync(columns);
  assertSameBits(sync.data, want.data, spec.width);
  assert.equal(sync.unknownCategories, want.unknownCategories);
}

for (const name of ['flights', 'crosses'] as const) {
  test(`${name} spec: native equals transform bit for bit on 20000 real February rows (1 and 2 threads)`, async () => {
    const { feb, specs } = await real();
    await check(specs[name], feb, 1);
    await check(specs[name], feb, 2);
  });
}

test('every batch size around the inline threshold; epoch ms as plain arrays', async () => {
  const { feb, specs } = await real();
  for (const n of [0, 1, 2, 7, 8, FEATURES_SYNC_MAX_ROWS, FEATURES_SYNC_MAX_ROWS + 1, 256, 4097]) {
    const cols: Columns = {};
    for (const [k, v] of Object.entries(feb)) cols[k] = Array.from((v as ArrayLike<string | number>)).slice(0, n);
    await check(specs.crosses, cols);
  }
});

test('transformRow (the /predict path) equals transform of the validated row, bit for bit, on 3000 real rows as clients spell them', async () => {
  const { feb, specs } = await real();
  const spell = [
    (r: Record<string, unknown>) => r,
    (r: Record<string, unknown>) => ({ ...r, date: formatNaive(r.date as number) }),
    (r: Record<string, unknown>) => ({ ...r, date: `${formatNaive(r.date as number)}Z`, origin: ` ${(r.origin as string).toLowerCase()} ` }),
    (r: Record<string, unknown>) => ({ ...r, origin: (r.origin as string).replace('S', '\u017f') }), // only JavaScript upper-cases ſ
    (r: Record<string, unknown>) => ({ ...r, destination: `${r.destination as string}\u00e9` }),
  ];
  for (const name of ['flights', 'crosses'] as const) {
    const spec = specs[name];
    const native = NativeFeatureTransform.of(spec);
    assert.equal(NativeFeatureTransform.of(spec), native, 'compiled once per spec object');
    let unknown = 0;
    for (let i = 0; i < 3000; i++) {
      const raw: Record<string, unknown> = {};
      for (const f of spec.inputs) raw[f.name] = (feb[f.name] as ArrayLike<string | number>)[i];
      const row = spell[i % spell.length](raw);
      const want = transform(spec, validateRow(spec, row));
      const got = native.transformRow(row);
      assertSameBits(got.data, want.data, spec.width);
      assert.equal(got.unknownCategories, want.unknownCategories, `row ${i}`);
      unknown += got.unknownCategories;
    }
    assert.ok(unknown >= 600, `unknown categories counted (${unknown})`);
  }
});

test('BAD INPUT - transformRow refuses with validateRow\'s message: missing, invalid, unknown fields', async () => {
  const { feb, specs } = await real();
  const spec = specs.flights;
  const native = NativeFeatureTransform.of(spec);
  const good: Record<string, unknown> = {};
  for (const f of spec.inputs) good[f.name] = (feb[f.name] as ArrayLike<string | number>)[0];
  const cases: Record<string, unknown>[] = [
    { ...good, distance: undefined }, { ...good, distance: '300' }, { ...good, distance: Infinity }, { ...good, distance: null },
    { ...good, origin: '  ' }, { ...good, origin: 7 }, { ...good, date: 'yesterday' }, { ...good, date: true },
    { ...good, date: '2001-02-30T10:00:00' }, { ...good, colour: 'red' }, {},
  ];
  for (const row of cases) {
    let want = '';
    try {
      validateRow(spec, row);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.ok(want !== '', `the validator refuses ${JSON.stringify(row)}`);
    assert.throws(() => native.transformRow(row), { message: want });
  }
});

test('ISO timestamps in every spelling time.ts accepts parse to the same instants', async () => {
  const { feb, specs } = await real();
  const ms = feb.date as Float64Array;
  const n = 3000;
  const spellings = [
    (t: number) => formatNaive(t),
    (t: number) => `${formatNaive(t)}Z`,
    (t: number) => formatNaive(t).replace('T', ' ').slice(0, 16),
    (t: number) => `${formatNaive(t + 2 * 3600e3)}+02:00`,
    (t: number) => `${formatNaive(t - 5.5 * 3600e3)}-0530`,
    (t: number) => `  ${formatNaive(t)}.250\u00a0`,
    (t: number) => `${formatNaive(t)}.123456789Z`,
    (t: number) => formatNaive(t).slice(0, 10),
    (t: number) => `00${formatNaive(t).slice(2)}`, // years 0..99: Date.UTC maps them to 19xx
  ];
  for (const [i, spell] of spellings.entries()) {
    const cols: Columns = { ...feb, date: Array.from(ms.subarray(0, n), spell) };
    for (const k of ['distance', 'origin', 'destination']) cols[k] = Array.from(feb[k] as ArrayLike<string | number>).slice(0, n);
    await check(specs.flights, cols).catch((e) => assert.fail(`spelling ${i} (${spell(ms[0])}): ${(e as Error).message}`));
  }
});

test('categories as clients send them: case, padding, non-ASCII look-alikes (rows left to JavaScript)', async () => {
  const { feb, specs } = await real();
  const n = 4000;
  const variants = [
    (s: string) => s.toLowerCase(),
    (s: string) => ` \t${s}\u3000`,
    (s: string) => s.replace('S', '\u017f'), // ſ: upper-cases to S in JavaScript
    (s: string) => s.replace('I', '\u0131'), // dotless ı: upper-cases to I
    (s: string) => `${s}\u00e9`, // é: a new, unknown category
  ];
  const origin = Array.from(feb.origin as ArrayLike<string>).slice(0, n).map((s, r) => variants[r % variants.length](s));
  const cols: Columns = { date: (feb.date as Float64Array).subarray(0, n), distance: (feb.distance as Float64Array).subarray(0, n), origin, destination: Array.from(feb.destination as ArrayLike<string>).slice(0, n) };
  await check(specs.flights, cols);
  await check(specs.crosses, cols, 2);
});

test('BAD INPUT - invalid values reject with the TypeScript message, naming field and row', async () => {
  const { feb, specs } = await real();
  const native = NativeFeatureTransform.compile(specs.flights);
  const base = () => {
    const c: Columns = {};
    for (const [k, v] of Object.entries(feb)) c[k] = Array.from(v as ArrayLike<string | number>).slice(0, 300);
    return c;
  };
  const cases: [string, (c: Record<string, (string | number)[]>) => void][] = [
    ['blank origin', (c) => (c.origin[150] = '  ')],
    ['NaN distance', (c) => (c.distance[299] = NaN)],
    ['distance as text', (c) => (c.distance[3] = '712' as unknown as number)],
    ['February 30th', (c) => (c.date[7] = '2001-02-30T10:00:00')],
    ['hour 24', (c) => (c.date[8] = '2001-02-03T24:00')],
    ['missing column', (c) => delete (c as Partial<typeof c>).destination],
  ];
  for (const [what, mutate] of cases) {
    const cols = base() as Record<string, (string | number)[]>;
    mutate(cols);
    let want = '';
    try {
      transform(specs.flights, cols);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.ok(want, `${what}: TypeScript accepts it`);
    await assert.rejects(native.transform(cols), { message: want }, what);
    assert.throws(() => native.transformSync(cols), { message: want }, what);
  }
});

test('numeric log1p/identity columns on every distinct distance of flights-3m', async () => {
  const { specs } = await real();
  const wh = await Warehouse.open();
  let distances: number[];
  try {
    distances = (await wh.query<{ d: number }>(`SELECT DISTINCT distance::DOUBLE AS d FROM read_parquet('${SOURCE.replace(/'/g, "''")}') ORDER BY d`)).map((r) => r.d);
  } finally {
    wh.close();
  }
  assert.ok(distances.length > 1000, `${distances.length} distinct distances`);
  const n = distances.length;
  const { feb } = await real();
  const cols: Columns = {
    date: (feb.date as Float64Array).slice(0, n), distance: Float64Array.from(distances),
    origin: Array.from(feb.origin as ArrayLike<string>).slice(0, n), destination: Array.from(feb.destination as ArrayLike<string>).slice(0, n),
  };
  await check(specs.flights, cols);
});

test('a reused output buffer is cleared and filled (inline, pooled and multi-threaded paths)', async () => {
  const { feb, specs } = await real();
  const spec = specs.crosses;
  const native = NativeFeatureTransform.compile(spec);
  const slice = (from: number, n: number) => {
    const c: Columns = {};
    for (const [k, v] of Object.entries(feb)) c[k] = (v as unknown as { slice(a: number, b: number): ArrayLike<string | number> }).slice(from, from + n);
    return c;
  };
  for (const n of [3, FEATURES_SYNC_MAX_ROWS, 300, 5000]) {
    const out = new Float32Array(n * spec.width);
    for (const [from, threads] of [[0, 1], [n, 2], [2 * n, 1]]) {
      const cols = slice(from, n);
      const want = transform(spec, cols);
      const got = await native.transform(cols, { threads, out });
      assert.equal(got.data, out, 'the buffer itself comes back');
      assertSameBits(got.data, want.data, spec.width);
      assertSameBits(native.transformSync(cols, out).data, want.data, spec.width);
    }
  }
  assert.throws(() => native.transformSync(slice(0, 10), new Float32Array(5)), { message: `out has 5 elements, expected ${10 * spec.width}` });
  assert.throws(() => native.transformSync(slice(0, 2), new Float32Array(5)), { message: `out has 5 elements, expected ${2 * spec.width}` });
});
