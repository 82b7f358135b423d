/**
 * What happens on Ctrl-C (SIGINT), in one place. Commands register what must
 * happen before the process goes: stop drawing the progress line, print the
 * summary marked "interrupted", release local locks. Then the process exits
 * with 130 (128 + SIGINT, the shell's convention).
 *
 * What is left behind is what a crash leaves, and is handled the same way:
 * a transfer in flight stays under its temporary name (".<name>.fxpmirror-part",
 * never the final name; ignored by the next run, resumed with --continue), and a
 * remote lock expires after its ttl. A policy for transfers in flight and for
 * other signals belongs here when it comes.
 *
 * A second Ctrl-C exits at once.
 */

export const EXIT_INTERRUPTED = 130;

type Handler = () => void | Promise<void>;

/** How long the handlers together may take before the process exits anyway. */
const HANDLER_BUDGET_MS = 2000;

const handlers: Handler[] = [];
let installed = false;
let interrupted = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    void runHandlers().finally(() => process.exit(EXIT_INTERRUPTED));
  });
}

async function runHandlers(): Promise<void> {
  const budget = new Promise<void>((resolve) => setTimeout(resolve, HANDLER_BUDGET_MS).unref());
  const all = (async () => {
    // Last registered first: a lock taken inside a run is released before the run's summary is printed.
    for (const h of [...handlers].reverse()) {
      try {
        await h();
      } catch {
        /* the others still run */
      }
    }
  })();
  await Promise.race([all, budget]);
}

/** Run `handler` on Ctrl-C, before the process exits with 130. Returns the function that unregisters it. */
export function onInterrupt(handler: Handler): () => void {
  install();
  handlers.push(handler);
  return () => {
    const i = handlers.indexOf(handler);
    if (i >= 0) handlers.splice(i, 1);
  };
}
