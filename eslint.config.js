// @ts-check
// `npm run lint` runs this (typescript-eslint, type-checked) over src/ and test/,
// then dependency-cruiser for the layer boundaries (.dependency-cruiser.cjs).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.lab/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises that the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      // Matching CR, LF, NUL and other control characters is deliberate: they must never reach the wire or a terminal.
      'no-control-regex': 'off',
      // String(x) on log fields and YAML scalars that TypeScript narrows to `{}` is deliberate;
      // objects in template strings are still caught by restrict-template-expressions.
      '@typescript-eslint/no-base-to-string': 'off',
      // `pool.use(async () => undefined)` (connect, do nothing) is the idiom for a no-op callback;
      // the promise rules above and below catch the mistakes this rule is after.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read the CLI's JSON output, which JSON.parse types as `any`.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
