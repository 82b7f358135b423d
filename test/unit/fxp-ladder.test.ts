/**
 * The FXP engine's ladder against scripted servers that answer as real ones
 * do: refusals in other words (ftp-srv, GNU inetutils), pure-ftpd's silent
 * refusal, the 425 races (vsftpd's and pyftpdlib's), pyftpdlib's late PORT
 * reply; relay only when every FXP rung was refused, and then reported per
 * file; transient faults never move the ladder; a full disk, a short file.
 * Each test checks the bytes that landed in the destination's tree, the
 * commands the servers received, and the engine's events.
 * Addresses 127.0.82.x, ephemeral ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { isDiskFull, isTransient } from '../../src/ftp/errors.js';
import { FxpForceError } from '../../src/fxp/engine.js';
import { EXIT, exitCodeFor } from '../../src/cli/exit.js';
import { withPair, type CommandContext, type Handler } from '../support/index.js';

const HOSTS: [string, string] = ['127.0.82.1', '127.0.82.2'];
const DATA = Buffer.from(Array.from({ length: 150_000 }, (_, i) => i % 251));
const FILES = { '/out/a.bin': DATA, '/out/b.bin': DATA.subarray(0, 70_000) };

/** Whether this session's pending data connection was set up by PASV/EPSV (this server is the passive side). */
function passiveNow(ctx: CommandContext): boolean {
  const last = [...ctx.session.commands].reverse().find((c) => /^(PASV|EPSV|PORT|EPRT)\b/i.test(c)) ?? '';
  return /^E?PASV|^EPSV/i.test(last);
}

/**
 * RETR as a server that checks its passive data connections: one from
 * another address than the control connection's peer (the other server, in
 * FXP) gets `words` and is dropped; the client's own (relay) is served.
 */
function refuseForeign(words: string): Handler {
  return async (ctx) => {
    if (!passiveNow(ctx)) return ctx.fallback();
    const data = ctx.server.tree.read(ctx.session.resolve(ctx.arg))!;
    ctx.reply('150 Opening data connection.');
    const s = await ctx.session.data.open(ctx.line);
    if (s.remoteAddress !== ctx.session.remoteAddress) {
      s.destroy();
      return words;
    }
    await new Promise((r) => s.end(data, () => r(undefined)));
    return '226 Transfer complete.';
  };
}

test('ftp-srv\'s "550 Remote addresses do not match" is a refusal: fxp-reversed, remembered for the pair', async () => {
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: refuseForeign('550 Remote addresses do not match') } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    assert.equal((await p.copy('b.bin')).mode, 'fxp-reversed');
    assert.deepEqual(p.of('fallback').map((e) => [e.mode, e.message]), [['fxp', `${p.src.clientOptions().name} refused RETR: 550 Remote addresses do not match`]]);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(FILES['/out/b.bin']));
    assert.deepEqual(p.landed, ['/in/a.bin', '/in/b.bin']);
    assert.deepEqual(p.of('relayed'), []);
  });
});

