import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/ftp/entry.js';
import type { MirrorSummary, PlanAction } from '../../src/tree/plan.js';
import {
  actionToJson,
  displayText,
  entryToJson,
  formatBytes,
  formatDuration,
  formatModes,
  renderAction,
  renderSummary,
  renderSummaryLine,
} from '../../src/cli/render.js';
import { summaryStatus } from '../../src/cli/outcome.js';
import { emptySummary } from '../../src/tree/summary.js';

const entry = (name: string, size?: number, type: ListEntry['type'] = 'file'): ListEntry => ({
  name,
  type,
  size,
  mtime: new Date('2024-03-10T12:00:00.250Z'),
  mtimePrecision: 0,
  mtimeApproximate: false,
});

function summary(o: Partial<MirrorSummary> = {}): MirrorSummary {
  return {
    ...emptySummary('ftp://a.example/pub', 'ftp://b.example/mirror', false),
    files: { transferred: 12, skipped: 0, excluded: 0, deleted: 0, failed: 0, unchanged: 40 },
    bytes: { transferred: 4.1 * 1024 * 1024 },
    modes: { fxp: 12 },
    durationMs: 1234,
    ...o,
  };
}

test('formatBytes: bytes, binary units, one decimal, unit roll-over', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(4096), '4.0 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(4.1 * 1024 * 1024), '4.1 MiB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB', 'never "1024.0 KiB"');
  assert.equal(formatBytes(1023.7), '1.0 KiB', 'never "1024 B"');
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  assert.equal(formatBytes(-2048), '-2.0 KiB');
  assert.equal(formatBytes(NaN), 'NaN B');
});

test('formatDuration', () => {
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(1234, 1), '1.2 s');
  assert.equal(formatDuration(0), '0.00 s');
  assert.equal(formatDuration(125_000), '2 min 05 s');
  assert.equal(formatDuration(3_725_000), '1 h 02 min');
  assert.equal(formatDuration(-5), '0.00 s');
});

test('displayText: safe text unchanged, control characters JSON-escaped', () => {
  assert.equal(displayText('docs/a b.txt'), 'docs/a b.txt');
  assert.equal(displayText('caf\u00e9 \u65e5\u672c'), 'caf\u00e9 \u65e5\u672c');
  assert.equal(displayText('a\nb'), '"a\\nb"');
  assert.equal(displayText('\u001b[31mred'), '"\\u001b[31mred"');
  assert.equal(displayText('del\u007f'), '"del\\u007f"');
  assert.equal(displayText('c1\u009b2J'), '"c1\\u009b2J"');
  assert.equal(displayText('bidi\u202eexe.txt'), '"bidi\\u202eexe.txt"');
  assert.equal(displayText('ls\u2028x'), '"ls\\u2028x"');
  assert.equal(displayText('tab\tq"uote'), '"tab\\tq\\"uote"');
  // Escaped output is valid JSON that decodes to the original.
  for (const s of ['a\nb', '\u001b[31m', 'x\u007f\u009b\u202e"\\']) assert.equal(JSON.parse(displayText(s)), s);
});

