/**
 * GNU inetutils ftpd 2.4 (Debian's inetutils-ftpd, unpacked: it provides
 * ftp-server and conflicts with vsftpd in apt).
 *
 * It is an inetd-style server: socat listens and, for each connection,
 * execs ftpd with the socket as its stdin/stdout (`nofork`), so ftpd sees
 * the real peer address and its PORT check works.
 *
 * Its root: ftpd chroots the users listed in /etc/ftpchroot (install.sh
 * lists the lab user) into their home directory from /etc/passwd. Every
 * instance runs in a private mount namespace (unshare) in which its root is
 * bind-mounted over the lab user's home, so each instance serves its own
 * directory as "/" and nothing outside the namespace changes. LIST works in
 * the chroot: ftpd lists with a built-in ls, not /bin/ls.
 *
 * What it does not have, and so what the lab sees: no MLSD/MLST, no MFMT,
 * no SITE UTIME and no MDTM with a time argument (no way to set an mtime);
 * no passive port range (PASV ports are ephemeral); no TLS, no throttle, no
 * per-address cap; a PORT to a foreign address gets `500 Illegal PORT
 * Command`. Logging goes to syslog only, and this machine has no /dev/log:
 * its log file is socat's messages on stderr.
 */
import * as path from 'node:path';
import { BIN } from '../env.js';
import { unsupported, type Generated, type Instance } from './instance.js';

export function inetutilsConfig(inst: Instance): Generated {
  const bad = unsupported(inst, { tls: true, maxPerIp: true, rateLimit: true, fxp: true });
  if (bad) throw new Error(bad);
  const stdio = path.join(inst.dir, 'stdio.log');
  // $1 root, $2 home, $3 socat's log, $4 ftpd: positional parameters, so no path is parsed
  // by the shell. -a default: passwd/shadow authentication (Debian's PAM service "ftp" is
  // not installed); -u 022 as the other lab servers. socat's own log (-lf) names the
  // instance directory: that is how the lab finds its processes again after the listener
  // died (see processes.ts).
  const script = [
    'set -e',
    'mount --bind "$1" "$2"',
    `exec ${BIN.socat} -lf "$3" TCP-LISTEN:${inst.port},bind=${inst.address},reuseaddr,fork,backlog=64 "EXEC:$4 -a default -l -u 022,nofork"`,
  ].join('\n');
  const socatLog = path.join(inst.dir, 'socat.log');
  return {
    command: BIN.unshare,
    args: ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'fxpmirror-lab-inetutils', inst.root, inst.user.home, socatLog, BIN.inetutilsFtpd],
    logFile: stdio,
    extraLogs: [socatLog],
  };
}
