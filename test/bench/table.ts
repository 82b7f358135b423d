/**
 * The bench's result table: number formats, one row per figure, and the
 * markdown table printed at the end (the README shows one verbatim).
 */
export const MiB = 1024 * 1024;

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');
export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

export function fmtBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024 / MiB).toFixed(2)} GiB`;
}

/** A ratio "1.23×", or "—" when either side is missing. */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${fmt(r)}×` : '—';
}

/**
 * PASS/MISS: a figure against its goal. INFO: no goal. FAIL: a broken run
 * (wrong result on disk, timeout), never a slow one. LIMIT: a ceiling row
 * whose goal no client could reach on this machine (loopback.ts).
 */
export type Verdict = 'PASS' | 'MISS' | 'INFO' | 'FAIL' | 'LIMIT';

export interface Row {
  id: string;
  scenario: string;
  fxpmirror: string;
  lftp: string;
  ratio: string;
  goal: string;
  result: Verdict;
}

export function verdict(ok: boolean): Verdict {
  return ok ? 'PASS' : 'MISS';
}

export function printTable(rows: Row[], out: NodeJS.WritableStream = process.stdout): void {
  const cols: (keyof Row)[] = ['id', 'scenario', 'fxpmirror', 'lftp', 'ratio', 'goal', 'result'];
  const head: Record<keyof Row, string> = { id: '#', scenario: 'scenario', fxpmirror: 'fxpmirror', lftp: 'lftp', ratio: 'ratio', goal: 'goal', result: 'result' };
  const all: Record<keyof Row, string>[] = [head, ...rows];
  const width = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: Record<keyof Row, string>) => '| ' + cols.map((c, i) => r[c].padEnd(width[i])).join(' | ') + ' |';
  out.write(line(head) + '\n');
  out.write('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|\n');
  for (const r of rows) out.write(line(r) + '\n');
}

/** Progress on stderr, so that stdout holds only the table. */
export function say(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
