import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { CHOICES, MIRROR_OPTION_KEYS } from '../../src/job/schema.js';

function option(cmd: Command, flag: string): Option & { argChoices?: string[]; defaultValue?: unknown } {
  const o = cmd.options.find((x) => x.long === flag);
  assert.ok(o, `${cmd.name()} has ${flag}`);
  return o;
}

test('the command line offers exactly the values a job file allows, from the same lists (schema.ts)', () => {
  const program = buildProgram();
  const mirror = program.commands.find((c) => c.name() === 'mirror')!;
  const copy = program.commands.find((c) => c.name() === 'copy')!;
  const pairs: [string, keyof typeof CHOICES, keyof typeof MIRROR_OPTION_KEYS][] = [
    ['--fxp', 'fxp', 'fxp'],
    ['--passive', 'passive', 'passive'],
    ['--verify', 'verify', 'verify'],
    ['--symlinks', 'symlinks', 'symlinks'],
    ['--compare', 'compare', 'compare'],
  ];
  for (const [flag, choice, key] of pairs) {
    const o = option(mirror, flag);
    assert.deepEqual(o.argChoices, [...CHOICES[choice]], flag);
    assert.deepEqual(MIRROR_OPTION_KEYS[key].values, CHOICES[choice], key);
    if (MIRROR_OPTION_KEYS[key].default !== undefined) assert.equal(o.defaultValue, MIRROR_OPTION_KEYS[key].default, `${flag} default`);
  }
  for (const flag of ['--fxp', '--passive', '--verify']) assert.deepEqual(option(copy, flag).argChoices, option(mirror, flag).argChoices, flag);
});

test('sizes, durations, ages and --max-delete are read by the job loader\'s parsers', () => {
  const mirror = buildProgram().commands.find((c) => c.name() === 'mirror')!;
  const parse = (flag: string, v: string) => (option(mirror, flag) as unknown as { parseArg: (v: string, prev: unknown) => unknown }).parseArg(v, undefined);
  assert.equal(parse('--min-size', '1.5K'), 1536);
  assert.equal(parse('--timeout', '2m'), 120_000);
  assert.equal(parse('--timeout', '30'), 30_000);
  assert.equal(parse('--stats', '500ms'), 500);
  assert.deepEqual(parse('--max-delete', '10%'), { percent: 10 });
  assert.ok((parse('--newer-than', '7d') as Date).getTime() < Date.now() - 6 * 86_400_000);
  assert.throws(() => parse('--timeout', '0'), /must be greater than 0/);
  assert.throws(() => parse('--max-delete', 'ten'), /expected a count like "100" or a percentage like "10%", got "ten"/);
});
