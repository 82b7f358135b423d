import { FtpConnection } from '../ftp/connection.js';
import { FtpError } from '../ftp/errors.js';
import type { ConnectionPool } from '../ftp/pool.js';
import { isConnectionFailure, jitteredBackoffMs, retryWindowMs, type RetryPolicy } from './retry.js';

/**
 * Whether a server can be reached, watched for the length of one mirror run.
 *
 * When a file fails because a connection could not be made or broke, each
 * server involved is checked with one fresh login of its own (shared by every
 * failure at that moment, and outside the pool, whose connections may all be
 * busy or dead). A server that answers at all (even with a refusal such as
 * 421 or 530) is reachable, and the file retries on its own schedule. A
 * server that does not is DOWN: every operation on it waits instead of
 * trying (no retries are spent), while one loop logs in again on the retry
 * schedule (retry.ts). When it answers, the work resumes; when the retry
 * window has passed without an answer, the server is GONE for the rest of the
 * run and its remaining work fails at once with ServerUnreachableError, after
 * one line that says so.
 */
export class ServerUnreachableError extends FtpError {
  constructor(server: string, downMs: number, reason: string) {
    super('ECONNECT', `${server}: unreachable for ${seconds(downMs)} (${reason}): not tried`);
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

export class ServerWatch {
  private outage: Promise<void> | undefined;
  private gone: ServerUnreachableError | undefined;
  private checking: Promise<boolean> | undefined;

  constructor(
    readonly name: string,
    /** Resolves when the server answered a fresh connection; rejects with why not. */
    private readonly probe: () => Promise<void>,
    private readonly policy: RetryPolicy,
    private readonly report: (message: string) => void,
    private readonly signal?: AbortSignal,
  ) {}

  /** A watch that probes with a login of its own (the pool's server, options and learned state). */
  static forPool(pool: ConnectionPool, policy: RetryPolicy, report: (message: string) => void, signal?: AbortSignal): ServerWatch {
    const probe = async () => {
      const conn = await FtpConnection.connect(pool.server, { state: pool.state, signal });
      await conn.close();
    };
    return new ServerWatch(pool.server.name, probe, policy, report, signal);
  }

  /** True while the server is down or given up: work on it must wait in ready(). */
  get down(): boolean {
    return this.outage !== undefined || this.gone !== undefined;
  }

  /** Resolves at once while the server is reachable, waits while it is down, throws once it is given up. */
  async ready(): Promise<void> {
    if (this.gone) throw this.gone;
    if (this.outage) await this.outage;
  }

  /**
   * After a connection failure: true when the server is down (the caller
   * then waits in ready() and does not count the attempt), false when it
   * answers. Concurrent calls share one probe.
   */
  check(): Promise<boolean> {
    if (this.down) return Promise.resolve(true);
    this.checking ??= this.reach().then((failure) => {
      this.checking = undefined;
      if (failure === undefined) return false;
      this.outage ??= this.waitForIt(failure);
      return true;
    });
    return this.checking;
  }

  /** undefined when the server answered, else the connection failure. */
  private async reach(): Promise<unknown> {
    try {
      await this.probe();
      return undefined;
    } catch (err) {
      return isConnectionFailure(err) ? err : undefined;
    }
  }

  private reason(err: unknown): string {
    const m = (err as Error)?.message ?? String(err);
    return m.startsWith(`${this.name}: `) ? m.slice(this.name.length + 2) : m;
  }

  private waitForIt(first: unknown): Promise<void> {
    const since = this.policy.now();
    const window = retryWindowMs(this.policy);
    this.report(`${this.name}: unreachable (${this.reason(first)}); its work waits for it, up to ${seconds(window)}`);
    const loop = async () => {
      let last = first;
      for (let n = 0; ; n++) {
        const downMs = this.policy.now() - since;
        if (downMs >= window) {
          this.gone = new ServerUnreachableError(this.name, downMs, this.reason(last));
          this.report(`${this.name}: still unreachable after ${seconds(downMs)} (${this.reason(last)}): its remaining work fails without being tried`);
          throw this.gone;
        }
        await this.policy.sleep(jitteredBackoffMs(n, this.policy), this.signal);
        const failure = await this.reach();
        if (failure === undefined) {
          this.report(`${this.name}: reachable again after ${seconds(this.policy.now() - since)}; its work resumes`);
          return;
        }
        last = failure;
      }
    };
    const p = loop().finally(() => {
      this.outage = undefined;
    });
    p.catch(() => undefined);
    return p;
  }
}
