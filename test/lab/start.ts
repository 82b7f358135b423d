/**
 * Starting and stopping lab servers: a fresh instance directory and root,
 * the kind's configuration (config/), the process in its own process
 * group, and "ready" = a complete greeting on the control port. A server
 * can also be crashed and launched again on the same address, port and
 * root (faults/restart.ts).
 */
import { inNetns, listeningIn } from './netns.js';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { ensureLabCert } from './cert.js';
import { generateConfig, passiveRange, type Generated, type Instance } from './config/index.js';
import { labAvailable, labUserIds } from './env.js';
import { DEFAULT_ADDRESS, EXTRA_KINDS, LAB_PASSWORD, LAB_USER, type LabKind, type LabServer, type StartOptions } from './kinds.js';
import { mountTmpfs, unmountUnder, unmountUnderSync } from './mounts.js';
import { instanceDir, instanceMarker, ownerAlive, pidFile, readPidRecord, recordAlive, writePidRecord } from './pids.js';
import { isAlive, killQuiet, killTree, labProcessTree, sleep } from './processes.js';
import { onExit, running, startWatchdog } from './registry.js';

const STARTUP_TIMEOUT_MS = 5000;

/** One started server: what it needs to be launched again after a crash. */
interface Launch {
  inst: Instance;
  gen: Generated;
  implicitTls: boolean;
  /** The network namespace it runs in (bench WAN set), if any. */
  netns?: string;
  stdioLog: string;
  /** The listener's pid; -1 while the server is down (crashed, not yet relaunched). */
  pid: number;
  lastPid: number;
}

const launches = new WeakMap<LabServer, Launch>();

function launchOf(server: LabServer): Launch {
  const l = launches.get(server);
  if (!l) throw new Error(`lab: ${server.kind} on ${server.host}:${server.port} was not started by this process`);
  return l;
}

