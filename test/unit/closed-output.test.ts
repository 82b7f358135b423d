/**
 * stdout closed by its reader (`fxpmirror ls URL | head -1`): Node.js ignores
 * SIGPIPE, so the writes fail with EPIPE. The run must end as SIGPIPE ends a
 * C program's (141, nothing on stderr for ls), never with a stack trace
 * (src/cli/interrupt.ts, stopOnClosedOutput).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ScriptedFtpServer } from '../support/ftp-server.js';
import { CLI_BIN } from '../lab/helpers.js';
import { REPO_ROOT } from '../lab/lab.js';

let srv: ScriptedFtpServer;
let base: string;

before(async () => {
  // Far more than a pipe holds (64 KiB), so writes go on after the reader left.
  const files: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) files[`/pub/file-with-a-longish-name-${String(i).padStart(5, '0')}.dat`] = 'x';
  srv = await ScriptedFtpServer.start({ host: '127.0.94.1', files });
  base = `ftp://user:pass@${srv.address.host}:${srv.address.port}`;
});
after(() => srv.close());

/** Run the CLI, read stdout until `bytes` came, then close the pipe as `head` does. */
function runAndCloseAfter(args: string[], bytes: number): Promise<{ code: number | null; stderr: string; got: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let got = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= bytes) child.stdout.destroy();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, got });
    });
  });
}

test('ls whose reader goes away after one line: exit 141, nothing on stderr', async () => {
  const r = await runAndCloseAfter(['ls', `${base}/pub/`], 1);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 141);
});

test('mirror --dry-run whose reader goes away: stops as on a signal, exit 141, no stack trace', async () => {
  const r = await runAndCloseAfter(['mirror', '--dry-run', `${base}/pub/`, `${base}/dst/`], 100);
  assert.equal(r.code, 141, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at |EPIPE|Error/m);
  // Nothing was created on the destination: a dry run, stopped.
  assert.equal(srv.tree.get('/dst'), undefined);
});
