/**
 * Client waits, counted from wanlink's trace of the control connections
 * (wanlink.c: one line per TCP segment between the client and a server's
 * control port, timestamped when the client sent or received it).
 *
 * Why this trace and not the tools' own: fxpmirror's `-v` names the server
 * of each line, not the connection, and with -P4 four connections to each
 * server interleave. The link sees every connection apart, and sees both
 * tools alike.
 *
 * Definitions (the README repeats them):
 * - A client wait: on one control connection, the client has sent a group of
 *   commands (one or more, back to back, nothing received between them) and
 *   sends nothing more until a reply arrives. It lasts from the group's last
 *   command to the first reply line after it. The TCP handshake counts as a
 *   group, so waiting for the greeting is a wait.
 * - A command belongs to the file whose name it carries (RETR, STOR, SIZE,
 *   MDTM, MFMT, RNFR, RNTO, ... of f0042.dat, or of its temporary name); a
 *   command that names none but only prepares the next one (PASV, EPSV,
 *   PORT, EPRT, TYPE, REST, ...) belongs to the next command on the same
 *   connection; every other command (login, FEAT, CWD, listings, MKD, QUIT)
 *   is "other". A wait belongs to the files of its group's commands.
 * - Waits for the same file on two connections that overlap in time are one
 *   wait: the client waits for both at once (STOR and RETR sent together).
 * - Waits per file per connection pair: the file waits so merged, divided by
 *   the number of files. Each file is moved by one pair of connections, so
 *   this is how many times, on average, a pair stood still waiting per file.
 *   A rename sent together with the next file's PASV is one wait, not two.
 */

export interface Segment {
  /** Microseconds, CLOCK_MONOTONIC. */
  tUs: number;
  /** '>' client to server, '<' server to client. */
  dir: '>' | '<';
  /** Client port + server address and port: one control connection. */
  conn: string;
  flags: string;
  seq: number;
  payload: Buffer;
}

function unescape(s: string): Buffer {
  if (s === '-') return Buffer.alloc(0);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && i + 2 < s.length) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** wanlink's trace lines (see wanlink.c); malformed lines are skipped. */
export function parseTrace(text: string): Segment[] {
  const out: Segment[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length !== 9 || (f[1] !== '>' && f[1] !== '<')) continue;
    out.push({ tUs: Number(f[0]), dir: f[1], conn: `${f[2]} ${f[3]}:${f[4]}`, flags: f[5], seq: Number(f[6]), payload: unescape(f[8]) });
  }
  return out;
}

/** What happened on one connection, in order: the handshake, commands sent, reply lines received. */
export interface ConnEvent {
  tUs: number;
  kind: 'connect' | 'send' | 'recv';
  lines: string[];
}

/**
 * Reassemble each connection's two byte streams (TCP sequence numbers:
 * retransmitted bytes are dropped) into complete lines, each stamped with
 * the segment that completed it.
 */
export function connectionEvents(segments: Segment[]): Map<string, ConnEvent[]> {
  const streams = new Map<string, { next?: number; buf: string }>();
  const out = new Map<string, ConnEvent[]>();
  for (const s of [...segments].sort((a, b) => a.tUs - b.tUs)) {
    const events = out.get(s.conn) ?? [];
    out.set(s.conn, events);
    const key = `${s.conn} ${s.dir}`;
    const st = streams.get(key) ?? { buf: '' };
    streams.set(key, st);
    if (s.flags === 'S') {
      st.next = (s.seq + 1) >>> 0;
      st.buf = '';
      if (s.dir === '>') events.push({ tUs: s.tUs, kind: 'connect', lines: [] });
      continue;
    }
    let data = s.payload;
    if (st.next !== undefined) {
      const behind = -((s.seq - st.next) | 0); // > 0: this segment starts with bytes already seen
      if (behind > 0) data = data.subarray(Math.min(behind, data.length));
    }
    st.next = (s.seq + s.payload.length) >>> 0;
    if (data.length === 0) continue;
    const parts = (st.buf + data.toString('latin1')).split('\n');
    st.buf = parts.pop() ?? '';
    const lines = parts.map((l) => l.replace(/\r$/, ''));
    if (lines.length) events.push({ tUs: s.tUs, kind: s.dir === '>' ? 'send' : 'recv', lines });
  }
  return out;
}