export async function startServer(kind: LabKind, opts: StartOptions = {}): Promise<LabServer> {
  const reason = labAvailable(kind);
  if (reason !== null) throw new Error(`lab: cannot start ${kind}: ${reason}`);
  const user = labUserIds();
  const address = opts.address ?? DEFAULT_ADDRESS[kind].address;
  const port = opts.port ?? DEFAULT_ADDRESS[kind].port;
  const name = `${kind}-${address}-${port}`;
  if (running.has(name)) throw new Error(`lab: ${name} is already running in this process`);
  if (opts.implicitTls && kind !== 'vsftpd') throw new Error('lab: implicitTls only applies to vsftpd');
  if (opts.vsftpdPromiscuous && kind !== 'vsftpd') throw new Error('lab: vsftpdPromiscuous only applies to vsftpd');
  if (opts.rateLimit !== undefined && !(Number.isInteger(opts.rateLimit) && opts.rateLimit > 0)) {
    throw new Error(`lab: rateLimit must be a positive whole number of bytes per second, got ${opts.rateLimit}`);
  }

  // A leftover from a crashed run holds the port: kill it if its owner is gone.
  const prev = readPidRecord(pidFile(name));
  if (prev && recordAlive(prev)) {
    if (ownerAlive(prev) && prev.owner !== process.pid) {
      throw new Error(`lab: ${name} is in use by pid ${prev.pid} (started by live process ${prev.owner}); stop it or run: npm run lab -- down`);
    }
    await killTree(prev.pid, instanceMarker(name));
  }

  const cert = opts.cert ?? (opts.tls || opts.implicitTls ? await ensureLabCert() : null);
  const dir = instanceDir(name);
  // Every start gets a fresh, empty root and fresh logs (a crashed run's tmpfs unmounted first).
  await unmountUnder(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  let root = path.join(dir, 'root');
  if (opts.tmpfsRoot !== undefined) {
    // The root one level below the mount point: fillDisk() takes space beside it, unseen by the server.
    await mountTmpfs(path.join(dir, 'disk'), opts.tmpfsRoot, { uid: 0, gid: 0 });
    root = path.join(dir, 'disk', 'root');
  }
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chownSync(root, user.uid, user.gid);
  const [pasvMin, pasvMax] = passiveRange(address, port);
  const inst: Instance = {
    kind, name, dir, root, address, port, pasvMin, pasvMax, user,
    tls: cert,
    profile: opts.profile ?? ((EXTRA_KINDS as string[]).includes(kind) ? 'strict' : 'fxp'),
    maxPerIp: opts.maxPerIp,
    vsftpdPromiscuous: opts.vsftpdPromiscuous,
    implicitTls: !!opts.implicitTls,
    rateLimit: opts.rateLimit,
  };
  let gen: Generated;
  try {
    gen = await generateConfig(inst);
  } catch (err) {
    await unmountUnder(dir);
    throw err;
  }

  const launch: Launch = { inst, gen, implicitTls: !!opts.implicitTls, netns: opts.netns, stdioLog: path.join(dir, 'stdio.log'), pid: -1, lastPid: -1 };
  const marker = instanceMarker(name);
  const unregister = onExit(() => {
    // Last resort when a test forgets stop(): synchronous kills only.
    if (launch.pid > 0) {
      for (const m of labProcessTree(launch.pid, marker)) killQuiet(m, 'SIGKILL');
      killQuiet(-launch.pid, 'SIGKILL');
    }
    unmountUnderSync(dir);
    fs.rmSync(pidFile(name), { force: true });
  });
  let stopPromise: Promise<void> | null = null;
  const server: LabServer = {
    kind,
    host: address,
    port,
    user: LAB_USER,
    password: LAB_PASSWORD,
    url: `${opts.implicitTls ? 'ftps' : cert ? 'ftpes' : 'ftp'}://${LAB_USER}:${encodeURIComponent(LAB_PASSWORD)}@${address}:${port}/`,
    root,
    caFile: cert ? cert.cert : undefined,
    logFile: gen.logFile,
    xferLog: gen.xferLog,
    get pid() {
      return launch.pid > 0 ? launch.pid : launch.lastPid;
    },
    processes() {
      return launch.pid > 0 ? labProcessTree(launch.pid, marker) : [];
    },
    stop() {
      stopPromise ??= (async () => {
        await killTree(launch.pid, marker);
        launch.pid = -1;
        await unmountUnder(dir);
        running.delete(name);
        fs.rmSync(pidFile(name), { force: true });
        unregister();
      })();
      return stopPromise;
    },
  };
  launches.set(server, launch);
  running.set(name, { server, logs: [gen.logFile, launch.stdioLog, ...(gen.xferLog ? [gen.xferLog] : []), ...gen.extraLogs] });
  startWatchdog();
  await launchProcess(server, launch);
  return server;
}

/**
 * Spawn the configured command in its own process group and wait until it
 * greets. On failure the server is stopped and the error says why.
 */
async function launchProcess(server: LabServer, launch: Launch): Promise<void> {
  const { inst, gen } = launch;
  const fd = fs.openSync(launch.stdioLog, 'a');
  const started = Date.now();
  let child: ChildProcess;
  try {
    // fd 0 is the log too: vsftpd writes its "500 OOPS: ..." start-up errors to
    // file descriptor 0, not to stderr. detached => own process group (and session).
    const cmd = inNetns(launch.netns, gen.command, gen.args);
    child = spawn(cmd.command, cmd.args, { cwd: inst.dir, detached: true, stdio: [fd, fd, fd] });
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
    await server.stop();
    await spawnError;
    throw new Error(`lab: could not spawn ${gen.command}`);
  }
  child.unref();
  launch.pid = pid;
  launch.lastPid = pid;
  writePidRecord(inst.kind, inst.name, pid);

  // Ready = the port accepts and a complete greeting arrives.
  const deadline = started + STARTUP_TIMEOUT_MS;
  let lastErr: unknown = null;
  for (;;) {
    if (exited !== null) {
      await server.stop();
      throw new Error(`lab: ${inst.kind} ${exited} during start-up: ${tail(launch.stdioLog) || tail(gen.logFile) || '(no output)'}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`lab: ${inst.kind} not ready on ${inst.address}:${inst.port} after ${STARTUP_TIMEOUT_MS} ms (${String(lastErr)}): ${tail(launch.stdioLog)}`);
    }
    try {
      if (launch.netns !== undefined) {
        if (listeningIn(pid, inst.address, inst.port)) return;
        throw new Error(`not listening yet in namespace ${launch.netns}`);
      }
      await probeGreeting(inst.address, inst.port, Math.min(deadline, Date.now() + 1000), launch.implicitTls);
      return;
    } catch (err) {
      lastErr = err;
      await sleep(10);
    }
  }
}

/**
 * Kill the server at once (SIGKILL to the listener and every session), as
 * a crash or power loss would: no goodbye on any connection. Its root and
 * logs stay; relaunchServer() starts it again.
 */
export async function crashServer(server: LabServer): Promise<void> {
  const launch = launchOf(server);
  if (launch.pid <= 0) return;
  await killTree(launch.pid, instanceMarker(launch.inst.name), { hard: true });
  launch.pid = -1;
}

/** Start a crashed server again with the same configuration, address, port and root. */
export async function relaunchServer(server: LabServer): Promise<void> {
  const launch = launchOf(server);
  if (launch.pid > 0 && isAlive(launch.pid)) throw new Error(`lab: ${launch.inst.name} is still running`);
  if (!running.has(launch.inst.name)) throw new Error(`lab: ${launch.inst.name} was stopped; start a new one`);
  await launchProcess(server, launch);
}

/** The instance directory's name (`<kind>-<address>-<port>`), for helpers that find its processes. */
export function instanceMarkerOf(server: LabServer): string {
  return instanceMarker(launchOf(server).inst.name);
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
