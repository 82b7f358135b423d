/**
 * `fxpmirror validate` through the real CLI as a child process: every bad job
 * file of test/fixtures/bad-jobs gives exactly its file:line:col lines, and
 * the shipped job files are valid. No servers. Helpers are in jobs-setup.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT } from '../../src/cli/exit.js';
import { ENV as BAD_JOBS_ENV, EXPECTED as BAD_JOBS } from '../fixtures/bad-jobs/expected.js';
import { LAB_USER, REPO_ROOT } from '../lab/lab.js';
import { lines } from '../lab/helpers.js';
import {
  TMP,
  cli,
  escapeRe,
  show,
} from './jobs-setup.js';

// ---------------------------------------------------------------------------

describe('fxpmirror validate: job files', { concurrency: 4 }, () => {
  // The unit test's table (test/unit/job-bad.test.ts), now through the real CLI and process.env.
  const env: Record<string, string | undefined> = { ...BAD_JOBS_ENV, A_PASSWORD: undefined, B_HOST: undefined, SITE: undefined, EXCLUDE_1: undefined };

  test('the table covers every bad job file', () => {
    const files = fs.readdirSync(path.join(REPO_ROOT, 'test/fixtures/bad-jobs')).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, Object.keys(BAD_JOBS).sort());
  });

  for (const [name, expected] of Object.entries(BAD_JOBS)) {
    test(`bad job file ${name}: exit 2, exactly its file:line:col lines`, async () => {
      const r = await cli(['validate', `test/fixtures/bad-jobs/${name}`], env);
      assert.equal(r.code, EXIT.USAGE, show(r));
      assert.deepEqual(lines(r.stderr), expected, show(r));
      assert.equal(r.stdout, '', show(r));
    });
  }

  test('the shipped job files are valid once their variables are set', async () => {
    const shipped = fs.readdirSync(path.join(REPO_ROOT, 'jobs')).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => `jobs/${f}`);
    assert.ok(shipped.includes('jobs/demo.yaml') && shipped.length >= 3, shipped.join(', '));
    const r = await cli(['validate', ...shipped], {
      UPSTREAM_PASSWORD: 'x',
      MIRROR_PASSWORD: 'x',
      SOURCE_PASSWORD: 'x',
      EU_PASSWORD: 'x',
      US_PASSWORD: 'x',
      DEMO_SRC_URL: 'ftp://127.0.0.21:2121/',
      DEMO_DST_URL: 'ftp://127.0.0.22:2122/',
      DEMO_USER: LAB_USER,
      FXPMIRROR_DEMO_PASSWORD: 'x',
    });
    assert.equal(r.code, EXIT.OK, show(r));
    assert.match(r.stdout, new RegExp(`^ok: \\d+ jobs in ${escapeRe(shipped.join(', '))}\n$`));
    assert.equal(r.stderr, '', show(r));
    // Without them, demo.yaml says which variable is missing, at its position.
    const bare = await cli(['validate', 'jobs/demo.yaml'], { DEMO_SRC_URL: undefined, DEMO_DST_URL: undefined, DEMO_USER: undefined, FXPMIRROR_DEMO_PASSWORD: undefined });
    assert.equal(bare.code, EXIT.USAGE, show(bare));
    assert.match(bare.stderr, /^jobs\/demo\.yaml:\d+:\d+: environment variable 'DEMO_SRC_URL' is not set \(used by 'url'\)$/m);
  });
});

after(() => {
  fs.rmSync(TMP, { recursive: true, force: true });
});
