/**
 * Reading one job file: the YAML document with positions, ${VAR}
 * substitution, and the diagnostics found so far.
 *
 * The loader walks the YAML AST (not the plain JS value) so every message
 * points at the key or value it is about, and it keeps going after an error
 * so `fxpmirror validate` can list every problem in one pass.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import type { NetrcSource } from '../ftp/credentials.js';
import { didYouMean } from './did-you-mean.js';
import { JOB_KEYS, REMOVED_KEYS, SERVER_KEYS, TOP_LEVEL_KEYS, type RuleSet } from './schema.js';

export interface Position {
  line: number;
  col: number;
}

export interface JobDiagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

/** "jobs/x.yaml:12:5: unknown key 'delet' (did you mean 'delete'?)"; warnings say so after the position. */
export function formatDiagnostic(d: JobDiagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** What reading a file needs besides its text: the environment, the netrc, the clock and the CA file check (all injected). */
export interface ReaderInputs {
  env: Record<string, string | undefined>;
  netrc: NetrcSource;
  now: Date;
  checkCaFile?: (path: string) => string | undefined;
}

/** One job file being read: its text, its YAML document, positions, and the diagnostics so far. */
export class JobFileReader {
  readonly diagnostics: JobDiagnostic[] = [];
  private readonly lines = new LineCounter();
  doc!: Document.Parsed;

  constructor(
    readonly text: string,
    readonly file: string,
    readonly inputs: ReaderInputs,
  ) {}

  parse(): Document.Parsed {
    this.doc = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    return this.doc;
  }

  at(offset: number): Position {
    if (this.doc) return this.lines.linePos(offset);
    // Before the parser ran (a file refused for its size or depth): count lines ourselves.
    const before = this.text.slice(0, offset);
    const nl = before.lastIndexOf('\n');
    return { line: before.split('\n').length, col: offset - nl };
  }

  report(severity: 'error' | 'warning', offset: number, message: string): void {
    const p = this.at(offset);
    this.diagnostics.push({ file: this.file, line: p.line, col: p.col, message, severity });
  }
  error(offset: number, message: string): void {
    this.report('error', offset, message);
  }
  warn(offset: number, message: string): void {
    this.report('warning', offset, message);
  }

  errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }

  /** Follow anchors (*ref) to the node they name. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }

  /**
   * Where a value starts. An empty value ("key:" and nothing) has no text of
   * its own, so the key's position is used.
   */
  valueOffset(pair: Pair): number {
    const v = this.deref(pair.value);
    const k = pair.key as Node | null;
    if (!v || !v.range || (isScalar(v) && v.value === null && v.range[0] === v.range[1])) return k?.range?.[0] ?? 0;
    return v.range[0];
  }

  /**
   * Replace ${VAR} with the environment's value. "$${" is a literal "${". A
   * missing variable is an error at the reference itself when it can be
   * found in the source text (plain and quoted scalars), else at the value.
   */
  interpolate(raw: string, node: Node, label: string): string | undefined {
    if (!raw.includes('${')) return raw;
    let ok = true;
    const start = node.range?.[0] ?? 0;
    const source = node.range ? this.text.slice(node.range[0], node.range[1]) : '';
    let searchFrom = 0;
    const out = raw.replace(/\$?\$\{([^}]*)\}?/g, (whole: string, name: string) => {
      if (whole.startsWith('$$')) return whole.slice(1);
      const idx = source.indexOf(whole, searchFrom);
      const offset = idx === -1 ? start : start + idx;
      if (idx !== -1) searchFrom = idx + whole.length;
      if (!whole.endsWith('}') || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        this.error(offset, `invalid variable reference in '${label}' (write \${NAME}, or $\${ for a literal \${)`);
        ok = false;
        return '';
      }
      const value = this.inputs.env[name];
      if (value === undefined) {
        this.error(offset, `environment variable '${name}' is not set (used by '${label}')`);
        ok = false;
        return '';
      }
      return value;
    });
    return ok ? out : undefined;
  }
}

/** What kind of YAML value a node is, for "must be X, got <kind>" messages. */
export function nodeKind(node: Node | null): string {
  if (!node) return 'an empty value';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'an empty value';
    if (typeof v === 'string') return 'a string';
    if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
    if (typeof v === 'boolean') return 'a boolean';
  }
  return 'an unsupported value';
}

/** One key of a mapping, with the node of its value (anchors followed). */
export interface Entry {
  key: string;
  keyOffset: number;
  pair: Pair;
  value: Node | null;
}

/** Where a key that is unknown here does belong, for a better hint than an edit distance. */
const KEY_HOMES: [RuleSet, string][] = [
  [TOP_LEVEL_KEYS, 'the top level'],
  [SERVER_KEYS, 'a server'],
  [JOB_KEYS, 'a job'],
];

/**
 * The entries of a mapping whose keys are in `rules` (any key when null);
 * unknown keys are reported and left out. `where` names the mapping in
 * messages ("a job", "the top level").
 */
export function mappingEntries(r: JobFileReader, map: YAMLMap, rules: RuleSet | null, where: string, depth = 0): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const merged: Map<string, Entry>[] = [];
  for (const pair of map.items) {
    const keyNode = r.deref(pair.key);
    const keyOffset = keyNode?.range?.[0] ?? map.range?.[0] ?? 0;
    if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
      r.error(keyOffset, 'keys must be plain names');
      continue;
    }
    const key = String(keyNode.value);
    if (key === '<<' && keyNode.type === 'PLAIN') {
      // YAML 1.1 merge key ("<<: *base"), still common in config files:
      // the mapping's own keys win, then earlier merged mappings.
      const v = r.deref(pair.value);
      const sources = isSeq(v) ? v.items.map((i) => r.deref(i)) : [v];
      for (const src of sources) {
        if (isMap(src) && depth < 10) merged.push(mappingEntries(r, src, rules, where, depth + 1));
        else r.error(r.valueOffset(pair), `'<<' must merge a mapping (or a list of mappings), got ${nodeKind(src)}`);
      }
      continue;
    }
    if (rules && !Object.hasOwn(rules, key)) {
      if (Object.hasOwn(REMOVED_KEYS, key)) {
        r.error(keyOffset, REMOVED_KEYS[key]);
        continue;
      }
      const hint = didYouMean(key, Object.keys(rules));
      if (hint) {
        r.error(keyOffset, `unknown key '${key}'${hint}`);
      } else {
        const home = KEY_HOMES.find(([rs, name]) => name !== where && Object.hasOwn(rs, key));
        r.error(keyOffset, `unknown key '${key}'${home ? ` in ${where} (it belongs in ${home[1]})` : ''}`);
      }
      continue;
    }
    out.set(key, { key, keyOffset, pair, value: r.deref(pair.value) });
  }
  for (const m of merged) {
    for (const [k, e] of m) if (!out.has(k)) out.set(k, e);
  }
  return out;
}

/** Report "'label' must be <expected>, got <kind>" at the value; always undefined, for `return typeError(...)`. */
export function typeError(r: JobFileReader, e: Entry, label: string, expected: string, hint = ''): undefined {
  r.error(r.valueOffset(e.pair), `'${label}' must be ${expected}, got ${nodeKind(e.value)}${hint}`);
  return undefined;
}

/** A mapping with no value at all ("defaults:" and nothing), which the loader treats as absent. */
export function isEmptyValue(node: Node | null): boolean {
  return isScalar(node) && node.value === null;
}
