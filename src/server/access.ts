import crypto from 'node:crypto';
import { InferaError } from '../errors';
import type { HttpExchange } from './http-exchange';

/** Request headers the access policy reads (added to every route's eager header copy). */
export const ACCESS_HEADERS = ['origin', 'x-api-key'] as const;

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

/**
 * Who may call the inference routes, and from which browser origins (CORS). Both off unless
 * configured (`auth.api_keys`, `auth.cors_origins` in the server config; --api-key,
 * --cors-origin). API keys guard the data plane (infer, /predict, streams); management
 * routes keep their own admin token (admin-auth.ts).
 */
export class AccessPolicy {
  private readonly keys: Buffer[];
  private readonly origins: Set<string>;
  private readonly anyOrigin: boolean;

  constructor(opts: { apiKeys?: string[]; corsOrigins?: string[] } = {}) {
    // Keys are compared as SHA-256 digests in constant time: equal lengths, no early exit.
    this.keys = (opts.apiKeys ?? []).map(sha256);
    this.origins = new Set(opts.corsOrigins ?? []);
    this.anyOrigin = this.origins.has('*');
  }

  get requiresKey(): boolean {
    return this.keys.length > 0;
  }

  /**
   * Checks a data-plane request's key: `Authorization: Bearer <key>`, `X-API-Key: <key>`, or
   * (WebSocket upgrades from browsers, which cannot set headers) `api_key` in the query.
   * @throws InferaError 401 ENG_ERR_API_KEY_REQUIRED when keys are configured and none matches.
   */
  checkApiKey(ex: HttpExchange, allowQuery = false): void {
    if (this.keys.length === 0) return;
    this.checkKey(ex.header('authorization'), ex.header('x-api-key') ?? (allowQuery ? new URLSearchParams(ex.query).get('api_key') ?? undefined : undefined));
  }

  /**
   * The key check itself, for any transport: `authorization` ("Bearer <key>") wins over `apiKey`.
   * @throws InferaError 401 ENG_ERR_API_KEY_REQUIRED when keys are configured and none matches.
   */
  checkKey(authorization: string | undefined, apiKey: string | undefined): void {
    if (this.keys.length === 0) return;
    const given = authorization?.startsWith('Bearer ') ? authorization.slice(7) : apiKey;
    if (given !== undefined) {
      const digest = sha256(given);
      let ok = false;
      for (const k of this.keys) ok = crypto.timingSafeEqual(k, digest) || ok;
      if (ok) return;
    }
    throw new InferaError('ENG_ERR_API_KEY_REQUIRED', given === undefined ? 'send Authorization: Bearer <API key> or X-API-Key: <API key>' : 'the API key is not valid');
  }

  /** CORS headers for a response to a request from `origin`; null when the origin is not allowed. */
  corsHeaders(origin: string | undefined): Record<string, string> | null {
    if (!origin || !(this.anyOrigin || this.origins.has(origin))) return null;
    return {
      'Access-Control-Allow-Origin': this.anyOrigin ? '*' : origin,
      'Access-Control-Expose-Headers': 'Inference-Header-Content-Length, Retry-After',
      ...(this.anyOrigin ? {} : { Vary: 'Origin' }),
    };
  }

  /** Headers of the answer to a CORS preflight (OPTIONS) from an allowed origin. */
  preflightHeaders(origin: string | undefined): Record<string, string> | null {
    const base = this.corsHeaders(origin);
    if (!base) return null;
    return {
      ...base,
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-API-Key, Inference-Header-Content-Length',
      'Access-Control-Max-Age': '600',
    };
  }
}
