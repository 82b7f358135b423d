import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { deadOnThisHost, processStartTicks, thisProcess, type ProcessIdentity } from '../../src/job/host.js';
import { ownerText, parseOwner } from '../../src/job/remote-lock.js';

const HERE: ProcessIdentity = { host: 'mirror1', bootId: '6f1e8c2a-0b7d-4c55-9a43-2d8f1b0c9e11', pid: 100, start: 5000 };

test('the owner file: a line for people, then the identity a run on the same host checks', () => {
  const text = ownerText({ ...HERE, pid: 4242, start: 777 }, new Date('2024-06-01T02:30:00Z'));
  assert.equal(text, 'mirror1 pid 4242 since 2024-06-01T02:30:00.000Z\nboot 6f1e8c2a-0b7d-4c55-9a43-2d8f1b0c9e11 start 777\n');
  assert.deepEqual(parseOwner(text), { shown: 'mirror1 pid 4242 since 2024-06-01T02:30:00.000Z', holder: { host: 'mirror1', pid: 4242, bootId: HERE.bootId, start: 777 } });
  // Written by an older fxpmirror (one line): a holder without an identity, judged by its age.
  assert.deepEqual(parseOwner('otherhost pid 4242 since 2020-01-01T00:00:00.000Z\n'), {
    shown: 'otherhost pid 4242 since 2020-01-01T00:00:00.000Z',
    holder: { host: 'otherhost', pid: 4242, bootId: undefined, start: undefined },
  });
  // Anything else (empty: written half, or not ours) has no holder.
  assert.deepEqual(parseOwner(''), { shown: '' });
  assert.deepEqual(parseOwner('garbage\x1b[2J'), { shown: 'garbage\x1b[2J' });
  // Without a boot id (not Linux) no identity line is written.
  assert.equal(ownerText({ host: 'h', pid: 1 }, new Date(0)), 'h pid 1 since 1970-01-01T00:00:00.000Z\n');
});

test('a holder is dead only when it ran on this host since this boot and its process is gone', () => {
  const startOf = (pids: Record<number, number>) => (pid: number) => pids[pid];
  const holder = { ...HERE, pid: 42, start: 900 };
  assert.equal(deadOnThisHost(holder, HERE, startOf({})), true, 'pid gone');
  assert.equal(deadOnThisHost(holder, HERE, startOf({ 42: 1234 })), true, 'pid reused by a later process');
  assert.equal(deadOnThisHost(holder, HERE, startOf({ 42: 900 })), false, 'alive');
  assert.equal(deadOnThisHost({ ...holder, host: 'mirror2' }, HERE, startOf({})), false, 'another host');
  assert.equal(deadOnThisHost({ ...holder, bootId: '00000000-0000-0000-0000-000000000000' }, HERE, startOf({})), false, 'before a reboot, or another machine of the same name: its ttl decides');
  assert.equal(deadOnThisHost({ ...holder, bootId: undefined, start: undefined }, HERE, startOf({})), false, 'no identity recorded');
});

test('this process and a finished one, from /proc', () => {
  const me = thisProcess();
  assert.equal(me.pid, process.pid);
  assert.match(me.bootId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(typeof me.start, 'number');
  assert.equal(processStartTicks(process.pid), me.start);
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  assert.equal(deadOnThisHost({ ...me, pid: gone, start: me.start }, me), true);
  assert.equal(deadOnThisHost(me, me), false);
  assert.equal(processStartTicks(-1), undefined);
});
