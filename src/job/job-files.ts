/**
 * Job files from disk: files and directories (*.yaml, *.yml in a directory,
 * sorted; each at most 1 MiB), process.env and ~/.netrc (only when a server
 * needs it; see src/ftp/credentials.ts). load.ts reads each file's text.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { netrcFromEnv } from '../ftp/credentials.js';
import { fileProblem, readTextFileBounded } from '../ftp/local-file.js';
import { caFileProblem } from '../ftp/tls-policy.js';
import type { Job } from './job.js';
import { JOB_FILE_MAX_BYTES } from './limits.js';
import { readJobFile, type LoadOptions, type LoadResult } from './load.js';
import type { JobDiagnostic, Position } from './reader.js';

async function expandPaths(paths: string[], diagnostics: JobDiagnostic[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await fs.stat(p)).isDirectory();
    } catch (err) {
      diagnostics.push({ file: p, line: 1, col: 1, severity: 'error', message: `cannot read job file: ${fileProblem(err)}` });
      continue;
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    const names = (await fs.readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
    if (names.length === 0) {
      diagnostics.push({ file: p, line: 1, col: 1, severity: 'error', message: 'no job files (*.yaml, *.yml) in this directory' });
    }
    for (const n of names) files.push(join(p, n));
  }
  return files;
}

/**
 * Every job of `paths`. Each file is self-contained (its jobs use its own
 * servers); job names must be unique across all of them because logs and
 * metrics are keyed by name.
 */
export async function loadJobFiles(paths: string[]): Promise<LoadResult> {
  const diagnostics: JobDiagnostic[] = [];
  const files = await expandPaths(paths, diagnostics);
  const opts: LoadOptions = {
    now: new Date(),
    netrc: netrcFromEnv(process.env, (message, at) => diagnostics.push({ file: at?.file ?? '~/.netrc', line: at?.line ?? 1, col: at?.col ?? 1, message, severity: 'warning' })),
    checkCaFile: caFileProblem,
  };
  const jobs: Job[] = [];
  const seen = new Map<string, { file: string; pos: Position }>();
  for (const file of files) {
    let text: string;
    try {
      // Bounded: a 50 MB file (or /dev/zero) is refused after a stat, not parsed for minutes.
      text = readTextFileBounded(file, JOB_FILE_MAX_BYTES);
    } catch (err) {
      const message = (err as NodeJS.ErrnoException).code === 'EFBIG' ? `the job file is ${fileProblem(err)}: is it the right file?` : `cannot read job file: ${fileProblem(err)}`;
      diagnostics.push({ file, line: 1, col: 1, severity: 'error', message });
      continue;
    }
    const r = readJobFile(text, file, process.env, opts);
    diagnostics.push(...r.diagnostics);
    let clash = false;
    for (const { job, pos } of r.loaded) {
      const first = seen.get(job.name);
      if (first) {
        clash = true;
        diagnostics.push({
          file,
          line: pos.line,
          col: pos.col,
          severity: 'error',
          message: `duplicate job name '${job.name}' (first defined at ${first.file}:${first.pos.line}:${first.pos.col})`,
        });
      } else {
        seen.set(job.name, { file, pos });
      }
    }
    // Same rule as within a file: a file with an error contributes no jobs.
    if (!clash) jobs.push(...r.loaded.map((l) => l.job));
  }
  return { jobs, diagnostics };
}