test('renderAction: each kind, one line', () => {
  const cases: [PlanAction, string][] = [
    [{ kind: 'transfer', path: 'docs/a b.txt', reason: 'missing', src: entry('a b.txt', 4096) }, 'transfer  docs/a b.txt  (missing, 4.0 KiB)'],
    [{ kind: 'transfer', path: 'x', reason: 'time', src: entry('x'), dst: entry('x') }, 'transfer  x  (time)'],
    [
      { kind: 'transfer', path: 'x', reason: 'type', src: entry('x', 10), dst: entry('x', undefined, 'dir') },
      'transfer  x  (type: replaces dir, 10 B)',
    ],
    [{ kind: 'delete', path: 'old/x.bin', type: 'file' }, 'delete    old/x.bin'],
    [{ kind: 'delete', path: 'old', type: 'dir' }, 'delete    old/'],
    [{ kind: 'delete', path: 'l', type: 'link' }, 'delete    l'],
    [{ kind: 'mkdir', path: 'docs', reason: 'missing' }, 'mkdir     docs/'],
    [{ kind: 'mkdir', path: 'd', reason: 'missing', dst: entry('d', 3) }, 'mkdir     d/  (type: replaces file)'],
    [{ kind: 'skip', path: 'lnk', reason: 'symlink' }, 'skip      lnk  (symlink)'],
    [{ kind: 'skip', path: 'x', reason: 'conflict' }, 'skip      x  (conflict)'],
    [
      { kind: 'unsynced', path: 'secret', side: 'source', reason: '550 Permission denied' },
      'unsynced  secret/  (source listing failed: 550 Permission denied)',
    ],
    [{ kind: 'unsynced', path: '', side: 'destination', reason: 'timeout' }, 'unsynced  ./  (destination listing failed: timeout)'],
    [{ kind: 'verify', path: 'v', src: entry('v', 2048), dst: entry('v', 2048) }, 'verify    v  (checksum, 2.0 KiB)'],
    [{ kind: 'touch', path: 't', mtime: new Date('2024-01-02T03:04:05Z') }, 'touch     t  (mtime 2024-01-02T03:04:05.000Z)'],
  ];
  for (const [a, want] of cases) assert.equal(renderAction(a), want);
});

test('renderAction: names with control characters are JSON-escaped, line stays one line', () => {
  const t = renderAction({ kind: 'transfer', path: 'evil\n\u001b[2Jname', reason: 'missing', src: entry('x', 1) });
  assert.equal(t, 'transfer  "evil\\n\\u001b[2Jname"  (missing, 1 B)');
  assert.equal(renderAction({ kind: 'mkdir', path: 'd\r', reason: 'missing' }), 'mkdir     "d\\r/"');
  const u = renderAction({ kind: 'unsynced', path: 'x', side: 'source', reason: '550 bad\r\n\u001b]0;pwned\u0007' });
  assert.equal(u.includes('\n') || u.includes('\u001b') || u.includes('\u0007'), false);
  assert.match(u, /\\u001b\]0;pwned\\u0007/);
});

test('actionToJson: stable keys, ISO dates, no undefined, round-trips through JSON', () => {
  const src: ListEntry = { ...entry('a', 5), target: undefined, perm: 'adfr' };
  const j = actionToJson({ kind: 'transfer', path: 'd/a', reason: 'size', src, dst: entry('a', 6) });
  assert.deepEqual(j, {
    kind: 'transfer',
    path: 'd/a',
    reason: 'size',
    src: { name: 'a', type: 'file', size: 5, mtime: '2024-03-10T12:00:00.250Z', mtimePrecision: 0, mtimeApproximate: false, perm: 'adfr' },
    dst: { name: 'a', type: 'file', size: 6, mtime: '2024-03-10T12:00:00.250Z', mtimePrecision: 0, mtimeApproximate: false },
  });
  assert.deepEqual(Object.keys(j), ['kind', 'path', 'reason', 'src', 'dst']);
  assert.deepEqual(JSON.parse(JSON.stringify(j)), j);
  assert.deepEqual(actionToJson({ kind: 'mkdir', path: 'm', reason: 'missing' }), { kind: 'mkdir', path: 'm', reason: 'missing' });
  assert.deepEqual(actionToJson({ kind: 'delete', path: 'x', type: 'dir' }), { kind: 'delete', path: 'x', type: 'dir' });
  assert.deepEqual(actionToJson({ kind: 'touch', path: 't', mtime: new Date(0) }), { kind: 'touch', path: 't', mtime: '1970-01-01T00:00:00.000Z' });
  assert.deepEqual(actionToJson({ kind: 'touch', path: 't', mtime: new Date(NaN) }), { kind: 'touch', path: 't', mtime: null });
  assert.deepEqual(actionToJson({ kind: 'skip', path: 's', reason: 'loop' }), { kind: 'skip', path: 's', reason: 'loop' });
  assert.deepEqual(actionToJson({ kind: 'unsynced', path: 'u', side: 'destination', reason: 'r' }), {
    kind: 'unsynced',
    path: 'u',
    side: 'destination',
    reason: 'r',
  });
  const v = actionToJson({ kind: 'verify', path: 'v', src: entry('v', 1), dst: entry('v', 1) }) as { src: { mtime: string } };
  assert.equal(v.src.mtime, '2024-03-10T12:00:00.250Z');
  // Control characters survive JSON untouched (JSON escapes them itself).
  assert.equal((actionToJson({ kind: 'skip', path: 'a\nb', reason: 'special' }) as { path: string }).path, 'a\nb');
});

