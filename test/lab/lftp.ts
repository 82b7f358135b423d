/**
 * lftp, the reference client of the lab tests and the benchmark's peer.
 */
import { execFile } from 'node:child_process';
import { BIN } from './env.js';

export interface LftpResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run `lftp -c <script>` under `timeout` (lftp waits forever in several
 * failure modes). Settings that make it usable against the lab go first:
 * certificate checks against `caFile` when given, no implicit TLS otherwise,
 * and net:max-retries 1 so a refused transfer fails instead of retrying for
 * minutes (it also cuts short some of lftp's FXP fallbacks; a `set` in
 * `script` overrides any of these).
 */
export function runLftp(script: string, opts: { caFile?: string; timeoutSec?: number } = {}): Promise<LftpResult> {
  const pre = [
    'set cmd:fail-exit yes',
    'set net:max-retries 1',
    'set net:timeout 10',
    'set net:reconnect-interval-base 1',
    'set xfer:clobber on',
    opts.caFile ? `set ssl:ca-file "${opts.caFile}"; set ssl:verify-certificate yes; set ftp:ssl-allow yes` : 'set ftp:ssl-allow no',
  ].join('; ');
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      BIN.timeout,
      ['-k', '5', String(opts.timeoutSec ?? 30), BIN.lftp, '-c', `${pre}; ${script}`],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    ).stdin?.end();
  });
}

