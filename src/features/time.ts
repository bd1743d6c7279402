/**
 * Timestamps for features. The flights data holds naive local times; everywhere in
 * Infera (training, serving) a timestamp without an offset is read as UTC, so that
 * "2001-02-03T14:05:00" is hour 14 on a Saturday whatever the machine's time zone.
 */

const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The number written by the `count` ASCII digits of `s` at `at`, or -1 when any is not a digit (or past the end). */
function digitsAt(s: string, at: number, count: number): number {
  if (at + count > s.length) return -1;
  let v = 0;
  for (let k = 0; k < count; k++) {
    const d = s.charCodeAt(at + k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

const CH_T = 84, CH_SPACE = 32, CH_COLON = 58, CH_DOT = 46, CH_Z = 90, CH_PLUS = 43, CH_MINUS = 45;

/**
 * Parses an ISO-8601 date or date-time; a missing offset means UTC.
 * Grammar: YYYY-MM-DD, optional [T ]HH:MM[:SS[.f{1,9}]], optional Z or ±HH[:]MM, after
 * trimming white space. The same algorithm as the native transform's parser
 * (native/src/features/iso_time.cc), step for step; it reads character codes and allocates
 * nothing on the way (it runs per observed row in monitoring: a regex match cost ~1.5 KB of
 * garbage per /predict request, measured with V8's sampling heap profiler).
 * @returns epoch milliseconds, or NaN when the text is not a valid timestamp.
 */
export function parseTimestamp(text: string): number {
  const s = text.trim();
  const n = s.length;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  if (year < 0 || n < 10 || s.charCodeAt(4) !== CH_MINUS || month < 0 || s.charCodeAt(7) !== CH_MINUS || day < 0) return NaN;
  let hour = 0, minute = 0, second = 0, ms = 0;
  let i = 10;
  if (i < n && (s.charCodeAt(i) === CH_T || s.charCodeAt(i) === CH_SPACE)) {
    hour = digitsAt(s, i + 1, 2);
    minute = digitsAt(s, i + 4, 2);
    if (hour < 0 || i + 3 >= n || s.charCodeAt(i + 3) !== CH_COLON || minute < 0) return NaN;
    i += 6;
    if (i < n && s.charCodeAt(i) === CH_COLON) {
      second = digitsAt(s, i + 1, 2);
      if (second < 0) return NaN;
      i += 3;
      if (i < n && s.charCodeAt(i) === CH_DOT) {
        let k = i + 1;
        while (k < n && k - (i + 1) < 9 && digitsAt(s, k, 1) >= 0) k++;
        if (k === i + 1 || (k < n && digitsAt(s, k, 1) >= 0)) return NaN; // 1..9 digits
        ms = Math.floor(Number(`0.${s.slice(i + 1, k)}`) * 1000);
        i = k;
      }
    }
  }
  let offsetMinutes = 0;
  if (i < n && s.charCodeAt(i) === CH_Z) {
    i++;
  } else if (i < n && (s.charCodeAt(i) === CH_PLUS || s.charCodeAt(i) === CH_MINUS)) {
    const sign = s.charCodeAt(i) === CH_MINUS ? -1 : 1;
    const offH = digitsAt(s, i + 1, 2);
    if (offH < 0) return NaN;
    let k = i + 3;
    if (k < n && s.charCodeAt(k) === CH_COLON) k++;
    const offM = digitsAt(s, k, 2);
    if (offM < 0) return NaN;
    i = k + 2;
    if (offH > 23 || offM > 59) return NaN;
    offsetMinutes = sign * (offH * 60 + offM);
  }
  if (i !== n) return NaN;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * MS_PER_MINUTE;
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
