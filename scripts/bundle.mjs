// The CLI as one bundle: dist/src/cli/index.js (compiled by tsc) and every
// module it imports, node_modules included, bundled by esbuild into one
// CommonJS file, dist/bundle/cli/index.cjs (bin/fxpmirror loads it with a V8
// code cache; see there and README "Install").
//
// Why one CommonJS file: Node.js 20 loads ES modules one by one (resolve, read,
// compile, link), about 0.45 ms of CPU each, and a mirror run loads about 90
// of them; Node 20 has no compile cache for ES modules (module.enableCompileCache
// came in Node 22), but vm.Script takes V8's code cache for a script, and only
// a CommonJS file is a script. esbuild wraps each module's top-level code in a
// function run on first import, so `mirror` still never runs the job layer
// (YAML) and `--version` runs nearly nothing. Three folders deep, as
// dist/src/cli is: src/cli/version.ts finds package.json at ../../../.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * commander requires node:child_process when it loads, for executable
 * subcommands, which fxpmirror does not have: loading it (with dgram and the
 * pipe and process bindings) cost every run about 0.8 ms of CPU. In the
 * bundle it is required on first use instead. The build fails if commander's
 * line changes or it calls anything but spawn(), so an update is checked.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, 'utf8');
      const uses = text.match(/childProcess\.\w+/g) ?? [];
      if (!text.includes(eager) || uses.some((u) => u !== 'childProcess.spawn')) {
        throw new Error(`${args.path}: commander no longer requires node:child_process as expected (scripts/bundle.mjs)`);
      }
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: text.replace(eager, lazy), loader: 'js' };
    });
  },
};

const out = 'dist/bundle/cli/index.cjs';
// Also drops the code caches of the previous bundle (bin/fxpmirror).
rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/cli/index.js'],
  outfile: out,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // A script has no import.meta: its modules' import.meta.url (package.json, createRequire) is the bundle's own URL.
  define: { 'import.meta.url': '__fxpImportMetaUrl' },
  banner: { js: "var __fxpImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcess],
});

// ASCII only, so bin/fxpmirror can read the bundle as latin1 (a one-byte
// string without UTF-8 decoding: about 1 ms less of start-up CPU for 800 KB).
// esbuild escapes non-ASCII characters in code (charset 'ascii', its default)
// but leaves some comments as they are; a \uXXXX escape means the same
// character in a string, template, regular expression or identifier, and is
// harmless text in a comment.
const text = readFileSync(out, 'utf8');
const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
if (ascii !== text) writeFileSync(out, ascii);
