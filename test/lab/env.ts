/**
 * Where the lab's programs and state live, and whether a kind can run here.
 *
 * Preparing the machine (packages, unpacked servers, the ftptest user) is
 * test/lab/install.sh's job; labAvailable() says what is missing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_USER, type LabKind } from './kinds.js';

// dist/test/lab/env.js -> repo root; the same from test/lab/env.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = HERE.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(HERE, '../../..')
  : path.resolve(HERE, '../..');
const PKGS = path.join(REPO_ROOT, '.lab', 'pkgs');

export const BIN = {
  vsftpd: '/usr/sbin/vsftpd',
  proftpd: path.join(PKGS, 'proftpd-core/usr/sbin/proftpd'),
  proftpdModules: [path.join(PKGS, 'proftpd-core/usr/lib/proftpd'), path.join(PKGS, 'proftpd-mod-crypto/usr/lib/proftpd')],
  pureFtpd: path.join(PKGS, 'pure-ftpd/usr/sbin/pure-ftpd'),
  purePw: path.join(PKGS, 'pure-ftpd/usr/bin/pure-pw'),
  // inetutils-ftpd provides ftp-server and conflicts with vsftpd in apt: unpacked like proftpd.
  inetutilsFtpd: path.join(PKGS, 'inetutils-ftpd/usr/sbin/ftpd'),
  socat: '/usr/bin/socat',
  unshare: '/usr/bin/unshare',
  // Debian's interpreter: the python3 first on PATH may lack pyftpdlib.
  python: '/usr/bin/python3',
  pyftpdlib: '/usr/lib/python3/dist-packages/pyftpdlib/__init__.py',
  pyOpenSSL: '/usr/lib/python3/dist-packages/OpenSSL/__init__.py',
  setpriv: '/usr/bin/setpriv',
  openssl: '/usr/bin/openssl',
  nft: '/usr/sbin/nft',
  ss: '/usr/bin/ss',
  mount: '/usr/bin/mount',
  umount: '/usr/bin/umount',
  lftp: '/usr/bin/lftp',
  timeout: '/usr/bin/timeout',
};

/** pyftpdlib is a library: this script is the server (copied into each instance directory). */
export const PYFTPD_SCRIPT = path.join(REPO_ROOT, 'test/lab/pyftpd.py');
/** ftp-srv is a library too: the compiled script beside this module is the server. */
export const FTP_SRV_SCRIPT = path.join(HERE, 'ftp-srv-main.js');
export const FTP_SRV_PACKAGE = path.join(REPO_ROOT, 'node_modules/ftp-srv/package.json');
/** inetutils ftpd chroots only the users listed here (install.sh adds the lab user). */
export const FTPCHROOT_FILE = '/etc/ftpchroot';

// ---------------------------------------------------------------------------
// The lab user

export interface LabUser {
  uid: number;
  gid: number;
  /** Home directory: inetutils-ftpd serves it (its instance root is bind-mounted there). */
  home: string;
}

export function lookupUser(name: string): LabUser | null {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
  }
  return null;
}

const INSTALL_HINT = 'run: sudo bash test/lab/install.sh';

/**
 * uid/gid of the lab user: files a test puts under a server's root must
 * belong to it, or the server (which runs as that user) cannot read or
 * replace them. Throws when the user does not exist (see labAvailable()).
 */
export function labUserIds(): LabUser {
  const user = lookupUser(LAB_USER);
  if (!user) throw new Error(`user ${LAB_USER} not found (${INSTALL_HINT})`);
  return user;
}

function listsLabUser(file: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').some((l) => l.trim() === LAB_USER);
  } catch {
    return false;
  }
}

/** null when `kind` can run here, else a one-line reason. */
export function labAvailable(kind: LabKind): string | null {
  if (process.platform !== 'linux') return `the FTP lab needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the FTP lab must run as root (servers bind loopback aliases, chroot, and switch to the lab user)';
  }
  const user = lookupUser(LAB_USER);
  if (!user) return `user ${LAB_USER} does not exist (${INSTALL_HINT})`;
  // openssl makes the certificate and pure-ftpd's hash; lftp is the reference client of every lab test.
  for (const p of [BIN.openssl, BIN.lftp, BIN.timeout]) if (!fs.existsSync(p)) return `${p} missing (${INSTALL_HINT})`;
  const need: string[] = [];
  switch (kind) {
    case 'vsftpd':
      need.push(BIN.vsftpd);
      break;
    case 'proftpd':
      need.push(BIN.proftpd, path.join(BIN.proftpdModules[1], 'mod_tls.so'));
      break;
    case 'pure-ftpd':
      need.push(BIN.pureFtpd, BIN.purePw);
      break;
    case 'pyftpdlib':
      need.push(BIN.python, BIN.pyftpdlib, BIN.pyOpenSSL, BIN.setpriv, PYFTPD_SCRIPT);
      break;
    case 'inetutils-ftpd':
      need.push(BIN.inetutilsFtpd, BIN.socat, BIN.unshare, BIN.mount, user.home);
      if (!listsLabUser(FTPCHROOT_FILE)) return `${kind}: ${FTPCHROOT_FILE} does not list ${LAB_USER} (${INSTALL_HINT})`;
      break;
    case 'ftp-srv':
      need.push(FTP_SRV_PACKAGE, FTP_SRV_SCRIPT);
      break;
  }
  for (const p of need) if (!fs.existsSync(p)) return `${kind}: ${p} missing (${kind === 'ftp-srv' ? 'run: npm ci' : INSTALL_HINT})`;
  return null;
}

/**
 * For test files: under CI a missing server is a failure (throw with the
 * reason); locally the caller may skip with labAvailable()'s reason.
 */
export function requireServer(kind: LabKind): void {
  const reason = labAvailable(kind);
  if (reason !== null && process.env.CI) throw new Error(`lab server ${kind} unavailable under CI: ${reason}`);
}

// ---------------------------------------------------------------------------
// Lab state directory

let stateDirCache: string | null = null;

/**
 * Where instances, logs, pid files and the certificate live: `<repo>/.lab`,
 * unless some ancestor is not world-searchable (a clone under /root, mode
 * 700). pyftpdlib runs as the lab user and must reach its root, log and key,
 * so then a directory under /var/tmp keyed by the repo path is used instead.
 */
export function labStateDir(): string {
  if (stateDirCache) return stateDirCache;
  const preferred = path.join(REPO_ROOT, '.lab');
  let dir = REPO_ROOT;
  let searchable = true;
  for (;;) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) searchable = false;
    } catch {
      searchable = false;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  stateDirCache = searchable
    ? preferred
    : path.join('/var/tmp', `fxpmirror-lab-${createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 12)}`);
  fs.mkdirSync(stateDirCache, { recursive: true, mode: 0o755 });
  fs.chmodSync(stateDirCache, 0o755);
  return stateDirCache;
}
