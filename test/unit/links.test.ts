/**
 * --symlinks follow never leaves the source root: LinkResolver over listings
 * of a made-up tree (a link is an entry with a target, or without one, when
 * only LIST names it, as proftpd's MLSD does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import type { ConnectionPool } from '../../src/ftp/pool.js';
import { LinkResolver } from '../../src/tree/links.js';

const file = (name: string, size = 1): ListEntry => ({ name, type: 'file', size, mtimePrecision: 0, mtimeApproximate: false });
const dir = (name: string): ListEntry => ({ name, type: 'dir', mtimePrecision: 0, mtimeApproximate: false });
const link = (name: string, target?: string): ListEntry => ({ name, type: 'link', target, mtimePrecision: 0, mtimeApproximate: false });

/**
 * /srv/root is the source root. /srv/secret is outside it. Links only LIST
 * names have no target in `tree` and one in `listTargets`.
 */
const tree: Record<string, ListEntry[]> = {
  '/srv': [dir('root'), dir('secret'), file('passwd')],
  '/srv/secret': [file('key', 7)],
  '/srv/root': [
    file('real.txt', 4),
    dir('dir'),
    link('in', 'real.txt'),
    link('chain', 'in'),
    link('dirlink', 'dir'),
    link('out', '../passwd'),
    link('abs', '/srv/secret/key'),
    link('chainout', 'out'),
    link('outdir', '../secret'),
    link('hop', 'outdir/key'),
    link('via', 'dir/../../passwd'),
    link('self', '.'),
    link('top', '/srv/root'),
    link('dangling', 'nowhere'),
    link('notarget'),
    link('listed-only'),
    link('ping', 'pong'),
    link('pong', 'ping'),
    link('deep', 'dir/sub/f'),
    link('throughfile', 'real.txt/x'),
    link('root-abs', '/srv/root/real.txt'),
  ],
  '/srv/root/dir': [link('up', '..'), link('back', '/srv/root/dirlink'), dir('sub'), link('sib', '../dir/sub')],
  '/srv/root/dir/sub': [file('f', 9)],
};
const listTargets: Record<string, Record<string, string>> = { '/srv/root': { 'listed-only': 'real.txt' } };

function resolver(listed: string[] = []): LinkResolver {
  const conn = {
    list: async (d: string) => {
      listed.push(`LIST ${d}`);
      return { entries: Object.entries(listTargets[d] ?? {}).map(([n, t]) => link(n, t)), rejected: [] };
    },
  };
  const pool = { use: <T>(fn: (c: typeof conn) => Promise<T>) => fn(conn) } as unknown as ConnectionPool;
  return new LinkResolver(pool, '/srv/root/', async (d) => {
    listed.push(d);
    if (!tree[d]) throw new Error(`550 ${d}`);
    return { entries: tree[d], rejected: [] };
  });
}

test('links inside the root are followed, by any path; links out of it are skipped as "outside"', async () => {
  const r = await resolver().resolve('/srv/root/', tree['/srv/root']);
  const followed = Object.fromEntries(r.entries.filter((e) => tree['/srv/root'].find((x) => x.name === e.name)?.type === 'link').map((e) => [e.name, `${e.type} ${e.size ?? ''}`.trim()]));
  assert.deepEqual(followed, {
    in: 'file 4',
    chain: 'file 4',
    dirlink: 'dir',
    'listed-only': 'file 4',
    deep: 'file 9',
    'root-abs': 'file 4',
  });
  const skipped = Object.fromEntries(r.skipped.map((s) => [s.entry.name, s.reason]));
  assert.deepEqual(skipped, {
    out: 'outside',
    abs: 'outside',
    chainout: 'outside',
    outdir: 'outside',
    hop: 'outside',
    via: 'outside',
    self: 'loop',
    top: 'loop',
    dangling: 'symlink',
    notarget: 'symlink',
    ping: 'loop',
    pong: 'loop',
    throughfile: 'symlink',
  });
  // Plain entries pass untouched, in order.
  assert.deepEqual(r.entries.slice(0, 2).map((e) => e.name), ['real.txt', 'dir']);
});

test('nothing outside the root is ever listed to resolve a link', async () => {
  const listed: string[] = [];
  await resolver(listed).resolve('/srv/root', tree['/srv/root']);
  assert.ok(listed.every((d) => d.replace(/^LIST /, '').startsWith('/srv/root')), listed.join(', '));
});

test('loops: a link to an ancestor, also when the walk went through another link first', async () => {
  const r = resolver();
  // Walk the root, then dirlink (-> dir): its "up" (-> ..) is the root, its "back" is dirlink itself.
  await r.resolve('/srv/root', tree['/srv/root']);
  const inLink = await r.resolve('/srv/root/dirlink', tree['/srv/root/dir']);
  assert.deepEqual(Object.fromEntries(inLink.skipped.map((s) => [s.entry.name, s.reason])), { up: 'loop', back: 'loop' });
  // "sib" (-> ../dir/sub) is below, not above: followed.
  assert.deepEqual(inLink.entries.filter((e) => e.name === 'sib').map((e) => e.type), ['dir']);
});

test('a directory without links costs nothing', async () => {
  const listed: string[] = [];
  const entries = [file('a'), dir('b')];
  const r = await resolver(listed).resolve('/srv/root/dir/sub', entries);
  assert.equal(r.entries, entries);
  assert.deepEqual(listed, []);
});
