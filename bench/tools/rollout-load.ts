/**
 * Rollout under load: what deployment changes and shadow traffic cost a live server.
 *
 *   node dist/bench/tools/rollout-load.js [--seconds 20] [--changes 10] [--rounds 3]
 *        [--shadow-share 1] [--out bench/results/rollout] [--no-pin]
 *
 * Server: `infera serve` on a temp repository holding flights-delay v1 and a copy of it as
 * v2 (the same real model: a retrained version has the same architecture and cost, and the
 * question here is which version answers and what the second run costs, not which is better),
 * with automatic rollout decisions off and the result cache off (as in predict-one-row). Traffic: POST /predict of real February 2001 flights.
 * Pinned like the scenarios: the server on core 1, this process (the load generator) on core 0.
 *
 * 1. Capacity: closed loop, 64 connections (autocannon), stable = v1.
 * 2. Deployment changes: open loop at 70 % of capacity for --seconds while --changes
 *    deployments alternate between "canary v1 + v2 at 50 %" and "stable v2 only" through the
 *    management API. Every answer must be a 2xx from a version that some deployment in effect
 *    between its request's send and its answer allowed.
 * 3. Shadow: open loop at 50 % of capacity, --rounds rounds of "stable v1 only" and "stable
 *    v1 + shadow v2 on --shadow-share of the requests" (1: every request; Seldon's mirror
 *    percent, KServe's shadow share) in ABBA order; p99 of each arm (median over rounds).
 *
 * Writes result.json and summary.md to --out (default bench/runs/rollout-<UTC time>/) and
 * exits 1 when a request failed or an answer came from a version no deployment allowed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { servingFlags } from '../../src/cli/serving-runtime';
import { coreShareDuring, servingPid } from '../lib/thread-time';
import { cpuFeatures } from '../../src/native/binding';
import { FLIGHTS_MODEL, PREDICT_PATH, flightsParquet, loadFebruaryFlights, predictBody } from '../lib/flights';
import { closedLoop, openLoop, type LoadTarget } from '../lib/load';
import { collectMachineFacts } from '../lib/machine';
import { pinPrefix, pinProcess, planPinning } from '../lib/pinning';
import { freePort, httpRequest, launchServer } from '../lib/server';
import { measureStalls } from '../lib/stall-probe';
import { median } from '../lib/stats';
import type { LoadRunStats } from '../lib/types';
import { toolArg, toolPositiveInt } from '../lib/cli';

const ROOT = path.resolve(__dirname, '../../..');



const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deployment and the versions it lets answer. */
interface Deployment {
  body: Record<string, unknown>;
  allows: string[];
}
const STABLE_V1: Deployment = { body: { stable: 1 }, allows: ['1'] };
const CANARY: Deployment = { body: { stable: 1, candidate: 2, mode: 'canary', share: 0.5 }, allows: ['1', '2'] };
const STABLE_V2: Deployment = { body: { stable: 2 }, allows: ['2'] };
const shadowDeployment = (share: number): Deployment => ({ body: { stable: 1, candidate: 2, mode: 'shadow', share }, allows: ['1'] });

/** A deployment is in effect from the moment its change was sent until the next change was acknowledged. */
interface InEffect {
  allows: string[];
  from: number;
  to: number;
}

interface Answer {
  sent: number;
  received: number;
  status: number;
  version: string | null;
}

/** Answers whose version no deployment in effect between their send and receive allowed. */
export function inconsistentAnswers(answers: Answer[], periods: InEffect[]): Answer[] {
  return answers.filter((a) => a.status < 300 && !periods.some((p) => p.allows.includes(a.version ?? '') && a.received >= p.from && a.sent <= p.to));
}

