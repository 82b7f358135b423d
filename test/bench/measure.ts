/**
 * How the bench measures one client run: wall time, client CPU seconds, peak
 * RSS, and the bytes that went through the client.
 *
 * CPU and RSS come from /usr/bin/time (GNU time, Debian package `time`): it
 * reports the wait4() rusage of everything under it, so for `timeout lftp`
 * the figures are lftp's (RUSAGE_CHILDREN sums CPU over waited descendants,
 * and ru_maxrss is the largest single descendant). /proc/<pid>/status VmHWM
 * would need polling and misses the last moment before exit.
 *
 * Bytes through the client come from an nftables table of our own (the lab's
 * startByteCounter() is fixed to 127.0.0.21–40, the bench runs on
 * 127.0.3.21–40): TCP packet lengths (IP headers included) from any
 * non-server address to the bench servers and back, plus server-to-server
 * bytes. Only the bench talks to these addresses, and the tools run one at a
 * time, so the counters between two reads are that run's. /proc/<pid>/io
 * rchar/wchar was the alternative, but it also counts Node reading its own
 * modules (hundreds of KiB, more than the 1 MiB goal can tolerate as noise).
 */
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { labProcessTree, NFT_TABLE_PREFIX } from '../lab/lab.js';

export const TIME_BIN = '/usr/bin/time';
export const TIMEOUT_BIN = '/usr/bin/timeout';
export const NFT_BIN = '/usr/sbin/nft';

export interface Traffic {
  /** Client -> servers plus servers -> client: everything through the client. */
  client: number;
  /** Server -> server (the FXP data). */
  serverToServer: number;
}

export interface Measured {
  /** Exit code of the tool (124: killed by `timeout`). */
  code: number;
  timedOut: boolean;
  wallMs: number;
  /** User + system CPU seconds of the tool. */
  cpuS: number;
  /** The two parts of cpuS (on loopback, system time includes the servers' side of TCP run in the client's writes). */
  userS: number;
  sysS: number;
  /** Peak resident set size in KiB (GNU time's %M). */
  rssKiB: number;
  traffic?: Traffic;
  stdout: string;
  stderr: string;
}

export interface RunSpec {
  command: string;
  args: string[];
  timeoutSec: number;
  /** Send stdout to /dev/null (dry-run plans of 200,000 lines). */
  discardStdout?: boolean;
  counter?: TrafficCounter;
  /** Also hand every stderr chunk over as it arrives (a timestamped wire log). */
  onStderr?: (text: string) => void;
}

const KEEP_OUTPUT = 64 * 1024;

/**
 * Every measured run (either tool, the floor client, `node -e ''`) gets the
 * environment cron gives a job (crontab(5): HOME, LOGNAME, PATH, SHELL; this
 * machine's /etc/environment and /etc/default/locale add nothing), not the
 * bench's own. Unattended syncs run from cron or systemd timers, and an
 * interactive session may carry variables that cost a Node.js process CPU
 * before any of its code runs: NODE_EXTRA_CA_CERTS (set in this lab's
 * sessions, not in PID 1's environment) makes Node.js parse every listed
 * certificate at start-up, about 0.035 s of CPU for Debian's bundle of 144
 * (`node -e ''`: 0.059 s with it, 0.024 s without), which lftp does not pay.
 */
const CRON_ENV: NodeJS.ProcessEnv = {
  HOME: os.homedir(),
  LOGNAME: os.userInfo().username,
  PATH: '/usr/bin:/bin',
  SHELL: '/bin/sh',
};

/** Runs in progress: the pid of each one's `time` process, leader of a session of its own. */
const running = new Set<number>();

/**
 * Kill every run in progress and what it started (the bench is being
 * interrupted). Each run is a session of its own (time, timeout, the tool),
 * so a Ctrl-C meant for the bench does not reach it first, and nothing of it
 * outlives the bench's cleanup.
 */
export function stopRuns(): void {
  for (const pid of running) {
    for (const p of labProcessTree(pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  running.clear();
}

function execText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    }).stdin?.end();
  });
}

