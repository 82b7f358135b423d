/** pure-ftpd 1.0.50 from the unpacked .deb, with a puredb virtual user mapped to the lab user. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN } from '../env.js';
import { LAB_PASSWORD, LAB_USER } from '../kinds.js';
import { run } from '../processes.js';
import { kibPerSec, type Generated, type Instance } from './instance.js';

export async function pureFtpdConfig(inst: Instance): Promise<Generated> {
  const passwdFile = path.join(inst.dir, 'pureftpd.passwd');
  const pdb = path.join(inst.dir, 'pureftpd.pdb');
  // pure-pw's default (argon2id) hash costs ~3 s per login; a SHA-512 crypt
  // hash, which pure-ftpd verifies with crypt(3), costs milliseconds.
  const { stdout } = await run(BIN.openssl, ['passwd', '-6', '-stdin'], { input: LAB_PASSWORD + '\n' });
  const hash = stdout.trim();
  // user:hash:uid:gid:gecos:home + 12 empty limit fields; "/./" marks the chroot point.
  fs.writeFileSync(passwdFile, `${LAB_USER}:${hash}:${inst.user.uid}:${inst.user.gid}::${inst.root}/./${':'.repeat(12)}\n`, { mode: 0o600 });
  await run(BIN.purePw, ['mkdb', pdb, '-f', passwdFile]);
  const xfer = path.join(inst.dir, 'xfer.clf');
  const stdio = path.join(inst.dir, 'stdio.log');
  const args = [
    '-S', `${inst.address},${inst.port}`,
    '-l', `puredb:${pdb}`,
    '-E', // no anonymous
    '-H', // no DNS lookups
    '-A', // chroot everyone
    '-p', `${inst.pasvMin}:${inst.pasvMax}`,
    '-c', '64',
    '-O', `clf:${xfer}`,
  ];
  if (inst.maxPerIp !== undefined) args.push('-C', String(inst.maxPerIp));
  // -w: FXP for authenticated users. Without it: "500 I won't open a connection
  // to X (only to Y)" for PORT, and silence for a foreign passive connection.
  if (inst.profile === 'fxp') args.push('-w');
  // -T: KiB/s per session for authenticated users, both directions; whole numbers only.
  if (inst.rateLimit !== undefined) args.push('-T', String(Math.max(1, Math.round(kibPerSec(inst.rateLimit)))));
  if (inst.tls) args.push('-Y', '1', '-2', `${inst.tls.cert},${inst.tls.key}`);
  // pure-ftpd logs sessions only through syslog(3) and this machine has no
  // /dev/log, so its "log" is what it prints on stdout/stderr.
  return { command: BIN.pureFtpd, args, logFile: stdio, xferLog: xfer, extraLogs: [] };
}

