import { closeSync, openSync, writeSync } from 'node:fs';
import { createLogger, type LogLevel, type LogSink, type Logger } from './log.js';
import { Screen } from './screen.js';
import { ProgressDisplay, ProgressModel, renderInterrupted } from './progress.js';
import { interruptedBy, onInterrupt } from './interrupt.js';
import { UsageError } from './exit.js';
import type { OutputFlags } from './options.js';

/**
 * Where `mirror` and `run` send what they say, decided once from the flags
 * (the cron contract in the README):
 * - the log file (--log-file) gets every event at --log-level, always: -q
 *   and the terminal change nothing there;
 * - stderr gets the same log unless -q or --log-file;
 * - with -q nothing else is printed on success; the commands print one line
 *   per failed target on stderr (outcome.ts);
 * - the progress display is drawn on a terminal only, never with -q, --json or
 *   --dry-run; --stats N logs the same figures every N seconds.
 * A signal (interrupt.ts) stops the drawing and logs the figures so far.
 */
export interface Output {
  screen: Screen;
  /** Every sink: stderr (unless -q or --log-file) and the log file. */
  log: Logger;
  /** The log file only (a no-op without --log-file). */
  fileLog: Logger;
  /** The log goes to stderr: an error logged there needs no second line. */
  logOnStderr: boolean;
  /** Set when progress is drawn or logged. */
  progress?: ProgressModel;
  /** Stop the progress display, and close the log file. */
  close(): void;
}

function fileSink(file: string, format: 'text' | 'json', level: LogLevel): { sink: LogSink; close: () => void } {
  let fd: number;
  try {
    fd = openSync(file, 'a', 0o640);
  } catch (err) {
    throw new UsageError(`cannot open --log-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Written synchronously: every line is in the file even when the process
  // exits right after (Ctrl-C, a fatal error), and lines of concurrent jobs
  // never interleave inside a line.
  let open = true;
  const write = (line: string) => {
    if (open) writeSync(fd, line);
  };
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return { sink: { format, level, write }, close };
}

/** `walks`: how many mirror walks the progress totals wait for (one per job). */
export function openOutput(flags: OutputFlags, walks: number, screen = new Screen()): Output {
  const level: LogLevel = flags.logLevel ?? (flags.verbose ? 'debug' : 'info');
  const file = flags.logFile ? fileSink(flags.logFile, flags.logFormat, level) : undefined;
  const logOnStderr = !flags.quiet && !flags.logFile;
  const sinks: LogSink[] = [];
  if (logOnStderr) {
    sinks.push({ format: flags.logFormat, level, write: (line) => screen.err(line), clockTime: flags.logFormat === 'text' && screen.interactive });
  }
  if (file) sinks.push(file.sink);
  const log = createLogger({ sinks });
  const fileLog = createLogger({ sinks: file ? [file.sink] : [] });

  const draw = screen.interactive && !flags.quiet && !flags.json && !flags.dryRun;
  const stats = flags.stats && !flags.dryRun ? { seconds: flags.stats / 1000, log } : undefined;
  const progress = draw || stats ? new ProgressModel(walks) : undefined;
  const display = progress ? new ProgressDisplay(progress, draw ? screen : undefined, stats) : undefined;

  // The first signal: the drawing stops and the log says what is stopping;
  // the summary, marked "interrupted", comes once the run has wound down.
  const unregister = onInterrupt(() => {
    display?.stop();
    screen.clearStatus();
    const sig = interruptedBy() ?? 'a signal';
    const figures = progress ? `: ${renderInterrupted(progress.figures())}` : '';
    log.log({ level: 'warn', event: 'interrupted', message: `${sig}: starting no new transfer, aborting the running ones${figures}` });
  });

  return {
    screen,
    log,
    fileLog,
    logOnStderr,
    progress,
    close: () => {
      unregister();
      display?.stop();
      file?.close();
    },
  };
}
