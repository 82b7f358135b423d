/**
 * Everything the CLI prints goes through one Screen, so the progress line
 * (a status line redrawn in place on a terminal) and the lines printed while
 * it is shown never mix: to print a line, the status line is cleared, the
 * line printed, and the status line drawn again below it, as rclone and apt
 * do. Without a terminal there is no status line and printing is plain.
 *
 * stdout and stderr are written synchronously by Node on Linux (TTYs, files
 * and pipes), so clearing stderr's line and then writing to stdout cannot be
 * reordered.
 */

/** Erase the current line and return to its first column (ECMA-48 EL, "CSI K"). */
const CLEAR_LINE = '\r\x1b[K';

/** Columns left free at the end of the status line (see Screen.status). */
export const STATUS_MARGIN = 3;

export interface TerminalLike {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
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

export class Screen {
  /** What the status line shows now ('' when nothing is drawn). */
  private shown = '';
  private statusEnabled: boolean;

  constructor(
    private readonly stdout: TerminalLike = process.stdout,
    private readonly stderr: TerminalLike = process.stderr,
  ) {
    this.statusEnabled = !!stderr.isTTY;
  }

  /** A status line can be drawn: stderr is a terminal. */
  get interactive(): boolean {
    return this.statusEnabled;
  }

  /** The terminal's width. */
  get columns(): number {
    return Math.max(20, this.stderr.columns || 80);
  }

  /**
   * Redraw the status line in place, cut so it never wraps: three columns short
   * of the width. Writing the last column leaves some terminals in a
   * pending-wrap state, where the next character lands on a new line; and the
   * terminal echoes Ctrl-C as "^C" after the line, which must fit on it too, or
   * the "C" wraps and the line cannot be cleared any more.
   */
  status(text: string): void {
    if (!this.statusEnabled) return;
    const line = fitWidth(text, this.columns - STATUS_MARGIN);
    this.stderr.write(CLEAR_LINE + line);
    this.shown = line;
  }

  /** Remove the status line (the cursor stays at the start of the now empty line). */
  clearStatus(): void {
    if (this.shown) this.stderr.write(CLEAR_LINE);
    this.shown = '';
  }

  /** Complete lines for stdout (results, plans, summaries), printed above the status line. */
  out(text: string): void {
    this.above(this.stdout, text);
  }

  /** Complete lines for stderr (log lines, errors), printed above the status line. */
  err(text: string): void {
    this.above(this.stderr, text);
  }

  private above(stream: TerminalLike, text: string): void {
    if (!text) return;
    if (!this.shown) {
      stream.write(text);
      return;
    }
    this.stderr.write(CLEAR_LINE);
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    this.stderr.write(this.shown);
  }
}
