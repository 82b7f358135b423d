/**
 * Typed values from a job file's YAML nodes: strings (interpolated),
 * booleans, integers, enums, durations, sizes, dates or ages, maxDelete and
 * string lists. Each reports what is wrong at the value's position and
 * returns undefined; the text forms (durations, sizes, ...) are parsed by
 * values.ts, the same parsers the command line uses.
 */
import { isScalar, isSeq } from 'yaml';
import type { MirrorOptions } from '../tree/options.js';
import type { KeyRule } from './schema.js';
import { parseDateOrAge, parseDuration, parseMaxDelete, parseSize, type Parsed } from './values.js';
import { nodeKind, typeError, type Entry, type JobFileReader } from './reader.js';

const WHOLE_VAR_RE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

export interface Str {
  value: string;
  /** The raw text was exactly one ${VAR}. */
  wholeVar: boolean;
  raw: string;
}

/** A string scalar, interpolated. undefined after reporting an error. */
export function readString(r: JobFileReader, e: Entry, label: string, allowEmpty = false): Str | undefined {
  const node = e.value;
  if (!isScalar(node) || typeof node.value !== 'string') {
    return typeError(r, e, label, 'a string', isScalar(node) && typeof node.value === 'number' ? ' (put it in quotes)' : '');
  }
  const value = r.interpolate(node.value, node, label);
  if (value === undefined) return undefined;
  if (!allowEmpty && value.trim() === '') {
    r.error(r.valueOffset(e.pair), `'${label}' must not be empty`);
    return undefined;
  }
  return { value, wholeVar: WHOLE_VAR_RE.test(node.value), raw: node.value };
}

/** A scalar as number/boolean/string; strings that came from ${VAR} may stand for numbers and booleans. */
function readScalar(r: JobFileReader, e: Entry, label: string): { value: unknown; interpolated: boolean } | undefined {
  const node = e.value;
  if (!isScalar(node)) return { value: node, interpolated: false };
  if (typeof node.value === 'string' && node.value.includes('${')) {
    const v = r.interpolate(node.value, node, label);
    return v === undefined ? undefined : { value: v, interpolated: true };
  }
  return { value: node.value, interpolated: false };
}

export function readBoolean(r: JobFileReader, e: Entry, label: string): boolean | undefined {
  const s = readScalar(r, e, label);
  if (!s) return undefined;
  if (typeof s.value === 'boolean') return s.value;
  if (s.interpolated && /^(true|false)$/i.test(String(s.value).trim())) return String(s.value).trim().toLowerCase() === 'true';
  // YAML 1.1 read yes/no/on/off as booleans; YAML 1.2 (this parser) reads them as strings.
  const yaml11 = typeof s.value === 'string' && /^(yes|no|on|off|y|n)$/i.test(s.value.trim()) ? s.value : undefined;
  return typeError(r, e, label, 'true or false', yaml11 !== undefined ? ` ('${yaml11}': write true or false)` : '');
}

export function readInteger(r: JobFileReader, e: Entry, label: string, min?: number): number | undefined {
  const s = readScalar(r, e, label);
  if (!s) return undefined;
  let n: number | undefined;
  if (typeof s.value === 'number') n = s.value;
  else if (s.interpolated && /^\s*-?\d+\s*$/.test(String(s.value))) n = Number(s.value);
  if (n === undefined || !Number.isInteger(n)) return typeError(r, e, label, 'an integer');
  if (min !== undefined && n < min) {
    r.error(r.valueOffset(e.pair), `'${label}' must be at least ${min}, got ${n}`);
    return undefined;
  }
  return n;
}

/** One of `values` (a list from schema.ts's CHOICES). */
export function readEnum<T extends string>(r: JobFileReader, e: Entry, label: string, values: readonly T[]): T | undefined {
  const s = readScalar(r, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'string') return typeError(r, e, label, `one of ${values.join(', ')}`);
  if (!(values as readonly string[]).includes(s.value)) {
    r.error(r.valueOffset(e.pair), `invalid value '${s.value}' for '${label}' (allowed: ${values.join(', ')})`);
    return undefined;
  }
  return s.value as T;
}

