/**
 * Everything the CLI prints goes through one Screen, so the progress display
 * (a status block at the bottom, redrawn in place on a terminal) and the
 * lines printed while it is shown never mix: to print a line, the block is
 * erased, the line printed, and the block drawn again below it, as rclone and
 * apt do. Without a terminal there is no status block and printing is plain.
 *
 * The block is drawn with relative moves only (CR, "cursor up", "erase
 * below"), never absolute positions, so it works wherever the cursor was.
 * Each line is cut to the width, so no line wraps and the block takes exactly
 * one row per line; it is kept shorter than the terminal, or "cursor up" could
 * not reach its first line.
 *
 * stdout and stderr are written synchronously by Node on Linux (TTYs, files
 * and pipes), so erasing on stderr and then writing to stdout cannot be
 * reordered.
 */

/** Erase from the cursor to the end of the screen (ECMA-48 ED, "CSI J"). */
const ERASE_BELOW = '\x1b[J';

/** Columns left free at the end of each status line (see Screen.status). */
export const STATUS_MARGIN = 3;

export interface TerminalLike {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/** Zero-width: combining marks, zero-width joiners and variation selectors. */
function zeroWidth(cp: number): boolean {
  return (
    (cp >= 0x0300 && cp <= 0x036f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xfe20 && cp <= 0xfe2f)
  );
}

/** East Asian Wide and Fullwidth ranges (UAX #11), and emoji: two columns. */
function wide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns a code point takes on a terminal. */
function columnsOf(cp: number): number {
  if (zeroWidth(cp)) return 0;
  return wide(cp) ? 2 : 1;
}

/** How many columns `text` takes (text without control characters: callers escape names first). */
export function textWidth(text: string): number {
  let n = 0;
  for (const ch of text) n += columnsOf(ch.codePointAt(0)!);
  return n;
}

/** The longest prefix of `text` that fits in `columns` (a wide character is never cut in half). */
export function fitWidth(text: string, columns: number): string {
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const w = columnsOf(ch.codePointAt(0)!);
    if (used + w > columns) break;
    used += w;
    end += ch.length;
  }
  return text.slice(0, end);
}

/** `text`, or "…" and the longest end of it that fits in `columns`: a path keeps its file name. */
export function fitTail(text: string, columns: number): string {
  if (textWidth(text) <= columns) return text;
  const chars = [...text];
  let used = 1;
  let start = chars.length;
  while (start > 0 && used + columnsOf(chars[start - 1].codePointAt(0)!) <= columns) used += columnsOf(chars[--start].codePointAt(0)!);
  return `…${chars.slice(start).join('')}`;
}

export class Screen {
  /** The status block's lines as drawn now (none when nothing is drawn); the cursor is at the end of the last. */
  private shown: string[] = [];
  private statusEnabled: boolean;

  constructor(
    private readonly stdout: TerminalLike = process.stdout,
    private readonly stderr: TerminalLike = process.stderr,
  ) {
    this.statusEnabled = !!stderr.isTTY;
  }

  /** A status block can be drawn: stderr is a terminal. */
  get interactive(): boolean {
    return this.statusEnabled;
  }

  /** The terminal's width. */
  get columns(): number {
    return Math.max(20, this.stderr.columns || 80);
  }

  /** The terminal's height. */
  get rows(): number {
    return Math.max(3, this.stderr.rows || 24);
  }

  /**
   * Redraw the status block in place, each line cut so it never wraps: three
   * columns short of the width. Writing the last column leaves some terminals
   * in a pending-wrap state, where the next character lands on a new line; and
   * the terminal echoes Ctrl-C as "^C" after the last line, which must fit on
   * it too, or the "C" wraps and the block cannot be erased any more. At most
   * rows - 1 lines: the first must stay on the screen.
   */
  status(lines: string | string[]): void {
    if (!this.statusEnabled) return;
    const block = (typeof lines === 'string' ? [lines] : lines).slice(0, this.rows - 1).map((l) => fitWidth(l, this.columns - STATUS_MARGIN));
    this.stderr.write(this.erase() + block.join('\n'));
    this.shown = block;
  }

  /** Remove the status block (the cursor stays at the start of the now empty line where it began). */
  clearStatus(): void {
    if (this.shown.length) this.stderr.write(this.erase());
    this.shown = [];
  }

  /** From the end of the block to the start of its first line, erasing everything below. */
  private erase(): string {
    const up = this.shown.length > 1 ? `\x1b[${this.shown.length - 1}A` : '';
    return `\r${up}${ERASE_BELOW}`;
  }

  /** Complete lines for stdout (results, plans, summaries), printed above the status block. */
  out(text: string): void {
    this.above(this.stdout, text);
  }

  /** Complete lines for stderr (log lines, errors), printed above the status block. */
  err(text: string): void {
    this.above(this.stderr, text);
  }

  private above(stream: TerminalLike, text: string): void {
    if (!text) return;
    if (!this.shown.length) {
      stream.write(text);
      return;
    }
    this.stderr.write(this.erase());
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    this.stderr.write(this.shown.join('\n'));
  }
}
