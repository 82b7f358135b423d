/**
 * Signals during `copy` and `mirror`, against two scripted servers
 * (test/support, no root): the destination accepts STOR and never finishes
 * it, so a transfer is running when the signal lands. The first signal
 * aborts it at once (not after a timeout), deletes its temporary file (kept
 * with --continue) and exits with 128 + the signal's number; a second signal
 * exits at once even while the wind-down still waits for a server.
 *
 *   a  127.0.10.11 (ephemeral port)  source
 *   b  127.0.10.12 (ephemeral port)  destination: STOR accepted, never finished
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { ScriptedFtpServer } from '../support/ftp-server.js';
import { startCli, type CliEnd, type RunningCli } from '../support/cli-process.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-interrupt-'));
const ENV = { NETRC: path.join(TMP, 'no-netrc'), XDG_RUNTIME_DIR: undefined, FXPMIRROR_PASSWORD: undefined };

function show(r: CliEnd): string {
  return `exit ${r.code} signal ${r.signal} after ${r.ms} ms\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('signals while a transfer runs: abort now, clean up, exit 128 + n; a second signal exits at once', () => {
  let a: ScriptedFtpServer;
  let b: ScriptedFtpServer;
  /** STOR commands b has received. */
  let stors = 0;

  before(async () => {
    a = await ScriptedFtpServer.start({ host: '127.0.10.11', files: { '/f.bin': Buffer.alloc(100_000, 7), '/tree/g.bin': Buffer.alloc(50_000, 9) } });
    b = await ScriptedFtpServer.start({ host: '127.0.10.12', files: { '/out/': '' } });
    // The transfer starts (150) and never ends: a stalled or very slow server.
    b.on('STOR', (ctx) => {
      stors++;
      ctx.server.tree.put(ctx.session.resolve(ctx.arg), Buffer.from('partial'));
      ctx.reply('150 Opening BINARY mode data connection.');
    });
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  /** `copy a:/f.bin b:/out/`, signalled once STOR has arrived; returns how it ended. */
  async function interruptedCopy(sig: NodeJS.Signals, extra: string[] = []): Promise<{ run: RunningCli; end: Promise<CliEnd> }> {
    const before = stors;
    const run = startCli(['copy', a.url('/%2Ff.bin'), b.url('/%2Fout/'), ...extra], ENV, 30_000);
    await until('STOR on the destination', () => stors > before);
    run.kill(sig);
    return { run, end: run.done };
  }

  test('copy, SIGTERM: exit 143 at once, one line, the temporary file deleted', async () => {
    const t0 = Date.now();
    const { end } = await interruptedCopy('SIGTERM');
    const r = await end;
    assert.equal(r.code, EXIT.SIGTERM, show(r));
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms, not after a timeout`);
    assert.equal(r.stderr, 'fxpmirror: interrupted by SIGTERM\n', show(r));
    assert.equal(r.stdout, '');
    assert.equal(b.tree.get('/out/.f.bin.fxpmirror-part'), undefined, 'the temporary file is deleted');
    assert.ok(b.sent('DELE').includes('DELE /out/.f.bin.fxpmirror-part'), b.commands.join('\n'));
    assert.equal(b.tree.get('/out/f.bin'), undefined, 'nothing under the final name');
  });

  test('copy --continue, SIGHUP: exit 129, the temporary file kept for the next run', async () => {
    const { end } = await interruptedCopy('SIGHUP', ['--continue']);
    const r = await end;
    assert.equal(r.code, EXIT.SIGHUP, show(r));
    assert.equal(b.tree.read('/out/.f.bin.fxpmirror-part')?.toString(), 'partial');
    b.tree.nodes.delete('/out/.f.bin.fxpmirror-part');
  });

  test('mirror, SIGINT: exit 130, the summary marked interrupted, no part file, no lock left', async () => {
    const locks = path.join(TMP, 'locks');
    const before = stors;
    const run = startCli(['mirror', a.url('/%2Ftree'), b.url('/%2Fmirror'), '--lock-dir', locks, '--retries', '0'], ENV, 30_000);
    await until('STOR on the destination', () => stors > before);
    run.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, EXIT.SIGINT, show(r));
    assert.match(r.stdout, /^interrupted by SIGINT: stopped early, nothing deleted; a new run completes it\nsource: /, show(r));
    assert.match(r.stdout, /^failed: {7}0 files$/m, 'a transfer cut short is no failure');
    assert.match(r.stderr, / warn {2}interrupted SIGINT: starting no new transfer, aborting the running ones$/m, show(r));
    assert.equal(b.tree.get('/mirror/.g.bin.fxpmirror-part'), undefined);
    assert.deepEqual(fs.readdirSync(locks), []);
  });

  test('a second signal exits at once, while the first one still waits for the server', async () => {
    // The wind-down's DELE of the temporary file gets no answer.
    b.on('DELE', () => new Promise<void>(() => undefined));
    try {
      const { run, end } = await interruptedCopy('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(run.running(), 'still winding down: DELE is unanswered');
      const t0 = Date.now();
      run.kill('SIGINT');
      const r = await end;
      assert.equal(r.code, EXIT.SIGTERM, `the first signal's code: ${show(r)}`);
      assert.ok(Date.now() - t0 < 1000, `exited ${Date.now() - t0} ms after the second signal`);
    } finally {
      b.on('DELE', undefined);
    }
  });
});
