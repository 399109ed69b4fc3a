import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { readFileContext } from '../../daemon/cli/ask.ts';

const dir = mkdtempSync(join(tmpdir(), 'specexit-ask-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('--file rejects a device', () => {
  assert.throws(() => readFileContext('/dev/zero', '1-1'), /\/dev\/zero is not a regular file/);
});

test('--file names a missing file', () => {
  assert.throws(() => readFileContext(join(dir, 'nope.py'), undefined), /nope\.py: file not found/);
});

test('--file rejects a binary file', () => {
  const file = join(dir, 'blob.py');
  writeFileSync(file, Buffer.from([0x78, 0x00, 0x01, 0x0a]));
  assert.throws(() => readFileContext(file, undefined), /looks binary/);
});

test('--file rejects a selection over the message limit', () => {
  const file = join(dir, 'huge.py');
  writeFileSync(file, 'x = 1\n'.repeat(900_000));
  assert.throws(() => readFileContext(file, undefined), /message limit; select fewer lines with --lines/);
  // A few lines of the same file still fit.
  assert.equal(readFileContext(file, '10-12').selection?.text, 'x = 1\nx = 1\nx = 1');
});
