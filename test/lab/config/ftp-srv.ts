/** ftp-srv 4.6 (npm devDependency), run by test/lab/ftp-srv-main.ts (see there for its rules). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FTP_SRV_SCRIPT } from '../env.js';
import { LAB_PASSWORD, LAB_USER } from '../kinds.js';
import { unsupported, type Generated, type Instance } from './instance.js';

export function ftpSrvConfig(inst: Instance): Generated {
  const bad = unsupported(inst, { tls: true, maxPerIp: true, fxp: true });
  if (bad) throw new Error(bad);
  const log = path.join(inst.dir, 'ftp-srv.log');
  fs.writeFileSync(log, '');
  const args = [
    FTP_SRV_SCRIPT,
    '--address', inst.address, '--port', String(inst.port),
    '--root', inst.root, '--user', LAB_USER, '--password', LAB_PASSWORD,
    '--uid', String(inst.user.uid), '--gid', String(inst.user.gid),
    '--pasv-min', String(inst.pasvMin), '--pasv-max', String(inst.pasvMax),
    // The instance directory in the command line: how the lab finds the process again (processes.ts).
    '--log', log,
  ];
  if (inst.rateLimit !== undefined) args.push('--rate', String(inst.rateLimit));
  return { command: process.execPath, args, logFile: log, extraLogs: [] };
}
