/**
 * FTP reply parser (RFC 959 §4.2). Pure: the control connection feeds it the
 * text it has buffered and gets back whole replies plus the unfinished tail.
 *
 * The caller decodes bytes to text (a StringDecoder keeps a UTF-8 sequence cut
 * between two TCP chunks intact); this module only ever looks at whole lines.
 */
import { FtpBadReplyError } from './errors.js';

export interface FtpReply {
  code: number;
  /** The raw lines as received, CR stripped, code prefixes kept. */
  lines: string[];
  /** Text of all lines without the code prefix, joined by \n. */
  message: string;
}

export interface ParsedReplies {
  replies: FtpReply[];
  /** Everything from the start of the first unfinished reply on; feed it back with the next chunk. */
  rest: string;
}

/** A server that sends more than this without finishing a reply is broken or hostile. */
export const MAX_REPLY_BYTES = 64 * 1024;

/** What follows a line's three-digit code: FINAL for `NNN text` or a bare `NNN` (some servers send no text, e.g. "200\r\n"); OPENING for `NNN-text`, the first line of a multi-line reply (RFC 959 §4.2). */
const FINAL = 1;
const OPENING = 2;

/**
 * FINAL, OPENING, or 0 for a line that does not start with three ASCII digits
 * and then " ", "-" or its end (the regular expressions /^\d{3}(?: |$)/ and
 * /^\d{3}-/, without a match array per line: this runs for every reply).
 */
function lineKind(line: string): number {
  if (line.length < 3 || !isDigit(line.charCodeAt(0)) || !isDigit(line.charCodeAt(1)) || !isDigit(line.charCodeAt(2))) return 0;
  if (line.length === 3) return FINAL;
  const sep = line.charCodeAt(3);
  return sep === 0x20 ? FINAL : sep === 0x2d ? OPENING : 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * RFC 959 §4.2.1: the first digit of a reply code is 1 to 5. "000", "999" or
 * "600" is not a reply a client can act on: the peer is broken or is not an
 * FTP server, and nothing it says next can be trusted to be in step. `line`
 * starts with three digits (lineKind).
 */
function checkCode(line: string): number {
  const n = (line.charCodeAt(0) - 0x30) * 100 + (line.charCodeAt(1) - 0x30) * 10 + (line.charCodeAt(2) - 0x30);
  if (n < 100 || n > 599) {
    throw new FtpBadReplyError(`server sent a reply code outside 100-599: ${JSON.stringify(truncate(line))}`);
  }
  return n;
}

/**
 * Parse as many complete replies as `buffer` holds; the unfinished tail comes
 * back in `rest` (re-feed it, followed by the next chunk).
 *
 * Only lines terminated by LF count: a chunk cut mid-line ("22" + "6 OK\r\n",
 * or "211 End" before its CRLF arrives) is never mistaken for a complete line.
 * Bare LF is tolerated as a terminator as well as CRLF.
 *
 * Multi-line replies: RFC 959 §4.2 says the group opens with `NNN-` and closes
 * with `NNN ` carrying the same code. glftpd closes some groups with a
 * DIFFERENT code (e.g. opens `200-`, closes `230 `). Decision: inside a group,
 * the first line matching /^\d{3}( |$)/ closes it whatever its code, and the
 * reply's code is the closing line's, because the final status line is what the
 * server means. Lines inside the group that merely start with digits
 * (" 211 x", "123-x", "1234 x") are text.
 *
 * Throws FtpBadReplyError when a line outside a group does not start with a
 * reply code (the peer is not speaking FTP, or we lost sync), when a code is
 * outside 100-599, or when one reply (finished or not) grows beyond
 * `maxReplyBytes` UTF-8 bytes.
 */
export function parseReplies(buffer: string, maxReplyBytes: number = MAX_REPLY_BYTES): ParsedReplies {
  const replies: FtpReply[] = [];
  let pos = 0; // start of the next line not yet consumed
  // The multi-line group being accumulated, if any.
  let groupStart = -1;
  let groupLines: string[] = [];
  let groupBytes = 0;

  for (;;) {
    const nl = buffer.indexOf('\n', pos);
    if (nl === -1) break;
    const lineStart = pos;
    // One CR before the LF is part of the terminator.
    const line = buffer.slice(lineStart, nl > lineStart && buffer.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl);
    pos = nl + 1;

    if (groupStart !== -1) {
      groupLines.push(line);
      groupBytes += utf8Length(buffer, lineStart, pos);
      if (groupBytes > maxReplyBytes) throw oversized(maxReplyBytes);
      if (lineKind(line) === FINAL) {
        replies.push(makeReply(checkCode(line), groupLines));
        groupStart = -1;
        groupLines = [];
        groupBytes = 0;
      }
      continue;
    }

    // Tolerated between replies: some servers emit a stray blank line (e.g. an
    // extra CRLF after a banner). It carries nothing, so skip it rather than
    // tearing down the connection.
    if (line === '') continue;

    const lineBytes = utf8Length(buffer, lineStart, pos);
    if (lineBytes > maxReplyBytes) throw oversized(maxReplyBytes);

    const kind = lineKind(line);
    if (kind === FINAL) {
      replies.push(makeReply(checkCode(line), [line]));
      continue;
    }
    if (kind === OPENING) {
      checkCode(line);
      groupStart = lineStart;
      groupLines = [line];
      groupBytes = lineBytes;
      continue;
    }
    throw new FtpBadReplyError(`server sent a line that is not an FTP reply: ${JSON.stringify(truncate(line))}`);
  }

  const rest = buffer.slice(groupStart !== -1 ? groupStart : pos);
  if (rest.length * 3 > maxReplyBytes && Buffer.byteLength(rest, 'utf8') > maxReplyBytes) throw oversized(maxReplyBytes);
  return { replies, rest };
}

/**
 * UTF-8 length of buffer[start, end). A UTF-16 code unit is at most 3 UTF-8
 * bytes, so a pure-ASCII line (every reply of a normal session) is counted
 * without cutting a copy of it out of the buffer.
 */
function utf8Length(buffer: string, start: number, end: number): number {
  for (let i = start; i < end; i++) if (buffer.charCodeAt(i) > 0x7f) return Buffer.byteLength(buffer.slice(start, end), 'utf8');
  return end - start;
}

function makeReply(code: number, lines: string[]): FtpReply {
  // Most replies are one line: "NNN text" or a bare "NNN" (slice past the end gives "").
  if (lines.length === 1) return { code, lines, message: lines[0].slice(4) };
  const openCode = lines[0].slice(0, 3);
  const last = lines.length - 1;
  const texts = lines.map((line, i) => {
    if (i === last) return line.slice(4); // "NNN text" or bare "NNN" (slice past end gives "")
    if (i === 0) return line.slice(4); // "NNN-text"
    // Many servers prefix every line of a group with "NNN-" (e.g. "230-Welcome");
    // strip it only when it repeats the opening code, other digit runs are text.
    if (line.startsWith(`${openCode}-`)) return line.slice(4);
    return line;
  });
  return { code, lines, message: texts.join('\n') };
}

function oversized(max: number): FtpBadReplyError {
  return new FtpBadReplyError(`server reply exceeds ${max} bytes`);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
