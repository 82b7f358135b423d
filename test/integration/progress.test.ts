/**
 * The progress display in a real pseudo-terminal: the CLI runs under
 * util-linux `script` (which gives it a pty, its width set with `stty cols`),
 * and what it wrote is replayed by a small terminal emulator (test/lab/vt.ts)
 * to see the screen a user would see: no line of the status block wraps, log
 * lines are printed above it and never into it, and Ctrl-C leaves a clean
 * screen: the log says what is stopping, the summary comes marked
 * "interrupted", and the exit code is 130. A throttled FXP transfer shows its
 * bytes, percent and rate growing (the destination's part file, polled), and
 * the overall figures move with it before it completes.
 *
 *   src   pyftpdlib  127.0.3.35:2335
 *   dst   proftpd    127.0.3.36:2336
 *   slow  vsftpd     127.0.3.37:2337  (sends at most 1 MiB/s)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { textWidth } from '../../src/cli/screen.js';
import { LAB_PASSWORD, LAB_USER, stopAll, type LabServer } from '../lab/lab.js';
import { CLI_BIN, requireServers, startPlan, urlOf, writeLabFile } from '../lab/helpers.js';
import { replay } from '../lab/vt.js';

const UNAVAILABLE = requireServers(['pyftpdlib', 'proftpd', 'vsftpd']);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fxpmirror-progress-test-'));
const LOCKS = path.join(TMP, 'locks');
/** Copied one at a time: some seconds of transfers, each a log line short enough not to wrap at 80 columns. */
const FILES = 1500;

/** The throttled source's rate, and a file that takes it about 6 s. */
const SLOW_RATE = 1024 * 1024;
const BIG_DATA = randomBytes(6 * 1024 * 1024);

/** A log line on a terminal: clock time, level, event. */
const LOG_LINE = /^\d\d:\d\d:\d\d (info |warn |error) /;
/** What the status line starts with ("12/40 files" or "12/40+ files"). */
const STATUS = /^\d+\/\d+\+? files {2}/;

interface PtyRun {
  code: number | null;
  raw: string;
}

