/** Fixtures shared by the job loader tests (job-load-fields, job-files-schema). */

/** The repository root (from dist/test/unit). */
export const ROOT = new URL('../../../', import.meta.url);

/** A job file with servers a and b and one job from a to b; `extra` adds indented keys to each. */
export function twoServers(extra: { a?: string; b?: string; job?: string } = {}): string {
  return `version: 1
servers:
  a:
    url: ftp://a.example/
${extra.a ?? ''}  b:
    url: ftp://b.example/
${extra.b ?? ''}jobs:
  - name: j
    from: a:/x
    to: b:/y
${extra.job ?? ''}`;
}
