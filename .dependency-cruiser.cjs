// The layer check run by `npm run lint` (depcruise src test).
//
//   src/ftp (one server) <- src/fxp (two servers, one file) <- src/tree (walk,
//   compare, plan, execute) <- src/job <- src/cli
//
// A layer may import the layers to its left, never those to its right. Type-only
// imports count too: a type imported upward is an upward dependency.
// test/ may import any layer.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'ftp-imports-upward',
      comment: 'src/ftp talks to one server; it may not import src/fxp, src/tree, src/job or src/cli.',
      severity: 'error',
      from: { path: '^src/ftp/' },
      to: { path: '^src/(fxp|tree|job|cli)/' },
    },
    {
      name: 'fxp-imports-upward',
      comment: 'src/fxp moves one file between two servers; it may import src/ftp only.',
      severity: 'error',
      from: { path: '^src/fxp/' },
      to: { path: '^src/(tree|job|cli)/' },
    },
    {
      name: 'tree-imports-upward',
      comment: 'src/tree walks, compares, plans and executes; it may import src/ftp and src/fxp only.',
      severity: 'error',
      from: { path: '^src/tree/' },
      to: { path: '^src/(job|cli)/' },
    },
    {
      name: 'job-imports-upward',
      comment: 'src/job (job files, locks, metrics) may not import src/cli.',
      severity: 'error',
      from: { path: '^src/job/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-imports-test',
      comment: 'The shipped code may not import test code.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-cycle',
      comment: 'Modules that import each other (directly or around a loop) cannot be read, tested or moved alone.',
      severity: 'error',
      from: { path: '^(src|test)/' },
      to: { circular: true },
    },
    {
      name: 'src-imports-dev-dependency',
      comment: 'The package installs only "dependencies": src/ may not import a devDependency.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-resolvable',
      comment: 'An import that does not resolve to a file or an installed package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'src-module-unused',
      comment: 'Every module in src/ is reached from the CLI (src/cli/index.ts); one that is not is dead code.',
      severity: 'error',
      from: { path: '^src/cli/index\\.ts$' },
      to: { path: '^src/', reachable: false },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|\\.lab)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
