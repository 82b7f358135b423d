/** The bench's command line. */
import * as path from 'node:path';
import { SERVER_KINDS, type ServerKind } from '../lab/lab.js';

/** Loopback scenarios, by number; the WAN set is "wan". */
export const LOOPBACK_SCENARIOS = [1, 2, 3, 4, 5] as const;
export type Scenario = (typeof LOOPBACK_SCENARIOS)[number] | 'wan';

export interface Pair {
  source: ServerKind;
  destination: ServerKind;
}

/** The WAN set's pairs (issue 12): LIST-only vsftpd as a source, pyftpdlib as a destination, and the MLSD pair. */
export const WAN_PAIRS: Pair[] = [
  { source: 'proftpd', destination: 'pure-ftpd' },
  { source: 'vsftpd', destination: 'proftpd' },
  { source: 'proftpd', destination: 'pyftpdlib' },
];

export interface WanShape {
  /** Round trip between the client and each server, ms. */
  rttMs: number;
  /** Round trip between two servers, ms. */
  serverRttMs: number;
  /** Rate of each server-to-server link, Mbit/s (each direction). */
  rateMbit: number;
  /** Rate of each client-to-server link, Mbit/s (each direction). */
  clientRateMbit: number;
}

export interface Args {
  scale: number;
  reps: number;
  json?: string;
  only: Set<Scenario>;
  /** The loopback scenarios' pair. */
  source: ServerKind;
  destination: ServerKind;
  keepLogs: boolean;
  wan: WanShape;
  pairs: Pair[];
  /** WAN set: which of its scenarios run (1: -P4, 2: -P8, 3: no-op, 4: big files). */
  wanScenarios: Set<number>;
  /** WAN set: directory for timestamped traces of one extra, untimed run per tool and pair. */
  trace?: string;
  /** Scenario 5: entries of the larger tree (the smaller has a tenth). */
  entries?: number;
}

export const USAGE = `usage: node dist/test/bench/bench.js [--quick | --scale F] [--reps N] [--json FILE]
       [--only 1,2,3,4,5,wan] [--source KIND] [--destination KIND] [--keep-logs]
       [--rtt MS] [--server-rtt MS] [--rate MBIT] [--client-rate MBIT]
       [--pairs SRC:DST,...] [--wan-scenarios 1,2,3,4] [--trace DIR] [--entries N]
KIND: ${SERVER_KINDS.join(', ')}. Env BENCH_SCALE sets the default scale.`;

const DEFAULT_WAN: WanShape = { rttMs: 40, serverRttMs: 10, rateMbit: 200, clientRateMbit: 100 };

function kind(v: string, name: string): ServerKind {
  if (!(SERVER_KINDS as string[]).includes(v)) throw new Error(`${name}: unknown server kind ${JSON.stringify(v)}\n${USAGE}`);
  return v as ServerKind;
}

function scenario(v: string): Scenario {
  if (v === 'wan') return v;
  const n = Number(v);
  if ((LOOPBACK_SCENARIOS as readonly number[]).includes(n)) return n as Scenario;
  if (n === 6) throw new Error('--only: scenario 6 (control connections through a delay proxy) became the WAN set: --only wan');
  throw new Error(`--only: no scenario ${JSON.stringify(v)} (1-5 or wan)`);
}

function number(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === '' || !(n >= min && n <= max)) throw new Error(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

export function parseArgs(argv: string[]): Args {
  const envScale = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : 1;
  const a: Args = {
    scale: envScale,
    reps: 5,
    only: new Set<Scenario>([...LOOPBACK_SCENARIOS, 'wan']),
    source: 'proftpd',
    destination: 'pure-ftpd',
    keepLogs: false,
    wan: { ...DEFAULT_WAN },
    pairs: WAN_PAIRS,
    wanScenarios: new Set([1, 2, 3, 4]),
  };
  const value = (i: number, name: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--quick':
        a.scale = 0.1;
        break;
      case '--scale':
        a.scale = Number(value(i++, arg));
        break;
      case '--reps':
        a.reps = Number(value(i++, arg));
        break;
      case '--json':
        a.json = path.resolve(value(i++, arg));
        break;
      case '--only':
        a.only = new Set(value(i++, arg).split(',').map(scenario));
        break;
      case '--source':
        a.source = kind(value(i++, arg), arg);
        break;
      case '--destination':
        a.destination = kind(value(i++, arg), arg);
        break;
      case '--keep-logs':
        a.keepLogs = true;
        break;
      case '--rtt':
        a.wan.rttMs = number(value(i++, arg), arg, 0, 1000);
        break;
      case '--server-rtt':
        a.wan.serverRttMs = number(value(i++, arg), arg, 0, 1000);
        break;
      case '--rate':
        a.wan.rateMbit = number(value(i++, arg), arg, 1, 10_000);
        break;
      case '--client-rate':
        a.wan.clientRateMbit = number(value(i++, arg), arg, 1, 10_000);
        break;
      case '--pairs':
        a.pairs = value(i++, arg)
          .split(',')
          .map((p) => {
            const [s, d, extra] = p.split(':');
            if (d === undefined || extra !== undefined || s === d) throw new Error(`--pairs: want SRC:DST of two different kinds, got ${JSON.stringify(p)}`);
            return { source: kind(s, arg), destination: kind(d, arg) };
          });
        break;
      case '--wan-scenarios':
        a.wanScenarios = new Set(
          value(i++, arg)
            .split(',')
            .map((v) => {
              if (!['1', '2', '3', '4'].includes(v)) throw new Error(`--wan-scenarios: no WAN scenario ${JSON.stringify(v)} (1-4)`);
              return Number(v);
            }),
        );
        break;
      case '--trace':
        a.trace = path.resolve(value(i++, arg));
        break;
      case '--entries':
        a.entries = number(value(i++, arg), arg, 10_000, 20_000_000);
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  if (!(a.scale > 0 && a.scale <= 1)) throw new Error(`scale must be in (0, 1], got ${a.scale}`);
  if (!Number.isInteger(a.reps) || a.reps < 1) throw new Error(`--reps must be a whole number >= 1`);
  return a;
}