export interface Wait {
  conn: string;
  startUs: number;
  endUs: number;
  commands: string[];
  /** File keys the wait belongs to; empty: an "other" wait. */
  files: string[];
}

/** Commands that name no file but prepare the next command (RFC 959 §4.1.2, RFC 2428, RFC 3659 REST). */
const LEADING = new Set(['PASV', 'EPSV', 'PORT', 'EPRT', 'TYPE', 'REST', 'MODE', 'STRU', 'ALLO', 'NOOP']);

/** The waits of one connection, each with the files it belongs to (see the module comment). */
export function connectionWaits(conn: string, events: ConnEvent[], fileKey: (command: string) => string | undefined): Wait[] {
  const commands: { text: string; group: number }[] = [];
  const groups: { startUs: number; endUs: number }[] = [];
  let open: { lastUs: number } | undefined;
  for (const e of events) {
    if (e.kind === 'connect' || e.kind === 'send') {
      open ??= { lastUs: e.tUs };
      open.lastUs = e.tUs;
      if (e.kind === 'connect') commands.push({ text: '(connect)', group: groups.length });
      for (const l of e.lines) commands.push({ text: l, group: groups.length });
    } else if (open) {
      groups.push({ startUs: open.lastUs, endUs: e.tUs });
      open = undefined;
    }
  }
  // Owners, back to front: a leading command takes the owner of the command after it.
  const owner: (string | undefined)[] = new Array<string | undefined>(commands.length);
  let next: string | undefined;
  for (let i = commands.length - 1; i >= 0; i--) {
    const text = commands[i].text;
    const key = fileKey(text);
    if (key !== undefined) owner[i] = next = key;
    else if (LEADING.has(text.split(' ')[0].toUpperCase())) owner[i] = next;
    else owner[i] = next = undefined;
  }
  // Commands of a group still unanswered at the end of the trace form no wait.
  const waits: Wait[] = groups.map((g) => ({ conn, startUs: g.startUs, endUs: g.endUs, commands: [], files: [] }));
  commands.forEach((c, i) => {
    const w = waits[c.group];
    if (!w) return;
    w.commands.push(c.text);
    const o = owner[i];
    if (o !== undefined && !w.files.includes(o)) w.files.push(o);
  });
  return waits;
}

export interface WaitCount {
  /** File waits, overlapping ones for the same file merged (see the module comment). */
  fileWaits: number;
  /** File waits before merging, summed over connections. */
  fileWaitsUnmerged: number;
  /** Waits that belong to no file (greeting, login, listings, directories), summed over connections. */
  otherWaits: number;
  connections: number;
  /** Files whose RETR the trace shows. */
  filesRetrieved: number;
}

/** The default file key: the bench's fixture names (fixtures.ts), also inside a temporary ".NAME.fxpmirror-part". */
export function fixtureFileKey(command: string): string | undefined {
  return /\b(f\d+\.(?:dat|bin))\b/.exec(command)?.[1];
}

export function countWaits(traceText: string, fileKey: (command: string) => string | undefined = fixtureFileKey): WaitCount {
  const waits: Wait[] = [];
  const retrieved = new Set<string>();
  const byConn = connectionEvents(parseTrace(traceText));
  for (const [conn, events] of byConn) {
    waits.push(...connectionWaits(conn, events, fileKey));
    for (const e of events) {
      if (e.kind !== 'send') continue;
      for (const l of e.lines) {
        const key = /^RETR /i.test(l) ? fileKey(l) : undefined;
        if (key) retrieved.add(key);
      }
    }
  }
  const fileWaits = waits.filter((w) => w.files.length > 0);
  // Union-find over file waits: same file, different connections, overlapping in time.
  const parent = fileWaits.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const byFile = new Map<string, number[]>();
  fileWaits.forEach((w, i) => {
    for (const f of w.files) byFile.set(f, [...(byFile.get(f) ?? []), i]);
  });
  for (const list of byFile.values()) {
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        const x = fileWaits[list[a]];
        const y = fileWaits[list[b]];
        if (x.conn !== y.conn && x.startUs < y.endUs && y.startUs < x.endUs) parent[find(list[a])] = find(list[b]);
      }
    }
  }
  const roots = new Set(fileWaits.map((_, i) => find(i)));
  return {
    fileWaits: roots.size,
    fileWaitsUnmerged: fileWaits.length,
    otherWaits: waits.length - fileWaits.length,
    connections: byConn.size,
    filesRetrieved: retrieved.size,
  };
}
