/** The cli layer's one mapping from typed errors to exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeFor, EXIT } from '../../src/cli/exit.js';
import { FtpConnectError, FtpReplyError, FxpRefusedError, FtpUrlError, FtpLoginError, FtpBadReplyError, FtpProtocolError, CredentialError, FtpDiskFullError } from '../../src/ftp/errors.js';

test('exit codes: one mapping from typed errors', () => {
  assert.equal(exitCodeFor(new FtpConnectError('x')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new FtpLoginError('x')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new FxpRefusedError('a', 'PORT', '500')), EXIT.FXP_REFUSED);
  assert.equal(exitCodeFor(new FtpReplyError(550, 'RETR x', ['550 No such file'])), EXIT.REMOTE);
  assert.equal(exitCodeFor(new FtpUrlError('bad')), EXIT.USAGE);
  assert.equal(exitCodeFor(Object.assign(new Error('held'), { code: 'ELOCKED' })), EXIT.LOCKED);
  assert.equal(exitCodeFor(new TypeError('bug')), EXIT.INTERNAL);
  // A server that stops speaking FTP fails the connection; a credential that cannot be sent is a usage error.
  assert.equal(exitCodeFor(new FtpBadReplyError('garbage')), EXIT.CONNECT);
  assert.equal(exitCodeFor(new CredentialError('the value ends with a carriage return')), EXIT.USAGE);
  assert.equal(exitCodeFor(new FtpProtocolError('bad SIZE reply')), EXIT.REMOTE);
  // A full destination is the server refusing the operation.
  assert.equal(exitCodeFor(new FtpDiskFullError('dst: STOR x: 452 No space left on device')), EXIT.REMOTE);
});
