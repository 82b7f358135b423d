import { FxpEngine, type TransferPolicy, type TransferProgress } from '../fxp/engine.js';
import type { MirrorEvents } from '../tree/mirror.js';
import type { Logger } from './log.js';
import type { Output } from './output.js';
import { actionToJson, displayText, renderAction } from './render.js';

/**
 * What a mirror run reports while it runs, for `mirror` and `run` alike: the
 * mirror's events become log events (each naming its target), progress
 * figures, and under --dry-run the plan on stdout, one line per action. The
 * engines' progress events (bytes of a running transfer, see targetEngine)
 * reach the same progress figures through `transferProgress`.
 */

export interface ReportTarget {
  /** "server:/path" (a job) or the URL without password (`mirror`). */
  name: string;
  /** Logs events about this target (with a `target` field where a job has targets to tell apart). */
  log: Logger;
}

export interface MirrorReport {
  output: Output;
  /** Where plan lines go (default: stdout); a job prints its header before its first line. */
  print?: (text: string) => void;
  targets: ReportTarget[];
  /** Events about no target in particular (the walk, the source). */
  log: Logger;
  /** Print the plan, one line per action (--dry-run, unless -q without --json). */
  printPlan: boolean;
  /** Plan lines as JSON (--json). */
  json: boolean;
  /** Plan lines name their target: always in a job, for `mirror` (one target) never. */
  nameTargets: boolean;
  /** --fxp never: relaying is what was asked for, not a fall-back worth a warning. */
  relayAsked: boolean;
}

export interface ReportEvents extends MirrorEvents {
  /** A running transfer's bytes so far, from target `t`'s engine. */
  transferProgress(t: number, e: TransferProgress): void;
}

export function mirrorEvents(r: MirrorReport): ReportEvents {
  const progress = r.output.progress;
  const running = new Map<string, number>();
  const key = (t: number, path: string) => `${t}\u0000${path}`;
  const finish = (t: number, path: string, bytes: number, ok: boolean) => {
    const id = running.get(key(t, path));
    if (id === undefined) return;
    running.delete(key(t, path));
    progress?.finish(id, bytes, ok);
  };
  const relayed = new Set<number>();
  const print = r.print ?? ((text: string) => r.output.screen.out(text));
  return {
    action: (t, a) => {
      if (r.printPlan) {
        const name = r.targets[t].name;
        const line = r.json
          ? JSON.stringify({ ...(r.nameTargets ? { target: name } : {}), ...actionToJson(a) })
          : `${r.nameTargets ? `[${displayText(name)}] ` : ''}${renderAction(a)}`;
        print(`${line}\n`);
      }
    },
    queued: (_t, a) => progress?.planned(a.src.size),
    started: (t, a) => {
      if (progress && a.kind === 'transfer') running.set(key(t, a.path), progress.start(a.path, a.src.size, r.nameTargets ? r.targets[t].name : undefined));
    },
    done: (t, a, result) => {
      const log = r.targets[t].log;
      if (a.kind === 'transfer') {
        finish(t, a.path, result?.bytes ?? 0, true);
        log.log({ level: 'info', event: 'transfer', path: a.path, bytes: result?.bytes, mode: result?.mode, message: a.reason });
        // Data through this machine is what FXP exists to avoid: say so once per
        // target, as a warning (each refused rung was logged at info).
        if (result?.mode === 'relay' && !r.relayAsked && !relayed.has(t)) {
          relayed.add(t);
          log.log({ level: 'warn', event: 'relay', path: a.path, message: 'every FXP mode was refused: files go through this machine (relay); see the fallback events' });
        }
      } else if (a.kind === 'delete') log.log({ level: 'info', event: 'delete', path: a.path, ...(a.reason ? { message: a.reason } : {}) });
    },
    failed: (t, a, err) => {
      if (a.kind === 'transfer') finish(t, a.path, 0, false);
      r.targets[t].log.log({ level: 'error', event: 'failed', path: a.path, code: (err as { code?: string }).code, message: err.message });
    },
    warn: (message, t) => (t === undefined ? r.log : r.targets[t].log).log({ level: 'warn', event: 'warning', message }),
    walked: () => progress?.walkDone(),
    transferProgress: (t, e) => {
      const id = running.get(key(t, e.path));
      if (id !== undefined) progress?.advance(id, e.bytes, e.bytesPerSecond, e.resumedFrom);
    },
    pairs: (n, reason) => r.log.log({ level: 'info', event: 'parallel', message: `${n} transfers at once: ${reason}` }),
  };
}

/**
 * An engine per target, so its warnings and fall-backs name the target they
 * happened on, and its transfers' bytes reach the progress figures as target
 * `t`'s (ReportEvents.transferProgress).
 */
export function targetEngine(policy: TransferPolicy, log: Logger, events: ReportEvents, t: number): FxpEngine {
  return new FxpEngine(policy, {
    warn: (m) => log.log({ level: 'warn', event: 'warning', message: m }),
    fallback: (mode, err) => log.log({ level: 'info', event: 'fallback', mode, message: `${mode} failed: ${err.message}` }),
    progress: (e) => events.transferProgress(t, e),
  });
}

/**
 * A server refused one more connection (421, or proftpd's 530), and its pool
 * now uses `n`. A warning when that is fewer than -P, the transfers the user
 * asked for; below that the walk only lists on fewer connections (walkWidth
 * in src/tree/run-state.ts), which is worth a note, not a warning.
 */
export function logPoolShrink(log: Logger, server: string, parallel: number): (n: number, why: string) => void {
  return (n, why) => log.log({ level: n < parallel ? 'warn' : 'info', event: 'pool-shrink', server, message: `too many connections (${why}): using ${n}` });
}
