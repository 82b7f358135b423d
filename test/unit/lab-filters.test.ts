/**
 * The pure parts of the lab's fault helpers and configuration: the ss filter
 * that resets data connections (never a control connection) and the
 * throttle's KiB conversion. The helpers themselves run against real
 * servers in test/integration/lab-faults.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resetFilter } from '../lab/faults/connections.js';
import { kibPerSec, passiveRange } from '../lab/config/instance.js';
import type { LabServer } from '../lab/kinds.js';

const server = (host: string, port: number) => ({ host, port }) as LabServer;

test('resetFilter: both directions between two addresses', () => {
  assert.equal(
    resetFilter('127.0.0.1', '127.0.5.30').join(' '),
    '( ( src 127.0.0.1 and dst 127.0.5.30 ) or ( src 127.0.5.30 and dst 127.0.0.1 ) )',
  );
});

test('resetFilter: spares each server control connection by address and port', () => {
  // proftpd sends active data from its control port - 1, which may be another server's control port:
  // the exclusion names the address with the port, never the port alone.
  assert.equal(
    resetFilter(server('127.0.5.30', 5130), server('127.0.5.31', 5131)).join(' '),
    '( ( src 127.0.5.30 and dst 127.0.5.31 ) or ( src 127.0.5.31 and dst 127.0.5.30 ) )' +
      ' and not src 127.0.5.30:5130 and not dst 127.0.5.30:5130 and not src 127.0.5.31:5131 and not dst 127.0.5.31:5131',
  );
  assert.doesNotMatch(resetFilter(server('127.0.5.30', 5130), '127.0.0.1', { includeControl: true }).join(' '), /not/);
});

test('resetFilter: only IPv4 addresses', () => {
  assert.throws(() => resetFilter('127.0.0.1', 'example.org'), /IPv4 address expected/);
  assert.throws(() => resetFilter('127.0.0.1; reboot', '127.0.0.2'), /IPv4 address expected/);
});

test('kibPerSec: bytes/s to KiB/s with three decimals (proftpd TransferRate takes fractions)', () => {
  assert.equal(kibPerSec(200_000), 195.313);
  assert.equal(kibPerSec(1024), 1);
});

test('passiveRange: disjoint per address and per port modulo 4', () => {
  assert.deepEqual(passiveRange('127.0.5.30', 5130), [20000 + 0 * 400 + 2 * 100, 20299]);
  assert.notDeepEqual(passiveRange('127.0.5.30', 5130), passiveRange('127.0.5.31', 5131));
});
