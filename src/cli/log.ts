/**
 * The CLI's logger. The layers below never log and never print: they emit
 * events (the mirror's MirrorEvents, the engine's EngineEvents, the FTP
 * layer's FtpNote), and the commands turn those into log events here
 * (report.ts, job-run.ts), so the CLI alone decides the format and where
 * lines go, and tests capture the events themselves.
 *
 * One event goes to every sink whose level lets it through: the terminal
 * (stderr, unless -q or --log-file) and the log file (always the full record
 * at --log-level, whatever -q says and whether or not stderr is a terminal).
 * Lines in files carry an ISO 8601 date-time with the local offset; a
 * terminal gets the clock time only.
 *
 * Redaction is done here, at the last moment before bytes leave the process:
 * every string (message, path, extra fields, nested values) goes through the
 * registered secrets and then redactUrls, so a password cannot be printed even
 * when it arrives inside an error message from a server or a library.
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
  /** The destination the event is about ("server:/path"), for jobs with several targets. */
  target?: string;
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

/** Where log lines go: a stream, a file, or the terminal (which keeps the progress display below them). */
export interface LogSink {
  format: 'text' | 'json';
  /** The lowest level written. */
  level: LogLevel;
  /** One complete line, with its newline. */
  write(line: string): void;
  /** Text only: the clock time alone (a terminal), instead of the full ISO 8601 date-time with offset. */
  clockTime?: boolean;
}

export interface LoggerOptions {
  sinks: LogSink[];
  /** Fields added to every event (e.g. job). */
  fields?: Partial<LogEvent>;
  /** Clock for the timestamps; tests pin it. */
  now?: () => Date;
}

/** A sink on a stream (stderr, a test's PassThrough). */
export function streamSink(stream: NodeJS.WritableStream, format: 'text' | 'json', level: LogLevel, clockTime = false): LogSink {
  return { format, level, clockTime, write: (line) => void stream.write(line) };
}

// The list of secrets has its home in the lowest layer (src/ftp/secrets.ts); the CLI keeps offering it.
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

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const FIXED = new Set(['level', 'event', 'message', 'job', 'target', 'path', 'bytes', 'mode', 'time']);


function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** "2024-06-01T12:00:01.000+02:00": ISO 8601 with the local offset, so a log read in another zone is still unambiguous. */
export function isoLocalTime(t: Date): string {
  const off = -t.getTimezoneOffset();
  const abs = Math.abs(off);
  const date = `${t.getFullYear()}-${pad2(t.getMonth() + 1)}-${pad2(t.getDate())}`;
  const time = `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  return `${date}T${time}${off < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

function clockTime(t: Date): string {
  return `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}`;
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

function renderText(e: Record<string, unknown>, time: Date, clock: boolean): string {
  const parts = [clock ? clockTime(time) : isoLocalTime(time)];
  parts.push(String(e.level).padEnd(5));
  // "[job target]": which job, and which of its targets (fan-out) the event is about.
  const where = [e.job, e.target].filter((v) => v !== undefined).map(String);
  if (where.length) parts.push(`[${where.join(' ')}]`);
  parts.push(String(e.event));
  if (e.path !== undefined) parts.push(String(e.path));
  if (typeof e.bytes === 'number') parts.push(formatBytes(e.bytes));
  if (e.mode !== undefined) parts.push(String(e.mode));
  if (e.message !== undefined && e.message !== '') parts.push(String(e.message));
  for (const [k, v] of Object.entries(e)) {
    // Structured values (a summary's counts by kind, its modes) are for
    // machines: the JSON format has them; a text line says it in its message.
    if (FIXED.has(k) || v === undefined || (typeof v === 'object' && v !== null)) continue;
    parts.push(`${k}=${textValue(v)}`);
  }
  // One event, one line: a multi-line server message must not forge extra lines.
  return parts.join(' ').replace(/[\r\n]+/g, ' ');
}

function renderJson(e: Record<string, unknown>, time: Date): string {
  const ordered: Record<string, unknown> = { time: isoLocalTime(time), level: e.level };
  if (e.job !== undefined) ordered.job = e.job;
  if (e.target !== undefined) ordered.target = e.target;
  ordered.event = e.event;
  for (const [k, v] of Object.entries(e)) {
    if (k === 'level' || k === 'job' || k === 'target' || k === 'event' || k === 'time' || v === undefined) continue;
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
    const rank = RANK[e.level] ?? RANK.info;
    const sinks = this.opts.sinks.filter((s) => rank >= RANK[s.level]);
    if (!sinks.length) return;
    const merged = redactValue({ ...this.fields, ...e }) as Record<string, unknown>;
    const time = (this.opts.now ?? (() => new Date()))();
    for (const s of sinks) s.write(`${s.format === 'json' ? renderJson(merged, time) : renderText(merged, time, !!s.clockTime)}\n`);
  }

  child(fields: Partial<LogEvent>): Logger {
    return new StreamLogger(this.opts, { ...this.fields, ...fields });
  }
}

export function createLogger(opts: LoggerOptions): Logger {
  return new StreamLogger(opts, { ...(opts.fields ?? {}) });
}
