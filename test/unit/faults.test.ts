/**
 * The one judgement of a failed transfer (src/fxp/faults.ts), pure: refusal
 * or transient or full or permanent, for every known server's words; the
 * reply text with all its lines; the disk-full test; the size readings of a
 * growing part file (watch.ts); and probe's verdict drawn from the same classes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FtpAbortError,
  FtpClosedError,
  FtpDiskFullError,
  FtpProtocolError,
  FtpReplyError,
  FtpTimeoutError,
  FxpRefusedError,
  asDiskFull,
  isDiskFull,
  isTransient,
  replyText,
} from '../../src/ftp/errors.js';
import { FxpShortFileError, FxpStallError, classifyFault, dataFlowMatters, judgedError, type Fault } from '../../src/fxp/faults.js';
import { sizeFrom } from '../../src/fxp/watch.js';
import { verdict, type ProbeResult } from '../../src/fxp/probe.js';
import { EXIT, exitCodeFor } from '../../src/cli/exit.js';

const reply = (code: number, ...lines: string[]) => new FtpReplyError(code, 'X', lines.length ? lines : [`${code} x`]);
const at = (step: string, error: unknown, silent = false): Fault => ({ step, error, silent });

test('a negative reply to a command step is a refusal, in any words; 421 and lost connections are transient', () => {
  const refusals: [string, FtpReplyError][] = [
    ['PORT', reply(500, '500 Illegal PORT command.')], // vsftpd, proftpd
    ['PORT', reply(500, "500 I won't open a connection to 127.0.0.22 (only to 127.0.0.1)")], // pure-ftpd
    ['PORT', reply(501, '501 Rejected data connection to foreign address 127.0.0.22:2000.')], // pyftpdlib
    ['PORT', reply(500, '500 The given address is not yours')], // ftp-srv
    ['PORT', reply(500, '500 Illegal PORT Command')], // GNU inetutils ftpd
    ['EPRT', reply(522, '522 Network protocol not supported')],
    ['PASV', reply(502, '502 PASV not implemented')],
    ['EPSV', reply(500, '500 EPSV not understood')],
    ['CPSV', reply(500, '500 CPSV not understood')],
    ['SSCN', reply(500, '500 SSCN not understood')],
    ['PROT C', reply(536, '536 PROT C not accepted')],
    ['PRET', reply(550, '550 no slave')],
  ];
  for (const [step, err] of refusals) assert.equal(classifyFault(at(step, err), false), 'refusal', `${step}: ${err.message}`);
  assert.equal(classifyFault(at('PASV', new FtpProtocolError('cannot read PASV reply')), false), 'refusal');
  assert.equal(classifyFault(at('PORT', reply(421, '421 Timeout.')), false), 'transient');
  assert.equal(classifyFault(at('PORT', new FtpClosedError('reset')), false), 'transient');
  assert.equal(classifyFault(at('PASV', new FtpTimeoutError('no reply')), false), 'transient');
  assert.equal(classifyFault(at('SSCN', new TypeError('bug')), false), 'permanent');
});

test('on RETR/STOR before any data flowed: the known foreign-address texts, 425, 426 and silence are refusals', () => {
  const refusals = [
    reply(425, '425 Security: Bad IP connecting.'), // vsftpd
    reply(425, '425 Unable to build data connection: Permission denied'), // proftpd
    reply(425, '425 Rejected data connection from foreign address 127.0.0.21:40000.'), // pyftpdlib
    reply(550, '550 Remote addresses do not match'), // ftp-srv
    reply(425, "425 Can't open data connection."),
    reply(426, '426 Connection closed; transfer aborted.'),
  ];
  for (const err of refusals) for (const step of ['RETR', 'STOR']) assert.equal(classifyFault(at(step, err), false), 'refusal', `${step}: ${err.message}`);
  // pure-ftpd's refusal is silence: the other side finished, this one never answered.
  assert.equal(classifyFault(at('RETR', new FtpTimeoutError('no reply to RETR within 10 s after B finished'), true), false), 'refusal');
  assert.equal(classifyFault(at('data', new FxpStallError('no data', 'destination', 0), true), false), 'refusal');
});

test('after data flowed, the same faults are transient: resets, 4xx, silence, stalls', () => {
  for (const err of [reply(425, '425 Security: Bad IP connecting.'), reply(426, '426 Connection closed; transfer aborted.'), reply(451, '451 Requested action aborted: local error in processing')]) {
    assert.equal(classifyFault(at('STOR', err), true), 'transient', err.message);
  }
  assert.equal(classifyFault(at('RETR', new FtpClosedError('control connection closed by server')), true), 'transient');
  assert.equal(classifyFault(at('RETR', new FtpAbortError('cut')), true), 'transient');
  assert.equal(classifyFault(at('STOR', new FtpTimeoutError('no reply to STOR within 10 s after A finished'), true), true), 'transient');
  assert.equal(classifyFault(at('data', new FxpStallError('stalled', 'destination', 5), true), true), 'transient');
  // pure-ftpd as the active side from port 20: its own TIME_WAIT, not a refusal.
  assert.equal(classifyFault(at('RETR', reply(425, '425 Could not open data connection to port 40001: Cannot assign requested address')), false), 'transient');
  // A reset before any byte on the control connection is no refusal either.
  assert.equal(classifyFault(at('STOR', new FtpClosedError('reset')), false), 'transient');
});

test('the file itself refused is permanent; a full disk is its own class, never transient', () => {
  assert.equal(classifyFault(at('RETR', reply(550, '550 /x: No such file or directory.')), false), 'permanent');
  assert.equal(classifyFault(at('STOR', reply(553, '553 Could not create file.')), true), 'permanent');
  for (const err of [
    reply(452, '452 Transfer aborted. No space left on device'), // proftpd
    reply(552, '552 Requested file action aborted. Exceeded storage allocation'),
    reply(451, '451-Transfer aborted', '451 Disk quota exceeded'),
    reply(550, '550 Insufficient storage space'),
  ]) {
    assert.equal(isDiskFull(err), true, err.message);
    assert.equal(isTransient(err), false, err.message);
    for (const step of ['STOR', 'PORT']) assert.equal(classifyFault(at(step, err), true), 'full');
  }
  // A 451 to STOR that says the file could not be written: vsftpd, pure-ftpd, proftpd (midway), in their words.
  const stor = (code: number, ...lines: string[]) => new FtpReplyError(code, 'STOR /d/.f.fxpmirror-part', lines);
  const cannotWrite = [
    ['451 Failure writing to local file.'],
    ['451-Error during write to file', '451-Transfer aborted', '451 0.002 seconds (measured here), 85.73 Mbytes per second'],
    ['451 Transfer aborted. Input/output error'],
  ];
  for (const lines of cannotWrite) {
    const err = stor(451, ...lines);
    assert.equal(isDiskFull(err), true, err.message);
    assert.equal(isTransient(err), false, err.message);
    assert.equal(classifyFault(at('STOR', err), true), 'full');
    assert.equal(classifyFault(at('STOR', err), false), 'full');
    // The same words on another command, or a 451 to STOR that says something else, are not.
    assert.equal(isDiskFull(new FtpReplyError(451, 'RETR /d/f', lines)), false, lines[0]);
  }
  for (const err of [stor(451, '451 Append/Restart not permitted, try again'), stor(451, '451 Requested action aborted: local error in processing'), stor(426, '426 Failure reading network stream.')]) {
    assert.equal(isDiskFull(err), false, err.message);
    assert.equal(isTransient(err), true, err.message);
  }
  // ftp-srv says ENOSPC, with a 550; GNU inetutils answers 452 whatever the errno text.
  assert.equal(isDiskFull(stor(550, '550 ENOSPC: no space left on device, write')), true);
  assert.equal(isDiskFull(stor(452, '452 Error writing file: No such file or directory.')), true);
  // pyftpdlib 1.5.7 answers a failed write to its disk, and only that, with "426 None" (src/ftp/errors.ts
  // cites its source): full, before or after data flowed. Its other 426s to STOR, and "None" to RETR
  // (a failed read of its file), are not.
  const pyftpdlib = stor(426, '426 None; transfer aborted.');
  assert.equal(isDiskFull(pyftpdlib), true);
  assert.equal(isTransient(pyftpdlib), false);
  assert.equal(classifyFault(at('STOR', pyftpdlib), true), 'full');
  assert.equal(classifyFault(at('STOR', pyftpdlib), false), 'full');
  assert.equal(isDiskFull(new FtpReplyError(426, 'APPE /d/f', ['426 None; transfer aborted.'])), true);
  for (const err of [
    stor(426, '426 Internal error; transfer aborted.'),
    stor(426, '426 Transfer aborted via ABOR.'),
    stor(426, '426 Nonesuch; transfer aborted.'),
    new FtpReplyError(426, 'RETR /d/f', ['426 None; transfer aborted.']),
  ]) {
    assert.equal(isDiskFull(err), false, err.message);
    assert.equal(isTransient(err), true, err.message);
  }
  const full = asDiskFull(reply(452, '452 No space left on device'), 'dst:21');
  assert.ok(full instanceof FtpDiskFullError);
  assert.equal(full.code, 'EFULL');
  assert.match(full.message, /^dst:21: X: 452 No space left on device$/);
  assert.equal(exitCodeFor(full), EXIT.REMOTE);
  assert.equal(dataFlowMatters(at('STOR', full)), false);
  assert.equal(dataFlowMatters(at('PORT', reply(500))), false);
  assert.equal(dataFlowMatters(at('STOR', reply(425))), true);
});

test('judged errors: a refusal names the server and quotes the whole reply; a transient one stays retryable', () => {
  const r = judgedError(at('RETR', reply(550, '550 Remote addresses do not match')), 'refusal', 'src:21');
  assert.ok(r instanceof FxpRefusedError);
  assert.equal(r.message, 'src:21 refused RETR: 550 Remote addresses do not match');
  assert.equal(exitCodeFor(r), EXIT.FXP_REFUSED);
  const silent = judgedError(at('STOR', new FtpAbortError('cut'), true), 'transient', 'dst:21');
  assert.ok(isTransient(silent));
  assert.match((silent as Error).message, /^dst:21: cut$/);
  const reset = new FtpClosedError('dst:21: control connection closed by server');
  assert.equal(judgedError(at('STOR', reset), 'transient', 'dst:21'), reset);
  assert.ok(isTransient(new FxpShortFileError('short')));
});

test('multi-line replies keep every line in the message (the cause is on the NNN- lines)', () => {
  const err = new FtpReplyError(500, 'STOR /a', ['500-Unable to open file', '500-  (permission denied)', '500 End.']);
  assert.equal(err.message, 'STOR /a: 500-Unable to open file / 500-  (permission denied) / 500 End.');
  assert.equal(replyText(['226 Transfer complete.']), '226 Transfer complete.');
  assert.equal(replyText(['211-Features:', ' SIZE', '211 End']), '211-Features: / SIZE / 211 End');
  assert.match(replyText(Array.from({ length: 2000 }, () => '500-xxxxxxxxxx')), /…$/);
});

test('the size of a growing part file from SIZE, MLST and STAT replies', () => {
  const r = (code: number, ...lines: string[]) => ({ code, lines, message: lines.map((l) => l.slice(4)).join('\n') });
  assert.equal(sizeFrom('SIZE', r(213, '213 100000')), 100000);
  assert.equal(sizeFrom('SIZE', new FtpReplyError(550, 'SIZE x', ['550 x: No such file'])), undefined);
  assert.equal(sizeFrom('SIZE', new FtpReplyError(500, 'SIZE x', ['500 Unknown command.'])), 'unusable');
  assert.equal(sizeFrom('SIZE', new FtpClosedError('gone')), undefined);
  assert.equal(sizeFrom('SIZE', r(213, '213 lots')), 'unusable');
  // proftpd, pure-ftpd, pyftpdlib (vsftpd has no MLST)
  assert.equal(sizeFrom('MLST', r(250, '250-Begin', ' type=file;size=200000;modify=20261129220221; /.x.fxpmirror-part', '250 End.')), 200000);
  // vsftpd and pure-ftpd STAT <file>
  assert.equal(sizeFrom('STAT', r(213, '213-Status follows:', '-rw-r--r--    1 999      995        300000 Nov 29 22:00 .x.fxpmirror-part', '213 End of status')), 300000);
  assert.equal(sizeFrom('STAT', r(213, '213-STAT', '-rw-r--r--    1 999        ftptest        400000 Nov 29 22:02 /.x.fxpmirror-part', '213 End.')), 400000);
});

test("probe's verdict: relay only when every FXP mode was refused, never because of a transient failure", () => {
  const row = (mode: string, ok: boolean, fault?: ProbeResult['fault']): ProbeResult => ({ direction: 'A->B', mode: mode as ProbeResult['mode'], layout: '', ok, ms: 1, fault });
  assert.match(verdict([row('fxp', true), row('fxp-reversed', false, 'refusal'), row('relay', true)]), /^FXP works: A->B fxp$/);
  assert.equal(verdict([row('fxp', false, 'refusal'), row('fxp-reversed', false, 'refusal'), row('relay', true)]), 'No FXP mode works between these servers: fxpmirror will relay (unless --fxp force).');
  const mixed = verdict([row('fxp', false, 'refusal'), row('fxp-reversed', false, 'transient'), row('relay', true)]);
  assert.match(mixed, /^No FXP mode worked, but 1 did not fail by refusal \(A->B fxp-reversed: transient\)/);
  assert.doesNotMatch(mixed, /will relay/);
});
