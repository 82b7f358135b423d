/**
 * The value parsers for what a user writes as text: durations, sizes, dates
 * or ages, and the --max-delete limit. The job loader (read-value.ts) and the
 * command line (src/cli/options.ts) both read through these, so `10K`, `2m`,
 * `7d` and `10%` mean the same thing in a job file and on the command line.
 *
 * Each returns the value or a message (never throws), so the loader can
 * attach the message to a file position and the CLI to its option. The
 * message starts after the name of the value ("'minSize' is not a size...",
 * "--min-size: is not a size..."). Pure: `now` is an argument.
 */
import { MAX_TIMER_MS } from '../ftp/options.js';
import type { MirrorOptions } from '../tree/options.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** Exported for the JSON Schema (schema.ts), which must accept what this parser accepts. */
export const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/;

/** "500ms", "10s", "2m", "1h", "7d", "2w", or a number (of seconds). Result in milliseconds. */
export function parseDuration(value: string | number): Parsed<number> {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return { ok: false, message: 'must not be negative' };
    return withinTimer(Math.round(value * 1000));
  }
  const m = DURATION_RE.exec(value.trim());
  if (!m) {
    if (/^-/.test(value.trim())) return { ok: false, message: 'must not be negative' };
    return { ok: false, message: `is not a duration: '${value}' (use seconds or "500ms", "10s", "2m", "1h", "7d")` };
  }
  return withinTimer(Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']));
}

/** Every duration ends up in a timer: refuse what setTimeout would turn into "now". */
function withinTimer(ms: number): Parsed<number> {
  if (ms > MAX_TIMER_MS) return { ok: false, message: `must be at most ${MAX_TIMER_MS} ms (about 24 days, the longest timer Node.js can set)` };
  return { ok: true, value: ms };
}

/*
 * Size suffixes follow rsync and lftp: a bare letter and the "iB" forms are
 * powers of 1024, the "B" forms powers of 1000 ("10M" = 10 MiB, "10MB" = 10^7).
 */
export const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(?:([kmgtpKMGTP])([iI]?[bB])?|([bB]))?$/;
const SIZE_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Bytes from a number or "512", "10K", "10M", "1.5GiB", "2GB". */
export function parseSize(value: string | number): Parsed<number> {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, message: `is not a size: ${value}` };
    if (value < 0) return { ok: false, message: 'must not be negative' };
    return { ok: true, value: Math.floor(value) };
  }
  const text = value.trim();
  const m = SIZE_RE.exec(text);
  if (!m) {
    if (/^-\s*\d/.test(text)) return { ok: false, message: 'must not be negative' };
    return { ok: false, message: `is not a size: '${value}' (use bytes or "10K", "10M", "1.5GiB")` };
  }
  const n = Number(m[1]);
  if (!m[2]) return { ok: true, value: Math.floor(n) };
  const base = m[3] && m[3].toLowerCase() === 'b' ? 1000 : 1024;
  return { ok: true, value: Math.floor(n * base ** SIZE_POWER[m[2].toLowerCase()]) };
}

export const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An ISO date ("2024-05-01", "2024-05-01T12:00:00Z"; date-only means UTC
 * midnight, as Date.parse does) or an age ("7d", "12h") counted back from now.
 */
export function parseDateOrAge(value: string, now: Date): Parsed<Date> {
  const text = value.trim();
  if (ISO_DATE_RE.test(text)) {
    const t = Date.parse(text.replace(' ', 'T'));
    if (Number.isNaN(t)) return { ok: false, message: `is not a valid date: '${value}'` };
    return { ok: true, value: new Date(t) };
  }
  const d = DURATION_RE.exec(text);
  if (d && d[2]) return { ok: true, value: new Date(now.getTime() - Number(d[1]) * DURATION_UNITS[d[2]]) };
  return { ok: false, message: `is not an ISO date or an age: '${value}' (use "2024-05-01" or "7d")` };
}

/** The JSON Schema's pattern for a maxDelete string (schema.ts); parseMaxDelete says what is allowed. */
export const MAX_DELETE_PATTERN = '^\\d+(?:\\.\\d+)?%?$';

/**
 * "100" (entries) or "10%" (of the destination entries seen); a number from
 * YAML counts too. The limit is applied by src/tree/deletes.ts.
 */
export function parseMaxDelete(value: string | number): Parsed<NonNullable<MirrorOptions['maxDelete']>> {
  const text = String(value);
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 100) return { ok: false, message: `percentage must be between 0% and 100%, got ${JSON.stringify(text)}` };
    return { ok: true, value: { percent } };
  }
  if (/^\d+$/.test(t)) {
    const count = Number(t);
    if (!Number.isSafeInteger(count)) return { ok: false, message: `count too large: ${JSON.stringify(text)}` };
    return { ok: true, value: { count } };
  }
  return { ok: false, message: `expected a count like "100" or a percentage like "10%", got ${JSON.stringify(text)}` };
}
