/**
 * nftables tables of the lab's own: the byte counter (counter.ts) and the
 * drop rules of a partition (faults/partition.ts). Each table is named
 * `fxpmirror_lab_<owner pid>_<tag>`, so that tables of a crashed run
 * (owner gone) can be found and deleted, and nothing else is ever touched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN, labStateDir } from './env.js';
import { isAlive, run, runSyncQuiet } from './processes.js';
import { onExit } from './registry.js';

export const NFT_TABLE_PREFIX = 'fxpmirror_lab';
let tableSeq = 0;

/** A fresh table name of this process; `tag` says what it is for (letters only). */
export function newTableName(tag: string): string {
  return `${NFT_TABLE_PREFIX}_${process.pid}_${tag}${++tableSeq}`;
}

/**
 * Load `table inet <name> { … }` from `body` (the lines inside the table),
 * after deleting tables left by crashed runs. Returns a function that deletes
 * the table (idempotent), also run on process exit if the caller never does.
 */
export async function loadTable(name: string, body: string[]): Promise<() => Promise<void>> {
  await deleteLabTables().catch(() => undefined);
  const file = path.join(labStateDir(), `${name}.nft`);
  fs.writeFileSync(file, [`table inet ${name} {`, ...body.map((l) => `  ${l}`), '}'].join('\n') + '\n');
  try {
    await run(BIN.nft, ['-f', file]);
  } finally {
    fs.rmSync(file, { force: true });
  }
  const unregister = onExit(() => runSyncQuiet(BIN.nft, ['delete', 'table', 'inet', name]));
  let deleted: Promise<void> | null = null;
  return () => {
    deleted ??= (async () => {
      unregister();
      await run(BIN.nft, ['delete', 'table', 'inet', name]).catch(() => undefined);
    })();
    return deleted;
  };
}

/** `nft -j list table inet <name>`, parsed. */
export async function listTable<T>(name: string): Promise<T> {
  const { stdout } = await run(BIN.nft, ['-j', 'list', 'table', 'inet', name]);
  return JSON.parse(stdout) as T;
}

/** Delete lab tables (counters, partitions) left by crashed runs (all of them with `all`). */
export async function deleteLabTables(all = false): Promise<string[]> {
  const { stdout } = await run(BIN.nft, ['-j', 'list', 'tables']);
  const parsed = JSON.parse(stdout) as { nftables: Array<{ table?: { family: string; name: string } }> };
  const deleted: string[] = [];
  for (const item of parsed.nftables) {
    const t = item.table;
    if (!t || !t.name.startsWith(`${NFT_TABLE_PREFIX}_`)) continue;
    const owner = Number(t.name.split('_')[2]);
    if (!all && owner && isAlive(owner)) continue;
    await run(BIN.nft, ['delete', 'table', t.family, t.name]).catch(() => undefined);
    deleted.push(t.name);
  }
  return deleted;
}

/** The name `lab down` and older callers know. */
export const deleteCounterTables = deleteLabTables;
