import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PART_SUFFIX, isPartName, partName } from '../../src/fxp/part-name.js';

test('part names: partName/isPartName round trip and edge cases', () => {
  assert.equal(PART_SUFFIX, '.fxpmirror-part');
  assert.equal(partName('a b.txt'), '.a b.txt.fxpmirror-part');
  assert.equal(isPartName(partName('x')), true);
  assert.equal(isPartName(partName('.hidden')), true);
  assert.equal(isPartName('x.fxpmirror-part'), false, 'needs the leading dot');
  assert.equal(isPartName('.fxpmirror-part'), false, 'suffix alone is not a part name');
  assert.equal(isPartName('.x.fxpmirror-partial'), false);
  assert.equal(isPartName('.x'), false);
});
