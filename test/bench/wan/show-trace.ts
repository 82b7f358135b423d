/**
 * Read a link trace (`npm run bench -- --only wan --trace DIR`) as people do:
 *
 *   node dist/test/bench/wan/show-trace.js FILE [CLIENT_PORT...]
 *
 * Each control connection (or only those of the given client ports) in turn,
 * its lines with milliseconds since the trace's first segment, and each client
 * wait (waits.ts) marked where it ends, with the files it belongs to; then
 * the counts countWaits() gives the bench.
 */
import * as fs from 'node:fs';
import { connectionEvents, connectionWaits, countWaits, fixtureFileKey, parseTrace } from './waits.js';

function main(argv: string[]): number {
  const [file, ...ports] = argv;
  if (!file) {
    process.stderr.write('usage: node dist/test/bench/wan/show-trace.js FILE [CLIENT_PORT...]\n');
    return 2;
  }
  const text = fs.readFileSync(file, 'latin1');
  const segments = parseTrace(text);
  const t0 = segments.length ? Math.min(...segments.map((s) => s.tUs)) : 0;
  const ms = (us: number) => ((us - t0) / 1000).toFixed(3).padStart(10);
  const byConn = [...connectionEvents(segments)].sort((a, b) => (a[1][0]?.tUs ?? 0) - (b[1][0]?.tUs ?? 0));
  for (const [conn, events] of byConn) {
    if (ports.length && !ports.includes(conn.split(' ')[0])) continue;
    process.stdout.write(`\n== client port ${conn.replace(' ', ' -> ')}\n`);
    const waits = connectionWaits(conn, events, fixtureFileKey);
    let w = 0;
    for (const e of events) {
      while (w < waits.length && waits[w].endUs <= e.tUs) {
        const x = waits[w++];
        const files = x.files.length ? x.files.join(', ') : 'other';
        process.stdout.write(`${' '.repeat(12)}-- wait ${((x.endUs - x.startUs) / 1000).toFixed(1)} ms (${files})\n`);
      }
      if (e.kind === 'connect') process.stdout.write(`${ms(e.tUs)}  > (connect)\n`);
      for (const l of e.lines) process.stdout.write(`${ms(e.tUs)}  ${e.kind === 'send' ? '>' : '<'} ${l}\n`);
    }
  }
  const c = countWaits(text);
  process.stdout.write(
    `\n${c.connections} control connections, ${c.filesRetrieved} files retrieved; file waits ${c.fileWaits} ` +
      `(${c.fileWaitsUnmerged} before merging the two sides), other waits ${c.otherWaits}\n`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
