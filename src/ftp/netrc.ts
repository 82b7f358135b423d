/**
 * ~/.netrc as ftp(1) and curl read it. Pure: text in, entries out; reading
 * the file (and deciding when) is src/ftp/credentials.ts.
 */
import { CredentialError, type SourcePosition } from './errors.js';

export type NetrcKey = 'login' | 'password' | 'account';

export interface NetrcEntry {
  /** null for the "default" entry. */
  machine: string | null;
  login?: string;
  password?: string;
  account?: string;
  /** Where each value was written, so a bad one is reported by line, never by its text. */
  at: Partial<Record<NetrcKey, SourcePosition>>;
}

/**
 * Whitespace-separated tokens, "machine <name>" or "default" starts an
 * entry, followed by login/password/account <value>. "macdef <name>" starts a
 * macro whose body runs to the next blank line; it is skipped. Double-quoted
 * tokens (with \" and \\ escapes) allow spaces in passwords. A "#" at the
 * start of a token where a keyword is expected comments out the rest of the
 * line (curl does the same). Unknown keywords and tokens before the first
 * machine are ignored.
 *
 * A quote that is never closed throws CredentialError at the quote: reading
 * on would make the rest of the file one password, and an error quoting that
 * password would print every other password in the file.
 */
export function parseNetrc(text: string, file = '.netrc'): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  let pos = 0;
  const n = text.length;
  // Line bookkeeping for positions: the offset where the current line starts.
  let line = 1;
  let lineStart = 0;
  const advanceTo = (to: number): void => {
    for (let i = pos; i < to; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    pos = to;
  };
  const here = (): SourcePosition => ({ file, line, col: pos - lineStart + 1 });

  const skipSpace = (): void => {
    let to = pos;
    while (to < n && /\s/.test(text[to])) to++;
    advanceTo(to);
  };
  const readToken = (): { value: string; at: SourcePosition } | undefined => {
    skipSpace();
    if (pos >= n) return undefined;
    const at = here();
    if (text[pos] === '"') {
      let to = pos + 1;
      let out = '';
      while (to < n && text[to] !== '"') {
        if (text[to] === '\\' && to + 1 < n) to++;
        out += text[to++];
      }
      if (to >= n) throw new CredentialError('unterminated quoted token (a quote is never closed; nothing after it is read)', at);
      advanceTo(to + 1);
      return { value: out, at };
    }
    let to = pos;
    while (to < n && !/\s/.test(text[to])) to++;
    const value = text.slice(pos, to);
    advanceTo(to);
    return { value, at };
  };
  const skipLine = (): void => {
    const nl = text.indexOf('\n', pos);
    advanceTo(nl === -1 ? n : nl + 1);
  };

  for (;;) {
    skipSpace();
    if (pos >= n) break;
    if (text[pos] === '#') {
      skipLine();
      continue;
    }
    const keyword = readToken();
    if (keyword === undefined) break;
    switch (keyword.value) {
      case 'machine': {
        const name = readToken();
        if (name === undefined) return entries;
        current = { machine: name.value, at: {} };
        entries.push(current);
        break;
      }
      case 'default':
        current = { machine: null, at: {} };
        entries.push(current);
        break;
      case 'login':
      case 'password':
      case 'account': {
        const value = readToken();
        if (value === undefined) return entries;
        if (current) {
          current[keyword.value] = value.value;
          current.at[keyword.value] = value.at;
        }
        break;
      }
      case 'macdef': {
        readToken(); // macro name
        skipLine();
        // The body ends at the first empty (or whitespace-only) line.
        while (pos < n) {
          const nl = text.indexOf('\n', pos);
          const body = text.slice(pos, nl === -1 ? n : nl);
          advanceTo(nl === -1 ? n : nl + 1);
          if (body.trim() === '') break;
        }
        break;
      }
      default:
        break; // unknown token: ignore, as ftp(1) does
    }
  }
  return entries;
}

/**
 * The entry for `host`: the first "machine" entry with that name (case-
 * insensitive) whose login matches `user` when one is given, else the
 * "default" entry. An entry without a login matches any user. An entry whose
 * login differs from `user` never matches: its password belongs to someone else.
 */
export function findNetrc(entries: NetrcEntry[], host: string, user?: string): NetrcEntry | undefined {
  const loginOk = (e: NetrcEntry): boolean => user === undefined || e.login === undefined || e.login === user;
  const h = host.toLowerCase();
  return (
    entries.find((e) => e.machine !== null && e.machine.toLowerCase() === h && loginOk(e)) ??
    entries.find((e) => e.machine === null && loginOk(e))
  );
}
