// The CLI as one bundle: dist/src/cli/index.js (compiled by tsc) and every
// module it imports, node_modules included, bundled by esbuild into
// dist/bundle/cli/ (bin/fxpmirror loads it; see there and README "Install").
//
// Why: Node.js 20 loads ES modules one by one (resolve, read, compile, link),
// about 0.45 ms of CPU each; a mirror run loads about 90 of them. The bundle
// measured 0.04 s less CPU per run (0.15 s against 0.19 s for a mirror of an
// empty tree, on the bench's loopback lab), the largest single share of the
// client's start-up. Node 20 has no compile cache for ES modules
// (module.enableCompileCache came in Node 22).
//
// Split at the CLI's dynamic imports, so `mirror` still never loads the job
// layer (YAML) and `--version` loads nearly nothing. Three folders deep, as
// dist/src/cli is: src/cli/version.ts finds package.json at ../../../.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// The chunks' names carry hashes: old ones would pile up.
rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/cli/index.js'],
  outdir: 'dist/bundle/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // commander is CommonJS: its require() calls of Node.js modules need a real require in an ES module.
  banner: { js: "import { createRequire as __fxpCreateRequire } from 'node:module'; const require = __fxpCreateRequire(import.meta.url);" },
});
