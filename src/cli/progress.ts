import { formatBytes, displayText } from './render.js';

/**
 * Progress for people: redrawn in place on a TTY only, so cron mail and pipes
 * stay clean. Without a TTY it prints nothing unless --stats N asks for a line
 * every N seconds.
 */
export class Progress {
  private filesPlanned = 0;
  private bytesPlanned = 0;
  private filesDone = 0;
  private bytesDone = 0;
  private current = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  private constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly tty: boolean,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  static create(stream: NodeJS.WriteStream, statsSeconds?: number): Progress | undefined {
    if (stream.isTTY) return new Progress(stream, true, 200);
    if (statsSeconds) return new Progress(stream, false, statsSeconds * 1000);
    return undefined;
  }

  planned(bytes: number): void {
    this.filesPlanned++;
    this.bytesPlanned += bytes;
  }

  start(path: string): void {
    this.current.add(path);
  }

  finish(path: string, bytes: number): void {
    this.current.delete(path);
    this.filesDone++;
    this.bytesDone += bytes;
  }

  line(): string {
    const now = [...this.current].slice(0, 3).map(displayText).join(', ');
    return `files ${this.filesDone}/${this.filesPlanned}  bytes ${formatBytes(this.bytesDone)}/${formatBytes(this.bytesPlanned)}${now ? `  now: ${now}` : ''}`;
  }

  private draw(): void {
    if (this.tty) {
      const cols = this.stream.columns || 100;
      this.stream.write(`\r\x1b[K${this.line().slice(0, cols - 1)}`);
      this.drawn = true;
    } else this.stream.write(`${new Date().toISOString()} ${this.line()}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.drawn) this.stream.write('\r\x1b[K');
  }
}
