import { InferaError } from '../errors';

/**
 * The scheduling parameters of an OIP infer request (Triton's schedule-policy and
 * sequence extensions): `priority`, `sequence_id`, `sequence_start`, `sequence_end`.
 * `timeout` is read by the codec.
 */
export interface SequenceParams {
  /** A positive integer or a non-empty string (0 and "" are refused by the model). */
  id: number | string;
  start: boolean;
  end: boolean;
}

export interface ScheduleParams {
  /** 0 = the model's default level; 1 is the highest. */
  priority?: number;
  sequence?: SequenceParams;
}

function bad(detail: string): InferaError {
  return new InferaError('ENG_ERR_BAD_REQUEST', detail);
}

function flag(params: Record<string, unknown>, name: string): boolean {
  const v = params[name];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw bad(`parameters.${name} must be a boolean`);
  return v;
}

/**
 * Reads the scheduling parameters.
 * @throws InferaError 400 for values of the wrong type, or sequence flags without an id.
 */
export function parseScheduleParameters(params: Record<string, unknown>): ScheduleParams {
  const out: ScheduleParams = {};
  if (params.priority !== undefined) {
    const p = params.priority;
    if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) throw bad('parameters.priority must be a non-negative integer');
    out.priority = p;
  }
  const id = params.sequence_id;
  const start = flag(params, 'sequence_start');
  const end = flag(params, 'sequence_end');
  if (id === undefined) {
    if (params.sequence_start !== undefined || params.sequence_end !== undefined) throw bad('parameters.sequence_start/sequence_end need parameters.sequence_id');
    return out;
  }
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id) || id < 0) throw bad('parameters.sequence_id must be a non-negative integer below 2^53 or a string');
  } else if (typeof id !== 'string') {
    throw bad('parameters.sequence_id must be an integer or a string');
  }
  out.sequence = { id, start, end };
  return out;
}

/** The key a sequence id is held under: numbers and strings never collide, nor with other owners' keys. */
export function sequenceKey(id: number | string): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}
