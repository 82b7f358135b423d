/**
 * What the fxp-*.test.ts files share: their lab servers, the byte counter and
 * helpers. Those files run the FXP engine against the four real lab servers,
 * through the CLI (`node bin/fxpmirror copy|probe`) and, where it is more
 * precise, the engine API. Every check looks at what really happened: sha256
 * of the bytes on the servers' disks, mtimes from fs.statSync, where the bytes
 * flowed (nftables counters), exit codes and one-line stderr, and the servers'
 * own logs.
 *
 * Addresses 127.0.0.25 .. 127.0.0.36 belong to these files; the suite runs
 * files one at a time, and each file starts the servers in `before` and stops
 * them in `after` (withServers). The byte counter (lab.ts's startByteCounter)
 * is limited to exactly these addresses, so another file's servers (its
 * default covers .21-.40) cannot inflate the numbers.
 *
 * Under CI=true a server that cannot run is a failure (requireServer);
 * locally each file skips with labAvailable()'s reason.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  SERVER_KINDS,
  startByteCounter,
  stopAll,
  type ByteCounter,
  type ByteCounts,
  type LabServer,
  type ServerKind,
  type StartOptions,
} from '../lab/lab.js';
import { mkdirLab, requireServers, startPlan, writeLabFile, type CliRun } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { serverFromUrl } from '../../src/cli/servers.js';
import { PART_SUFFIX } from '../../src/fxp/part-name.js';

export const UNAVAILABLE = requireServers(SERVER_KINDS);

export const MiB = 1024 * 1024;
/** "Far below" the file size: a copy's whole control conversation is a few KiB. */
const CLIENT_BUDGET = 64 * 1024;
export const OLD_MTIME = new Date('2021-03-04T05:06:07Z');

// ---------------------------------------------------------------------------
// The servers of the fxp-*.test.ts files

export type Role =
  | 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib' // permissive ('fxp' profile)
  | 'vsftpdPortOnly' | 'vsftpdPasvOnly' // vsftpd with one promiscuous setting
  | 'proftpdStrict' | 'pureStrict' | 'pyStrict' // secure defaults
  | 'proftpd2' // a second permissive proftpd: the only server with checksums
  | 'proftpdTls' | 'vsftpdTls' | 'pyTls';

export const PLAN: Record<Role, [ServerKind, StartOptions]> = {
  vsftpd: ['vsftpd', { address: '127.0.0.25', port: 3121 }],
  proftpd: ['proftpd', { address: '127.0.0.26', port: 3122 }],
  'pure-ftpd': ['pure-ftpd', { address: '127.0.0.27', port: 3123 }],
  pyftpdlib: ['pyftpdlib', { address: '127.0.0.28', port: 3124 }],
  vsftpdPortOnly: ['vsftpd', { address: '127.0.0.29', port: 3121, vsftpdPromiscuous: { port: true, pasv: false } }],
  vsftpdPasvOnly: ['vsftpd', { address: '127.0.0.30', port: 3121, vsftpdPromiscuous: { port: false, pasv: true } }],
  proftpdStrict: ['proftpd', { address: '127.0.0.31', port: 3122, profile: 'strict' }],
  pureStrict: ['pure-ftpd', { address: '127.0.0.32', port: 3123, profile: 'strict' }],
  // pyStrict and proftpd2 share an address: they are never paired with each other.
  pyStrict: ['pyftpdlib', { address: '127.0.0.33', port: 3124, profile: 'strict' }],
  proftpd2: ['proftpd', { address: '127.0.0.33', port: 3122 }],
  proftpdTls: ['proftpd', { address: '127.0.0.34', port: 3122, tls: true }],
  vsftpdTls: ['vsftpd', { address: '127.0.0.35', port: 3121, tls: true }],
  pyTls: ['pyftpdlib', { address: '127.0.0.36', port: 3124, tls: true }],
};
export const S = {} as Record<Role, LabServer>;
export const PERMISSIVE: Role[] = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib'];

// ---------------------------------------------------------------------------
// Helpers

/** Write a file into a server's root as the lab user (parents too), with a known mtime. */
export function put(server: LabServer, rel: string, data: Buffer, mtime = OLD_MTIME): string {
  return writeLabFile(path.join(server.root, rel), data, mtime);
}

export function mkdirs(server: LabServer, rel: string): void {
  mkdirLab(path.join(server.root, rel));
}

/** Every temporary `.<name>.fxpmirror-part` (and probe file) under a server's root. */
export function leftovers(server: LabServer): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(PART_SUFFIX) || e.name.startsWith('.fxpmirror-probe')) out.push(path.relative(server.root, p));
    }
  };
  walk(server.root);
  return out;
}

interface CopyJson {
  path: string;
  mode: string;
  bytes: number;
  resumedFrom: number;
  relayedBytes: number;
  mtimeSet: boolean;
  verified: string;
  checksum?: { algorithm: string; value: string };
}

export function copyJson(r: CliRun): CopyJson {
  assert.equal(r.code, EXIT.OK, `copy failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CopyJson;
}

let counter: ByteCounter | undefined;

/** Run `fn` between a counter reset and a read. */
export async function counted<T>(fn: () => Promise<T>): Promise<[T, ByteCounts]> {
  await counter!.reset();
  const r = await fn();
  return [r, await counter!.read()];
}

export function assertServerToServer(b: ByteCounts, size: number): void {
  assert.ok(b.serverToServer >= size, `server-to-server bytes ${b.serverToServer} < file size ${size}`);
  const client = b.clientToServers + b.serversToClient;
  assert.ok(client < CLIENT_BUDGET, `client traffic ${client} bytes should stay far below the file (${size} bytes)`);
}

export function assertThroughClient(b: ByteCounts, size: number): void {
  assert.ok(b.serversToClient >= size, `servers->client ${b.serversToClient} < ${size}: the data did not come through the client`);
  assert.ok(b.clientToServers >= size, `client->servers ${b.clientToServers} < ${size}: the data did not go out through the client`);
  assert.ok(b.serverToServer < CLIENT_BUDGET, `server-to-server ${b.serverToServer} bytes: relay should not connect the servers`);
}

export function serverOptions(server: LabServer) {
  return serverFromUrl(server.url, '', { ca: server.caFile }).server;
}

/**
 * Start every server of PLAN (into S) and the byte counter in `before`; stop
 * them in `after`. Call first inside the file's top-level describe.
 */
export function withServers(): void {
  before(async () => {
    Object.assign(S, await startPlan(PLAN));
    // The client is 127.0.0.1; the servers are exactly these files' addresses (127.0.0.25-36).
    counter = await startByteCounter('127.0.0.1', [...new Set(Object.values(PLAN).map(([, o]) => o.address!))]);
  });
  after(async () => {
    await counter?.close();
    await stopAll();
  });
}