test('formatModes: fixed order, zero counts left out', () => {
  assert.equal(formatModes({ relay: 1, fxp: 12 }), 'fxp 12, relay 1');
  assert.equal(formatModes({ 'fxp-tls-sscn': 2, fxp: 0, 'fxp-epsv': 3 }), 'fxp-epsv 3, fxp-tls-sscn 2');
  assert.equal(formatModes({}), '');
});

test('renderSummary: a clean run', () => {
  const text = renderSummary(summary({ modes: { fxp: 12, relay: 1 }, durationMs: 2000 }));
  assert.equal(
    text,
    [
      'source:       ftp://a.example/pub',
      'destination:  ftp://b.example/mirror',
      'transferred:  12 files, 4.1 MiB',
      'unchanged:    40 files',
      'skipped:      0 entries',
      'deleted:      0 files, 0 directories',
      'failed:       0 files',
      'modes:        fxp 12, relay 1',
      'duration:     2.00 s',
      'throughput:   2.0 MiB/s',
    ].join('\n'),
  );
  assert.equal(text.includes('dry run'), false);
});

test('renderSummary: failures, unsynced, skipped (excluded among them), deletes, dirs, touched, delete limit', () => {
  const text = renderSummary(
    summary({
      files: { transferred: 1, skipped: 5, excluded: 3, deleted: 1, failed: 2, unchanged: 0 },
      dirs: { created: 3, deleted: 1 },
      touched: 4,
      unsynced: [{ path: 'secret', side: 'source', reason: '550 Permission denied' }],
      skippedEntries: [
        { path: 'lnk', reason: 'symlink' },
        { path: 'fifo', reason: 'special' },
      ],
      failures: [
        { path: 'a.bin', code: 'EFTPREPLY', message: 'STOR: 552 Quota exceeded' },
        { path: 'bad\u001bname', code: 'ETIMEOUT', message: 'data\nconnection timed out' },
      ],
      deleteLimit: { planned: 300, limit: '10%' },
    }),
  );
  const lines = text.split('\n');
  assert.ok(lines.includes('deleted:      1 file, 1 directory'));
  assert.ok(lines.includes('created:      3 directories'));
  assert.ok(lines.includes('touched:      4 files'));
  assert.ok(lines.includes('failed:       2 files'));
  assert.ok(lines.includes('skipped:      5 entries (3 excluded)'));
  assert.ok(lines.includes('delete limit: 300 planned, over --max-delete 10%: nothing was deleted'));
  assert.ok(lines.includes('unsynced subtrees (1, nothing under them was deleted):'));
  assert.ok(lines.includes('  secret/  (source listing failed: 550 Permission denied)'));
  assert.ok(lines.includes('  lnk  (symlink)'));
  assert.ok(lines.includes('failures (2):'));
  assert.ok(lines.includes('  a.bin: STOR: 552 Quota exceeded [EFTPREPLY]'));
  assert.ok(lines.includes('  "bad\\u001bname": "data\\nconnection timed out" [ETIMEOUT]'));
  assert.equal(text.includes('\u001b'), false);
});

test('renderSummary: long lists are cut with a pointer to --json', () => {
  const failures = Array.from({ length: 53 }, (_, i) => ({ path: `f${i}`, code: 'EFTPREPLY', message: '550 no' }));
  const text = renderSummary(summary({ failures, files: { transferred: 0, skipped: 0, excluded: 0, deleted: 0, failed: 53, unchanged: 0 } }));
  assert.ok(text.includes('  f49: 550 no [EFTPREPLY]'));
  assert.equal(text.includes('  f50:'), false);
  assert.ok(text.includes('  ... and 3 more (see --json)'));
});

