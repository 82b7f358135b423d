/**
 * The real-server test lab: vsftpd, proftpd, pure-ftpd and pyftpdlib, each
 * started standalone in the foreground on its own loopback address, from
 * configuration files generated into the lab state directory (`<repo>/.lab`).
 *
 * Why one address per server: the servers' foreign-address checks (the thing
 * that makes FXP fail on a default install) compare the data connection's
 * peer with the control connection's peer. On one shared address they can
 * never fire. Measured on Linux loopback (see test/integration/lab.test.ts):
 * the route `local 127.0.0.0/8 dev lo src 127.0.0.1` makes an unbound client
 * socket connect *from* 127.0.0.1, while all four servers bind their active
 * (PORT) data sockets to their own address, so server-to-server data leaves
 * from 127.0.0.2x. The nftables byte counter below relies on exactly that.
 *
 * Preparing the machine (packages, unpacked servers, the ftptest user) is
 * test/lab/install.sh's job; labAvailable() says what is missing.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inNetns, listeningIn } from './netns.js';

export type ServerKind = 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib';
export const SERVER_KINDS: ServerKind[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'];

export interface StartOptions {
  /** fxp: accepts foreign addresses (FXP); strict: the servers' secure defaults, which refuse them. Default 'fxp'. */
  profile?: 'fxp' | 'strict';
  /** Explicit TLS (AUTH TLS, RFC 4217) available, not required. Default false. */
  tls?: boolean;
  /** vsftpd only: implicit TLS (implicit_ssl=YES): TLS from the first byte, URL scheme ftps://. Implies tls. */
  implicitTls?: boolean;
  /** TLS with this certificate instead of the lab's (expired, wrong name...: the pinning tests). Implies tls. */
  cert?: LabCert;
  /** vsftpd only: set port_promiscuous / pasv_promiscuous independently (half-promiscuous tests). */
  vsftpdPromiscuous?: { port: boolean; pasv: boolean };
  /** Connection cap per client address. Default: unlimited (pure-ftpd: its own default). */
  maxPerIp?: number;
  /** Override the loopback address (for a second instance of a kind). */
  address?: string;
  /**
   * Override the control port. The passive range is derived from the last
   * address octet and port % 4: two instances on one address need ports that
   * differ modulo 4 to get disjoint passive ranges.
   */
  port?: number;
  /**
   * Run the server inside this network namespace (a name from `ip netns add`,
   * created and removed by the caller); `address` must be one of its addresses.
   * Readiness is then a listening socket, seen from outside (see netns.ts).
   */
  netns?: string;
}

export interface LabServer {
  kind: ServerKind;
  host: string;
  port: number;
  user: string;
  password: string;
  /** ftp://ftptest:<pw>@127.0.0.21:2121/ (ftpes:// when tls). */
  url: string;
  /** Absolute path of the served directory (owned by the lab user); FTP "/" maps to it. */
  root: string;
  /** When tls: the PEM to trust (self-signed, IP SANs for all lab addresses). */
  caFile?: string;
  /** Command/protocol log (pure-ftpd: only its stdout/stderr, see below). */
  logFile: string;
  /** Transfer log, if the server writes one. */
  xferLog?: string;
  pid: number;
  /** Kills the whole process group (the C servers fork per session), waits for exit. Idempotent. */
  stop(): Promise<void>;
}

export const LAB_USER = 'ftptest';
/** Keep in sync with test/lab/install.sh. It is a lab password on loopback only. */
export const LAB_PASSWORD = 'fxp-lab-Secret1';

const DEFAULTS: Record<ServerKind, { address: string; port: number }> = {
  vsftpd: { address: '127.0.0.21', port: 2121 },
  proftpd: { address: '127.0.0.22', port: 2122 },
  'pure-ftpd': { address: '127.0.0.23', port: 2123 },
  pyftpdlib: { address: '127.0.0.24', port: 2124 },
};

/** Addresses the lab uses for servers; the TLS certificate and the byte counter cover all of them. */
export const LAB_ADDRESS_FIRST = 21;
export const LAB_ADDRESS_LAST = 40;

const STARTUP_TIMEOUT_MS = 5000;
const STOP_GRACE_MS = 1500;
/** Any lab log larger than this is truncated by the watchdog (pyftpdlib once wrote 2.2 GB). */
const LOG_CAP_BYTES = 32 * 1024 * 1024;

// dist/test/lab/lab.js -> repo root; the same from test/lab/lab.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = HERE.includes(`${path.sep}dist${path.sep}`)
  ? path.resolve(HERE, '../../..')
  : path.resolve(HERE, '../..');
const PKGS = path.join(REPO_ROOT, '.lab', 'pkgs');

