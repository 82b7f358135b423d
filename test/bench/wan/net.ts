/**
 * The emulated WAN: a network namespace for the client and one for each
 * server, joined by wanlink (wanlink.c: a TUN device "wan0" in each
 * namespace, and a link with its own delay, rate and queue per ordered pair
 * of namespaces). Every connection the tools and servers open, control and
 * data, client-to-server and server-to-server, crosses it: the namespaces
 * have no other interface but loopback.
 *
 * Addresses are 10.231.0.x, and exist only inside the namespaces created
 * here (nothing is routed to them anywhere else). Names carry the bench's
 * pid (fxpwan-<pid>-<role>), so a later run can remove what a crashed one
 * left (cleanStaleWans). wanlink exits when its standard input closes, that
 * is when the bench exits, however it exits; its TUN devices go with it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { isAlive, labStateDir, REPO_ROOT } from '../../lab/lab.js';
import { inNetns, netnsPath } from '../../lab/netns.js';
import type { WanShape } from '../args.js';
import type { Traffic, TrafficCounter } from '../measure.js';

export const IP_BIN = '/usr/sbin/ip';
export const CC_BIN = '/usr/bin/cc';
const WANLINK_SRC = path.join(REPO_ROOT, 'test', 'bench', 'wan', 'wanlink.c');
const PROBE_JS = path.join(REPO_ROOT, 'dist', 'test', 'bench', 'wan', 'probe.js');
const PREFIX = 'fxpwan';
const SUBNET = '10.231.0';

export interface WanNode {
  role: string;
  netns: string;
  address: string;
}

export interface LinkCount {
  from: number;
  to: number;
  packets: number;
  bytes: number;
  drops: number;
}

export interface Wan {
  client: WanNode;
  /** In the order of the roles given to startWan; node i + 1 of wanlink. */
  servers: WanNode[];
  /** wanlink's pid (its CPU is read around each run). */
  pid: number;
  /** Per-link counters since wanlink started. */
  counts(): Promise<LinkCount[]>;
  /** Bytes through the client's links and between servers, for measure(). */
  counter: TrafficCounter;
  /** Start writing the control-connection trace to `file` (undefined: stop, and flush). */
  trace(file: string | undefined): Promise<void>;
  /** Stop wanlink and delete the namespaces (their servers must be stopped first). Idempotent. */
  close(): Promise<void>;
}

function run(file: string, args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    }).stdin?.end();
  });
}

/** Compile wanlink.c with the machine's cc into the lab state directory. */
async function compile(): Promise<string> {
  const dir = path.join(labStateDir(), 'wan');
  fs.mkdirSync(dir, { recursive: true });
  const bin = path.join(dir, 'wanlink');
  const tmp = `${bin}.${process.pid}`;
  await run(CC_BIN, ['-O2', '-Wall', '-o', tmp, WANLINK_SRC], 60_000);
  fs.renameSync(tmp, bin);
  return bin;
}

/**
 * Remove namespaces (and the processes in them) that an earlier bench left
 * behind: only names of this module's form whose pid is no longer alive.
 */
export async function cleanStaleWans(): Promise<string[]> {
  const removed: string[] = [];
  const list = await run(IP_BIN, ['netns', 'list']).catch(() => '');
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^fxpwan-(\d+)-[a-z0-9-]+$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const pids = (await run(IP_BIN, ['netns', 'pids', name]).catch(() => ''))
      .split('\n')
      .map(Number)
      .filter((p) => Number.isInteger(p) && p > 1);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await run(IP_BIN, ['netns', 'del', name]).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * A link's queue: one bandwidth-delay product of its round trip (what a
 * single TCP flow needs to keep the link busy), at least 64 KiB.
 */
function queueBytes(rateMbit: number, rttMs: number): number {
  return Math.max(64 * 1024, Math.round((rateMbit * 1e6 * rttMs) / 1000 / 8));
}

/**
 * Namespaces for the client and for each of `roles`, wanlink between them:
 * client <-> server links at shape.rttMs round trip and clientRateMbit,
 * server <-> server links at shape.serverRttMs and rateMbit. `controlPorts`:
 * the servers' control ports, whose connections to the client wanlink traces.
 */
