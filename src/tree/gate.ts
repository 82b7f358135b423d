import type { PlanAction } from './plan.js';

/** Under dry-run: every effect, settled at once with nothing. */
const DONE: Promise<undefined> = Promise.resolve(undefined);

/**
 * The one gate every side effect of a mirror run passes through. Under
 * dry-run it reports the action and does nothing: dry-run is this switch, not
 * a second code path (rclone's SkipDestructive). The report is the plan: the
 * dry-run output is exactly the stream of actions that reached a gate.
 */
export class Gate {
  constructor(
    private readonly dryRun: boolean,
    private readonly report: (a: PlanAction) => void,
  ) {}

  /** Not an async function: it runs once per file, and `effect`'s own promise is all a caller needs. */
  pass<T>(a: PlanAction, effect: () => Promise<T>): Promise<T | undefined> {
    try {
      this.report(a);
      return this.dryRun ? DONE : effect();
    } catch (err) {
      return rejected(err);
    }
  }

  /**
   * Several actions whose effects go out together (one directory's MKDs in
   * one write): each is reported, as pass() does, then `effect` runs once
   * with all of them and returns one promise per action. Under dry-run
   * nothing runs and every result is undefined.
   */
  passEach<T>(as: PlanAction[], effect: () => Promise<T>[]): Promise<T | undefined>[] {
    for (const a of as) this.report(a);
    if (this.dryRun || as.length === 0) return as.map(() => Promise.resolve(undefined));
    return effect();
  }

  /** An action with no effect (skip, unsynced): reported in the same stream, nothing to run. */
  note(a: PlanAction): void {
    this.report(a);
  }
}

/** `err`, whatever it is, as a rejection (a report or an effect that threw before its first await). */
async function rejected(err: unknown): Promise<never> {
  throw err;
}