const BIN = {
  vsftpd: '/usr/sbin/vsftpd',
  proftpd: path.join(PKGS, 'proftpd-core/usr/sbin/proftpd'),
  proftpdModules: [path.join(PKGS, 'proftpd-core/usr/lib/proftpd'), path.join(PKGS, 'proftpd-mod-crypto/usr/lib/proftpd')],
  pureFtpd: path.join(PKGS, 'pure-ftpd/usr/sbin/pure-ftpd'),
  purePw: path.join(PKGS, 'pure-ftpd/usr/bin/pure-pw'),
  // Debian's interpreter: the python3 first on PATH may lack pyftpdlib.
  python: '/usr/bin/python3',
  pyftpdlib: '/usr/lib/python3/dist-packages/pyftpdlib/__init__.py',
  pyOpenSSL: '/usr/lib/python3/dist-packages/OpenSSL/__init__.py',
  setpriv: '/usr/bin/setpriv',
  openssl: '/usr/bin/openssl',
  nft: '/usr/sbin/nft',
  lftp: '/usr/bin/lftp',
  timeout: '/usr/bin/timeout',
};
const PYFTPD_SCRIPT = path.join(REPO_ROOT, 'test/lab/pyftpd.py');

// ---------------------------------------------------------------------------
// Availability

export interface LabUser {
  uid: number;
  gid: number;
}

function lookupUser(name: string): LabUser | null {
  let passwd: string;
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]) };
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

/** null when `kind` can run here, else a one-line reason. */
export function labAvailable(kind: ServerKind): string | null {
  if (process.platform !== 'linux') return `the FTP lab needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the FTP lab must run as root (servers bind loopback aliases, chroot, and switch to the lab user)';
  }
  if (!lookupUser(LAB_USER)) return `user ${LAB_USER} does not exist (${INSTALL_HINT})`;
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
  }
  for (const p of need) if (!fs.existsSync(p)) return `${kind}: ${p} missing (${INSTALL_HINT})`;
  return null;
}

/**
 * For test files: under CI a missing server is a failure (throw with the
 * reason); locally the caller may skip with labAvailable()'s reason.
 */
export function requireServer(kind: ServerKind): void {
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

function pidDir(): string {
  const d = path.join(labStateDir(), 'pids');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

// ---------------------------------------------------------------------------
// Small process helpers

function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 20000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}${stderr ? `\n${stderr}` : ''}`));
      else resolve({ stdout, stderr });
    });
    // nft and openssl may exit before reading stdin: an EPIPE there is not an error.
    child.stdin?.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

interface ProcInfo {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  start: number;
}

function readProc(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]), start: Number(rest[19]) };
}

function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** Kernel start time of `pid` (clock ticks since boot), to tell a pid from a reused one. */
export function processStartTime(pid: number): number | null {
  return readProc(pid)?.start ?? null;
}

/** True while `pid` exists and is not a zombie (this container's init does not reap orphans). */
export function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== null && p.state !== 'Z' && p.state !== 'X';
}

const SERVER_PROGRAMS = new Set(['vsftpd', 'proftpd', 'pure-ftpd', 'python3', 'setpriv']);

/** argv[0] is one of the lab's server programs and some argument mentions `marker` (the instance directory). */
function mentions(pid: number, marker: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return SERVER_PROGRAMS.has(path.basename(argv[0])) && argv.some((a) => a.includes(marker));
  } catch {
    return false;
  }
}

/**
 * Live processes belonging to a server started with pid `pid`: its process
 * group, its session, its descendants, and (given the instance directory as
 * `marker`) server processes whose command line names that directory.
 * The last two matter for vsftpd: its session processes call setsid(), so a
 * group or session kill misses them; they keep "vsftpd <conf>" as command
 * line, which still finds them after the listener died.
 */
export function labProcessTree(pid: number, marker?: string): number[] {
  const procs = allProcs();
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p);
    byParent.set(p.ppid, list);
  }
  const found = new Set<number>();
  for (const p of procs) {
    if (p.pid === pid || p.pgid === pid || p.sid === pid) found.add(p.pid);
    else if (marker && mentions(p.pid, marker)) found.add(p.pid);
  }
  const queue = [pid];
  while (queue.length) {
    const cur = queue.pop() as number;
    for (const c of byParent.get(cur) ?? []) {
      if (!found.has(c.pid)) {
        found.add(c.pid);
        queue.push(c.pid);
      }
    }
  }
  return [...found].filter(isAlive).sort((a, b) => a - b);
}