/** `cmd` in a pseudo-terminal `columns` wide; Ctrl-C typed after `interruptAfterMs`. */
function inPty(cmd: string, columns: number, interruptAfterMs?: number): Promise<PtyRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, TERM: 'xterm', PTY_PW: LAB_PASSWORD };
    const child = spawn('script', ['-qfec', `stty cols ${columns} rows 50; exec ${cmd}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let raw = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (raw += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (raw += c));
    const timer = interruptAfterMs !== undefined ? setTimeout(() => child.stdin.write('\x03'), interruptAfterMs) : undefined;
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(kill);
      child.stdin.destroy();
      resolve({ code, raw });
    });
  });
}

/** The status block's erase: CR, up to its first line, erase below (src/cli/screen.ts). */
const ERASE = /\r(?:\x1b\[\d+A)?\x1b\[J/;

/**
 * Every status block drawn, as its lines: what follows each erase, from the
 * overall line on (lines printed above the block come before it).
 */
function statusFrames(raw: string): string[][] {
  return raw
    .split(ERASE)
    .map((chunk) => chunk.split(/\r?\n/).map((l) => l.replace(/\r/g, '')))
    .map((lines) => lines.slice(lines.findIndex((l) => STATUS.test(l))))
    .filter((lines) => lines.length > 0 && STATUS.test(lines[0]));
}

function cli(args: string[]): string {
  return [process.execPath, CLI_BIN, ...args].map((a) => `'${a}'`).join(' ');
}

describe('the progress display in a pseudo-terminal', { skip: UNAVAILABLE ?? false }, () => {
  let S: Record<'src' | 'dst' | 'slow', LabServer>;
  before(async () => {
    S = await startPlan({
      src: ['pyftpdlib', { address: '127.0.3.35', port: 2335 }],
      dst: ['proftpd', { address: '127.0.3.36', port: 2336 }],
      slow: ['vsftpd', { address: '127.0.3.37', port: 2337, rateLimit: SLOW_RATE }],
    });
    writeLabFile(path.join(S.slow.root, 'big', 'big.bin'), BIG_DATA);
    for (let i = 0; i < 3; i++) writeLabFile(path.join(S.slow.root, 'big', `small-${i}.bin`), Buffer.alloc(10_000, i));
    for (let i = 0; i < FILES; i++) {
      const name = i % 100 === 7 ? `日本語-${i}.bin` : `f${String(i).padStart(4, '0')}.bin`;
      writeLabFile(path.join(S.src.root, 'many', `d${i % 5}`, name), Buffer.alloc(1000 + i, i % 251));
    }
  });
  after(async () => {
    await stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  });

  test('80 columns, Ctrl-C: the status line never wraps, logs stay above it, a clean screen with an "interrupted" summary, exit 130', async () => {
    const r = await inPty(cli(['mirror', urlOf(S.src, 'many'), urlOf(S.dst, 'interrupted'), '-P1', '--lock-dir', LOCKS]), 80, 1500);
    assert.equal(r.code, 130, r.raw.slice(-2000));
    const frames = statusFrames(r.raw);
    assert.ok(frames.length >= 3, `the status block was drawn (${frames.length} frames)`);
    for (const l of frames.flat()) assert.ok(textWidth(l) <= 77, `a status line wider than the terminal allows: ${JSON.stringify(l)}`);
    // Transfers were running while it was drawn: each on a line of its own, its name last.
    assert.ok(frames.some((f) => f.slice(1).some((l) => /^ {2}.* {2}(d\d\/)?\S+\.bin(\^C)?$/.test(l))), frames.slice(-3).flat().join('\n'));
    // Log lines are short here; only the interruption's line is longer than 80 columns, and wraps as any line does.
    // The terminal echoes the typed Ctrl-C as "^C" wherever its cursor is, which can be the start of a log line.
    const shown = replay(r.raw, 80).logical.map((l) => l.replace('^C', '')).filter((l) => l !== '');
    const said = shown.findIndex((l) => / warn {2}interrupted SIGINT: /.test(l));
    assert.ok(said > 10, 'log lines were printed, then the interruption');
    assert.match(shown[said], /^\d\d:\d\d:\d\d warn {2}interrupted SIGINT: starting no new transfer, aborting the running ones: \d+ of \d+\+? files transferred \(.*\) in \d+\.\d s, \d+ running$/);
    // Once wound down, the summary, marked: the last thing on the screen.
    const summaryAt = shown.indexOf('interrupted by SIGINT: stopped early, nothing deleted; a new run completes it');
    assert.ok(summaryAt > said, shown.slice(-15).join('\n'));
    assert.match(shown[summaryAt + 1], /^source: {7}ftp:\/\//);
    assert.match(shown.at(-1)!, /^(duration|throughput): /);
    for (const [i, l] of shown.slice(0, summaryAt).entries()) {
      if (i === said) continue;
      // Every other line left on the screen is a whole log line: no status text mixed in, none left over.
      assert.match(l, LOG_LINE, `not a log line: ${JSON.stringify(l)}`);
      assert.match(l, / fxp missing$/, `a log line with something mixed in: ${JSON.stringify(l)}`);
      assert.doesNotMatch(l, / files {2}/, l);
    }
    for (const l of shown) assert.doesNotMatch(l, STATUS, `a status line left on the screen: ${l}`);
    assert.deepEqual(fs.readdirSync(LOCKS), [], 'Ctrl-C released the target lock');
  });

  test('120 columns, run to the end with --stats: totals marked while walking, then percent and ETA; the summary below', async () => {
    const job = path.join(TMP, 'job.yaml');
    fs.writeFileSync(
      job,
      `version: 1\nservers:\n  src:\n    url: ftp://127.0.3.35:2335/\n    user: ${LAB_USER}\n    password: \${PTY_PW}\n` +
        `  dst:\n    url: ftp://127.0.3.36:2336/\n    user: ${LAB_USER}\n    password: \${PTY_PW}\njobs:\n  - name: pty\n    from: src:/many\n    to: dst:/completed\n    parallel: 1\n`,
    );
    const r = await inPty(cli(['run', job, '--lock-dir', LOCKS, '--stats', '1']), 120);
    assert.equal(r.code, EXIT.OK, r.raw.slice(-2000));
    const frames = statusFrames(r.raw).map((f) => f[0]);
    for (const f of statusFrames(r.raw).flat()) assert.ok(textWidth(f) <= 117, JSON.stringify(f));
    assert.ok(frames.some((f) => /^\d+\/\d+\+ files {2}\S+ \S+\/\S+ \S+\+ {2}--% /.test(f)), `a frame while walking:\n${frames.slice(0, 3).join('\n')}`);
    assert.ok(frames.some((f) => /^\d+\/1500 files {2}.* {2}\d+% {2}\S+ \S+\/s {2}ETA \d+:\d\d/.test(f)), `a frame with percent and ETA:\n${frames.slice(-3).join('\n')}`);
    // Log lines longer than the terminal wrap as any line does; the status line must not (frames above).
    const shown = replay(r.raw, 120).logical.filter((l) => l !== '');

    const stats = shown.filter((l) => / info {2}stats /.test(l));
    assert.ok(stats.length >= 1, '--stats logs the figures as log lines');
    for (const l of stats) assert.match(l, /stats \d+\/\d+\+? files {2}/);
    const summaryAt = shown.indexOf('source:       src:/many');
    assert.ok(summaryAt > 0, shown.slice(-15).join('\n'));
    // The job's header comes with its first line on stdout (here: the summary).
    assert.equal(shown[summaryAt - 1], '== pty: src:/many -> dst:/completed');
    assert.ok(shown.includes(`transferred:  ${FILES} files, ${shown.find((l) => l.startsWith('transferred:'))!.split(', ')[1]}`));
    for (const l of shown.slice(0, summaryAt - 1)) assert.match(l, LOG_LINE, `not a log line: ${JSON.stringify(l)}`);
    for (const l of shown) assert.doesNotMatch(l, STATUS, `a status line left on the screen: ${l}`);
  });

  test('80 columns, a throttled FXP transfer: its line shows bytes, percent and rate growing, the overall figures move with it, --stats logs them', async () => {
    const r = await inPty(cli(['mirror', urlOf(S.slow, 'big'), urlOf(S.dst, 'big'), '-P2', '--lock-dir', LOCKS, '--stats', '1']), 80);
    assert.equal(r.code, EXIT.OK, r.raw.slice(-2000));
    assert.equal(createHash('sha256').update(fs.readFileSync(path.join(S.dst.root, 'big', 'big.bin'))).digest('hex'), createHash('sha256').update(BIG_DATA).digest('hex'));
    const frames = statusFrames(r.raw);
    for (const l of frames.flat()) assert.ok(textWidth(l) <= 77, `a status line wider than the terminal allows: ${JSON.stringify(l)}`);
    // The big file's line: "   41%     2.5 MiB/6.0 MiB    1.0 MiB/s  big.bin".
    const BIG = /^ {2} {0,2}(\d+)% {2} *(\d+\.\d \S+|\d+ B)\/6\.0 MiB {2} *(\S+ \S+)\/s {2}big\.bin$/;
    const OVERALL = /^\d+\/4\+? files {2}(\d+(?:\.\d)? \S+)\/\S+ \S+\+? {2}(\d+|--)% /;
    const seen = frames
      .map((f) => ({ big: f.slice(1).map((l) => BIG.exec(l)).find((m) => m !== null), overall: OVERALL.exec(f[0]) }))
      .filter((x) => x.big && x.overall);
    const percents = seen.map((x) => Number(x.big![1]));
    const distinct = [...new Set(percents)];
    assert.ok(distinct.filter((p) => p > 0 && p < 100).length >= 3, `the big file's percent grew in successive frames: ${distinct.join(' ')}\n${frames.slice(-2).flat().join('\n')}`);
    assert.deepEqual(percents, [...percents].sort((a, b) => a - b), 'never backwards (no restart here)');
    const bytes = [...new Set(seen.map((x) => x.big![2]))];
    assert.ok(bytes.length >= 3, `its byte count grew: ${bytes.join(', ')}`);
    assert.ok(seen.some((x) => /^(\d{3}\.\d KiB|\d\.\d MiB)$/.test(x.big![3])), `a rate near the throttle: ${seen.map((x) => x.big![3]).join(', ')}`);
    // The overall bytes and percent move during the big file, not only when it completes.
    const overall = [...new Set(seen.map((x) => x.overall![1]))];
    assert.ok(overall.length >= 3, `the overall bytes moved while it ran: ${overall.join(', ')}`);
    assert.ok(new Set(seen.map((x) => x.overall![2]).filter((p) => p !== '--')).size >= 3, 'and so did the overall percent');
    // --stats: the same figures as log lines, the running transfer with its bytes and percent.
    // The terminal echoes the typed Ctrl-C as "^C" wherever its cursor is, which can be the start of a log line.
    const shown = replay(r.raw, 80).logical.map((l) => l.replace('^C', '')).filter((l) => l !== '');
    const stats = shown.filter((l) => / info {2}stats \d+\/4\+? files {2}/.test(l));
    assert.ok(stats.some((l) => /\| (.*, )?big\.bin \S+ \S+\/6\.0 MiB ([1-9]|[1-9]\d)% \S+ \S+\/s/.test(l)), `a stats line with the running transfer:\n${stats.join('\n')}`);
    for (const l of shown) assert.doesNotMatch(l, STATUS, `a status line left on the screen: ${l}`);
    assert.ok(shown.some((l) => / info {2}transfer big\.bin 6\.0 MiB fxp /.test(l)), shown.join('\n'));
  });
});
