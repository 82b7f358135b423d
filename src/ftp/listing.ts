/**
 * Directory listing parsers: MLSD (RFC 3659 §7, exact, UTC) and LIST (Unix
 * `ls -l` style or IIS/DOS style, approximate, server local time). Pure; they
 * produce ListEntry and never throw on a line they cannot read.
 */
import type { EntryType, ListEntry } from './entry.js';
import { parseTimeVal, utcDate } from './timeval.js';

// ---------------------------------------------------------------- MLSD

/**
 * One MLSD/MLST line: "fact=val;fact=val; name" (RFC 3659 §7.2).
 *
 * Exactly ONE space separates the facts from the name, so a name may begin with
 * spaces and contain spaces, ";" and "=". Fact values cannot contain a space
 * (§7.2 RCHAR), so the separator is the first "; " — except that some servers
 * put a symlink target with spaces into "type=OS.unix=slink:<target>", which
 * the first "; " (rather than the first space) also survives. A line that has
 * no "; " (facts without the trailing ";", against the grammar) falls back to
 * the first space. A line starting with a space has no facts at all.
 *
 * Returns null for cdir/pdir (and names "." and ".."), and for lines without a
 * type fact (we cannot tell a file from a directory). Any other name, even an
 * empty one or one with "/", is returned: names.ts decides what is usable.
 * An unknown type (neither file, dir, nor a recognised OS.unix one) becomes
 * 'special', so the mirror leaves it alone rather than guessing.
 */
export function parseMlsdLine(line: string): ListEntry | null {
  // (Written for speed: a no-op sync parses every line of both trees.)
  const text = line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
  let factText: string;
  let name: string;
  if (text.startsWith(' ')) {
    factText = '';
    name = text.slice(1);
  } else {
    let sep = text.indexOf('; ');
    if (sep !== -1) sep += 1;
    else sep = text.indexOf(' ');
    if (sep === -1) return null;
    factText = text.slice(0, sep);
    name = text.slice(sep + 1);
  }
  if (name === '.' || name === '..') return null;

  // Only the facts we use are kept; a repeated fact: the last one counts.
  let typeFact: string | undefined;
  let sizeFact: string | undefined;
  let sizdFact: string | undefined;
  let modifyFact: string | undefined;
  let permFact: string | undefined;
  let uniqueFact: string | undefined;
  let modeFact: string | undefined;
  for (let start = 0; start < factText.length; ) {
    let end = factText.indexOf(';', start);
    if (end === -1) end = factText.length;
    const eq = factText.indexOf('=', start);
    if (eq > start && eq < end) {
      // Fact names are case-insensitive (§7.1); values keep their case (slink targets, unique).
      const value = factText.slice(eq + 1, end);
      switch (factText.slice(start, eq).toLowerCase()) {
        case 'type':
          typeFact = value;
          break;
        case 'size':
          sizeFact = value;
          break;
        case 'sizd':
          sizdFact = value;
          break;
        case 'modify':
          modifyFact = value;
          break;
        case 'perm':
          permFact = value;
          break;
        case 'unique':
          uniqueFact = value;
          break;
        case 'unix.mode':
          modeFact = value;
          break;
      }
    }
    start = end + 1;
  }

  if (typeFact === undefined) return null;
  const t = typeFact.toLowerCase();
  let type: EntryType;
  let target: string | undefined;
  if (t === 'cdir' || t === 'pdir') return null;
  if (t === 'file') type = 'file';
  else if (t === 'dir') type = 'dir';
  else if (t.startsWith('os.unix=slink') || t.startsWith('os.unix=symlink')) {
    // proftpd: "OS.unix=symlink" by default, "OS.unix=slink:<target>" with FactsOptions UseSlink.
    type = 'link';
    const colon = typeFact.indexOf(':');
    if (colon !== -1 && colon + 1 < typeFact.length) target = typeFact.slice(colon + 1);
  } else type = 'special';

  const entry: ListEntry = { name, type, mtimePrecision: 0, mtimeApproximate: false };
  if (target !== undefined) entry.target = target;

  // RFC 3659 §7.5.7 "sizd" is a directory's size; some servers (pure-ftpd) send it instead of size.
  const size = parseSize(sizeFact ?? (type === 'dir' ? sizdFact : undefined));
  if (size !== undefined) entry.size = size;

  if (modifyFact !== undefined) {
    const m = parseTimeVal(modifyFact);
    if (m) {
      entry.mtime = m.date;
      entry.mtimePrecision = m.precision;
    }
  }

  if (permFact !== undefined) entry.perm = permFact;
  if (uniqueFact !== undefined) entry.unique = uniqueFact;
  const mode = parseOctalMode(modeFact);
  if (mode !== undefined) entry.mode = mode;
  return entry;
}

