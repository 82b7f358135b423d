/** Server software we know by name: probe's advice and a few protocol quirks depend on it. */
export type ServerKind = 'vsftpd' | 'proftpd' | 'pure-ftpd' | 'pyftpdlib' | 'unknown';

/** Identify the software from its greeting (and SYST, when asked): each of these says its name by default. */
export function identifyServer(greeting: string, syst = ''): ServerKind {
  const t = `${greeting} ${syst}`;
  if (/vsftpd/i.test(t)) return 'vsftpd';
  if (/proftpd/i.test(t)) return 'proftpd';
  if (/pure-?ftpd/i.test(t)) return 'pure-ftpd';
  if (/pyftpdlib/i.test(t)) return 'pyftpdlib';
  return 'unknown';
}

/**
 * Servers that should not be the active (PORT) side of an FXP transfer,
 * unless the user chose the passive side:
 * - pyftpdlib 1.5.7, when it opens the data connection itself for
 *   back-to-back transfers, sometimes drops it ("fd was no longer in
 *   socket_map", giampaolo/pyftpdlib PR #657) and the transfer stalls until
 *   a timeout.
 * - pure-ftpd, run as root, opens its active data connections from port 20
 *   (ftp-data) whatever its control port. Many small files in a row to one passive
 *   host cycle through that host's passive ports, so the same four-tuple
 *   comes back while the last one is still in TIME_WAIT and the connect fails:
 *   "425 Could not open data connection to port N: Cannot assign requested
 *   address" (lab: 1,000 files into a proftpd with 100 passive ports, several
 *   per run, each a retry and a proftpd session stuck in RETR).
 */
export function unreliableActive(kind: ServerKind): boolean {
  return kind === 'pyftpdlib' || kind === 'pure-ftpd';
}

export function connectsOnPort(kind: ServerKind): boolean | undefined {
  // pyftpdlib opens the active data connection when it gets PORT, before
  // STOR, and drops data that arrives before STOR is processed. The other
  // three connect only while processing STOR, ready to read.
  if (kind === 'pyftpdlib') return true;
  if (kind === 'vsftpd' || kind === 'proftpd' || kind === 'pure-ftpd') return false;
  return undefined;
}

/**
 * proftpd's standalone daemon starts sessions slowly when several arrive at
 * once: with four connections opened together, 8 of 20 lab trials saw one
 * greeting 200-490 ms late (its daemon sleeps 200 ms in a select() after a
 * SIGCHLD, and new sessions contend for the ScoreboardMutex, proftpd issue
 * #1700). Opened one after another's greeting: 2 of 20, at most 177 ms.
 * The pool staggers such a server's connects on loopback or a LAN; the
 * others connect at once. Not on a distant server (ServerState: isFar):
 * there a greeting is two round trips away, so the stagger costs more than
 * the stall (emulated WAN at 40 ms, seven connections: all greeted within
 * 90 ms in 14 of 15 trials opened at once, one 486 ms; staggered, 586 ms).
 */
export function staggersSessions(kind: ServerKind | undefined): boolean {
  return kind === 'proftpd';
}

/**
 * PRET (drftpd's "pre-transfer", which picks the slave that will serve the
 * data) is needed only by distributed servers. pure-ftpd advertises it but
 * ignores it, so sending it there costs a round trip per data connection.
 * It is sent to servers we do not know that advertise it.
 */
export function wantsPret(kind: ServerKind | undefined, advertised: boolean): boolean {
  return advertised && (kind === undefined || kind === 'unknown');
}

/**
 * Passive for STOR, these accept the data connection first and only then send
 * their 1xx mark (seen in the lab on every run); pyftpdlib marks at once.
 * The FXP engine must not wait for such a mark before sending RETR.
 */
export function marksAfterAccept(kind: ServerKind): boolean | undefined {
  if (kind === 'vsftpd' || kind === 'proftpd' || kind === 'pure-ftpd') return true;
  if (kind === 'pyftpdlib') return false;
  return undefined;
}

/**
 * A PASV written in the same write as a listing command waits, and is
 * answered right after the listing's 226 (lab, on the emulated WAN: vsftpd,
 * proftpd, pure-ftpd). It must be that same write: proftpd and pure-ftpd
 * do read their control connection during a transfer, and answer a command
 * that arrives later at once (see holdsCommandsDuringRetr). pyftpdlib reads
 * every command at once, and a PASV closes the data connection of the
 * transfer in progress: its listing comes short.
 */
export function queuesCommandsDuringTransfer(kind: ServerKind): boolean {
  return kind === 'vsftpd' || kind === 'proftpd' || kind === 'pure-ftpd';
}

/**
 * These hold a command that arrives during a RETR until the transfer has
 * ended, and answer it after the 226 (or 426), so the next file's PASV can
 * go out in the same write as RETR (fxp/transfer.ts, "PASV behind RETR").
 * Lab (3 MB throttled to 1 MB/s, PASV in RETR's write, 800 ms into the
 * transfer, and before a data connection reset by the client):
 * - vsftpd 3.0.3 reads its control connection only between commands: in
 *   all three cases the full file, then 226 (or "426 Failure writing
 *   network stream."), then 227, and a RETR through that 227 worked.
 * - proftpd 1.3.8 polls its control connection during the transfer: a PASV
 *   that arrives then gets "450 PASV: data transfer in progress" BEFORE the
 *   226, which would be read as RETR's verdict. Only a PASV that came in the
 *   same read as RETR waits. Left out: that hangs on TCP segmentation.
 * - pure-ftpd 1.0.50 likewise answers "500 Unknown command" mid-transfer,
 *   and after a reset its final reply came out of step. Left out.
 * pyftpdlib reads every command at once (see queuesCommandsDuringTransfer).
 */
export function holdsCommandsDuringRetr(kind: ServerKind): boolean {
  return kind === 'vsftpd';
}

/**
 * proftpd, after sending a listing, waits for the client to close the data
 * connection before it answers 226 (a lingering close): one more round trip
 * per listing. A client that has already closed its sending side (it never
 * writes on a download) gets the 226 with the data (lab, emulated WAN: the
 * listing's 226 came 8 ms after the 150 instead of 85 ms).
 */
export function waitsForClientClose(kind: ServerKind): boolean {
  return kind === 'proftpd';
}
