/** probe's advice (fxp layer): the setting that lets the refusing server take part. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advise } from '../../src/fxp/probe.js';

test('probe advice names the setting on the server that refused', () => {
  assert.equal(advise('vsftpd', 'active', 'PORT', '500 Illegal PORT command.'), 'vsftpd: port_promiscuous=YES');
  assert.equal(advise('vsftpd', 'passive', 'RETR', '425 Security: Bad IP connecting.'), 'vsftpd: pasv_promiscuous=YES');
  assert.match(advise('vsftpd', 'passive', 'STOR', '522 SSL connection failed: session reuse required')!, /require_ssl_reuse=NO/);
  assert.equal(advise('proftpd', 'active', 'PORT', '500 Illegal PORT command'), 'proftpd: AllowForeignAddress on');
  assert.match(advise('pure-ftpd', 'passive', 'RETR', 'no reply')!, /-w .*-W/);
  assert.match(advise('pyftpdlib', 'active', 'PORT', '501 Rejected')!, /permit_foreign_addresses = True/);
  assert.equal(advise('unknown', 'active', 'PORT', '500'), undefined);
});