/** All entries of an MLSD data stream; unreadable lines, cdir and pdir are skipped. */
export function parseMlsd(text: string): ListEntry[] {
  return parseLines('MLSD', text, new Date());
}

/** "0644", "644" and pyftpdlib's Python-3 "0o644". Keeps permission bits only (any file-type bits dropped). */
function parseOctalMode(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:0o)?([0-7]{1,7})$/i.exec(value.trim());
  return m ? parseInt(m[1], 8) & 0o7777 : undefined;
}

function parseSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

// ---------------------------------------------------------------- LIST, Unix style

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

/**
 * type+perms [ACL mark] <links owner group, any of them missing> size|"maj, min"
 * Mon dd hh:mm|yyyy <one space> name. The middle is matched lazily so the size is
 * the first number that is followed by a date, whatever the owner/group names are.
 */
const UNIX_LINE =
  /^([-bcdDlps])([-rwxsStTlL]{9})[+@.]?\s+(.+?)\s+(\d+|\d+,\s*\d+)\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s(.*)$/;

const DAY_MS = 86_400_000;

/**
 * One `ls -l` style line, as vsftpd, proftpd, pure-ftpd and pyftpdlib send for LIST:
 *   "drwxr-xr-x    2 user     group        4096 Jan  1 12:00 name"
 * The group column, or the link count, may be missing. Device files carry
 * "major, minor" instead of a size (type 'special', no size).
 *
 * Times are the server's local time and we cannot know its zone, so they are
 * read as UTC and marked approximate. "Mon dd hh:mm" has no year (ls shows it for
 * the last ~6 months): the year is the one giving the most recent such date not
 * more than a day after `now` (the day of slack absorbs time-zone differences),
 * so a "Dec 31" listing read on January 2nd is last year's. Precision 60 s for
 * that form, one day for "Mon dd yyyy".
 *
 * Exactly one space follows the time/year column (ls pads the year to the
 * width of "hh:mm"), so leading spaces in a name are preserved. Symlinks are
 * "name -> target", split at the first " -> ".
 * Returns null for "total N", ".", ".." and anything else it cannot read.
 */
export function parseUnixListLine(line: string, now: Date): ListEntry | null {
  const m = UNIX_LINE.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  const [, typeChar, perms, , sizeText, monText, dayText, timeText, rawName] = m;
  const month = MONTHS[monText.toLowerCase()];
  if (month === undefined) return null;
  const day = Number(dayText);

  let mtime: Date | undefined;
  let precision: number;
  if (timeText.includes(':')) {
    const [hh, mm] = timeText.split(':').map(Number);
    if (hh > 23 || mm > 59) return null;
    mtime = inferYear(month, day, hh, mm, now);
    precision = 60_000;
  } else {
    mtime = utcDate(Number(timeText), month, day, 0, 0, 0, 0);
    precision = DAY_MS;
  }
  if (!mtime) return null;

  let type: EntryType;
  switch (typeChar) {
    case '-':
      type = 'file';
      break;
    case 'd':
      type = 'dir';
      break;
    case 'l':
      type = 'link';
      break;
    default:
      type = 'special'; // b c p s D: devices, fifos, sockets, Solaris doors
  }

  let name = rawName;
  let target: string | undefined;
  if (type === 'link') {
    const arrow = name.indexOf(' -> ');
    if (arrow !== -1) {
      target = name.slice(arrow + 4);
      name = name.slice(0, arrow);
    }
  }
  if (name === '.' || name === '..') return null;

  const entry: ListEntry = {
    name,
    type,
    mtime,
    mtimePrecision: precision,
    mtimeApproximate: true,
    mode: parseRwx(perms),
  };
  if (/^\d+$/.test(sizeText)) {
    const size = Number(sizeText);
    if (Number.isSafeInteger(size)) entry.size = size;
  }
  if (target !== undefined) entry.target = target;
  return entry;
}

