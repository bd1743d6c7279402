/**
 * The Open Inference Protocol JSON codec's cost per request, in process: the server's own
 * decodeInferRequest (native number scan on the calling thread, as on a one-core server) and
 * encodeInferResponse, over the scenario's real request bodies. One term of a one-core limit.
 */
import { performance } from 'node:perf_hooks';
import { jsonSyncThreshold } from '../../src/native/binding';
import { decodeInferRequest, encodeInferResponse } from '../../src/protocol/oip-codec';
import type { Tensor } from '../../src/protocol/datatypes';
import { spread } from './stats';
import type { CodecCost } from './types';

/**
 * µs per request to decode each body and to encode `answer(i)` for it; `repeats` rounds of
 * `seconds` each (after one warm-up round), median and spread over the rounds.
 */
export async function measureOipJsonCodec(
  bodies: readonly Uint8Array[], answer: (i: number) => Tensor[], o: { repeats: number; seconds: number; what: string },
): Promise<CodecCost> {
  const opts = { syncParseBelowBytes: jsonSyncThreshold(1) };
  const round = async (seconds: number): Promise<{ decodeUs: number; encodeUs: number }> => {
    let decodeMs = 0;
    let encodeMs = 0;
    let n = 0;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      for (let i = 0; i < bodies.length; i++) {
        const t0 = performance.now();
        const req = await decodeInferRequest(bodies[i], {}, undefined, opts);
        const t1 = performance.now();
        const enc = encodeInferResponse('model', 1, req.id, answer(i), () => false);
        decodeMs += t1 - t0;
        encodeMs += performance.now() - t1;
        if (enc.body.length === 0) throw new Error('empty encoded response');
        n++;
      }
    }
    return { decodeUs: (decodeMs * 1000) / n, encodeUs: (encodeMs * 1000) / n };
  };
  await round(Math.min(1, o.seconds));
  const rounds = [];
  for (let r = 0; r < o.repeats; r++) rounds.push(await round(o.seconds));
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return {
    what: o.what,
    decodeUs: spread(rounds.map((x) => r3(x.decodeUs))),
    encodeUs: spread(rounds.map((x) => r3(x.encodeUs))),
  };
}
