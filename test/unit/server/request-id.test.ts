// Server-made request ids: UUIDv7 layout, the clock in the first 48 bits, strictly increasing
// from one process even within a millisecond, past 4,096 in one, and when the clock goes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestIds } from '../../../src/server/request-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const msOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

test('ids are UUIDv7 carrying the clock, and strictly increasing', () => {
  let clock = Date.UTC(2001, 2, 5, 8, 15);
  const ids = new RequestIds(() => clock);
  const seen: string[] = [];
  // 5,000 in one millisecond (the counter overflows once), then the clock steps back 3 ms.
  for (let i = 0; i < 5000; i++) seen.push(ids.next());
  clock -= 3;
  for (let i = 0; i < 10; i++) seen.push(ids.next());
  clock += 100;
  seen.push(ids.next());
  for (const id of seen) assert.match(id, V7);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `${seen[i - 1]} then ${seen[i]}`);
  assert.equal(msOf(seen[0]), Date.UTC(2001, 2, 5, 8, 15));
  assert.equal(msOf(seen[4095]), Date.UTC(2001, 2, 5, 8, 15), '4,096 ids in the first millisecond');
  assert.equal(msOf(seen[4096]), Date.UTC(2001, 2, 5, 8, 15) + 1, 'then the time field moves on');
  assert.equal(msOf(seen[seen.length - 1]), Date.UTC(2001, 2, 5, 8, 15) + 97);
  assert.equal(new Set(seen).size, seen.length);
});

test('the random part differs between ids of the same millisecond and counter', () => {
  const a = new RequestIds(() => 1).next();
  const b = new RequestIds(() => 1).next();
  assert.equal(a.slice(0, 18), b.slice(0, 18));
  assert.notEqual(a, b);
});
