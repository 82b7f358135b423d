/**
 * The layer check of `npm run lint` (.dependency-cruiser.cjs) run on a tiny
 * tree of the same shape as src/: it passes when every layer imports only the
 * layers below it, and fails, naming the rule and both files, on an upward
 * import (a type-only one too), a cycle and a module nothing reaches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');

/** One module per layer, each importing the one below: what src/ must look like. */
const CLEAN: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }),
  'src/ftp/reply.ts': 'export interface Reply { code: number }\nexport const OK = 200;\n',
  'src/fxp/modes.ts': "import { OK } from '../ftp/reply.js';\nexport type Mode = 'fxp' | 'relay';\nexport const FIRST = OK;\n",
  'src/tree/plan.ts': "import type { Mode } from '../fxp/modes.js';\nimport { OK } from '../ftp/reply.js';\nexport interface Summary { modes: Mode[] }\nexport const PLAN = OK;\n",
  'src/job/load.ts': "import { PLAN } from '../tree/plan.js';\nexport const LOADED = PLAN;\n",
  'src/cli/log.ts': 'export const SECRETS: string[] = [];\n',
  'src/cli/index.ts': "import { LOADED } from '../job/load.js';\nimport { SECRETS } from './log.js';\nexport const main = () => [LOADED, SECRETS];\n",
};

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/**
 * Runs the check twice in the fixture: as `npm run lint` does (its exit
 * status and report), and with JSON output (which always exits 0) for the
 * violations as data.
 */
function cruise(files: Record<string, string>): { status: number | null; report: string; violations: Violation[] } {
  const dir = mkdtempSync(join(tmpdir(), 'fxpm-layers-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, dirname(name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const run = (...args: string[]) => spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, ...args, 'src'], { cwd: dir, encoding: 'utf8' });
    const lint = run();
    const out = JSON.parse(run('--output-type', 'json').stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
    const violations = out.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
    violations.sort((x, y) => `${x.rule} ${x.from}`.localeCompare(`${y.rule} ${y.from}`));
    return { status: lint.status, report: lint.stdout + lint.stderr, violations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('layer check: a tree whose layers only import downward passes', () => {
  const r = cruise(CLEAN);
  assert.deepEqual(r.violations, []);
  assert.equal(r.status, 0, r.report);
  assert.match(r.report, /no dependency violations found/);
});

test('layer check: upward imports, a cycle and an unreached module fail, each named', () => {
  const r = cruise({
    ...CLEAN,
    // The engine's old mistake: a type from src/tree, imported type-only.
    'src/fxp/modes.ts': "import { OK } from '../ftp/reply.js';\nimport type { Summary } from '../tree/plan.js';\nexport type Mode = 'fxp' | 'relay';\nexport const FIRST = OK;\nexport type S = Summary;\n",
    // The job loader's old mistake: a value from src/cli.
    'src/job/load.ts': "import { PLAN } from '../tree/plan.js';\nimport { SECRETS } from '../cli/log.js';\nexport const LOADED = [PLAN, SECRETS];\n",
    // The bottom layer reaching up two layers.
    'src/ftp/reply.ts': "import { PLAN } from '../tree/plan.js';\nexport interface Reply { code: number }\nexport const OK = 200;\nexport const P = () => PLAN;\n",
    // A module nothing imports (the old src/job/index.ts).
    'src/job/index.ts': "export { LOADED } from './load.js';\n",
  });
  assert.notEqual(r.status, 0, 'the lint must fail');
  assert.match(r.report, /error fxp-imports-upward: src\/fxp\/modes\.ts → src\/tree\/plan\.ts/);
  const upward = r.violations.filter((v) => v.rule.endsWith('-imports-upward'));
  assert.deepEqual(upward, [
    { rule: 'ftp-imports-upward', from: 'src/ftp/reply.ts', to: 'src/tree/plan.ts' },
    { rule: 'fxp-imports-upward', from: 'src/fxp/modes.ts', to: 'src/tree/plan.ts' },
    { rule: 'job-imports-upward', from: 'src/job/load.ts', to: 'src/cli/log.ts' },
  ]);
  // ftp -> tree -> ftp is also a cycle.
  const cycles = r.violations.filter((v) => v.rule === 'no-cycle');
  assert.ok(cycles.some((v) => v.from === 'src/ftp/reply.ts' && v.to === 'src/tree/plan.ts'), JSON.stringify(cycles));
  assert.ok(r.violations.some((v) => v.rule === 'src-module-unused' && v.to === 'src/job/index.ts'), JSON.stringify(r.violations));
});

test('layer check: a cycle inside one layer fails too', () => {
  const r = cruise({
    ...CLEAN,
    'src/cli/run.ts': "import { main } from './index.js';\nexport const run = () => main();\n",
    'src/cli/index.ts': "import { LOADED } from '../job/load.js';\nimport { SECRETS } from './log.js';\nimport { run } from './run.js';\nexport const main = () => [LOADED, SECRETS];\nexport const again = () => run();\n",
  });
  assert.notEqual(r.status, 0, 'the lint must fail');
  assert.match(r.report, /error no-cycle: src\/cli\/(index|run)\.ts →/);
  // Reported once, at the first module of the loop.
  assert.deepEqual(
    r.violations.map((v) => `${v.rule} ${v.from} -> ${v.to}`),
    ['no-cycle src/cli/index.ts -> src/cli/run.ts'],
  );
});
