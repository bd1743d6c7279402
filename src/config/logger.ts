import pino from 'pino';

export type Logger = pino.Logger;

/** pino's levels, most verbose first, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Structured JSON logs on stdout. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'infera' }, timestamp: pino.stdTimeFunctions.isoTime });
}
