import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionEvents, countWaits, parseTrace } from '../../test/bench/wan/waits.js';

/**
 * Builds wanlink trace lines (format in test/bench/wan/wanlink.c) for
 * scripted control connections: sequence numbers advance per connection and
 * direction as TCP's would, payloads escaped as wanlink escapes them.
 */
class Trace {
  private readonly lines: string[] = [];
  private readonly seq = new Map<string, number>();

  private escape(s: string): string {
    if (s === '') return '-';
    return [...Buffer.from(s, 'latin1')].map((c) => (c > 0x20 && c < 0x7f && c !== 0x25 ? String.fromCharCode(c) : `%${c.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
  }

  private add(t: number, dir: '>' | '<', port: number, server: string, flags: string, text: string, seq?: number): void {
    const key = `${port} ${server} ${dir}`;
    const s = seq ?? this.seq.get(key) ?? 1000;
    const len = Buffer.byteLength(text, 'latin1');
    if (seq === undefined) this.seq.set(key, s + len + (flags === 'S' ? 1 : 0));
    const [addr, sport] = server.split(':');
    this.lines.push(`${t} ${dir} ${port} ${addr} ${sport} ${flags} ${s} ${len} ${this.escape(text)}`);
  }

  /** Client SYN, server SYN-ACK. */
  connect(t: number, port: number, server: string): this {
    this.add(t, '>', port, server, 'S', '');
    this.add(t + 1, '<', port, server, 'S', '');
    return this;
  }

  send(t: number, port: number, server: string, ...commands: string[]): this {
    this.add(t, '>', port, server, '-', commands.map((c) => c + '\r\n').join(''));
    return this;
  }

  recv(t: number, port: number, server: string, ...replies: string[]): this {
    this.add(t, '<', port, server, '-', replies.map((c) => c + '\r\n').join(''));
    return this;
  }

  /** A segment with explicit sequence number (retransmissions, split lines). */
  raw(t: number, dir: '>' | '<', port: number, server: string, seq: number, text: string): this {
    this.add(t, dir, port, server, '-', text, seq);
    return this;
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const SRC = '10.231.0.21:21';
const DST = '10.231.0.22:21';

test('parseTrace: fields, %XX escapes and the empty payload', () => {
  const segs = parseTrace('12 > 40000 10.231.0.21 21 - 7 11 RETR%20a%25b%0D%0A\n13 < 40000 10.231.0.21 21 S 9 0 -\nnot a line\n');
  assert.equal(segs.length, 2);
  assert.equal(segs[0].payload.toString('latin1'), 'RETR a%b\r\n');
  assert.equal(segs[0].conn, '40000 10.231.0.21:21');
  assert.equal(segs[1].payload.length, 0);
  assert.equal(segs[1].flags, 'S');
});

test('connectionEvents: a line split over segments counts when it is complete; retransmitted bytes count once', () => {
  const t = new Trace()
    .connect(0, 5000, SRC)
    .raw(10, '<', 5000, SRC, 1001, '220 he')
    .raw(20, '<', 5000, SRC, 1007, 'llo\r\n')
    .raw(30, '>', 5000, SRC, 1001, 'USER a\r\n')
    .raw(40, '>', 5000, SRC, 1001, 'USER a\r\n'); // retransmission
  const ev = connectionEvents(parseTrace(t.text())).get(`5000 ${SRC}`);
  assert.deepEqual(
    ev?.map((e) => [e.tUs, e.kind, e.lines]),
    [
      [0, 'connect', []],
      [20, 'recv', ['220 hello']],
      [30, 'send', ['USER a']],
    ],
  );
});

test('countWaits: one command at a time is one wait each; the greeting and login are other waits', () => {
  const t = new Trace()
    .connect(0, 5000, DST)
    .recv(40, 5000, DST, '220 hi')
    .send(41, 5000, DST, 'USER u')
    .recv(81, 5000, DST, '331 pw')
    .send(82, 5000, DST, 'PASS secret')
    .recv(122, 5000, DST, '230 ok')
    .send(130, 5000, DST, 'PASV')
    .recv(170, 5000, DST, '227 (10,231,0,22,78,32)')
    .send(171, 5000, DST, 'STOR /x/d000/f0001.dat')
    .recv(211, 5000, DST, '150 go')
    .recv(230, 5000, DST, '226 done')
    .send(231, 5000, DST, 'MFMT 20240304050607 /x/d000/f0001.dat')
    .recv(271, 5000, DST, '213 ok');
  const w = countWaits(t.text());
  assert.equal(w.otherWaits, 3); // greeting, USER, PASS
  assert.equal(w.fileWaits, 3); // PASV (belongs to the STOR after it), STOR, MFMT; the 226 is no wait of its own
  assert.equal(w.connections, 1);
});

test('countWaits: pipelined commands are one wait; a rename sent with the next PASV is not a wait of its own', () => {
  const t = new Trace()
    .send(0, 5000, DST, 'RNFR /x/d000/.f0001.dat.fxpmirror-part', 'RNTO /x/d000/f0001.dat', 'PASV')
    .recv(40, 5000, DST, '350 ready', '250 renamed', '227 (10,231,0,22,78,32)')
    .send(41, 5000, DST, 'STOR /x/d000/.f0002.dat.fxpmirror-part')
    .recv(81, 5000, DST, '150 go');
  const w = countWaits(t.text());
  assert.equal(w.fileWaits, 2);
  assert.equal(w.fileWaitsUnmerged, 2);
});

test('countWaits: waits for the same file on the two connections that overlap are one; apart they are two', () => {
  const together = new Trace()
    .send(0, 5000, DST, 'STOR /d/d000/f0007.dat')
    .send(1, 6000, SRC, 'RETR /s/d000/f0007.dat')
    .recv(40, 5000, DST, '150 go')
    .recv(41, 6000, SRC, '150 go')
    .recv(60, 6000, SRC, '226 sent')
    .recv(61, 5000, DST, '226 stored');
  const a = countWaits(together.text());
  assert.equal(a.fileWaitsUnmerged, 2);
  assert.equal(a.fileWaits, 1);
  assert.equal(a.filesRetrieved, 1);

  // pyftpdlib as destination: STOR, wait for 150, then RETR.
  const inTurn = new Trace()
    .send(0, 5000, DST, 'STOR /d/d000/f0007.dat')
    .recv(40, 5000, DST, '150 go')
    .send(41, 6000, SRC, 'RETR /s/d000/f0007.dat')
    .recv(81, 6000, SRC, '150 go', '226 sent')
    .recv(90, 5000, DST, '226 stored');
  assert.equal(countWaits(inTurn.text()).fileWaits, 2);
});

test('countWaits: overlapping waits of different files (other pairs) stay apart', () => {
  const t = new Trace()
    .send(0, 5000, DST, 'STOR /d/d000/f0001.dat')
    .send(0, 5001, DST, 'STOR /d/d000/f0002.dat')
    .recv(40, 5000, DST, '150 go')
    .recv(40, 5001, DST, '150 go');
  assert.equal(countWaits(t.text()).fileWaits, 2);
});

test('countWaits: a listing and its PASV are other waits; a command left unanswered is no wait', () => {
  const t = new Trace()
    .send(0, 5000, SRC, 'PASV')
    .recv(40, 5000, SRC, '227 (10,231,0,21,78,32)')
    .send(41, 5000, SRC, 'MLSD /s/d000')
    .recv(81, 5000, SRC, '150 here', '226 done')
    .send(90, 5000, SRC, 'QUIT');
  const w = countWaits(t.text());
  assert.equal(w.otherWaits, 2);
  assert.equal(w.fileWaits, 0);
});
