/**
 * Waiting on a server's disk, so that a fault lands mid-transfer: start a
 * (throttled) transfer, wait until the file being written has N bytes,
 * then inject the fault.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep } from '../processes.js';

function filesUnder(dir: string, name: RegExp): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, name));
    else if (e.isFile() && name.test(e.name)) out.push(p);
  }
  return out;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Resolve with the file and its size once `target` (a file) has at least
 * `minBytes`; with `name`, `target` is a directory searched recursively for
 * a file whose name matches (a part file of unknown name). Rejects after
 * `timeoutMs` (default 30 s), saying the largest size seen.
 */
export async function waitForSize(
  target: string,
  minBytes: number,
  opts: { name?: RegExp; timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ file: string; size: number }> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let best = { file: target, size: -1 };
  for (;;) {
    const candidates = opts.name ? filesUnder(target, opts.name) : [target];
    for (const file of candidates) {
      const size = sizeOf(file);
      if (size > best.size) best = { file, size };
      if (size >= minBytes) return { file, size };
    }
    if (Date.now() > deadline) {
      const seen = best.size < 0 ? 'no such file' : `largest ${best.file} at ${best.size} bytes`;
      throw new Error(`waitForSize: ${target}${opts.name ? ` ${String(opts.name)}` : ''} did not reach ${minBytes} bytes (${seen})`);
    }
    await sleep(opts.intervalMs ?? 10);
  }
}
