/**
 * Several files' modification times in one round trip: the MDTMs (RFC 3659
 * §3) of up to MDTM_BATCH files in one write, replies read in order (RFC 959
 * §4.2: a server answers its commands in the order they came).
 *
 * An MDTM reply does not name its file, so a reply lost or doubled would
 * shift every later time onto the wrong file. A NOOP goes last, as a
 * sentinel: its reply must come exactly after the last MDTM's, and must be a
 * 2xx that no MDTM gives (213 is MDTM's). Any reply out of place (a count
 * that does not add up, a 1xx/2xx/3xx that is not 213, a 213 that is not a
 * time) fails the whole batch: no file gets a time from it, and the
 * connection is closed, since its later replies cannot be matched either.
 * A 4xx or 5xx is that one file's answer (gone, not a plain file, busy): it
 * gets no time, the others keep theirs.
 *
 * (A server can always claim any time it likes for a file; the sentinel
 * guards against a miscount, not against a server that lies.)
 */
import type { FtpSession } from './session.js';
import type { FtpReply } from './reply.js';
import { FtpProtocolError, replyText } from './errors.js';
import { parseTimeVal } from './timeval.js';

/** Most MDTMs in one write: a directory's files go in writes of this many (bounded memory, bounded loss when one fails). */
export const MDTM_BATCH = 100;

/** Pure: the time in one MDTM reply; undefined for a refusal (4xx, 5xx); null when it cannot be an MDTM's reply. */
export function mdtmReplyTime(r: FtpReply): Date | undefined | null {
  if (r.code >= 400) return undefined;
  return (r.code === 213 && parseTimeVal(r.message)?.date) || null;
}

/** Pure: whether `r` can be the sentinel NOOP's reply: a 2xx that no MDTM gives. */
export function isNoopReply(r: FtpReply): boolean {
  return r.code >= 200 && r.code < 300 && r.code !== 213;
}

/**
 * The times of `paths` (at most MDTM_BATCH) on `conn`, one write and one
 * round trip. Takes the connection's queue. Throws FtpProtocolError (and
 * closes the connection) as soon as a reply is out of place: a reply lost
 * shows when the NOOP's arrives in an MDTM's place, without waiting for a
 * timeout. A lost connection or a timeout throws as it is.
 */
export async function mdtmBatch(conn: FtpSession, paths: readonly string[], signal?: AbortSignal): Promise<(Date | undefined)[]> {
  if (paths.length > MDTM_BATCH) throw new RangeError(`at most ${MDTM_BATCH} paths per MDTM batch`);
  return conn.exclusive(async () => {
    // Every argument is checked (CR, LF, NUL) before anything is written.
    conn.sendBatch([...paths.map((p): ['MDTM', string] => ['MDTM', p]), ['NOOP']]);
    const outOfStep = (what: string, r: FtpReply) => {
      const err = new FtpProtocolError(`${conn.label}: MDTM replies out of step: ${what} was answered "${replyText(r.lines)}"`);
      conn.destroy(err);
      return err;
    };
    const times: (Date | undefined)[] = [];
    for (const p of paths) {
      const r = await conn.reply(conn.server.timeouts.command, signal, 'reply to MDTM');
      const t = mdtmReplyTime(r);
      if (t === null) throw outOfStep(`MDTM ${p}`, r);
      times.push(t);
    }
    const r = await conn.reply(conn.server.timeouts.command, signal, 'reply to NOOP');
    if (!isNoopReply(r)) throw outOfStep('the NOOP after the MDTMs', r);
    return times;
  });
}