function killQuiet(pid: number, sig: NodeJS.Signals): void {
  // 0, 1 and -1 would mean "my group", init, "everything": never.
  if (!Number.isInteger(pid) || Math.abs(pid) <= 1) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM the group and every member, wait, then SIGKILL whatever is left. */
async function killTree(pid: number, marker: string): Promise<void> {
  const members = labProcessTree(pid, marker);
  killQuiet(-pid, 'SIGTERM');
  for (const m of members) killQuiet(m, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  const left = () => [...new Set([...members, ...labProcessTree(pid, marker)])].filter(isAlive);
  while (left().length && Date.now() < deadline) await sleep(10);
  if (left().length) {
    killQuiet(-pid, 'SIGKILL');
    for (const m of left()) killQuiet(m, 'SIGKILL');
    const hard = Date.now() + STOP_GRACE_MS;
    while (left().length && Date.now() < hard) await sleep(10);
  }
}

// ---------------------------------------------------------------------------
// TLS certificate

export interface LabCert {
  cert: string;
  key: string;
  /** cert + key in one file (what pure-ftpd's default expects). */
  combined: string;
}

let certPromise: Promise<LabCert> | null = null;

/**
 * Loopback blocks the test files use (127.0.B.21-40 for B in 0..4), so
 * that each suite has addresses of its own and can run beside the others.
 */
export const LAB_BLOCKS = [0, 1, 2, 3, 4];

function labCertSans(): string[] {
  const sans = ['DNS:localhost', 'IP:127.0.0.1'];
  for (const b of LAB_BLOCKS) for (let i = LAB_ADDRESS_FIRST; i <= LAB_ADDRESS_LAST; i++) sans.push(`IP:127.0.${b}.${i}`);
  return sans;
}

/**
 * A self-signed certificate that is its own CA, with IP SANs for 127.0.0.1
 * and every lab address: proftpd, when it is the TLS client of an SSCN data
 * connection, verifies the peer server against it (TLSVerifyServer), and
 * Node's tls checks the IP SAN when connecting by address.
 * Generated at most once per process; reused while valid for another day.
 */
export function ensureLabCert(): Promise<LabCert> {
  certPromise ??= (async () => {
    const user = lookupUser(LAB_USER);
    const dir = path.join(labStateDir(), 'tls');
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files: LabCert = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), combined: path.join(dir, 'combined.pem') };
    const valid = async () => {
      if (!Object.values(files).every((f) => fs.existsSync(f))) return false;
      // A certificate from an older lab with fewer addresses is replaced.
      const text = await run(BIN.openssl, ['x509', '-in', files.cert, '-noout', '-ext', 'subjectAltName']).then((r) => r.stdout, () => '');
      if (!labCertSans().every((san) => text.replace(/IP Address:/g, 'IP:').includes(san))) return false;
      try {
        await run(BIN.openssl, ['x509', '-in', files.cert, '-noout', '-checkend', '86400']);
        return true;
      } catch {
        return false;
      }
    };
    if (!(await valid())) {
      const sans = labCertSans();
      const tmpCert = `${files.cert}.${process.pid}.tmp`;
      const tmpKey = `${files.key}.${process.pid}.tmp`;
      await run(BIN.openssl, [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=fxpmirror test lab',
        '-addext', `subjectAltName=${sans.join(',')}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
        '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
        '-keyout', tmpKey, '-out', tmpCert,
      ]);
      fs.writeFileSync(`${files.combined}.${process.pid}.tmp`, fs.readFileSync(tmpCert, 'utf8') + fs.readFileSync(tmpKey, 'utf8'));
      // Atomic renames: a concurrently running lab never reads half a file.
      fs.renameSync(tmpKey, files.key);
      fs.renameSync(`${files.combined}.${process.pid}.tmp`, files.combined);
      fs.renameSync(tmpCert, files.cert);
    }
    // pyftpdlib runs as the lab user and must read the key: group-readable for it only.
    for (const f of [files.key, files.combined]) {
      if (user) fs.chownSync(f, 0, user.gid);
      fs.chmodSync(f, 0o640);
    }
    fs.chmodSync(files.cert, 0o644);
    return files;
  })();
  certPromise.catch(() => {
    certPromise = null;
  });
  return certPromise;
}

// ---------------------------------------------------------------------------
// Instances and configuration

interface Instance {
  kind: ServerKind;
  name: string;
  dir: string;
  root: string;
  address: string;
  port: number;
  pasvMin: number;
  pasvMax: number;
  profile: 'fxp' | 'strict';
  tls: LabCert | null;
  maxPerIp: number | undefined;
  vsftpdPromiscuous: { port: boolean; pasv: boolean } | undefined;
  implicitTls: boolean;
  user: LabUser;
}

/**
 * A passive port range per instance, derived from address and port so that
 * instances never share one (and two lab processes agree). Below Linux's
 * ephemeral range (32768+), where outgoing connections would compete.
 * Last octets 21..40 map to distinct slots; 100 ports each.
 */
function passiveRange(address: string, port: number): [number, number] {
  const octet = Number(address.split('.')[3] ?? 0);
  const base = 20000 + (octet % 30) * 400 + (port % 4) * 100;
  return [base, base + 99];
}

interface Generated {
  command: string;
  args: string[];
  logFile: string;
  xferLog?: string;
  extraLogs: string[];
}

function yesNo(b: boolean): string {
  return b ? 'YES' : 'NO';
}

/** vsftpd 3.0.3 (Debian). Keys are documented in vsftpd.conf(5). */
function vsftpdConfig(inst: Instance): Generated {
  const empty = path.join(inst.dir, 'empty');
  fs.mkdirSync(empty, { mode: 0o755 });
  const log = path.join(inst.dir, 'vsftpd.log');
  const xfer = path.join(inst.dir, 'xferlog');
  const prom = inst.vsftpdPromiscuous ?? { port: inst.profile === 'fxp', pasv: inst.profile === 'fxp' };
  const lines = [
    '# generated by test/lab/lab.ts -- do not edit',
    'listen=YES',
    'listen_ipv6=NO',
    `listen_address=${inst.address}`,
    `listen_port=${inst.port}`,
    'background=NO',
    // Under root the seccomp sandbox kills sessions on syscalls it does not expect.
    'seccomp_sandbox=NO',
    `secure_chroot_dir=${empty}`,
    'anonymous_enable=NO',
    'local_enable=YES',
    'pam_service_name=vsftpd',
    'write_enable=YES',
    'local_umask=022',
    `local_root=${inst.root}`,
    'chroot_local_user=YES',
    'allow_writeable_chroot=YES',
    'pasv_enable=YES',
    `pasv_min_port=${inst.pasvMin}`,
    `pasv_max_port=${inst.pasvMax}`,
    // Both default to NO: "500 Illegal PORT command." / "425 Security: Bad IP connecting."
    `port_promiscuous=${yesNo(prom.port)}`,
    `pasv_promiscuous=${yesNo(prom.pasv)}`,
    // MDTM with a timestamp argument sets the mtime.
    'mdtm_write=YES',
    'dirmessage_enable=NO',
    'use_localtime=NO',
    `max_per_ip=${inst.maxPerIp ?? 0}`,
    'max_clients=0',
    // Protocol log in vsftpd_log_file, wu-ftpd style xferlog separately.
    'log_ftp_protocol=YES',
    'xferlog_enable=YES',
    'dual_log_enable=YES',
    `vsftpd_log_file=${log}`,
    `xferlog_file=${xfer}`,
  ];
  if (inst.tls) {
    lines.push(
      'ssl_enable=YES',
      `rsa_cert_file=${inst.tls.cert}`,
      `rsa_private_key_file=${inst.tls.key}`,
      'allow_anon_ssl=NO',
      'force_local_logins_ssl=NO',
      'force_local_data_ssl=NO',
      // Default YES answers "522 SSL connection failed: session reuse required"
      // when the peer of an FXP data connection is another server.
      'require_ssl_reuse=NO',
      ...(inst.implicitTls ? ['implicit_ssl=YES'] : []),
      // Debian's 3.0.3 has no ssl_tlsv1_1/ssl_tlsv1_2 keys ("500 OOPS: unrecognised
      // variable"); ssl_tlsv1=YES (default) already negotiates TLS 1.2 and 1.3.
    );
  }
  const conf = path.join(inst.dir, 'vsftpd.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return { command: BIN.vsftpd, args: [conf], logFile: log, xferLog: xfer, extraLogs: [] };
}

/** proftpd 1.3.8 from the unpacked .deb. */
function proftpdConfig(inst: Instance): Generated {
  // mod_tls ships in proftpd-mod-crypto, the rest in proftpd-core, and
  // ModulePath takes one directory: link both sets into one.
  const modDir = path.join(inst.dir, 'modules');
  fs.mkdirSync(modDir);
  for (const src of BIN.proftpdModules) {
    for (const f of fs.readdirSync(src)) if (f.endsWith('.so')) fs.symlinkSync(path.join(src, f), path.join(modDir, f));
  }
  const ext = path.join(inst.dir, 'extended.log');
  const xfer = path.join(inst.dir, 'xferlog');
  const sys = path.join(inst.dir, 'proftpd.log');
  const tlsLog = path.join(inst.dir, 'tls.log');
  const lines = [
    '# generated by test/lab/lab.ts -- do not edit',
    `ServerName "fxpmirror lab proftpd"`,
    'ServerType standalone',
    `DefaultAddress ${inst.address}`,
    'SocketBindTight on',
    `Port ${inst.port}`,
    `PassivePorts ${inst.pasvMin} ${inst.pasvMax}`,
    'UseIPv6 off',
    'UseReverseDNS off',
    'User nobody',
    'Group nogroup',
    'Umask 022',
    `DefaultRoot ${inst.root}`,
    `PidFile ${path.join(inst.dir, 'proftpd.pid')}`,
    `ScoreboardFile ${path.join(inst.dir, 'proftpd.scoreboard')}`,
    'DelayTable none',
    'WtmpLog off',
    // Log in through /etc/passwd + /etc/shadow only (no PAM service file for proftpd here).
    'AuthPAM off',
    'AuthOrder mod_auth_unix.c',
    'RequireValidShell off',
    'TimesGMT on',
    // Default off: "500 Illegal PORT command" / "425 Unable to build data connection: Permission denied".
    `AllowForeignAddress ${inst.profile === 'fxp' ? 'on' : 'off'}`,
    `MaxClientsPerHost ${inst.maxPerIp ?? 'none'}`,
    `ModulePath ${modDir}`,
    // SITE UTIME / SITE MKDIR...; HASH, XCRC, XMD5, XSHA*. (MFMT and MLSD are in the built-in mod_facts.)
    'LoadModule mod_site_misc.c',
    'LoadModule mod_digest.c',
    `SystemLog ${sys}`,
    `ExtendedLog ${ext} ALL default`,
    `TransferLog ${xfer}`,
    '<Directory />',
    '  AllowOverwrite on',
    '</Directory>',
  ];
  if (inst.tls) {
    lines.push(
      'LoadModule mod_tls.c',
      'TLSEngine on',
      `TLSLog ${tlsLog}`,
      `TLSRSACertificateFile ${inst.tls.cert}`,
      `TLSRSACertificateKeyFile ${inst.tls.key}`,
      // As the TLS *client* of an SSCN data connection it verifies the other server against this.
      `TLSCACertificateFile ${inst.tls.cert}`,
      'TLSRequired off',
      'TLSVerifyClient off',
      // TLS 1.3 with proftpd sending data was seen to truncate files silently (reset at the end).
      'TLSProtocol TLSv1.2',
      // The peer of an FXP data connection is another server, which cannot resume our session.
      'TLSOptions NoSessionReuseRequired',
    );
  }
  const conf = path.join(inst.dir, 'proftpd.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return { command: BIN.proftpd, args: ['-n', '-q', '-c', conf], logFile: ext, xferLog: xfer, extraLogs: [sys, tlsLog] };
}

/** pure-ftpd 1.0.50 from the unpacked .deb, with a puredb virtual user mapped to the lab user. */
async function pureFtpdConfig(inst: Instance): Promise<Generated> {
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
  if (inst.tls) args.push('-Y', '1', '-2', `${inst.tls.cert},${inst.tls.key}`);
  // pure-ftpd logs sessions only through syslog(3) and this machine has no
  // /dev/log, so its "log" is what it prints on stdout/stderr.
  return { command: BIN.pureFtpd, args, logFile: stdio, xferLog: xfer, extraLogs: [] };
}

function pyftpdlibConfig(inst: Instance): Generated {
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
  if (inst.tls) args.push('--cert', inst.tls.cert, '--key', inst.tls.key);
  return { command: BIN.setpriv, args, logFile: log, extraLogs: [] };
}

// ---------------------------------------------------------------------------
// Pid files (for `lab down` after a crashed run)

interface PidRecord {
  pid: number;
  start: number;
  kind: ServerKind;
  instance: string;
  owner: number;
  ownerStart: number;
}

function pidFile(instance: string): string {
  return path.join(pidDir(), `${instance}.json`);
}

function readPidRecord(file: string): PidRecord | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return null;
  }
}

/** The record's process is still the one we started (guards against pid reuse). */
function recordAlive(rec: PidRecord): boolean {
  const p = readProc(rec.pid);
  return p !== null && p.start === rec.start && p.state !== 'Z';
}

function ownerAlive(rec: PidRecord): boolean {
  const p = readProc(rec.owner);
  return p !== null && p.start === rec.ownerStart && p.state !== 'Z';
}

/** Kill every lab server recorded in a pid file whose owner process is gone (or all, with `all`). */
export async function cleanLeftovers(all = false): Promise<string[]> {
  const killed: string[] = [];
  let files: string[];
  try {
    files = fs.readdirSync(pidDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return killed;
  }
  for (const f of files) {
    const file = path.join(pidDir(), f);
    const rec = readPidRecord(file);
    if (!rec) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (running.has(rec.instance) && rec.owner === process.pid) continue;
    if (!all && ownerAlive(rec) && rec.owner !== process.pid) continue;
    const marker = instanceMarker(rec.instance);
    // A dead listener may have left orphaned session processes (vsftpd).
    const mainAlive = recordAlive(rec);
    const orphans = labProcessTree(-1, marker);
    if (mainAlive || orphans.length) {
      // Without the main pid (possibly reused by now), signal only the marker matches.
      await killTree(mainAlive ? rec.pid : -1, marker);
      killed.push(`${rec.instance} (pid ${rec.pid}${mainAlive ? '' : `, orphans ${orphans.join(',')}`})`);
    }
    fs.rmSync(file, { force: true });
  }
  return killed;
}

// ---------------------------------------------------------------------------
// Start / stop

const running = new Map<string, { server: LabServer; logs: string[] }>();
let exitHookInstalled = false;
let watchdog: NodeJS.Timeout | null = null;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgets stop(): synchronous kills only.
  process.on('exit', () => {
    for (const [name, { server }] of running) {
      for (const m of labProcessTree(server.pid, instanceMarker(name))) killQuiet(m, 'SIGKILL');
      killQuiet(-server.pid, 'SIGKILL');
      try {
        fs.rmSync(pidFile(name), { force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

function startWatchdog(): void {
  if (watchdog) return;
  watchdog = setInterval(() => {
    for (const { logs } of running.values()) {
      for (const f of logs) {
        try {
          if (fs.statSync(f).size > LOG_CAP_BYTES) fs.truncateSync(f, 0);
        } catch {
          /* not created yet */
        }
      }
    }
  }, 1000);
  watchdog.unref();
}

/**
 * Connect until the server accepts, read the whole greeting (pure-ftpd's is
 * multi-line, RFC 959 §4.2), then QUIT so the probe's session is gone before
 * a test counts connections against maxPerIp.
 */
function probeGreeting(host: string, port: number, deadline: number, implicitTls = false): Promise<string> {
  return new Promise((resolve, reject) => {
    // Readiness only: the certificate is checked by the tests, not here.
    const sock = implicitTls ? tls.connect({ host, port, rejectUnauthorized: false }) : net.connect({ host, port });
    let buf = '';
    let greeted = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete greeting from ${host}:${port} (got ${JSON.stringify(buf)})`));
    }, Math.max(50, deadline - Date.now()));
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\r\n');
      if (!greeted && lines.some((l) => /^\d{3} /.test(l))) {
        greeted = true;
        sock.write('QUIT\r\n');
      } else if (greeted && /^221[ -]/m.test(lines.slice(1).join('\n'))) {
        sock.end();
      }
    });
    sock.on('error', (err: Error) => {
      clearTimeout(timer);
      if (greeted) resolve(buf);
      else reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (greeted) resolve(buf.split('\r\n').filter((l) => l && !/^221/.test(l)).join('\r\n'));
      else reject(new Error(`connection closed before greeting (got ${JSON.stringify(buf)})`));
    });
  });
}

