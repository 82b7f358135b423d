/**
 * A listing read as it arrives, within bounds. Pure (bytes in, entries out):
 * the connection feeds it each chunk of the data connection. Lines are parsed
 * one by one, so memory holds the entries and at most one unfinished line,
 * never the listing's text. Past a bound it throws, and the caller closes the
 * data connection at once: a server that streams entries without end (or one
 * line without end) costs a bounded amount of memory and time.
 */
import type { ListEntry } from './entry.js';
import { FtpListingLimitError } from './errors.js';
import { parseListingLine, type ListingFormat } from './listing.js';
import type { ListingLimits } from './options.js';

const LF = 0x0a;

export class ListingReader {
  readonly entries: ListEntry[] = [];
  private lines = 0;
  /** The unfinished last line, in pieces (never longer than maxLineBytes). */
  private tail: Buffer[] = [];
  private tailBytes = 0;

  constructor(
    private readonly format: ListingFormat,
    private readonly limits: ListingLimits,
    /** "server: the listing of /path", for messages. */
    private readonly what: string,
    private readonly now = new Date(),
  ) {}

  /** Take one chunk; throws FtpListingLimitError past a bound. */
  push(chunk: Buffer): void {
    let start = 0;
    for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, start)) {
      let line = chunk.subarray(start, lf);
      if (this.tailBytes) {
        line = Buffer.concat([...this.tail, line]);
        this.tail = [];
        this.tailBytes = 0;
      }
      this.line(line);
      start = lf + 1;
    }
    if (start < chunk.length) {
      this.tail.push(chunk.subarray(start));
      this.tailBytes += chunk.length - start;
      // The unfinished line may still end in the CR of its CRLF: one byte more is allowed until its LF comes.
      this.checkLength(this.tailBytes - 1);
    }
  }

  /** The stream ended: a last line without LF counts too. */
  end(): ListEntry[] {
    if (this.tailBytes) this.line(Buffer.concat(this.tail));
    this.tail = [];
    this.tailBytes = 0;
    return this.entries;
  }

  private line(bytes: Buffer): void {
    this.checkLength(bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length);
    // Every line counts, not only those that parse: endless garbage is bounded too.
    if (++this.lines > this.limits.maxEntries) {
      throw new FtpListingLimitError(`${this.what} has more than ${this.limits.maxEntries} entries (limit: --max-listing-entries, maxListingEntries)`);
    }
    // A whole line is decoded at once, so a UTF-8 sequence cut between two chunks stays intact.
    const e = parseListingLine(this.format, bytes.toString('utf8'), this.now);
    if (e) this.entries.push(e);
  }

  /** `n`: the line's bytes without its CR LF. */
  private checkLength(n: number): void {
    if (n > this.limits.maxLineBytes) {
      throw new FtpListingLimitError(`${this.what} has a line longer than ${this.limits.maxLineBytes} bytes (limit: --max-listing-line, maxListingLine)`);
    }
  }
}
