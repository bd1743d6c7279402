/**
 * One table of coded errors. Every error the server returns to a client comes
 * from here, so status codes and wording stay consistent (test/unit/errors.test.ts
 * checks that each code is documented in the README).
 */
export const ErrorCodes = {
  ENG_ERR_BAD_REQUEST: { status: 400, message: 'bad request' },
  ENG_ERR_MALFORMED_JSON: { status: 400, message: 'malformed JSON' },
  ENG_ERR_BAD_TENSOR: { status: 400, message: 'invalid tensor' },
  ENG_ERR_BAD_NAME: { status: 400, message: 'invalid model name or version' },
  ENG_ERR_MODEL_REJECTED_INPUT: { status: 400, message: 'the model refused the input' },
  ENG_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported media type' },
  ENG_ERR_UNAUTHORIZED: { status: 401, message: 'management token required' },
  ENG_ERR_API_KEY_REQUIRED: { status: 401, message: 'API key required' },
  ENG_ERR_MODEL_NOT_FOUND: { status: 404, message: 'unknown model' },
  ENG_ERR_VERSION_NOT_FOUND: { status: 404, message: 'unknown model version' },
  ENG_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'no such route' },
  ENG_ERR_JOB_NOT_FOUND: { status: 404, message: 'unknown job' },
  ENG_ERR_SOURCE_NOT_FOUND: { status: 404, message: 'unknown online feature source' },
  ENG_ERR_FORBIDDEN: { status: 403, message: 'forbidden' },
  ENG_ERR_CONFLICT: { status: 409, message: 'conflict' },
  ENG_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  ENG_ERR_INTERNAL: { status: 500, message: 'internal error' },
  ENG_ERR_UNSUPPORTED: { status: 501, message: 'not supported' },
  ENG_ERR_MODEL_UNAVAILABLE: { status: 503, message: 'model unavailable' },
  ENG_ERR_QUEUE_FULL: { status: 503, message: 'queue full' },
  ENG_ERR_TIMEOUT: { status: 503, message: 'request timed out in the queue' },
  ENG_ERR_OVERLOADED: { status: 503, message: 'over capacity: the request would miss its latency objective' },
  ENG_ERR_SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  ENG_ERR_NOT_READY: { status: 503, message: 'server is not ready' },
  ENG_ERR_DATABASE_UNAVAILABLE: { status: 503, message: 'the shared database is unreachable' },
  ENG_ERR_WORKER_FAILED: { status: 503, message: 'the inference worker running this batch died' },
  ENG_ERR_EXECUTION_TIMEOUT: { status: 504, message: 'the batch exceeded the execution timeout' },
  ENG_ERR_CONFIG: { status: 500, message: 'invalid configuration' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class InferaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying (503 only). */
  readonly retryAfterS?: number;

  constructor(code: ErrorCode, detail?: string, opts: { retryAfterS?: number; cause?: unknown } = {}) {
    super(detail ? `${ErrorCodes[code].message}: ${detail}` : ErrorCodes[code].message, { cause: opts.cause });
    this.name = 'InferaError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.retryAfterS = opts.retryAfterS;
  }
}

export function isInferaError(e: unknown): e is InferaError {
  return e instanceof InferaError;
}

/**
 * Maps anything thrown to a client-facing error. Unknown errors become 500 ENG_ERR_INTERNAL
 * whose message says nothing of the internals (a runtime's message can name files, shapes or
 * memory addresses); the original stays in `cause` for the server's log.
 */
export function toInferaError(e: unknown): InferaError {
  if (e instanceof InferaError) return e;
  return new InferaError('ENG_ERR_INTERNAL', undefined, { cause: e });
}

/** The detail of an error for the server's log: the cause of an internal error, else the message. */
export function logDetail(e: InferaError): string {
  const cause = e.cause;
  if (cause instanceof Error) return cause.stack ?? cause.message;
  return cause === undefined ? e.message : String(cause);
}
