/**
 * New directories, made with one directory's MKDs in one write
 * (tree/execute.ts makeDirs), against the real lab servers: a tree of new
 * nested directories (a/b/c style, twelve siblings at one level, empty ones,
 * UTF-8 and space in names) from proftpd to pyftpdlib, pure-ftpd and vsftpd.
 * On disk: every directory exists, every file has the source's sha256; the
 * summary counts each directory made once; a re-run makes none and
 * transfers nothing. On the destination's wire (-v): the twelve siblings'
 * MKDs were sent with no reply read between them.
 *
 * Addresses 127.0.20.1 .. 127.0.20.4 (ports 4931-4934) belong to this file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stopAll, type LabServer } from '../lab/lab.js';
import { hashTree, mkdirLab, requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { EXIT } from '../../src/cli/exit.js';
import { runTimed, show, summaryOf } from './faults-setup.js';
import { groups, linesOf } from './wire-setup.js';

const UNAVAILABLE = requireServers(['proftpd', 'pyftpdlib', 'pure-ftpd', 'vsftpd']);
const MTIME = new Date('2022-02-03T04:05:06Z');

type Role = 'src' | 'pyftpdlib' | 'pure-ftpd' | 'vsftpd';

/** Directories (relative) of the source tree, parents included; files go in some of them. */
const SIBLINGS = Array.from({ length: 12 }, (_, i) => `wide/s${String(i).padStart(2, '0')}`);
const DIRS = ['a', 'a/b', 'a/b/c', 'a/b/c/d', 'a/x', 'wide', ...SIBLINGS, 'empty', 'nested', 'nested/empty', 'nested/empty/deeper', 'données é', 'données é/日本 語'];
const FILES = ['top.txt', 'a/b/c/d/deep.txt', 'a/b/c/c.txt', 'a/x/x.txt', ...SIBLINGS.map((s) => `${s}/f.txt`), 'données é/日本 語/ü.txt'];

function seedTree(root: string): void {
  for (const d of DIRS) mkdirLab(path.join(root, d));
  FILES.forEach((f, i) => writeLabFile(path.join(root, f), `${f} `.repeat(40 + i), MTIME));
}

/** Every directory under `root`, relative, sorted. */
function dirsUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      walk(path.join(dir, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('new nested directories against the lab servers', { skip: UNAVAILABLE ?? false, timeout: 300_000 }, () => {
  let S: Record<Role, LabServer>;

  before(async () => {
    S = await startPlan({
      src: ['proftpd', { address: '127.0.20.1', port: 4931 }],
      pyftpdlib: ['pyftpdlib', { address: '127.0.20.2', port: 4932 }],
      'pure-ftpd': ['pure-ftpd', { address: '127.0.20.3', port: 4933 }],
      vsftpd: ['vsftpd', { address: '127.0.20.4', port: 4934 }],
    });
    seedTree(path.join(S.src.root, 'tree'));
  });
  after(() => stopAll());

  for (const to of ['pyftpdlib', 'pure-ftpd', 'vsftpd'] as const) {
    test(`proftpd -> ${to}: every new directory made (nested, empty, twelve siblings in one write), every file whole; a re-run makes none`, async () => {
      const top = `made-${to}`;
      const run = runTimed(['mirror', urlOf(S.src, 'tree'), urlOf(S[to], top), '--json', '-v']);
      const r = await run.done;
      assert.equal(r.code, EXIT.OK, show(r));
      const s = summaryOf(r);
      assert.deepEqual(s.failures, []);
      // The target root and every directory of the source.
      assert.equal(s.dirs.created, DIRS.length + 1);
      assert.equal(s.files.transferred, FILES.length);
      const dst = path.join(S[to].root, top);
      assert.deepEqual(dirsUnder(dst), [...DIRS].sort());
      assert.deepEqual(hashTree(dst), hashTree(path.join(S.src.root, 'tree')));

      // The siblings' MKDs went out together: no reply was read between them.
      const sent = linesOf(run.lines, S[to]);
      const mkds = groups(sent).filter((g) => g.some((c) => c.startsWith('MKD ') && c.includes('/wide/')));
      assert.equal(mkds.length, 1, sent.join('\n'));
      // (Other connections' commands share the log: only this directory's MKDs are compared.)
      const wide = mkds[0].filter((c) => c.startsWith('MKD ') && c.includes('/wide/'));
      assert.deepEqual(wide.map((c) => c.slice(c.lastIndexOf('/') + 1)), SIBLINGS.map((x) => x.slice(5)));

      const again = await runTimed(['mirror', urlOf(S.src, 'tree'), urlOf(S[to], top), '--json']).done;
      assert.equal(again.code, EXIT.OK, show(again));
      const s2 = summaryOf(again);
      assert.equal(s2.dirs.created, 0);
      assert.equal(s2.files.transferred, 0);
      assert.equal(s2.files.unchanged, FILES.length);
    });
  }
});
