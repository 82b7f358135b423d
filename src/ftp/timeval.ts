/**
 * RFC 3659 §2.3 time-val, "YYYYMMDDHHMMSS[.sss]", always UTC: the one reader
 * (MLSD facts in listing.ts, MDTM replies in connection.ts) and the one writer
 * (the mtime-setting commands in commands.ts). Pure.
 */

export interface TimeVal {
  date: Date;
  /** 1000 ms for whole seconds; 0 when the server gave a fraction (taken as exact). */
  precision: number;
}

/**
 * Parse a time-val; surrounding spaces are allowed, anything else that is not
 * one (a wrong length, a letter, February 30th) is undefined. Milliseconds come
 * from the first three fraction digits. Digits are read by hand, not with a
 * RegExp: this runs once per listed entry in a no-op sync.
 */
export function parseTimeVal(text: string): TimeVal | undefined {
  const v = text.trim();
  const num = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = v.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return -1;
      n = n * 10 + c;
    }
    return n;
  };
  if (v.length < 14) return undefined;
  const y = num(0, 4);
  const mo = num(4, 6);
  const d = num(6, 8);
  const h = num(8, 10);
  const mi = num(10, 12);
  const s = num(12, 14);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return undefined;
  let ms = 0;
  const exact = v.length > 14;
  if (exact) {
    // ".sss…": a dot and at least one digit; milliseconds from the first three.
    if (v.charCodeAt(14) !== 46 || v.length === 15 || num(15, v.length) < 0) return undefined;
    ms = Number(`${v.slice(15)}00`.slice(0, 3));
  }
  const date = utcDate(y, mo - 1, d, h, mi, s, ms);
  if (!date) return undefined;
  return { date, precision: exact ? 0 : 1000 };
}

/** A Date as time-val, whole seconds (what MFMT, SITE UTIME and MDTM take). */
export function formatTimeVal(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Date.UTC that refuses out-of-range fields instead of rolling them over (Feb 30 -> Mar 2). */
export function utcDate(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): Date | undefined {
  if (mo < 0 || mo > 11 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(Date.UTC(y, mo, d, h, mi, s, ms));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo || date.getUTCDate() !== d) return undefined;
  return date;
}
