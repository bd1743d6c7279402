import crypto from 'node:crypto';
import { InferaError } from '../errors';
import { HttpExchange } from './http-exchange';

const LOOPBACK = /^(127\.|::1$|0000:0000:0000:0000:0000:0000:0000:0001$|::ffff:127\.|0000:0000:0000:0000:0000:ffff:7f)/;

/**
 * Management routes (load/unload/reload) need `Authorization: Bearer <token>`
 * when a token is configured; without one they answer loopback clients only.
 */
export function requireAdmin(ex: HttpExchange, token: string | undefined): void {
  checkAdmin(ex.remoteAddress, ex.header('authorization'), token);
}

/** The same rule for any transport: the peer's address and its authorization header (or gRPC metadata). */
export function checkAdmin(remoteAddress: string, authorization: string | undefined, token: string | undefined): void {
  if (!token) {
    if (LOOPBACK.test(remoteAddress)) return;
    throw new InferaError('ENG_ERR_UNAUTHORIZED', `management routes answer loopback clients only unless INFERA_ADMIN_TOKEN is set (peer ${remoteAddress})`);
  }
  const given = Buffer.from(authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  if (given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
    throw new InferaError('ENG_ERR_UNAUTHORIZED', 'send Authorization: Bearer <INFERA_ADMIN_TOKEN>');
  }
}
