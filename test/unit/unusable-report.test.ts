/**
 * How unusable names are reported (plan line, JSON, summary text, one-line
 * summary, exit code) and held back by the pure diff; and the write-path
 * builder as the second line of defence inside the FXP engine, against a
 * scripted server that records what reached it. Addresses 127.0.79.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import type { MirrorSummary, PlanAction } from '../../src/tree/plan.js';
import { actionToJson, renderAction, renderSummary, renderSummaryLine } from '../../src/cli/render.js';
import { summaryExit, summaryStatus } from '../../src/cli/outcome.js';
import { EXIT } from '../../src/cli/exit.js';
import { diffDirectory } from '../../src/tree/diff.js';
import { PathFilter } from '../../src/tree/filter.js';
import { DEFAULT_MIRROR_OPTIONS } from '../../src/tree/options.js';
import { ConnectionLease, ConnectionPool } from '../../src/ftp/pool.js';
import { FxpEngine } from '../../src/fxp/engine.js';
import { PathEscapeError } from '../../src/ftp/remote-path.js';
import { ScriptedFtpServer } from '../support/index.js';

function summary(o: Partial<MirrorSummary> = {}): MirrorSummary {
  return {
    source: 's', destination: 'd', dryRun: false,
    files: { transferred: 1, skipped: 0, excluded: 0, deleted: 0, failed: 0, unchanged: 0 },
    bytes: { transferred: 0 }, dirs: { created: 0, deleted: 0 }, touched: 0, modes: {},
    unsynced: [], skippedEntries: [], unusable: [], staleParts: [], failures: [], warnings: [], durationMs: 1000,
    ...o,
  };
}

test('an unusable name as a plan line and as JSON: the name always quoted, controls escaped', () => {
  const a: PlanAction = { kind: 'unusable', path: 'sub', name: '../x\r\u001b', side: 'source', reason: 'contains "/"' };
  assert.equal(renderAction(a), 'unusable  "../x\\r\\u001b" in sub/  (source: contains "/")');
  assert.deepEqual(actionToJson(a), { kind: 'unusable', path: 'sub', name: '../x\r\u001b', side: 'source', reason: 'contains "/"' });
  assert.equal(renderAction({ ...a, path: '', name: 'dup' }), 'unusable  "dup" in ./  (source: contains "/")');
});

test('unusable names make the run partial: summary section, one-line summary, exit 1', () => {
  const s = summary({
    unusable: [
      { dir: '', name: '../keep.txt', side: 'source', reason: 'contains "/"' },
      { dir: 'a b', name: 'x', side: 'destination', reason: 'duplicate entry' },
    ],
  });
  const lines = renderSummary(s).split('\n');
  assert.ok(lines.includes('unusable names (2, neither transferred nor deleted):'), lines.join('\n'));
  assert.ok(lines.includes('  "../keep.txt" in ./  (source: contains "/")'));
  assert.ok(lines.includes('  "x" in a b/  (destination: duplicate entry)'));
  assert.equal(summaryStatus(s), 'partial');
  assert.equal(renderSummaryLine(s), 'partial: 1 transferred (0 B), 0 deleted, 0 failed, 2 unusable in 1.0 s');
  assert.equal(summaryExit(s), EXIT.PARTIAL);
  assert.equal(summaryExit(summary()), EXIT.OK);
});

const f = (name: string, size = 1): ListEntry => ({ name, type: 'file', size, mtime: new Date(0), mtimePrecision: 0, mtimeApproximate: false });
const noFilter = () => PathFilter.fromOptions(DEFAULT_MIRROR_OPTIONS);

test('diff: blocked names are left alone on both sides; an unusable name that slipped through is too', () => {
  const opts = { ...DEFAULT_MIRROR_OPTIONS, delete: true };
  const r = diffDirectory('', [f('keep'), f('new')], [f('keep', 2), f('gone'), f('../x'), f('a\\b')], opts, noFilter(), new Set(['keep']));
  assert.deepEqual(r.actions.map((a) => `${a.kind} ${a.path}`), ['transfer new']);
  assert.deepEqual(r.deletes, [{ path: 'gone', type: 'file' }]);
  const s = diffDirectory('d', [f('../up'), f(''), f('ok')], [], opts, noFilter());
  assert.deepEqual(s.actions.map((a) => `${a.kind} ${a.path}`), ['transfer d/ok']);
});

test('engine: a destination path out of the root is refused before anything reaches either server', async () => {
  const src = await ScriptedFtpServer.start({ host: '127.0.79.1', files: { '/src/a': 'a' } });
  const dst = await ScriptedFtpServer.start({ host: '127.0.79.2', files: { '/dst/': '' } });
  const pools = [new ConnectionPool(src.clientOptions(), 1), new ConnectionPool(dst.clientOptions(), 1)];
  const [s, d] = pools.map((p) => new ConnectionLease(p));
  const engine = new FxpEngine({ fxp: 'auto', passive: 'source', allowClearData: false, verify: 'size', continue: false });
  try {
    for (const dstRel of ['../a', 'sub/../../a', '/etc/a', 'a\\b', '']) {
      await assert.rejects(engine.copy(s, d, { srcPath: '/src/a', dstRoot: '/dst', dstRel, size: 1 }), PathEscapeError, dstRel);
    }
    assert.deepEqual(dst.sent('STOR', 'RNFR', 'RNTO', 'DELE', 'MKD', 'MFMT'), []);
    assert.deepEqual(src.sent('RETR'), []);
    // The same engine still copies inside the root.
    await engine.copy(s, d, { srcPath: '/src/a', dstRoot: '/dst', dstRel: 'a', size: 1 });
    assert.equal(dst.tree.read('/dst/a')?.toString(), 'a');
    assert.deepEqual(dst.sent('STOR', 'RNFR', 'RNTO'), ['STOR /dst/.a.fxpmirror-part', 'RNFR /dst/.a.fxpmirror-part', 'RNTO /dst/a']);
  } finally {
    s.release();
    d.release();
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all([src.close(), dst.close()]);
  }
});
