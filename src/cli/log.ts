/**
 * The logger every layer writes through. Layers take a `Logger` (or use
 * `nullLogger`), never the console, so the CLI decides the format and the
 * tests can capture events.
 *
 * Redaction is done here, at the last moment before bytes leave the process:
 * every string (message, path, extra fields, nested values) goes through the
 * registered secrets (src/ftp/secrets.ts) and then redactUrls, so a password
 * cannot be printed even when it arrives inside an error message from a
 * server or a library.
 */
import { redactSecrets } from '../ftp/secrets.js';
import { redactUrls } from '../ftp/url.js';
import { formatBytes } from './render.js';

export { formatBytes };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEvent {
  level: LogLevel;
  event: string;
  message?: string;
  job?: string;
  path?: string;
  bytes?: number;
  mode?: string;
  server?: string;
  [k: string]: unknown;
}

export interface Logger {
  log(e: LogEvent): void;
  child(fields: Partial<LogEvent>): Logger;
}

export interface LoggerOptions {
  format: 'text' | 'json';
  stream: NodeJS.WritableStream;
  /** Only errors (the CLI prints the summary itself). Wins over verbose. */
  quiet?: boolean;
  /** Also debug events. */
  verbose?: boolean;
  /** Fields added to every event (e.g. job). */
  fields?: Partial<LogEvent>;
  /** Clock for the timestamps; tests pin it. */
  now?: () => Date;
}

// The list of secrets has its home in the lowest layer; the CLI keeps offering it.
export { addSecret, redactSecrets } from '../ftp/secrets.js';

/** Secrets first: a password with '@' or ':' in an unencoded URL would confuse the URL parser. */
function redact(text: string): string {
  return redactUrls(redactSecrets(text));
}

function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: redact(value.message), ...(code !== undefined ? { code } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1);
  return out;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const FIXED = new Set(['level', 'event', 'message', 'job', 'path', 'bytes', 'mode', 'time']);


function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

function renderText(e: Record<string, unknown>, time: Date): string {
  const parts = [`${pad2(time.getHours())}:${pad2(time.getMinutes())}:${pad2(time.getSeconds())}`];
  parts.push(String(e.level).padEnd(5));
  if (e.job !== undefined) parts.push(`[${String(e.job)}]`);
  parts.push(String(e.event));
  if (e.path !== undefined) parts.push(String(e.path));
  if (typeof e.bytes === 'number') parts.push(formatBytes(e.bytes));
  if (e.mode !== undefined) parts.push(String(e.mode));
  if (e.message !== undefined && e.message !== '') parts.push(String(e.message));
  for (const [k, v] of Object.entries(e)) {
    if (FIXED.has(k) || v === undefined) continue;
    parts.push(`${k}=${textValue(v)}`);
  }
  // One event, one line: a multi-line server message must not forge extra lines.
  return parts.join(' ').replace(/[\r\n]+/g, ' ');
}

function renderJson(e: Record<string, unknown>, time: Date): string {
  const ordered: Record<string, unknown> = { time: time.toISOString(), level: e.level };
  if (e.job !== undefined) ordered.job = e.job;
  ordered.event = e.event;
  for (const [k, v] of Object.entries(e)) {
    if (k === 'level' || k === 'job' || k === 'event' || k === 'time' || v === undefined) continue;
    ordered[k] = v;
  }
  return JSON.stringify(ordered);
}

class StreamLogger implements Logger {
  constructor(
    private readonly opts: LoggerOptions,
    private readonly fields: Partial<LogEvent>,
  ) {}

  log(e: LogEvent): void {
    const min = this.opts.quiet ? RANK.error : this.opts.verbose ? RANK.debug : RANK.info;
    if ((RANK[e.level] ?? RANK.info) < min) return;
    const merged = redactValue({ ...this.fields, ...e }) as Record<string, unknown>;
    const time = (this.opts.now ?? (() => new Date()))();
    const line = this.opts.format === 'json' ? renderJson(merged, time) : renderText(merged, time);
    this.opts.stream.write(`${line}\n`);
  }

  child(fields: Partial<LogEvent>): Logger {
    return new StreamLogger(this.opts, { ...this.fields, ...fields });
  }
}

export function createLogger(opts: LoggerOptions): Logger {
  return new StreamLogger(opts, { ...(opts.fields ?? {}) });
}

export const nullLogger: Logger = {
  log(): void {},
  child(): Logger {
    return nullLogger;
  },
};
