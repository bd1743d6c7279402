import crypto from 'node:crypto';
import { InferaError } from '../errors';
import { HttpExchange } from './http-exchange';

/**
 * Management routes (load/unload/reload) need `Authorization: Bearer <token>`
 * when a token is configured. Without one they are open: bind to loopback then.
 */
export function requireAdmin(ex: HttpExchange, token: string | undefined): void {
  if (!token) return;
  const given = Buffer.from(ex.header('authorization') ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
    throw new InferaError('ENG_ERR_UNAUTHORIZED', 'send Authorization: Bearer <INFERA_ADMIN_TOKEN>');
  }
}
