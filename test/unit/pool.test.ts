import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTooManyConnections } from '../../src/ftp/pool.js';
import { FtpReplyError, FtpLoginError, FtpConnectError } from '../../src/ftp/errors.js';

test('"too many connections" in the shapes servers send it', () => {
  assert.ok(isTooManyConnections(new FtpReplyError(421, 'greeting', ['421 There are too many connections from your internet address.'])));
  assert.ok(isTooManyConnections(new FtpReplyError(421, 'greeting', ['421 10 users (the maximum) are already logged in, sorry'])));
  assert.ok(isTooManyConnections(new FtpLoginError('x: login refused for user "ftptest": 530 Sorry, the maximum number of clients (2) for this host already connected')));
  assert.ok(!isTooManyConnections(new FtpLoginError('x: login refused for user "ftptest": 530 Login incorrect.')));
  assert.ok(!isTooManyConnections(new FtpReplyError(550, 'RETR x', ['550 No such file'])));
  assert.ok(!isTooManyConnections(new FtpConnectError('refused')));
});
