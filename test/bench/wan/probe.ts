/**
 * Run by the bench inside a WAN namespace (net.ts: probe()):
 *
 *   node probe.js ADDRESS:PORT ...
 *
 * For each FTP server: the time the TCP handshake takes (one round trip on
 * the emulated link; the fastest of three connections, as the first one in a
 * process also pays for warming up) and the greeting; QUIT; one JSON line each.
 * Exit 1 with a one-line reason when a server cannot be reached.
 */
import * as net from 'node:net';

function probeOne(target: string): Promise<{ target: string; connectMs: number; greeting: string }> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i);
  const port = Number(target.slice(i + 1));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let connectMs = NaN;
    let buf = '';
    const sock = net.connect({ host, port });
    sock.setTimeout(10_000, () => sock.destroy(new Error(`${target}: no greeting within 10 s`)));
    sock.once('connect', () => (connectMs = performance.now() - t0));
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const line = /^\d{3} [^\r\n]*\r?\n/m.exec(buf);
      if (!line) return;
      sock.end('QUIT\r\n');
      sock.removeAllListeners('data');
      sock.resume();
      resolve({ target, connectMs, greeting: line[0].trim().slice(0, 120) });
    });
    sock.on('error', (err) => reject(new Error(`${target}: ${err.message}`)));
  });
}

async function main(): Promise<void> {
  for (const t of process.argv.slice(2)) {
    const tries = [await probeOne(t), await probeOne(t), await probeOne(t)];
    const fastest = tries.reduce((a, b) => (b.connectMs < a.connectMs ? b : a));
    process.stdout.write(JSON.stringify(fastest) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`probe: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
