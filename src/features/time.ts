/**
 * Timestamps for features. The flights data holds naive local times; everywhere in
 * Infera (training, serving) a timestamp without an offset is read as UTC, so that
 * "2001-02-03T14:05:00" is hour 14 on a Saturday whatever the machine's time zone.
 */

const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

// YYYY-MM-DD, optional [T ]HH:MM[:SS[.fff]], optional Z or ±HH[:]MM.
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an ISO-8601 date or date-time; a missing offset means UTC.
 * @returns epoch milliseconds, or NaN when the text is not a valid timestamp.
 */
export function parseTimestamp(text: string): number {
  const m = ISO_RE.exec(text.trim());
  if (!m) return NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const tz = m[8];
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offH = Number(digits.slice(0, 2));
    const offM = Number(digits.slice(2, 4));
    if (offH > 23 || offM > 59) return NaN;
    t -= sign * (offH * 60 + offM) * MS_PER_MINUTE;
  }
  return t;
}

/**
 * A timestamp value as accepted at training and serving time: epoch milliseconds
 * (finite number) or an ISO string. NaN when invalid.
 */
export function toEpochMs(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'string') return parseTimestamp(v);
  return NaN;
}

/** Minutes since midnight UTC, in [0, 1440). */
export function minuteOfDay(ms: number): number {
  const m = Math.floor(ms / MS_PER_MINUTE) % 1440;
  return m < 0 ? m + 1440 : m;
}

/** Day of week in UTC, 0 = Sunday … 6 = Saturday (as Date.getUTCDay). */
export function dayOfWeek(ms: number): number {
  // 1970-01-01 was a Thursday (4).
  const d = (Math.floor(ms / MS_PER_DAY) + 4) % 7;
  return d < 0 ? d + 7 : d;
}

/** ISO text of an epoch-ms value, without the trailing Z (the naive form of the data). */
export function formatNaive(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, '').replace(/Z$/, '');
}
