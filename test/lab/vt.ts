/**
 * A very small terminal emulator for tests: it replays what a program wrote
 * to a terminal (captured through a pseudo-terminal with `script`) and gives
 * the lines left on the screen, so a test can check what a user would see.
 *
 * It knows what fxpmirror's output can contain: printable text (wide CJK
 * characters take two columns), CR, LF (as CR LF, the tty's onlcr), BS, and the CSI sequences "erase in
 * line" (K), "erase below" (J, mode 0: the screen ends at the cursor's line) and cursor movements, which
 * it applies or ignores. Like a real
 * terminal, text that reaches the right margin wraps onto the next line; each
 * wrap is counted, since a status line that wraps is exactly the bug to catch.
 */
import { textWidth } from '../../src/cli/screen.js';

export interface ScreenState {
  /** The screen's lines, trailing spaces removed (scrollback included). */
  lines: string[];
  /** The same with every wrapped line joined to the line it continues: the lines as written. */
  logical: string[];
  /** How many times text ran past the right margin onto a new line. */
  wraps: number;
  /** The widest line ever drawn, in columns. */
  widest: number;
}

export function replay(raw: string, columns: number): ScreenState {
  const lines: string[][] = [[]];
  /** Rows that a wrap started (continuations of the row above). */
  const continued = new Set<number>();
  let row = 0;
  let col = 0;
  let wraps = 0;
  let widest = 0;
  const line = () => (lines[row] ??= []);
  const newline = () => {
    row++;
    while (lines.length <= row) lines.push([]);
  };
  for (let i = 0; i < raw.length; ) {
    const ch = raw[i];
    if (ch === '\x1b') {
      // CSI: ESC [ params final-byte; other escapes: ESC and one byte.
      if (raw[i + 1] === '[') {
        let j = i + 2;
        while (j < raw.length && !/[@-~]/.test(raw[j])) j++;
        const params = raw.slice(i + 2, j);
        const final = raw[j];
        if (final === 'K') {
          const mode = params === '' ? 0 : Number(params);
          const l = line();
          if (mode === 0) l.length = Math.min(l.length, col);
          else if (mode === 2) l.length = 0;
          else for (let k = 0; k < col && k < l.length; k++) l[k] = ' ';
        } else if (final === 'J' && (params === '' || params === '0')) {
          // Erase from the cursor to the end of the screen: the rest of this line and every line below.
          line().length = Math.min(line().length, col);
          lines.length = row + 1;
          for (const r of [...continued]) if (r > row) continued.delete(r);
        } else if (final === 'G') col = Math.max(0, Number(params || '1') - 1);
        else if (final === 'A') row = Math.max(0, row - Number(params || '1'));
        i = j + 1;
      } else i += 2;
      continue;
    }
    const cp = raw.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    i += len;
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      // The terminal's onlcr (on by default) makes every LF a CR LF.
      newline();
      col = 0;
    }
    else if (ch === '\b') col = Math.max(0, col - 1);
    else if (cp < 0x20 || cp === 0x7f) continue;
    else {
      const w = textWidth(String.fromCodePoint(cp));
      if (col + w > columns) {
        wraps++;
        newline();
        continued.add(row);
        col = 0;
      }
      const l = line();
      while (l.length < col) l.push(' ');
      l[col] = String.fromCodePoint(cp);
      if (w === 2) l[col + 1] = '';
      col += w;
      widest = Math.max(widest, col);
    }
  }
  const text = lines.map((l) => l.join(''));
  const logical: string[] = [];
  text.forEach((t, i) => {
    if (continued.has(i) && logical.length) logical[logical.length - 1] += t;
    else logical.push(t);
  });
  const trim = (l: string) => l.replace(/\s+$/, '');
  return { lines: text.map(trim), logical: logical.map(trim), wraps, widest };
}
