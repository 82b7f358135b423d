/** pyftpdlib 1.5.7 (Debian): test/lab/pyftpd.py, run as the lab user. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, PYFTPD_SCRIPT } from '../env.js';
import { LAB_PASSWORD, LAB_USER } from '../kinds.js';
import type { Generated, Instance } from './instance.js';

export function pyftpdlibConfig(inst: Instance): Generated {
  // Copied so the lab user can read it even when the repo is not world-readable.
  const script = path.join(inst.dir, 'pyftpd.py');
  fs.copyFileSync(PYFTPD_SCRIPT, script);
  fs.chmodSync(script, 0o644);
  const log = path.join(inst.dir, 'pyftpdlib.log');
  fs.writeFileSync(log, '');
  fs.chownSync(log, inst.user.uid, inst.user.gid);
  const args = [
    `--reuid=${inst.user.uid}`, `--regid=${inst.user.gid}`, '--init-groups',
    BIN.python, script,
    '--address', inst.address, '--port', String(inst.port),
    '--root', inst.root, '--user', LAB_USER, '--password', LAB_PASSWORD,
    '--passive-min', String(inst.pasvMin), '--passive-max', String(inst.pasvMax),
    '--foreign', inst.profile === 'fxp' ? 'yes' : 'no',
    '--max-per-ip', String(inst.maxPerIp ?? 0),
    '--log', log, '--log-max-bytes', String(8 * 1024 * 1024),
  ];
  if (inst.rateLimit !== undefined) args.push('--rate', String(inst.rateLimit));
  if (inst.tls) args.push('--cert', inst.tls.cert, '--key', inst.tls.key);
  return { command: BIN.setpriv, args, logFile: log, extraLogs: [] };
}