/** A text or number value through one of values.ts's parsers; `expected` names the form in a type error. */
function readParsed<T>(r: JobFileReader, e: Entry, label: string, expected: string, parse: (v: string | number) => Parsed<T>, textOnly = false): T | undefined {
  const s = readScalar(r, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'string' && (textOnly || typeof s.value !== 'number')) return typeError(r, e, label, expected);
  const p = parse(s.value);
  if (!p.ok) {
    r.error(r.valueOffset(e.pair), `'${label}' ${p.message}`);
    return undefined;
  }
  return p.value;
}

/** Milliseconds, more than 0. */
export function readDuration(r: JobFileReader, e: Entry, label: string): number | undefined {
  const ms = readParsed(r, e, label, 'a duration (seconds, or "500ms", "10s", "2m")', parseDuration);
  if (ms === 0) {
    r.error(r.valueOffset(e.pair), `'${label}' must be greater than 0`);
    return undefined;
  }
  return ms;
}

export function readSize(r: JobFileReader, e: Entry, label: string): number | undefined {
  return readParsed(r, e, label, 'a size (bytes, or "10K", "10M", "1.5GiB")', parseSize);
}

function readDateOrAge(r: JobFileReader, e: Entry, label: string): Date | undefined {
  return readParsed(r, e, label, 'an ISO date or an age like "7d"', (v) => parseDateOrAge(String(v), r.inputs.now), true);
}

function readMaxDelete(r: JobFileReader, e: Entry, label: string): MirrorOptions['maxDelete'] {
  const s = readScalar(r, e, label);
  if (!s) return undefined;
  if (typeof s.value !== 'number' && typeof s.value !== 'string') {
    return typeError(r, e, label, 'a count like 100 or a percentage like "10%"');
  }
  const p = parseMaxDelete(s.value);
  if (!p.ok) {
    r.error(r.valueOffset(e.pair), `invalid '${label}': ${p.message}`);
    return undefined;
  }
  return p.value;
}

function readStringList(r: JobFileReader, e: Entry, label: string): string[] | undefined {
  const node = e.value;
  if (isScalar(node) && typeof node.value === 'string') {
    const s = readString(r, e, label);
    return s ? [s.value] : undefined;
  }
  if (!isSeq(node)) return typeError(r, e, label, 'a list of strings');
  const out: string[] = [];
  let ok = true;
  for (const raw of node.items) {
    const item = r.deref(raw);
    if (!isScalar(item) || typeof item.value !== 'string') {
      r.error(item?.range?.[0] ?? node.range?.[0] ?? 0, `'${label}' items must be strings, got ${nodeKind(item)}`);
      ok = false;
      continue;
    }
    const v = r.interpolate(item.value, item, label);
    if (v === undefined) ok = false;
    else out.push(v);
  }
  return ok ? out : undefined;
}

/** The value of `e` as its rule in schema.ts says (mirror options and lock settings). */
export function readRule(r: JobFileReader, e: Entry, rule: KeyRule): unknown {
  const label = e.key;
  switch (rule.kind) {
    case 'boolean':
      return readBoolean(r, e, label);
    case 'integer':
      return readInteger(r, e, label, rule.min);
    case 'enum':
      return readEnum(r, e, label, rule.values ?? []);
    case 'string':
      return readString(r, e, label)?.value;
    case 'stringList':
      return readStringList(r, e, label);
    case 'size':
      return readSize(r, e, label);
    case 'dateOrAge':
      return readDateOrAge(r, e, label);
    case 'maxDelete':
      return readMaxDelete(r, e, label);
    case 'duration':
      return readDuration(r, e, label);
    default:
      throw new Error(`no reader for ${rule.kind}`);
  }
}
