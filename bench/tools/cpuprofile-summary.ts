/**
 * What one thread of a V8 cpuprofile (`--cpu-prof`) spent, and how much of it under a path:
 *
 *   node dist/bench/tools/cpuprofile-summary.js <file.cpuprofile> [path-fragment (default /monitoring/)]
 *
 * Prints the thread's busy time, the busy time with a frame under the path on the stack,
 * and its busy stretches of ≥ 1 ms (consecutive non-idle samples: what a request arriving
 * then waits behind), how many of them had such a frame, and the longest.
 */
import fs from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, fragment = '/monitoring/'] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpuprofile-summary <file.cpuprofile> [path-fragment]');
  process.exit(2);
}
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const under = (id: number | undefined): boolean => {
  for (; id !== undefined; id = parent.get(id)) if (byId.get(id)!.callFrame.url.includes(fragment)) return true;
  return false;
};

let total = 0;
let idle = 0;
let inPath = 0;
const stretches: { us: number; inPath: boolean }[] = [];
let cur = { us: 0, inPath: false };
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const name = byId.get(p.samples[i])!.callFrame.functionName;
  if (name === '(idle)' || name === '(program)') {
    idle += dt;
    if (cur.us >= 1000) stretches.push(cur);
    cur = { us: 0, inPath: false };
    continue;
  }
  cur.us += dt;
  if (under(p.samples[i])) {
    inPath += dt;
    cur.inPath = true;
  }
}
const ms = (us: number) => (us / 1000).toFixed(0);
console.log(JSON.stringify({
  file: file.split('/').pop(), total_ms: +ms(total), busy_ms: +ms(total - idle), [`busy_under_${fragment}_ms`]: +ms(inPath),
  stretches_over_1ms: stretches.length, of_them_under_path: stretches.filter((s) => s.inPath).length,
  longest_ms: +(Math.max(0, ...stretches.map((s) => s.us)) / 1000).toFixed(2),
}));
