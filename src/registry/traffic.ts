/**
 * Which version serves a request under a model's deployment: a pure decision from the
 * deployment, the request's routing key and one uniform draw (injected, for tests).
 *  - canary: the candidate takes `share` of the requests, each drawn independently (or, when
 *    the request carries a routing key, by its key: sticky);
 *  - ab: the key decides, by a hash into [0, 1): the same key always sees the same arm while
 *    the split holds; a request without the key goes to stable;
 *  - shadow: stable answers; `share` of the requests also run on the candidate, off the
 *    response path.
 */
import { fnv1a } from '../features';
import type { Deployment } from './registry';

export interface TrafficRoute {
  version: number;
  arm: 'stable' | 'candidate';
  /** The candidate to mirror this request to (shadow mode), or null. */
  shadow: number | null;
}

/** murmur3's finaliser over FNV-1a: keys that differ in their last characters spread evenly. */
export function keyPoint(key: string): number {
  let h = fnv1a(key);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

export function routeRequest(d: Deployment, key: string | undefined, draw: number): TrafficRoute {
  const stable: TrafficRoute = { version: d.stable, arm: 'stable', shadow: null };
  if (d.candidate === null || d.mode === null) return stable;
  const candidate: TrafficRoute = { version: d.candidate, arm: 'candidate', shadow: null };
  switch (d.mode) {
    case 'shadow':
      return { ...stable, shadow: draw < d.share ? d.candidate : null };
    case 'ab':
      return key !== undefined && keyPoint(key) < d.share ? candidate : stable;
    case 'canary': {
      const point = key !== undefined ? keyPoint(key) : draw;
      return point < d.share ? candidate : stable;
    }
  }
}