test('refused in other words on both sides: --fxp force exits 4 (EFXPREFUSED); auto relays, reported for every file', async () => {
  const src = { files: FILES, handlers: { RETR: refuseForeign('550 Remote addresses do not match'), PORT: '500 The given address is not yours' } };
  await withPair(HOSTS, { src, policy: { fxp: 'force' } }, async (p) => {
    const err = await p.copy('a.bin').catch((e: unknown) => e);
    assert.ok(err instanceof FxpForceError, String(err));
    assert.equal(err.code, 'EFXPREFUSED');
    assert.equal(exitCodeFor(err), EXIT.FXP_REFUSED);
    assert.match(err.message, /refused RETR: 550 Remote addresses do not match; .* refused PORT: 500 The given address is not yours/);
    assert.deepEqual(p.landed, [], 'nothing under a final name, no part file');
  });
  await withPair(HOSTS, { src, dst: { handlers: { PORT: '500 Illegal PORT Command' } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'relay');
    const second = await p.copy('b.bin');
    assert.equal(second.mode, 'relay');
    assert.equal(second.relayedBytes, 70_000);
    assert.deepEqual(p.of('fallback').map((e) => e.mode), ['fxp', 'fxp-reversed'], 'refused rungs are not tried again');
    assert.deepEqual(p.of('relayed').map((e) => [e.path, e.bytes]), [['a.bin', 150_000], ['b.bin', 70_000]]);
    assert.match(p.of('relayed')[0].message!, /^FXP refused: .*Illegal PORT Command.*The given address is not yours/);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test("GNU inetutils' \"500 Illegal PORT Command\" on the active destination: the source is made active instead", async () => {
  await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { PORT: '500 Illegal PORT Command' } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    assert.deepEqual(p.dst.sent('PORT', 'PASV'), ['PORT ' + p.dst.sent('PORT')[0].slice(5), 'PASV']);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test("pure-ftpd's silence (the data connection dropped, no reply) is a refusal; the same silence after data flowed is transient", async () => {
  const silent: Handler = async (ctx) => {
    if (!passiveNow(ctx)) return ctx.fallback();
    (await ctx.session.data.open(ctx.line)).destroy();
    await new Promise(() => undefined); // never answers
  };
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: silent } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    assert.match(p.of('fallback')[0].message!, /refused RETR: no reply to RETR within 600 ms after 127\.0\.82\.2:\d+ finished$/);
  });
  // All the bytes sent, then no 226: a stall at the end, retried in the same mode.
  let calls = 0;
  const quietAfterData: Handler = async (ctx) => {
    if (++calls > 1) return ctx.fallback();
    ctx.reply('150 Here it comes.');
    const s = await ctx.session.data.open(ctx.line);
    s.end(ctx.server.tree.read(ctx.arg)!);
    await new Promise(() => undefined);
  };
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: quietAfterData } } }, async (p) => {
    const err = await p.copy('a.bin').catch((e: unknown) => e);
    assert.ok(isTransient(err), String(err));
    assert.match(String(err), /no reply to RETR within 600 ms after .* finished/);
    assert.deepEqual(p.landed, [], 'the part file is deleted, nothing published');
    assert.equal((await p.copy('a.bin')).mode, 'fxp', 'the mode is not banned');
    assert.deepEqual(p.of('fallback'), []);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test("vsftpd's 425 races the active side's own error: the passive side is blamed, the reversed layout works", async () => {
  const badIp: Handler = async (ctx) => {
    if (!passiveNow(ctx)) return ctx.fallback();
    (await ctx.session.data.open(ctx.line)).resetAndDestroy();
    return '425 Security: Bad IP connecting.';
  };
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: badIp } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    const [f] = p.of('fallback');
    assert.equal(f.message, `${p.src.clientOptions().name} refused RETR: 425 Security: Bad IP connecting.`);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test("pyftpdlib's 425 before it reads RETR (RETR stays queued): the source connection is replaced, the file arrives once", async () => {
  // Passive source whose listener answers a foreign connection with an
  // unsolicited 425 on the control connection, then serves RETR with a 150
  // that nothing follows (it waits for the next data connection).
  const early425: Handler = async (ctx) => {
    const server = net.createServer((sock) => {
      ctx.write(`425 Rejected data connection from foreign address ${sock.remoteAddress}:${sock.remotePort}.\r\n`);
      sock.destroy();
      server.close();
    });
    await new Promise<void>((r) => server.listen(0, ctx.session.localAddress, r));
    const port = (server.address() as net.AddressInfo).port;
    return `227 Entering passive mode (${ctx.session.localAddress.split('.').join(',')},${port >> 8},${port & 255}).`;
  };
  const queuedRetr: Handler = (ctx) => (passiveNow(ctx) ? '150 File status okay. About to open data connection.' : ctx.fallback());
  await withPair(HOSTS, { src: { files: FILES, handlers: { PASV: early425, RETR: queuedRetr } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    assert.match(p.of('fallback')[0].message!, /refused RETR: 425 Rejected data connection from foreign address/);
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    // The reversed transfer ran on a new source session: the old one had a RETR pending.
    assert.equal(p.src.sessions.filter((s) => s.commands.some((c) => c.startsWith('RETR'))).length, 2);
  });
});

test('late PORT replies (pyftpdlib answers PORT once its data connection is up): replies stay paired, PORT is not pipelined with STOR', async () => {
  const latePort: Handler = async (ctx) => {
    const n = ctx.arg.split(',').map(Number);
    await new Promise((r) => setTimeout(r, 150));
    await ctx.session.data.connectNow(n.slice(0, 4).join('.'), n[4] * 256 + n[5]);
    return '200 Active data connection established.';
  };
  for (const greeting of ['220 pyftpdlib 1.5.7 ready.', '220 some FTP server']) {
    await withPair(HOSTS, { src: { files: FILES }, dst: { greeting, handlers: { PORT: latePort } } }, async (p) => {
      assert.equal((await p.copy('a.bin', { more: true })).mode, 'fxp');
      assert.equal((await p.copy('b.bin')).mode, 'fxp');
      assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA), greeting);
      assert.ok(p.dst.tree.read('/in/b.bin')?.equals(FILES['/out/b.bin']), greeting);
      // The destination saw PORT, then STOR, on one session, each file.
      assert.deepEqual(p.dst.sent('PORT', 'STOR').map((c) => c.split(' ')[0]), ['PORT', 'STOR', 'PORT', 'STOR']);
      assert.deepEqual(p.of('fallback'), []);
    });
  }
});

test('a data connection reset mid-transfer is transient: no fallback, no relay, the mode is kept; the retry completes', async () => {
  let first = true;
  const resetOnce: Handler = async (ctx) => {
    if (first) {
      first = false;
      setTimeout(() => ctx.session.data.resetSockets(), 250);
    }
    return ctx.fallback();
  };
  await withPair(HOSTS, { src: { files: FILES, dataRate: 200_000, handlers: { RETR: resetOnce } } }, async (p) => {
    const err = await p.copy('a.bin').catch((e: unknown) => e);
    assert.ok(isTransient(err), String(err));
    assert.doesNotMatch(String(err), /\n/, 'one line');
    assert.deepEqual(p.landed, [], 'no partial file under any name');
    assert.deepEqual([p.of('fallback'), p.of('relayed')], [[], []]);
    assert.equal((await p.copy('a.bin')).mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test('a full destination (452) fails with EFULL at once: no retry class, no fallback, no part file', async () => {
  for (const fxp of ['auto', 'never'] as const) {
    await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { STOR: '452 Transfer aborted. No space left on device' } }, policy: { fxp } }, async (p) => {
      const err = await p.copy('a.bin').catch((e: unknown) => e);
      assert.ok(isDiskFull(err), String(err));
      assert.equal((err as { code?: string }).code, 'EFULL');
      assert.equal(isTransient(err), false);
      assert.match(String(err), new RegExp(`${p.dst.clientOptions().name}: .*452 Transfer aborted. No space left on device`));
      assert.deepEqual([p.of('fallback'), p.of('relayed')], [[], []], fxp);
      assert.deepEqual(p.landed, []);
    });
  }
});

test('a disk that fills mid-transfer, in the words of vsftpd and pure-ftpd (451, all lines kept), is a full destination, even when the source reports its 426 first', async () => {
  const writeError =
    (words: string[]): Handler =>
    async (ctx) => {
      ctx.reply('150 Accepted data connection');
      const s = await ctx.session.data.open(ctx.line);
      // Some bytes land, then the write fails: the data connection closes
      // first (the source answers 426 for it), the 451 follows.
      await new Promise<void>((r) => s.on('data', () => r()));
      s.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 100));
      return words;
    };
  const pure = ['451-Error during write to file', '451-Transfer aborted', '451 0.002 seconds (measured here), 85.73 Mbytes per second'];
  for (const [words, text] of [
    [pure, /451-Error during write to file \/ 451-Transfer aborted \/ 451 0\.002 seconds/],
    [['451 Failure writing to local file.'], /451 Failure writing to local file\.$/],
  ] as const) {
    for (const fxp of ['auto', 'never'] as const) {
      await withPair(HOSTS, { src: { files: FILES, dataRate: 300_000 }, dst: { handlers: { STOR: writeError([...words]) } }, policy: { fxp } }, async (p) => {
        const err = await p.copy('a.bin').catch((e: unknown) => e);
        assert.ok(isDiskFull(err), `${fxp}: ${String(err)}`);
        assert.equal((err as { code?: string }).code, 'EFULL');
        assert.match(String(err), text);
        assert.deepEqual(p.landed, [], 'no part file, nothing under the final name');
        assert.deepEqual([p.of('fallback'), p.of('relayed')], [[], []], fxp);
      });
    }
  }
});

test('a short file is sent again, never published', async () => {
  let short = true;
  const truncating: Handler = async (ctx) => {
    await ctx.fallback();
    const p = ctx.session.resolve(ctx.arg);
    if (short) ctx.server.tree.put(p, ctx.server.tree.read(p)!.subarray(0, 1000));
    short = false;
  };
  await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { STOR: truncating } } }, async (p) => {
    const err = await p.copy('a.bin').catch((e: unknown) => e);
    assert.ok(isTransient(err), String(err));
    assert.match(String(err), /size after transfer is 1000, expected 150000/);
    assert.deepEqual(p.landed, []);
    assert.equal((await p.copy('a.bin')).mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
});

test('the two final replies in either order, and a destination that marks only once the source connected', async () => {
  const sleepThen = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Serve RETR (or take STOR), then answer 226 only `lateMs` after the data connection ended. */
  const late = (lateMs: number, stor: boolean): Handler => async (ctx) => {
    if (!stor) ctx.reply('150 Opening data connection.');
    const s = await ctx.session.data.open(ctx.line);
    if (stor) {
      ctx.reply('150 Ok to send data.'); // marks only after accepting, as vsftpd/proftpd/pure-ftpd do when passive
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((r) => s.once('end', r));
      ctx.server.tree.put(ctx.session.resolve(ctx.arg), Buffer.concat(chunks));
    } else await new Promise((r) => s.end(ctx.server.tree.read(ctx.arg)!, () => r(undefined)));
    await sleepThen(lateMs);
    return '226 Transfer complete.';
  };
  // The source's 226 long after the destination's; then the other way round (passive destination).
  await withPair(HOSTS, { src: { files: FILES, handlers: { RETR: late(300, false) } } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
  });
  await withPair(HOSTS, { src: { files: FILES }, dst: { handlers: { STOR: late(300, true) } }, policy: { passive: 'destination' } }, async (p) => {
    assert.equal((await p.copy('a.bin')).mode, 'fxp-reversed');
    assert.equal((await p.copy('b.bin')).mode, 'fxp-reversed');
    assert.ok(p.dst.tree.read('/in/a.bin')?.equals(DATA));
    assert.ok(p.dst.tree.read('/in/b.bin')?.equals(FILES['/out/b.bin']));
  });
});