/** "rwxr-sr-t" -> 0o3755. s/S/t/T as in ls(1); a lower-case letter also means x is set. */
function parseRwx(perms: string): number {
  let mode = 0;
  const bit = (i: number, v: number): void => {
    if (perms[i] !== '-') mode |= v;
  };
  bit(0, 0o400);
  bit(1, 0o200);
  bit(3, 0o040);
  bit(4, 0o020);
  bit(6, 0o004);
  bit(7, 0o002);
  const exec = (c: string, xBit: number, special: number, specialChars: string): void => {
    if (c === 'x') mode |= xBit;
    else if (specialChars.includes(c)) {
      mode |= special;
      if (c === c.toLowerCase()) mode |= xBit;
    }
  };
  exec(perms[2], 0o100, 0o4000, 'sS');
  // 'l'/'L' in the group slot is System V mandatory locking: setgid without group x.
  exec(perms[5], 0o010, 0o2000, 'sSlL');
  if (perms[5] === 'l' || perms[5] === 'L') mode &= ~0o010;
  exec(perms[8], 0o001, 0o1000, 'tT');
  return mode;
}

function inferYear(month: number, day: number, hh: number, mm: number, now: Date): Date | undefined {
  const limit = now.getTime() + DAY_MS;
  const thisYear = now.getUTCFullYear();
  // Start one year ahead (Dec 31 23:30 "now" vs a server already in January) and
  // walk back; eight years is enough to reach a Feb 29.
  for (let y = thisYear + 1; y >= thisYear - 8; y--) {
    const d = utcDate(y, month, day, hh, mm, 0, 0);
    if (d && d.getTime() <= limit) return d;
  }
  return undefined;
}

// ---------------------------------------------------------------- LIST, DOS/IIS style

const DOS_LINE =
  /^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(?:<(DIR|JUNCTION|SYMLINKD?)>\s+|([\d,]+) )(.*)$/i;

/**
 * IIS "MS-DOS" style (and other Windows servers):
 *   "01-15-24  03:04PM       <DIR>          name"
 *   "01-15-24  03:04PM              1234 name"
 * Month-day-year, 2- or 4-digit years (2-digit: 70-99 -> 19xx, else 20xx),
 * 12-hour with AM/PM or 24-hour times. Local time, so approximate (60 s).
 * After a size exactly one space precedes the name; after <DIR> the padding is
 * variable, so a directory name's leading spaces cannot be recovered.
 * <JUNCTION>/<SYMLINK>/<SYMLINKD> entries are links; "name [target]" is split.
 */
export function parseDosListLine(line: string): ListEntry | null {
  const m = DOS_LINE.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  const [, moText, dText, yText, hText, minText, ampm, tag, sizeText, rawName] = m;
  let year = Number(yText);
  if (yText.length === 2) year += year >= 70 ? 1900 : 2000;
  let hour = Number(hText);
  const minute = Number(minText);
  if (ampm) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (ampm.toUpperCase() === 'PM' ? 12 : 0);
  }
  if (hour > 23 || minute > 59) return null;
  const mtime = utcDate(year, Number(moText) - 1, Number(dText), hour, minute, 0, 0);
  if (!mtime) return null;

  let type: EntryType = 'file';
  let name = rawName;
  let target: string | undefined;
  if (tag !== undefined) {
    type = tag.toUpperCase() === 'DIR' ? 'dir' : 'link';
    if (type === 'link') {
      const t = /^(.*) \[(.*)\]$/.exec(name);
      if (t) {
        name = t[1];
        target = t[2];
      }
    }
  }
  if (name === '.' || name === '..') return null;

  const entry: ListEntry = { name, type, mtime, mtimePrecision: 60_000, mtimeApproximate: true };
  if (sizeText !== undefined) {
    const size = Number(sizeText.replace(/,/g, ''));
    if (Number.isSafeInteger(size)) entry.size = size;
  }
  if (target !== undefined) entry.target = target;
  return entry;
}

// ---------------------------------------------------------------- LIST, any style

/** Every line: Unix style first, then DOS style; lines neither can read are skipped. */
export function parseList(text: string, now: Date = new Date()): ListEntry[] {
  return parseLines('LIST', text, now);
}

// ---------------------------------------------------------------- one line, either format

export type ListingFormat = 'MLSD' | 'LIST';

/** One line of an MLSD or LIST stream (LF removed, CR allowed); null for blank lines and lines that are no entry. */
export function parseListingLine(format: ListingFormat, raw: string, now: Date): ListEntry | null {
  if (format === 'MLSD') return raw === '' || raw === '\r' ? null : parseMlsdLine(raw);
  const line = raw.replace(/\r$/, '');
  if (line.trim() === '') return null;
  return parseUnixListLine(line, now) ?? parseDosListLine(line);
}

function parseLines(format: ListingFormat, text: string, now: Date): ListEntry[] {
  const out: ListEntry[] = [];
  for (const line of text.split('\n')) {
    const e = parseListingLine(format, line, now);
    if (e) out.push(e);
  }
  return out;
}
