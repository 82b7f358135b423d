/**
 * What this process has running in the lab, and the last-resort cleanup
 * when it exits: servers it started, and undo actions the fault helpers
 * register (a stopped session to continue, a drop table to delete, a tmpfs
 * to unmount). A test should undo its faults in `finally`; these run only
 * when it did not (a crash, a forgotten stop()).
 */
import * as fs from 'node:fs';
import type { LabServer } from './kinds.js';

/** Any lab log larger than this is truncated by the watchdog (pyftpdlib once wrote 2.2 GB). */
const LOG_CAP_BYTES = 32 * 1024 * 1024;

export interface RunningInstance {
  server: LabServer;
  /** Log files the watchdog caps. */
  logs: string[];
}

/** Instance name -> running server of this process. */
export const running = new Map<string, RunningInstance>();

/** Synchronous undo actions, run on process exit in reverse order of registration. */
const exitActions = new Map<number, () => void>();
let nextAction = 1;
let exitHookInstalled = false;
let watchdog: NodeJS.Timeout | null = null;

/**
 * Register a synchronous undo action for process exit; returns a function
 * that unregisters it (call it once the fault is undone normally).
 */
export function onExit(action: () => void): () => void {
  const id = nextAction++;
  exitActions.set(id, action);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const id of [...exitActions.keys()].reverse()) {
        try {
          exitActions.get(id)?.();
        } catch {
          /* best effort: the others must still run */
        }
      }
    });
  }
  return () => exitActions.delete(id);
}

export function startWatchdog(): void {
  if (watchdog) return;
  watchdog = setInterval(() => {
    for (const { logs } of running.values()) {
      for (const f of logs) {
        try {
          if (fs.statSync(f).size > LOG_CAP_BYTES) fs.truncateSync(f, 0);
        } catch {
          /* not created yet */
        }
      }
    }
  }, 1000);
  watchdog.unref();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running.values()].map(({ server }) => server.stop()));
}

/** Servers started by this process and not yet stopped. */
export function runningServers(): LabServer[] {
  return [...running.values()].map((r) => r.server);
}
