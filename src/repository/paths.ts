import fs from 'node:fs';
import path from 'node:path';
import { InferaError } from '../errors';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Model names: no separators, no '..', 1–64 characters. */
export function checkModelName(name: string): string {
  if (!NAME_RE.test(name) || name.includes('..')) throw new InferaError('ENG_ERR_BAD_NAME', `model name '${name}' must match ${NAME_RE.source} without '..'`);
  return name;
}

/** Versions are positive integers written in plain decimal. */
/**
 * A version as a request names it: a number, or an alias (`production`, `@production`).
 * @throws InferaError 400 ENG_ERR_BAD_NAME for anything else.
 */
export function parseVersionSelector(v: string): number | string {
  if (/^[1-9][0-9]{0,8}$/.test(v)) return Number(v);
  const alias = v.startsWith('@') ? v.slice(1) : v;
  if (/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(alias)) return alias;
  throw new InferaError('ENG_ERR_BAD_NAME', `version '${v.slice(0, 64)}' must be a positive integer or an alias (letters, digits, '-', '_')`);
}

export function parseVersion(v: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new InferaError('ENG_ERR_BAD_NAME', `version '${v}' must be a positive integer`);
  return Number(v);
}

/**
 * Resolves a path inside the repository root and checks, after following
 * symlinks, that it stays there.
 * @throws InferaError ENG_ERR_BAD_NAME when it escapes the root.
 */
export function resolveInside(root: string, ...parts: string[]): string {
  const realRoot = fs.realpathSync(root);
  const real = realpathOfDeepestExisting(path.resolve(realRoot, ...parts));
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new InferaError('ENG_ERR_BAD_NAME', `path '${parts.join('/')}' leaves the model repository`);
  }
  return real;
}

/** realpath of the longest existing prefix of p, with the missing tail appended. */
function realpathOfDeepestExisting(p: string): string {
  let head = p;
  const tail: string[] = [];
  while (!fs.existsSync(head)) {
    const parent = path.dirname(head);
    if (parent === head) return p;
    tail.unshift(path.basename(head));
    head = parent;
  }
  return path.join(fs.realpathSync(head), ...tail);
}