/** Run one tool under `time` and `timeout`; never throws for a failing tool (the caller judges `code`). */
export async function measure(spec: RunSpec): Promise<Measured> {
  const timeFile = path.join(os.tmpdir(), `fxpmirror-bench-time-${process.pid}-${Date.now()}.txt`);
  const before = spec.counter ? await spec.counter.read() : undefined;
  const t0 = performance.now();
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      TIME_BIN,
      ['-o', timeFile, '-f', '%e %U %S %M', TIMEOUT_BIN, '-k', '5', String(spec.timeoutSec), spec.command, ...spec.args],
      { stdio: ['ignore', spec.discardStdout ? 'ignore' : 'pipe', 'pipe'], detached: true, env: CRON_ENV },
    );
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    let stdout = '';
    let stderr = '';
    // Keep the tail only: a verbose failure must not grow the bench's own RSS.
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout = (stdout + d).slice(-KEEP_OUTPUT);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      spec.onStderr?.(d);
      stderr = (stderr + d).slice(-KEEP_OUTPUT);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (pid !== undefined) running.delete(pid);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  const wallMs = performance.now() - t0;
  const after = spec.counter ? await spec.counter.read() : undefined;
  let cpuS = NaN;
  let userS = NaN;
  let sysS = NaN;
  let rssKiB = NaN;
  try {
    // "Command exited with non-zero status N" may precede the figures.
    const last = fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
    const [, user, sys, rss] = last.trim().split(/\s+/).map(Number);
    cpuS = user + sys;
    userS = user;
    sysS = sys;
    rssKiB = rss;
  } catch {
    /* time could not write: leave NaN, the table shows it */
  } finally {
    fs.rmSync(timeFile, { force: true });
  }
  return {
    code: result.code,
    timedOut: result.code === 124 || result.code === 137,
    wallMs,
    cpuS,
    userS,
    sysS,
    rssKiB,
    traffic:
      before && after
        ? { client: after.client - before.client, serverToServer: after.serverToServer - before.serverToServer }
        : undefined,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

export interface TrafficCounter {
  read(): Promise<Traffic>;
  close(): Promise<void>;
}

/**
 * nftables counters on the output hook (each loopback packet passes it once).
 * The table name starts with the lab's prefix and carries our pid, so the
 * lab's `down` command (deleteCounterTables) removes it after a crash.
 */
export async function startTrafficCounter(firstServer: string, lastServer: string): Promise<TrafficCounter> {
  const table = `${NFT_TABLE_PREFIX}_${process.pid}_bench`;
  const servers = `${firstServer}-${lastServer}`;
  const ruleset = [
    `table inet ${table} {`,
    '  chain out {',
    '    type filter hook output priority 0; policy accept;',
    `    meta l4proto tcp ip saddr != ${servers} ip daddr ${servers} counter comment "c2s"`,
    `    meta l4proto tcp ip saddr ${servers} ip daddr != ${servers} counter comment "s2c"`,
    `    meta l4proto tcp ip saddr ${servers} ip daddr ${servers} counter comment "s2s"`,
    '  }',
    '}',
  ].join('\n');
  const file = path.join(os.tmpdir(), `${table}.nft`);
  fs.writeFileSync(file, ruleset + '\n');
  try {
    await execText(NFT_BIN, ['delete', 'table', 'inet', table]).catch(() => undefined);
    await execText(NFT_BIN, ['-f', file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
  let closed = false;
  return {
    async read() {
      const parsed = JSON.parse(await execText(NFT_BIN, ['-j', 'list', 'table', 'inet', table])) as {
        nftables: Array<{ rule?: { comment?: string; expr?: Array<{ counter?: { bytes: number } }> } }>;
      };
      const t: Record<string, number> = { c2s: 0, s2c: 0, s2s: 0 };
      for (const item of parsed.nftables) {
        const c = item.rule?.comment;
        if (c && c in t) for (const e of item.rule?.expr ?? []) if (e.counter) t[c] += e.counter.bytes;
      }
      return { client: t.c2s + t.s2c, serverToServer: t.s2s };
    },
    async close() {
      if (closed) return;
      closed = true;
      await execText(NFT_BIN, ['delete', 'table', 'inet', table]).catch(() => undefined);
    },
  };
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: what /proc/<pid>/stat counts in on Linux (sysconf(_SC_CLK_TCK))

/**
 * CPU milliseconds used so far by these processes plus every child they have
 * already reaped: utime + stime + cutime + cstime (proc(5)). Summed over a
 * lab server's process tree once its sessions have exited, the difference
 * across a run is the server's whole CPU for that run: the C servers fork a
 * process per session and wait for it, so the session's time lands in the
 * listener's cutime/cstime.
 */
export function processCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of new Set(pids)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile: its time is in its parent's cutime once reaped
    }
    // Fields after the ")" of the command name: state is field 3, utime field 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}
