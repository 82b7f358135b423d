import { loadJobFiles } from '../job/job-files.js';
import { formatDiagnostic } from '../job/reader.js';
import { EXIT } from './exit.js';

/** `fxpmirror validate`: every diagnostic, exit 2 when any is an error. */
export async function validateCommand(files: string[]): Promise<number> {
  const { jobs, diagnostics } = await loadJobFiles(files);
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  if (diagnostics.some((d) => d.severity === 'error')) return EXIT.USAGE;
  process.stdout.write(`ok: ${jobs.length} job${jobs.length === 1 ? '' : 's'} in ${files.join(', ')}\n`);
  return EXIT.OK;
}
