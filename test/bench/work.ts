/**
 * The runs scenarios are made of, each followed by its check on the
 * destination's disk: an initial sync of a tree into a fresh directory, a
 * no-op re-sync of identical trees, a mirror of big files. Loopback and WAN
 * scenarios share them, so both are judged alike.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { logLines, shapeOf } from './fixtures.js';
import { failure, runFloor, runFx, runLftp, url, type Ctx, type Floor, type Once, type Tool } from './runner.js';
import { fmtBytes } from './table.js';

export interface SyncRun {
  /** Source directory under the source root. */
  tree: string;
  /** Destination directory ("/name"), created by the run and removed after its check. */
  rel: string;
  files: number;
  /** Size of every file (the check compares it). */
  size: number;
  parallel: number;
  timeoutSec: number;
  /** Extra fxpmirror options (e.g. -v), extra lftp commands before `mirror` (e.g. debug). */
  fxExtra?: string[];
  lftpBefore?: string;
  onStderr?: (text: string) => void;
}

/**
 * A mirror of `tree` into a fresh `rel` by `tool` (or by the floor client),
 * checked on disk (files, sizes, bytes that went server to server), then removed.
 */
export async function syncOnce(ctx: Ctx, tool: Tool | Floor, o: SyncRun): Promise<Once> {
  const P = String(o.parallel);
  const m =
    tool === 'fxpmirror'
      ? await runFx(ctx, ['mirror', '-P', P, '-q', ...(o.fxExtra ?? []), '--fxp', 'force', url(ctx.src, `/${o.tree}/`), url(ctx.dst, `${o.rel}/`)], o)
      : tool === 'lftp'
        ? await runLftp(ctx, `${o.lftpBefore ?? ''}mirror -P${P} ${url(ctx.src, `/${o.tree}`)} ${url(ctx.dst, o.rel)}`, o)
        : await runFloor(ctx, tool, url(ctx.src, `/${o.tree}/`), url(ctx.dst, `${o.rel}/`), o.parallel, o);
  let problem = failure(m);
  const disk = path.join(ctx.dst.root, o.rel.slice(1));
  const shape = shapeOf(disk, o.size);
  if (!problem && (shape.files !== o.files || shape.wrongSize !== 0)) problem = `destination has ${shape.files}/${o.files} files, ${shape.wrongSize} of wrong size`;
  if (!problem && m.traffic && m.traffic.serverToServer < o.files * o.size) problem = `only ${fmtBytes(m.traffic.serverToServer)} went server to server: not FXP`;
  fs.rmSync(disk, { recursive: true, force: true });
  return { m, problem };
}

/**
 * A mirror of `tree` onto the identical tree of the same name on the
 * destination (written on both disks with the same sizes and times). Correct
 * when the destination is unchanged (files, mtimes) and neither server
 * logged a transfer.
 */
export async function noopOnce(ctx: Ctx, tool: Tool, tree: string, parallel: number, timeoutSec: number): Promise<Once> {
  const dstDisk = path.join(ctx.dst.root, tree);
  const before = shapeOf(dstDisk);
  const logsBefore = [logLines(ctx.src.xferLog), logLines(ctx.dst.xferLog)];
  const m =
    tool === 'fxpmirror'
      ? await runFx(ctx, ['mirror', '-P', String(parallel), '-q', '--fxp', 'force', url(ctx.src, `/${tree}/`), url(ctx.dst, `/${tree}/`)], { timeoutSec })
      : await runLftp(ctx, `mirror -P${parallel} ${url(ctx.src, `/${tree}`)} ${url(ctx.dst, `/${tree}`)}`, { timeoutSec });
  let problem = failure(m);
  const after = shapeOf(dstDisk);
  const logsAfter = [logLines(ctx.src.xferLog), logLines(ctx.dst.xferLog)];
  if (!problem && (after.files !== before.files || after.mtimeSum !== before.mtimeSum)) problem = 'the destination changed: not a no-op';
  if (!problem && (logsAfter[0] !== logsBefore[0] || logsAfter[1] !== logsBefore[1])) {
    problem = `${logsAfter[0] - logsBefore[0] + logsAfter[1] - logsBefore[1]} transfers logged: not a no-op`;
  }
  return { m, problem };
}