test('renderSummary: dry run says so and uses future wording, no throughput', () => {
  const text = renderSummary(summary({ dryRun: true, dirs: { created: 2, deleted: 0 }, files: { transferred: 3, skipped: 0, excluded: 0, deleted: 5, failed: 0, unchanged: 1 } }));
  const lines = text.split('\n');
  assert.equal(lines[0], 'dry run: nothing changed');
  assert.ok(lines.includes('to transfer:  3 files, 4.1 MiB'));
  assert.ok(lines.includes('to delete:    5 files, 0 directories'));
  assert.ok(lines.includes('to create:    2 directories'));
  assert.equal(text.includes('throughput'), false);
});

test('renderSummary: no modes line and no throughput when nothing moved', () => {
  const text = renderSummary(summary({ modes: {}, bytes: { transferred: 0 }, files: { transferred: 0, skipped: 0, excluded: 0, deleted: 0, failed: 0, unchanged: 9 } }));
  assert.equal(text.includes('modes:'), false);
  assert.equal(text.includes('throughput'), false);
  assert.equal(renderSummary(summary({ durationMs: 0 })).includes('throughput'), false);
});

test('renderSummary: redacted URLs with control characters are escaped', () => {
  const text = renderSummary(summary({ source: 'ftp://h/\u001b[2J' }));
  assert.ok(text.split('\n').includes('source:       "ftp://h/\\u001b[2J"'));
});

test('renderSummaryLine: ok', () => {
  assert.equal(renderSummaryLine(summary()), 'ok: 12 transferred (4.1 MiB), 0 deleted, 0 failed in 1.2 s');
});

test('renderSummaryLine: partial on failures, unsynced or delete limit; deleted counts dirs too', () => {
  const failed = summary({ files: { transferred: 3, skipped: 0, excluded: 0, deleted: 2, failed: 2, unchanged: 0 }, dirs: { created: 0, deleted: 1 }, bytes: { transferred: 1024 } });
  assert.equal(renderSummaryLine(failed), 'partial: 3 transferred (1.0 KiB), 3 deleted, 2 failed in 1.2 s');
  const uns = summary({ unsynced: [{ path: 'x', side: 'destination', reason: 'r' }] });
  assert.equal(summaryStatus(uns), 'partial');
  assert.equal(renderSummaryLine(uns), 'partial: 12 transferred (4.1 MiB), 0 deleted, 0 failed, 1 unsynced in 1.2 s');
  const lim = summary({ deleteLimit: { planned: 50, limit: '10' } });
  assert.equal(renderSummaryLine(lim), 'partial: 12 transferred (4.1 MiB), 0 deleted, 0 failed, deletions stopped by --max-delete 10 (50 planned) in 1.2 s');
  for (const s of [failed, uns, lim]) assert.equal(renderSummaryLine(s).includes('\n'), false);
});

test('renderSummaryLine: dry run', () => {
  const s = summary({ dryRun: true, files: { transferred: 12, skipped: 0, excluded: 0, deleted: 3, failed: 0, unchanged: 0 } });
  assert.equal(renderSummaryLine(s), 'ok (dry run): 12 to transfer (4.1 MiB), 3 to delete, 0 failed in 1.2 s');
});

test('a listing entry as JSON: one form for ls --json and plan lines; mode as octal text, an invalid time as null', () => {
  const e: ListEntry = { name: 'a.txt', type: 'file', size: 5, mtime: new Date('2024-01-02T03:04:05Z'), mtimePrecision: 1000, mtimeApproximate: false, mode: 0o644, unique: 'u1' };
  assert.deepEqual(entryToJson(e), { name: 'a.txt', type: 'file', size: 5, mtime: '2024-01-02T03:04:05.000Z', mtimePrecision: 1000, mtimeApproximate: false, mode: '0644', unique: 'u1' });
  assert.equal(entryToJson({ ...e, mode: 0o4755 }).mode, '4755');
  assert.equal(entryToJson({ ...e, mtime: new Date(NaN) }).mtime, null);
  assert.ok(!('target' in entryToJson(e)), 'absent facts are left out');
  const plan = actionToJson({ kind: 'transfer', path: 'a.txt', reason: 'missing', src: e }) as { src: unknown };
  assert.deepEqual(plan.src, entryToJson(e));
});
