// Differential check of the native JSON scanner against JSON.parse on every single-byte
// deletion and every structural-character substitution of a real request (two cars from
// vega-datasets' cars.json as an OIP v2 body): the addon must accept exactly what JSON.parse
// accepts, agree with the reference when it does, and report a byte offset inside the body
// when it does not. The mutations are enumerated, not random.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADDON_CANDIDATES, PACKAGE_ROOT, loadBindingFrom } from '../../../src/native/binding';
import { parseJsonNumberArraysRef } from '../../../src/native/reference';

const BUILDS = ADDON_CANDIDATES.filter((f) => fs.existsSync(f));
const CARS = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'node_modules/vega-datasets/data/cars.json'), 'utf8')) as Record<string, unknown>[];

/** Pretty-printed request holding strings, nulls, ints, floats, booleans and nested rows. */
const TEXT = JSON.stringify({
  id: 'cars-2',
  inputs: CARS.slice(0, 2).map((c, i) => ({
    name: `car${i}`,
    shape: [2, 2],
    datatype: 'FP64',
    data: [[c.Miles_per_Gallon, c.Horsepower], [c.Acceleration, c.Origin === 'USA']],
    parameters: { label: c.Name, year: c.Year },
  })),
}, null, 1);

const SUBSTITUTES = [...'[]{}",:-.0eE+ \tn\\'];

/** All single-byte deletions and substitutions, deduplicated. */
function mutations(text: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i < text.length; i++) {
    out.add(text.slice(0, i) + text.slice(i + 1));
    for (const ch of SUBSTITUTES) if (ch !== text[i]) out.add(text.slice(0, i) + ch + text.slice(i + 1));
  }
  return [...out];
}

for (const file of BUILDS) {
  const b = loadBindingFrom(file);

  test(`${path.relative(PACKAGE_ROOT, file)}: accepts exactly what JSON.parse accepts on ${TEXT.length} bytes of mutations`, () => {
    let accepted = 0;
    let rejected = 0;
    for (const text of mutations(TEXT)) {
      let reference: ReturnType<typeof parseJsonNumberArraysRef> | undefined;
      try {
        reference = parseJsonNumberArraysRef(text);
      } catch {
        reference = undefined;
      }
      const body = new TextEncoder().encode(text);
      if (reference === undefined) {
        rejected++;
        assert.throws(() => b.parseJsonNumberArraysSync(body), (e: Error & { byteOffset?: number }) => {
          assert.equal(e.name, 'SyntaxError');
          assert.ok(e.byteOffset !== undefined && e.byteOffset >= 0 && e.byteOffset <= body.length);
          assert.match(e.message, new RegExp(`^malformed JSON at byte ${e.byteOffset} \\(`));
          return true;
        }, `accepted invalid JSON:\n${text}`);
        continue;
      }
      accepted++;
      const got = b.parseJsonNumberArraysSync(body);
      assert.deepEqual(JSON.parse(got.json), reference.value, text);
      assert.deepEqual(got.nested, reference.nested, text);
      assert.equal(got.arrays.length, reference.arrays.length, text);
      got.arrays.forEach((a, k) => assert.deepEqual(Array.from(a), Array.from(reference!.arrays[k]), text));
    }
    // Both outcomes are well represented.
    assert.ok(accepted > 100 && rejected > 1000, `accepted ${accepted}, rejected ${rejected}`);
  });
}