function tail(file: string, max = 2000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-max).trim();
  } catch {
    return '';
  }
}

function instanceName(kind: ServerKind, address: string, port: number): string {
  return `${kind}-${address}-${port}`;
}

/** What the command lines of an instance's processes contain: its directory. */
function instanceMarker(instance: string): string {
  return path.join(labStateDir(), instance) + path.sep;
}

export async function startServer(kind: ServerKind, opts: StartOptions = {}): Promise<LabServer> {
  const reason = labAvailable(kind);
  if (reason !== null) throw new Error(`lab: cannot start ${kind}: ${reason}`);
  const user = lookupUser(LAB_USER) as LabUser;
  const address = opts.address ?? DEFAULTS[kind].address;
  const port = opts.port ?? DEFAULTS[kind].port;
  const name = instanceName(kind, address, port);
  if (running.has(name)) throw new Error(`lab: ${name} is already running in this process`);

  // A leftover from a crashed run holds the port: kill it if its owner is gone.
  const prev = readPidRecord(pidFile(name));
  if (prev && recordAlive(prev)) {
    if (ownerAlive(prev) && prev.owner !== process.pid) {
      throw new Error(`lab: ${name} is in use by pid ${prev.pid} (started by live process ${prev.owner}); stop it or run: npm run lab -- down`);
    }
    await killTree(prev.pid, instanceMarker(name));
  }

  if (opts.implicitTls && kind !== 'vsftpd') throw new Error('lab: implicitTls only applies to vsftpd');
  const tls = opts.cert ?? (opts.tls || opts.implicitTls ? await ensureLabCert() : null);
  const dir = path.join(labStateDir(), name);
  // Every start gets a fresh, empty root and fresh logs.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const root = path.join(dir, 'root');
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chownSync(root, user.uid, user.gid);
  const [pasvMin, pasvMax] = passiveRange(address, port);
  const inst: Instance = {
    kind, name, dir, root, address, port, pasvMin, pasvMax, user, tls,
    profile: opts.profile ?? 'fxp',
    maxPerIp: opts.maxPerIp,
    vsftpdPromiscuous: opts.vsftpdPromiscuous,
    implicitTls: !!opts.implicitTls,
  };
  if (opts.vsftpdPromiscuous && kind !== 'vsftpd') throw new Error('lab: vsftpdPromiscuous only applies to vsftpd');

  let gen: Generated;
  switch (kind) {
    case 'vsftpd':
      gen = vsftpdConfig(inst);
      break;
    case 'proftpd':
      gen = proftpdConfig(inst);
      break;
    case 'pure-ftpd':
      gen = await pureFtpdConfig(inst);
      break;
    case 'pyftpdlib':
      gen = pyftpdlibConfig(inst);
      break;
  }

  const stdioLog = path.join(dir, 'stdio.log');
  const fd = fs.openSync(stdioLog, 'a');
  const started = Date.now();
  let child: ChildProcess;
  try {
    // fd 0 is the log too: vsftpd writes its "500 OOPS: ..." start-up errors to
    // file descriptor 0, not to stderr. detached => own process group (and session).
    const cmd = inNetns(opts.netns, gen.command, gen.args);
    child = spawn(cmd.command, cmd.args, { cwd: dir, detached: true, stdio: [fd, fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  // Set by the exit handler; typed this way so TypeScript does not narrow it to null in the loop below.
  let exited = null as string | null;
  child.on('exit', (code, sig) => {
    exited = `exited with ${sig ?? code}`;
  });
  const spawnError = new Promise<never>((_, reject) => child.on('error', reject));
  spawnError.catch(() => undefined);
  const pid = child.pid;
  if (pid === undefined) {
    await spawnError;
    throw new Error(`lab: could not spawn ${gen.command}`);
  }
  child.unref();
  const me = readProc(process.pid);
  const startInfo = readProc(pid);
  const record: PidRecord = { pid, start: startInfo?.start ?? 0, kind, instance: name, owner: process.pid, ownerStart: me?.start ?? 0 };
  fs.writeFileSync(pidFile(name), JSON.stringify(record) + '\n');
  installExitHook();

  let stopPromise: Promise<void> | null = null;
  const server: LabServer = {
    kind,
    host: address,
    port,
    user: LAB_USER,
    password: LAB_PASSWORD,
    url: `${opts.implicitTls ? 'ftps' : tls ? 'ftpes' : 'ftp'}://${LAB_USER}:${encodeURIComponent(LAB_PASSWORD)}@${address}:${port}/`,
    root,
    caFile: tls ? tls.cert : undefined,
    logFile: gen.logFile,
    xferLog: gen.xferLog,
    pid,
    stop() {
      stopPromise ??= (async () => {
        await killTree(pid, instanceMarker(name));
        running.delete(name);
        fs.rmSync(pidFile(name), { force: true });
      })();
      return stopPromise;
    },
  };
  running.set(name, { server, logs: [gen.logFile, stdioLog, ...(gen.xferLog ? [gen.xferLog] : []), ...gen.extraLogs] });
  startWatchdog();

  // Ready = the port accepts and a complete greeting arrives.
  const deadline = started + STARTUP_TIMEOUT_MS;
  let lastErr: unknown = null;
  for (;;) {
    if (exited !== null) {
      await server.stop();
      throw new Error(`lab: ${kind} ${exited} during start-up: ${tail(stdioLog) || tail(gen.logFile) || '(no output)'}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`lab: ${kind} not ready on ${address}:${port} after ${STARTUP_TIMEOUT_MS} ms (${String(lastErr)}): ${tail(stdioLog)}`);
    }
    try {
      if (opts.netns !== undefined) {
        if (listeningIn(pid, address, port)) break;
        throw new Error(`not listening yet in namespace ${opts.netns}`);
      }
      await probeGreeting(address, port, Math.min(deadline, Date.now() + 1000), !!opts.implicitTls);
      break;
    } catch (err) {
      lastErr = err;
      await sleep(10);
    }
  }
  return server;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running.values()].map(({ server }) => server.stop()));
}

/** Servers started by this process and not yet stopped. */
export function runningServers(): LabServer[] {
  return [...running.values()].map((r) => r.server);
}

// ---------------------------------------------------------------------------
// lftp, the reference client for tests and benchmarks

export interface LftpResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run `lftp -c <script>` under `timeout` (lftp waits forever in several
 * failure modes). Settings that make it usable against the lab go first:
 * certificate checks against `caFile` when given, no implicit TLS otherwise,
 * and net:max-retries 1 so a refused transfer fails instead of retrying for
 * minutes (it also cuts short some of lftp's FXP fallbacks; a `set` in
 * `script` overrides any of these).
 */
export function runLftp(script: string, opts: { caFile?: string; timeoutSec?: number } = {}): Promise<LftpResult> {
  const pre = [
    'set cmd:fail-exit yes',
    'set net:max-retries 1',
    'set net:timeout 10',
    'set net:reconnect-interval-base 1',
    'set xfer:clobber on',
    opts.caFile ? `set ssl:ca-file "${opts.caFile}"; set ssl:verify-certificate yes; set ftp:ssl-allow yes` : 'set ftp:ssl-allow no',
  ].join('; ');
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      BIN.timeout,
      ['-k', '5', String(opts.timeoutSec ?? 30), BIN.lftp, '-c', `${pre}; ${script}`],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    ).stdin?.end();
  });
}

// ---------------------------------------------------------------------------
// Byte counter (nftables)

export interface ByteCounts {
  clientToServers: number;
  serversToClient: number;
  serverToServer: number;
}

export interface ByteCounter {
  /** Bytes since start or the last reset(). */
  read(): Promise<ByteCounts>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export const NFT_TABLE_PREFIX = 'fxpmirror_lab';
let counterSeq = 0;

interface NftRule {
  rule?: { table?: string; comment?: string; expr?: Array<{ counter?: { bytes: number; packets: number } }> };
}

/**
 * Count TCP bytes (IP packet lengths) on the output hook: every loopback
 * packet passes output exactly once, so nothing is counted twice. Rules:
 * client -> lab servers, lab servers -> client, lab server -> lab server.
 * `reset()` records a baseline (nft 1.0.6 cannot reset anonymous rule counters).
 * `serverAddresses` (default: all of 127.0.0.21-40) limits what counts as a server.
 * Tables left behind by crashed runs (owner pid gone) are deleted first.
 */
export async function startByteCounter(clientAddress = '127.0.0.1', serverAddresses?: string[]): Promise<ByteCounter> {
  for (const a of [clientAddress, ...(serverAddresses ?? [])]) {
    if (!net.isIPv4(a)) throw new Error(`byte counter: IPv4 address expected, got ${a}`);
  }
  await deleteCounterTables().catch(() => undefined);
  const table = `${NFT_TABLE_PREFIX}_${process.pid}_${++counterSeq}`;
  // Default: every lab address. A list narrows it to the servers of one test,
  // so lab servers used concurrently by someone else are not counted.
  const servers = serverAddresses?.length
    ? `{ ${serverAddresses.join(', ')} }`
    : `127.0.0.${LAB_ADDRESS_FIRST}-127.0.0.${LAB_ADDRESS_LAST}`;
  const ruleset = [
    `table inet ${table} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    meta l4proto tcp ip saddr ${clientAddress} ip daddr ${servers} counter comment "c2s"`,
    `    meta l4proto tcp ip saddr ${servers} ip daddr ${clientAddress} counter comment "s2c"`,
    `    meta l4proto tcp ip saddr ${servers} ip daddr ${servers} counter comment "s2s"`,
    '  }',
    '}',
  ].join('\n');
  const file = path.join(labStateDir(), `${table}.nft`);
  fs.writeFileSync(file, ruleset + '\n');
  try {
    await run(BIN.nft, ['-f', file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
  const raw = async () => {
    const { stdout } = await run(BIN.nft, ['-j', 'list', 'table', 'inet', table]);
    const parsed = JSON.parse(stdout) as { nftables: NftRule[] };
    const totals: Record<string, number> = { c2s: 0, s2c: 0, s2s: 0 };
    for (const item of parsed.nftables) {
      const c = item.rule?.comment;
      if (!c || !(c in totals)) continue;
      for (const e of item.rule?.expr ?? []) if (e.counter) totals[c] += e.counter.bytes;
    }
    return totals;
  };
  let base = { c2s: 0, s2c: 0, s2s: 0 };
  let closed = false;
  return {
    async read() {
      const t = await raw();
      return { clientToServers: t.c2s - base.c2s, serversToClient: t.s2c - base.s2c, serverToServer: t.s2s - base.s2s };
    },
    async reset() {
      const t = await raw();
      base = { c2s: t.c2s, s2c: t.s2c, s2s: t.s2s };
    },
    async close() {
      if (closed) return;
      closed = true;
      await run(BIN.nft, ['delete', 'table', 'inet', table]).catch(() => undefined);
    },
  };
}

/** Delete byte-counter tables left by crashed runs (all of them with `all`). */
export async function deleteCounterTables(all = false): Promise<string[]> {
  const { stdout } = await run(BIN.nft, ['-j', 'list', 'tables']);
  const parsed = JSON.parse(stdout) as { nftables: Array<{ table?: { family: string; name: string } }> };
  const deleted: string[] = [];
  for (const item of parsed.nftables) {
    const t = item.table;
    if (!t || !t.name.startsWith(NFT_TABLE_PREFIX)) continue;
    const owner = Number(t.name.split('_')[2]);
    if (!all && owner && isAlive(owner)) continue;
    await run(BIN.nft, ['delete', 'table', t.family, t.name]).catch(() => undefined);
    deleted.push(t.name);
  }
  return deleted;
}
