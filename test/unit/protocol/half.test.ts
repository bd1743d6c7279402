import { test } from 'node:test';
import assert from 'node:assert/strict';
import { halfBits, halfValue } from '../../../src/protocol/half';
import { speechChunks } from '../../helpers/vad';

/**
 * Independent reference: every finite non-negative half, decoded from its fields by a
 * different formula (m × 2^(e−10) with Math.pow over the 5-bit exponent), sorted by value;
 * the nearest entry to |v| wins, a tie goes to the even bit pattern.
 */
const TABLE: { bits: number; value: number }[] = [];
for (let bits = 0; bits < 0x7c00; bits++) {
  const e = bits >> 10;
  const f = bits & 0x3ff;
  const value = e === 0 ? Math.pow(2, -14) * (f / 1024) : Math.pow(2, e - 15) * (1 + f / 1024);
  TABLE.push({ bits, value });
}

function referenceBits(v: number): number | undefined {
  const a = Math.abs(v);
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  // Beyond the largest half by half an ulp (2^4 = 16 above 65504): rounds to infinity.
  if (a >= 65504 + 16) return undefined;
  let lo = 0;
  let hi = TABLE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (TABLE[mid].value <= a) lo = mid;
    else hi = mid;
  }
  const below = TABLE[lo];
  const above = TABLE[Math.min(hi, TABLE.length - 1)];
  let pick = below;
  if (a > below.value) {
    const dBelow = a - below.value;
    const dAbove = above.value - a;
    if (dAbove < dBelow || (dAbove === dBelow && above.bits % 2 === 0)) pick = above;
  }
  return sign | pick.bits;
}

test('halfValue decodes every half exactly (round trip through halfBits is the identity)', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    const v = halfValue(bits);
    const exp = (bits >> 10) & 0x1f;
    if (exp === 31) {
      assert.ok((bits & 0x3ff) === 0 ? !Number.isFinite(v) && !Number.isNaN(v) : Number.isNaN(v), `bits ${bits}`);
      continue;
    }
    assert.equal(halfBits(v), bits, `bits 0x${bits.toString(16)} → ${v}`);
    assert.equal(Math.abs(v), TABLE[bits & 0x7fff].value);
  }
});

test('halfBits rounds real speech samples, midpoints and range edges to the nearest half, ties to even', () => {
  const values: number[] = [];
  for (const chunk of speechChunks().slice(0, 40)) for (const s of chunk) values.push(s, s * 1000, s * 1e-5);
  // Every midpoint between neighbouring halves (exact in a double), and a hair either side of it.
  for (let i = 0; i + 1 < TABLE.length; i += 7) {
    const mid = (TABLE[i].value + TABLE[i + 1].value) / 2;
    values.push(mid, -mid, mid * (1 + 2 ** -40), mid * (1 - 2 ** -40));
  }
  values.push(0, -0, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 65504, 65519.999, -65519.999, 1 / 3, Math.PI, 1e-8);
  for (const v of values) {
    assert.equal(halfBits(v), referenceBits(v), `${v}`);
  }
  assert.ok(values.length > 100000, `${values.length} values checked`);
});

test('halfBits refuses what a half cannot hold: NaN and values that round to infinity', () => {
  for (const v of [65520, -65520, 1e6, Infinity, -Infinity, NaN]) assert.equal(halfBits(v), undefined, `${v}`);
});
