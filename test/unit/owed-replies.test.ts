/**
 * FxpState's owed replies (fxp/state.ts): what a transfer that must close a
 * connection waits for. A pipelined batch's last reply stands for its batch
 * and replaces earlier such replies (oweReply); anything else owed before
 * (a source's final reply: stor-with-pasv.ts) is still waited for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FtpConnection } from '../../src/ftp/connection.js';
import { FxpState } from '../../src/fxp/state.js';

function later(): { p: Promise<void>; settle(): void } {
  let settle!: () => void;
  const p = new Promise<void>((r) => (settle = r));
  return { p, settle };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

/** Whether `p` settled within a few turns. */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
  if (!p) return true;
  let done = false;
  void p.then(() => (done = true));
  await turns();
  return done;
}

test('oweReply: replies alone are owed by the latest; forgotten once it came', async () => {
  const fxp = new FxpState();
  const conn = {} as FtpConnection;
  assert.equal(fxp.owed(conn), undefined);
  const rnto = later();
  const size = later();
  fxp.oweReply(conn, rnto.p);
  fxp.oweReply(conn, size.p);
  assert.equal(await settled(fxp.owed(conn)), false);
  rnto.settle();
  size.settle();
  assert.equal(await settled(fxp.owed(conn)), true);
  assert.equal(fxp.owed(conn), undefined, 'forgotten once settled');
});

test('oweReply after owe: the earlier promise is still waited for (it is no reply read in order)', async () => {
  const fxp = new FxpState();
  const conn = {} as FtpConnection;
  const sourceEnd = later();
  const reply = later();
  fxp.owe(conn, sourceEnd.p);
  fxp.oweReply(conn, reply.p);
  reply.settle();
  assert.equal(await settled(fxp.owed(conn)), false, 'the source end is still owed');
  sourceEnd.settle();
  assert.equal(await settled(fxp.owed(conn)), true);
  // And a reply owed after that mix waits for the mix too.
  const a = later();
  const b = later();
  fxp.owe(conn, a.p);
  fxp.oweReply(conn, b.p);
  fxp.oweReply(conn, Promise.resolve());
  assert.equal(await settled(fxp.owed(conn)), false);
  a.settle();
  b.settle();
  assert.equal(await settled(fxp.owed(conn)), true);
});

test('owed replies are per connection', async () => {
  const fxp = new FxpState();
  const c1 = {} as FtpConnection;
  const c2 = {} as FtpConnection;
  const r = later();
  fxp.oweReply(c1, r.p);
  assert.equal(fxp.owed(c2), undefined);
  r.settle();
  assert.equal(await settled(fxp.owed(c1)), true);
});
