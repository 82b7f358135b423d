/**
 * How a target's end becomes an exit code, a -q line and a JSON result
 * (src/cli/outcome.ts), and error codes to exit codes (src/cli/exit.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT, exitCodeFor, exitCodeForCode } from '../../src/cli/exit.js';
import { outcomeOfError, outcomeOfSummary, summaryExit } from '../../src/cli/outcome.js';
import { failureLine } from '../../src/cli/render.js';
import { LockHeldError } from '../../src/job/lock.js';
import { FtpError, FtpReplyError } from '../../src/ftp/errors.js';
import { addSecret } from '../../src/cli/log.js';
import type { MirrorSummary } from '../../src/tree/plan.js';
import { emptySummary } from '../../src/tree/summary.js';

const name = { target: 'eu:/pub', server: 'eu', path: '/pub' };

function summary(over: Partial<MirrorSummary> = {}): MirrorSummary {
  return {
    ...emptySummary('up:/pub', 'eu:/pub', false),
    files: { transferred: 3, skipped: 0, excluded: 0, deleted: 0, failed: 0, unchanged: 7 },
    bytes: { transferred: 1024 },
    modes: { fxp: 3 },
    durationMs: 1500,
    ...over,
  };
}

test('in sync: exit 0 and no line at all (-q says nothing on success)', () => {
  const o = outcomeOfSummary(name, summary());
  assert.equal(o.code, EXIT.OK);
  assert.equal(failureLine(o, 'nightly'), undefined);
});

test('partial: exit 1 and one line with the counts and the first problem', () => {
  const failed = summary({ files: { transferred: 2, skipped: 0, excluded: 0, deleted: 0, failed: 1, unchanged: 0 }, failures: [{ path: 'iso/x.iso', code: 'EFTPREPLY', message: 'STOR x: 552 Disk full\nsecond line' }] });
  const o = outcomeOfSummary(name, failed);
  assert.equal(o.code, EXIT.PARTIAL);
  assert.equal(failureLine(o, 'nightly'), 'nightly: eu:/pub: partial: 2 transferred (1.0 KiB), 0 deleted, 1 failed in 1.5 s; iso/x.iso: STOR x: 552 Disk full second line');
  const unsynced = outcomeOfSummary(name, summary({ unsynced: [{ path: 'secret', side: 'source', reason: '550 Permission denied' }] }));
  assert.match(failureLine(unsynced)!, /^eu:\/pub: partial: .*, 1 unsynced in 1\.5 s; secret\/: source listing failed: 550 Permission denied$/);
  const limited = outcomeOfSummary(name, summary({ deleteLimit: { planned: 30, limit: '10' } }));
  assert.match(failureLine(limited)!, /deletions stopped by --max-delete 10 \(30 planned\)/);
  const unusable = outcomeOfSummary(name, summary({ unusable: [{ dir: 'a', name: '../x', side: 'source', reason: 'contains "/"' }] }));
  assert.equal(unusable.code, EXIT.PARTIAL);
  assert.equal(failureLine(unusable), 'eu:/pub: partial: 3 transferred (1.0 KiB), 0 deleted, 0 failed, 1 unusable in 1.5 s; a/: source name "../x" is unusable: contains "/"');
});

test('a target that could not be synced: its error decides the code; locked reads "locked"', () => {
  const down = outcomeOfError(name, new FtpError('ECONNECT', 'eu: cannot connect to 10.0.0.1:21: connection refused'));
  assert.equal(down.code, EXIT.CONNECT);
  assert.equal(failureLine(down, 'nightly'), 'nightly: eu:/pub: failed: eu: cannot connect to 10.0.0.1:21: connection refused');
  const locked = outcomeOfError(name, new LockHeldError('eu:/pub', 42, new Date('2024-01-01T00:00:00Z'), { job: 'other', target: 'eu:/pub' }));
  assert.equal(locked.code, EXIT.LOCKED);
  assert.equal(failureLine(locked, 'nightly'), "nightly: eu:/pub: locked: eu:/pub is locked by job 'other' (eu:/pub), pid 42, running since 2024-01-01T00:00:00.000Z");
  const refused = outcomeOfSummary(name, summary({ error: { code: 'EFTPREPLY', message: 'MKD /pub: 550 Permission denied' } }));
  assert.equal(refused.code, EXIT.REMOTE);
  assert.equal(summaryExit(refused.summary!), EXIT.REMOTE);
  assert.equal(failureLine(refused), 'eu:/pub: failed: MKD /pub: 550 Permission denied');
});

test('lines printed outside the logger are redacted too', () => {
  addSecret('Hunter2-Secret');
  const o = outcomeOfError(name, new Error('login as ftp://u:Hunter2-Secret@h/ refused (Hunter2-Secret)'));
  assert.ok(!failureLine(o)!.includes('Hunter2'), failureLine(o));
});

test('error codes to exit codes: one table, typed errors and summary codes alike', () => {
  assert.equal(exitCodeForCode('ELOCKED'), EXIT.LOCKED);
  assert.equal(exitCodeForCode('EREMOTELOCKED'), EXIT.LOCKED);
  assert.equal(exitCodeForCode('ETIMEOUT'), EXIT.CONNECT);
  assert.equal(exitCodeForCode('EFTPREPLY'), EXIT.REMOTE);
  assert.equal(exitCodeForCode('EFXPREFUSED'), EXIT.FXP_REFUSED);
  assert.equal(exitCodeForCode('EPATH'), EXIT.USAGE);
  assert.equal(exitCodeForCode('ELIMIT'), EXIT.REMOTE);
  assert.equal(exitCodeForCode('EJOBFILE'), EXIT.INTERNAL);
  assert.equal(exitCodeForCode('EINTERNAL'), EXIT.INTERNAL);
  assert.equal(exitCodeFor(new FtpReplyError(550, 'CWD /x', ['550 No such directory'])), EXIT.REMOTE);
  assert.equal(exitCodeFor(new FtpError('EABORTED', 'stopped')), EXIT.PARTIAL);
  assert.equal(exitCodeFor(new TypeError('bug')), EXIT.INTERNAL);
});
