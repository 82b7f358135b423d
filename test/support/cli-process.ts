/**
 * The real CLI as a child process that a test can signal while it runs
 * (test/lab/helpers.ts's runCli waits for the end): its pid, a promise of
 * how it ended, and kill(). Needs no lab.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/support/cli-process.js -> repo root; the same from test/support/cli-process.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = HERE.includes(`${path.sep}dist${path.sep}`) ? path.resolve(HERE, '../../..') : path.resolve(HERE, '../..');

export interface CliEnd {
  /** null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to close. */
  ms: number;
}

export interface RunningCli {
  pid: number;
  done: Promise<CliEnd>;
  kill(signal: NodeJS.Signals): void;
  /** True until the process has exited. */
  running(): boolean;
}

/**
 * `node bin/fxpmirror <args>` from the repository root, stdin ignored;
 * `env` changes process.env (undefined removes a variable). SIGKILLed after
 * `timeoutMs`.
 */
export function startCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): RunningCli {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'fxpmirror'), ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const t0 = Date.now();
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliEnd>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { pid: child.pid ?? 0, done, kill: (sig) => child.kill(sig), running: () => !exited };
}