async function main(): Promise<void> {
  const seconds = toolPositiveInt('seconds', 20);
  const changes = toolPositiveInt('changes', 10);
  const rounds = toolPositiveInt('rounds', 3);
  const shadowShare = Number(toolArg('shadow-share') ?? 1);
  if (!(shadowShare > 0 && shadowShare <= 1)) throw new Error(`--shadow-share must be in (0, 1], got '${toolArg('shadow-share')}'`);
  const SHADOW = shadowDeployment(shadowShare);
  const out = path.resolve(toolArg('out') ?? path.join(ROOT, 'bench/runs', `rollout-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const pinning = planPinning(!process.argv.includes('--no-pin'));

  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'infera-rollout-bench-'));
  fs.cpSync(path.join(ROOT, 'models', FLIGHTS_MODEL), path.join(repo, FLIGHTS_MODEL), { recursive: true });
  fs.cpSync(path.join(repo, FLIGHTS_MODEL, '1'), path.join(repo, FLIGHTS_MODEL, '2'), { recursive: true });
  const config = path.join(repo, 'server.json');
  fs.writeFileSync(config, JSON.stringify({ rollout: { auto: false } }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await launchServer({
    name: 'infera',
    argv: [...pinPrefix(pinning), process.execPath, ...servingFlags(), path.join(ROOT, 'dist/src/cli/main.js'), 'serve', '--repository', repo, '--config', config, '--predict-cache', '0', '--port', String(port), '--host', '127.0.0.1'],
    cwd: ROOT,
    readyUrl: `${base}/v2/health/ready`,
  });
  try {
    if (pinning.enabled && pinning.loadgenCpus) pinProcess(process.pid, pinning.loadgenCpus);
    const flights = await loadFebruaryFlights(flightsParquet(ROOT), 2048);
    const target: LoadTarget = { baseUrl: base, path: PREDICT_PATH, bodies: Array.from({ length: flights.rows }, (_, i) => predictBody(flights, i)) };
    const deploy = async (d: Deployment) => {
      const r = await httpRequest(`${base}/v2/repository/models/${FLIGHTS_MODEL}/deployment`, 'POST', JSON.stringify(d.body), 5000, { 'content-type': 'application/json' });
      if (r.status !== 200) throw new Error(`deployment ${JSON.stringify(d.body)} → ${r.status} ${r.body.toString()}`);
    };
    const shadowRuns = async (outcome: 'success' | 'dropped') => {
      const text = (await httpRequest(`${base}/metrics`, 'GET')).body.toString();
      return Number(new RegExp(`infera_shadow_requests_total\\{model="flights-delay",version="2",outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };

    // Before any load: the stalls of the server's core itself, the floor under every tail below.
    const stalls = measureStalls(10, pinning.serverCpus);
    console.log(`machine stalls on the server's core, 10 s idle: ${stalls.gaps} gaps > 0.5 ms, ${stalls.stalledMs} ms in all, longest ${stalls.longestMs.join(', ')} ms`);

    await deploy(STABLE_V1);
    console.log('capacity: closed loop, 64 connections, stable v1');
    const capacity = await closedLoop(target, { connections: 64, warmupS: 3, durationS: 8 });
    const capacityRps = capacity.reqPerSec;
    console.log(`  ${capacityRps} req/s, p99 ${capacity.latencyMs.p99} ms`);

    const changeRate = Math.round(0.7 * capacityRps);
    console.log(`deployment changes: open loop at ${changeRate} req/s (70 %) for ${seconds} s, ${changes} changes`);
    const answers: Answer[] = [];
    const periods: InEffect[] = [{ allows: STABLE_V1.allows, from: -Infinity, to: Infinity }];
    const load = openLoop(target, {
      rate: changeRate,
      durationS: seconds,
      warmupS: 1,
      maxSockets: 64,
      onReply: (reply, sent, received) => {
        const m = reply.body ? /"model_version":"([^"]*)"/.exec(reply.body.toString('latin1')) : null;
        answers.push({ sent, received, status: reply.status, version: m ? m[1] : null });
      },
    });
    await sleep(1500);
    const gap = ((seconds - 1.5) * 1000) / (changes + 1);
    for (let k = 0; k < changes; k++) {
      const next = k % 2 === 0 ? CANARY : STABLE_V2;
      const from = performance.now();
      await deploy(next);
      const acknowledged = performance.now();
      periods[periods.length - 1].to = acknowledged;
      periods.push({ allows: next.allows, from, to: Infinity });
      await sleep(gap);
    }
    const changeRun = await load;
    const inconsistent = inconsistentAnswers(answers, periods);
    const byVersion: Record<string, number> = {};
    for (const a of answers) byVersion[a.version ?? 'none'] = (byVersion[a.version ?? 'none'] ?? 0) + 1;
    console.log(`  ${answers.length} answers ${JSON.stringify(changeRun.statusCodes)}, errors ${changeRun.errors}, by version ${JSON.stringify(byVersion)}, inconsistent ${inconsistent.length}, p99 ${changeRun.latencyMs.p99} ms`);

    // Canary split: 10,000 requests at 70 %, share 20 %: the candidate's share of the answers.
    await deploy({ body: { stable: 1, candidate: 2, mode: 'canary', share: 0.2 }, allows: ['1', '2'] });
    const split = { '1': 0, '2': 0 } as Record<string, number>;
    const splitRun = await openLoop(target, {
      rate: changeRate, durationS: 10_000 / changeRate, warmupS: 0.2, maxSockets: 64,
      onReply: (reply) => {
        const v = reply.body ? /"model_version":"([^"]*)"/.exec(reply.body.toString('latin1'))?.[1] : undefined;
        if (v) split[v] = (split[v] ?? 0) + 1;
      },
    });
    const splitShare = split['2'] / (split['1'] + split['2']);
    console.log(`canary 20 %: ${split['2']} of ${split['1'] + split['2']} answers from the candidate (${(splitShare * 100).toFixed(2)} %)`);

    // A/B: 200 client keys (X-Routing-Key), 50 requests each: every key must stay on one arm.
    await deploy({ body: { stable: 1, candidate: 2, mode: 'ab', share: 0.5 }, allows: ['1', '2'] });
    const keys = Array.from({ length: 200 }, (_, k) => `${flights.origin[k % flights.rows]}-${k}`);
    const abTarget: LoadTarget = { ...target, bodies: keys.map((_, k) => target.bodies[k % target.bodies.length]), bodyHeaders: keys.map((key) => ({ 'X-Routing-Key': key })) };
    const seen = new Map<string, Set<string>>();
    let abSent = 0;
    const abRun = await openLoop(abTarget, {
      rate: 2000, durationS: 5, warmupS: 0, maxSockets: 1,
      onReply: (reply) => {
        // One socket answers in order: the k-th answer is the k-th request's.
        const key = keys[abSent++ % keys.length];
        const v = reply.body ? /"model_version":"([^"]*)"/.exec(reply.body.toString('latin1'))?.[1] : undefined;
        if (!seen.has(key)) seen.set(key, new Set());
        seen.get(key)!.add(v ?? 'none');
      },
    });
    const switched = [...seen.values()].filter((vs) => vs.size !== 1).length;
    const keysOnCandidate = [...seen.values()].filter((vs) => vs.size === 1 && vs.has('2')).length;
    console.log(`A/B 50 %: ${seen.size} keys, ${switched} saw more than one version, ${keysOnCandidate} on the candidate`);

    const shadowRate = Math.round(0.5 * capacityRps);
    console.log(`shadow (share ${shadowShare}): open loop at ${shadowRate} req/s (50 %), ${rounds} rounds × 2 arms × ${Math.min(seconds, 10)} s`);
    const arms: Record<'stable' | 'shadow', LoadRunStats[]> = { stable: [], shadow: [] };
    // How busy the serving process's event loop (and all its threads) was in each arm: "50 % of
    // the closed-loop capacity" is not half of the core under open-loop arrivals (bench/README.md, "Stop 32").
    const busy: Record<'stable' | 'shadow', { main: number; all: number }[]> = { stable: [], shadow: [] };
    const serving = servingPid(server.child.pid!);
    let shadowed = 0;
    let dropped = 0;
    for (let r = 0; r < rounds; r++) {
      const order: ('stable' | 'shadow')[] = r % 2 === 0 ? ['stable', 'shadow'] : ['shadow', 'stable'];
      for (const arm of order) {
        await deploy(arm === 'stable' ? STABLE_V1 : SHADOW);
        await sleep(500);
        const before = { success: await shadowRuns('success'), dropped: await shadowRuns('dropped') };
        const { result: run, share } = await coreShareDuring(serving, 1000, () => openLoop(target, { rate: shadowRate, durationS: Math.min(seconds, 10), warmupS: 1, maxSockets: 64 }));
        if (share) busy[arm].push(share);
        await sleep(300);
        if (arm === 'shadow') {
          shadowed += (await shadowRuns('success')) - before.success;
          dropped += (await shadowRuns('dropped')) - before.dropped;
        }
        arms[arm].push(run);
        console.log(`  round ${r + 1} ${arm}: ${run.reqPerSec} req/s, shadowed ${shadowed} dropped ${dropped}, p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms, non-2xx ${run.non2xx}, errors ${run.errors}${share ? `, event loop ${Math.round(share.main * 100)} % busy (all threads ${Math.round(share.all * 100)} %)` : ''}`);
      }
    }
    const ms3 = (x: number) => Math.round(x * 1000) / 1000;
    const armMedian = (q: 'p50' | 'p90' | 'p99') => ({ stable: ms3(median(arms.stable.map((s) => s.latencyMs[q]))), shadow: ms3(median(arms.shadow.map((s) => s.latencyMs[q]))) });
    const p99 = armMedian('p99');
    const p50 = armMedian('p50');
    const p90 = armMedian('p90');
    const p99Ratio = Math.round((p99.shadow / p99.stable) * 1000) / 1000;
    const busyMedian = (arm: 'stable' | 'shadow') => (busy[arm].length ? { event_loop: ms3(median(busy[arm].map((b) => b.main))), all_threads: ms3(median(busy[arm].map((b) => b.all))) } : null);
    const busyStable = busyMedian('stable');
    const busyShadow = busyMedian('shadow');
    const shadowRequests = arms.shadow.reduce((n, s) => n + s.ok2xx, 0);

    const failures = [changeRun, splitRun, abRun, ...arms.stable, ...arms.shadow].reduce((n, s) => n + s.non2xx + s.errors + (s.incomplete ?? 0), 0) + capacity.non2xx + capacity.errors;
    const machine = collectMachineFacts(ROOT);
    const result = {
      tool: 'rollout-load',
      at: new Date().toISOString(),
      machine,
      pinning,
      machine_stalls: stalls,
      capacity: { connections: 64, req_per_s: capacityRps, latency_ms: capacity.latencyMs, non2xx: capacity.non2xx, errors: capacity.errors },
      deployment_changes: {
        rate: changeRate,
        seconds,
        changes,
        answers: answers.length,
        status_codes: changeRun.statusCodes,
        errors: changeRun.errors,
        incomplete: changeRun.incomplete,
        by_version: byVersion,
        inconsistent: inconsistent.length,
        latency_ms: changeRun.latencyMs,
      },
      canary_split: { share: 0.2, answers: split, candidate_share: splitShare, status_codes: splitRun.statusCodes, errors: splitRun.errors },
      ab_stickiness: { share: 0.5, keys: seen.size, requests: abSent, keys_that_switched: switched, keys_on_candidate: keysOnCandidate, status_codes: abRun.statusCodes, errors: abRun.errors },
      shadow: {
        rate: shadowRate,
        rounds,
        share: shadowShare,
        seconds_per_run: Math.min(seconds, 10),
        p50_ms: p50,
        p90_ms: p90,
        p99_ms: p99,
        p99_ratio: p99Ratio,
        shadow_runs: shadowed,
        shadow_dropped: dropped,
        core_busy: { stable: busyStable, shadow: busyShadow },
        shadow_arm_requests: shadowRequests,
        runs: arms,
      },
      failures,
    };
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    const flags = Object.entries(cpuFeatures()).filter(([, on]) => on).map(([f]) => f);
    const cpu = `${machine.cpuModel} (${flags.join(', ')}), ${os.cpus().length} cores`;
    fs.writeFileSync(
      path.join(out, 'summary.md'),
      [
        `# Rollout under load (${result.at})`,
        '',
        `CPU: ${cpu}. ${pinning.note}. Server: \`infera serve\`, flights-delay v1 and a copy as v2, automatic decisions off; POST /predict of real February 2001 flights.`,
        '',
        `| measure | value |`,
        `| --- | --- |`,
        `| machine stalls on the server's core (busy loop, 10 s, no load) | ${stalls.gaps} gaps > 0.5 ms, ${stalls.stalledMs} ms in all, longest ${stalls.longestMs.join(', ')} ms |`,
        `| capacity (closed loop, 64 connections) | ${capacityRps} req/s, p99 ${capacity.latencyMs.p99} ms |`,
        `| ${changes} deployment changes at 70 % (${changeRate} req/s, ${seconds} s) | ${answers.length} answers, status ${JSON.stringify(changeRun.statusCodes)}, errors ${changeRun.errors}, by version ${JSON.stringify(byVersion)}, **${inconsistent.length} inconsistent with the deployment in effect**; p50 ${changeRun.latencyMs.p50} / p99 ${changeRun.latencyMs.p99} ms (between changes v1 stays loaded: the server's --keep-warm) |`,
        `| canary at 20 %, 10,000 requests at 70 % | ${split['2']} of ${split['1'] + split['2']} from the candidate: **${(splitShare * 100).toFixed(2)} %** |`,
        `| A/B at 50 % by X-Routing-Key, ${seen.size} keys × ${Math.round(abSent / Math.max(1, seen.size))} requests | **${switched} keys saw more than one version**; ${keysOnCandidate} keys on the candidate |`,
        `| shadow of ${shadowShare === 1 ? 'every request' : `${shadowShare * 100} % of the requests`} at 50 % (${shadowRate} req/s), median of ${rounds} ABBA rounds | stable only p50 ${p50.stable} / p90 ${p90.stable} / p99 ${p99.stable} ms; with shadow p50 ${p50.shadow} / p90 ${p90.shadow} / p99 ${p99.shadow} ms; **p99 ratio ${p99Ratio}** (${shadowed} shadow runs and ${dropped} dropped for ${shadowRequests} requests)${busyStable && busyShadow ? `; event loop busy ${Math.round(busyStable.event_loop * 100)} % without shadow, ${Math.round(busyShadow.event_loop * 100)} % with (all threads ${Math.round(busyStable.all_threads * 100)} / ${Math.round(busyShadow.all_threads * 100)} %)` : ''} |`,
        '',
      ].join('\n'),
    );
    console.log(`p99 with shadow ÷ without: ${p99Ratio}; failures ${failures}; inconsistent ${inconsistent.length}; written to ${path.relative(process.cwd(), out)}`);
    process.exitCode = failures > 0 || inconsistent.length > 0 ? 1 : 0;
  } finally {
    await server.stop();
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  });
}
