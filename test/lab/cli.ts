/**
 * Bring the test lab up and down by hand:
 *
 *   node dist/test/lab/cli.js up [kind...] [--profile fxp|strict] [--tls] [--rate <bytes/s>]
 *   node dist/test/lab/cli.js down [--all]
 *   node dist/test/lab/cli.js status
 *
 * `up` starts the servers (default: the four FXP servers; inetutils-ftpd and
 * ftp-srv by name), prints their URLs (with the
 * password: it is a loopback lab) and roots, writes <lab>/lab-state.json and
 * stays in the foreground until SIGINT/SIGTERM. `down` stops a running `up`,
 * then kills the servers recorded in pid files whose starting process is gone
 * (crashed runs), unmounts their tmpfs roots and deletes their nftables
 * tables (byte counters, partitions); `down --all` also takes down servers
 * and tables of live processes (a test run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  LAB_KINDS,
  SERVER_KINDS,
  cleanLeftovers,
  deleteCounterTables,
  isAlive,
  processStartTime,
  labAvailable,
  labStateDir,
  startServer,
  stopAll,
  type LabServer,
  type LabKind,
} from './lab.js';

const USAGE = `usage:
  lab up [${LAB_KINDS.join('|')} ...] [--profile fxp|strict] [--tls] [--rate <bytes/s>]
  lab down [--all]
  lab status`;

function stateFile(): string {
  return path.join(labStateDir(), 'lab-state.json');
}

interface UpArgs {
  kinds: LabKind[];
  profile: 'fxp' | 'strict' | undefined;
  tls: boolean;
  rateLimit: number | undefined;
}

function parseUpArgs(argv: string[]): UpArgs {
  const kinds: LabKind[] = [];
  let profile: 'fxp' | 'strict' | undefined;
  let tls = false;
  let rateLimit: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--tls') tls = true;
    else if (a === '--rate' || a.startsWith('--rate=')) {
      const v = Number(a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error('--rate must be a positive whole number of bytes per second');
      rateLimit = v;
    }
    else if (a === '--profile' || a.startsWith('--profile=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'fxp' && v !== 'strict') throw new Error(`--profile must be fxp or strict, got ${String(v)}`);
      profile = v;
    } else if ((LAB_KINDS as string[]).includes(a)) {
      if (!kinds.includes(a as LabKind)) kinds.push(a as LabKind);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  return { kinds: kinds.length ? kinds : [...SERVER_KINDS], profile, tls, rateLimit };
}

async function up(argv: string[]): Promise<number> {
  let args: UpArgs;
  try {
    args = parseUpArgs(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const started: LabServer[] = [];
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping ${started.length} server(s)...`);
    await stopAll();
    fs.rmSync(stateFile(), { force: true });
    console.log('lab down.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  for (const kind of args.kinds) {
    const reason = labAvailable(kind);
    if (reason) {
      console.error(`${kind}: unavailable: ${reason}`);
      await stopAll();
      return 1;
    }
    const t0 = Date.now();
    try {
      started.push(await startServer(kind, { profile: args.profile, tls: args.tls, rateLimit: args.rateLimit }));
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      await stopAll();
      return 1;
    }
    const s = started[started.length - 1];
    console.log(`${kind.padEnd(10)} ${s.url}  (ready in ${Date.now() - t0} ms, pid ${s.pid})`);
    console.log(`${''.padEnd(10)} root ${s.root}`);
    console.log(`${''.padEnd(10)} log  ${s.logFile}${s.xferLog ? `  xferlog ${s.xferLog}` : ''}`);
  }
  if (args.tls) console.log(`CA file (trust this): ${started[0]?.caFile}`);
  const state = {
    startedAt: new Date().toISOString(),
    pid: process.pid,
    pidStart: processStartTime(process.pid),
    profile: args.profile,
    tls: args.tls,
    servers: started.map((s) => ({
      kind: s.kind, url: s.url, host: s.host, port: s.port, user: s.user, password: s.password,
      root: s.root, caFile: s.caFile, logFile: s.logFile, xferLog: s.xferLog, pid: s.pid,
    })),
  };
  fs.writeFileSync(stateFile(), JSON.stringify(state, null, 2) + '\n');
  console.log(`profile ${args.profile ?? 'default'}${args.tls ? ', TLS offered' : ''}${args.rateLimit ? `, ${args.rateLimit} B/s` : ''}; state in ${stateFile()}; Ctrl-C to stop.`);
  // Stay in the foreground; the signal handlers end the process.
  setInterval(() => undefined, 1 << 30);
  return await new Promise<number>(() => undefined);
}

async function down(argv: string[]): Promise<number> {
  const all = argv.includes('--all');
  // A `lab up` still in the foreground: let it stop its own servers first.
  try {
    const state = JSON.parse(fs.readFileSync(stateFile(), 'utf8')) as { pid?: number; pidStart?: number };
    // The start time guards against signalling an unrelated process that reused the pid.
    if (state.pid && state.pid !== process.pid && isAlive(state.pid) && processStartTime(state.pid) === state.pidStart) {
      process.kill(state.pid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      console.log(`stopped lab up (pid ${state.pid})`);
    }
  } catch {
    /* no state file */
  }
  // Then leftovers: servers whose starting process is gone (crashed runs).
  // Servers and counters of live processes (a test run) are theirs to stop,
  // unless --all.
  const killed = await cleanLeftovers(all);
  for (const k of killed) console.log(`killed ${k}`);
  let tables: string[] = [];
  try {
    tables = await deleteCounterTables(all);
  } catch (err) {
    console.error(`nft: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  for (const t of tables) console.log(`deleted nft table ${t}`);
  fs.rmSync(stateFile(), { force: true });
  if (!killed.length && !tables.length) console.log('nothing to clean');
  return 0;
}

function status(): number {
  try {
    process.stdout.write(fs.readFileSync(stateFile(), 'utf8'));
  } catch {
    console.log('no lab is up (no state file)');
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up':
      return up(rest);
    case 'down':
      return down(rest);
    case 'status':
      return status();
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