export async function startWan(shape: WanShape, roles: string[], controlPorts: number[]): Promise<Wan> {
  const bin = await compile();
  const node = (role: string, i: number): WanNode => ({ role, netns: `${PREFIX}-${process.pid}-${role}`, address: `${SUBNET}.${i === 0 ? 10 : 20 + i}` });
  const nodes = [node('client', 0), ...roles.map((r, i) => node(r, i + 1))];
  let hub: ChildProcess | undefined;
  const created: string[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      if (hub && hub.exitCode === null && hub.signalCode === null) {
        const exited = new Promise((r) => hub?.once('exit', r));
        hub.stdin?.end();
        const timer = setTimeout(() => hub?.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      for (const ns of created) await run(IP_BIN, ['netns', 'del', ns]).catch(() => undefined);
    })());
  try {
    for (const n of nodes) {
      await run(IP_BIN, ['netns', 'add', n.netns]);
      created.push(n.netns);
      await run(IP_BIN, ['-n', n.netns, 'link', 'set', 'lo', 'up']);
    }
    const args: string[] = [];
    for (const n of nodes) args.push('-n', `${netnsPath(n.netns)},${n.address}`);
    for (let i = 0; i < nodes.length; i++) {
      for (let j = 0; j < nodes.length; j++) {
        if (i === j) continue;
        const client = i === 0 || j === 0;
        const rtt = client ? shape.rttMs : shape.serverRttMs;
        const rate = client ? shape.clientRateMbit : shape.rateMbit;
        args.push('-l', [i, j, Math.round((rtt * 1000) / 2), Math.round(rate * 1e6), queueBytes(rate, rtt)].join(','));
      }
    }
    args.push('-t', '0', ...controlPorts.flatMap((p) => ['-p', String(p)]));
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    hub = child;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const lines = readline.createInterface({ input: child.stdout });
    const waiting: ((line: string) => void)[] = [];
    const ended = new Promise<never>((_, reject) =>
      child.once('exit', (code, sig) => reject(new Error(`wanlink exited (${sig ?? code}): ${stderr.trim()}`))),
    );
    ended.catch(() => undefined);
    lines.on('line', (l) => waiting.shift()?.(l));
    const nextLine = () => Promise.race([new Promise<string>((r) => waiting.push(r)), ended]);
    const ready = await nextLine();
    if (ready !== 'ready') throw new Error(`wanlink: ${ready} ${stderr}`);
    for (const n of nodes) {
      await run(IP_BIN, ['-n', n.netns, 'addr', 'add', `${n.address}/24`, 'dev', 'wan0']);
      await run(IP_BIN, ['-n', n.netns, 'link', 'set', 'wan0', 'up']);
    }
    // One request at a time on wanlink's stdin, one answer line each.
    let chain: Promise<unknown> = Promise.resolve();
    const request = (cmd: string): Promise<string> => {
      const p = chain.then(() => {
        const answer = nextLine();
        child.stdin.write(cmd + '\n');
        return answer;
      });
      chain = p.catch(() => undefined);
      return p;
    };
    const counts = async (): Promise<LinkCount[]> => {
      const line = await request('stats');
      return line
        .split(' ')
        .slice(1)
        .filter((f) => /^\d+,/.test(f))
        .map((f) => {
          const [from, to, packets, bytes, drops] = f.split(',').map(Number);
          return { from, to, packets, bytes, drops };
        });
    };
    const traffic = async (): Promise<Traffic> => {
      const t: Traffic = { client: 0, serverToServer: 0 };
      for (const c of await counts()) {
        if (c.from === 0 || c.to === 0) t.client += c.bytes;
        else t.serverToServer += c.bytes;
      }
      return t;
    };
    return {
      client: nodes[0],
      servers: nodes.slice(1),
      pid: child.pid as number,
      counts,
      counter: { read: traffic, close: async () => undefined },
      async trace(file) {
        const answer = await request(file === undefined ? 'untrace' : `trace ${file}`);
        if (answer !== 'ok') throw new Error(`wanlink trace: ${answer}`);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface ProbeResult {
  target: string;
  connectMs: number;
  greeting: string;
}

/**
 * Connect from inside namespace `from` to each target (address:port of an
 * FTP server), timing the TCP handshake (one round trip) and reading the
 * greeting: proves the path works and has the round trip asked for.
 */
export async function probe(from: WanNode, targets: string[]): Promise<ProbeResult[]> {
  const cmd = inNetns(from.netns, process.execPath, [PROBE_JS, ...targets]);
  const out = await run(cmd.command, cmd.args, 30_000);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ProbeResult);
}
