/**
 * Local paths a run will write to, checked before any connection: a lock
 * directory that cannot be created, a metrics file under a regular file or a
 * log file in a missing directory are usage errors (exit 2) in one line
 * naming the option, not a failure halfway through (or after) the run.
 *
 * Nothing is created here: a dry run stays free of side effects. Writability
 * is asked with access(2), which knows about root, ACLs and read-only mounts.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileProblem } from '../ftp/local-file.js';
import { UsageError } from './exit.js';

/** undefined when `path` does not exist; a path we may not even look at is a usage error. */
function statOrUndefined(path: string, what: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new UsageError(`${what} ${path}: ${fileProblem(err)}`);
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A directory the run creates when missing (mkdir -p) and then writes files
 * in. `shown` is what the user gave (the directory, or a file inside it).
 */
export function checkDirectoryUsable(dir: string, what: string, shown = dir): void {
  const wanted = resolve(dir);
  let existing = wanted;
  let st: Stats | undefined;
  while (!(st = statOrUndefined(existing, what)) && dirname(existing) !== existing) existing = dirname(existing);
  if (!st) throw new UsageError(`${what} ${shown}: no such file or directory`);
  const itself = existing === resolve(shown);
  if (!st.isDirectory()) throw new UsageError(`${what} ${shown}: ${itself ? 'not a directory' : `${existing} is not a directory`}`);
  if (!writable(existing)) {
    throw new UsageError(`${what} ${shown}: ${itself ? 'not writable' : `cannot create it in ${existing}`} (permission denied)`);
  }
}

/** A file the run creates or replaces inside a directory it creates when missing (the metrics file). */
export function checkFileUsable(file: string, what: string): void {
  if (statOrUndefined(file, what)?.isDirectory()) throw new UsageError(`${what} ${file}: is a directory`);
  checkDirectoryUsable(dirname(resolve(file)), what, file);
}

/** A file the run appends to; its directory must exist (the log file). */
export function checkAppendable(file: string, what: string): void {
  const st = statOrUndefined(file, what);
  if (st?.isDirectory()) throw new UsageError(`${what} ${file}: is a directory`);
  if (st) {
    try {
      accessSync(file, constants.W_OK);
    } catch (err) {
      throw new UsageError(`${what} ${file}: ${fileProblem(err)}`);
    }
    return;
  }
  const parent = dirname(resolve(file));
  const dir = statOrUndefined(parent, what);
  if (!dir) throw new UsageError(`${what} ${file}: the directory ${parent} does not exist`);
  if (!dir.isDirectory()) throw new UsageError(`${what} ${file}: ${parent} is not a directory`);
  if (!writable(parent)) throw new UsageError(`${what} ${file}: cannot create it in ${parent} (permission denied)`);
}

/** Every local path of `fxpmirror run`, before its jobs start. */
export function checkRunPaths(flags: { lockDir: string; lockDirFromOption: boolean; metricsFile?: string; logFile?: string }): void {
  checkDirectoryUsable(flags.lockDir, flags.lockDirFromOption ? '--lock-dir' : 'lock directory (default; choose one with --lock-dir)');
  if (flags.metricsFile) checkFileUsable(flags.metricsFile, '--metrics-file');
  if (flags.logFile) checkAppendable(flags.logFile, '--log-file');
}
