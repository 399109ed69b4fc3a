import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { readFileContext } from '../../daemon/cli/ask.ts';
import { findInvalidUtf8 } from '../../daemon/cli/invalid-utf8.ts';

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

test('--file with invalid UTF-8 gets a notice', () => {
  const file = join(dir, 'latin1.py');
  writeFileSync(file, Buffer.concat([Buffer.from('name = "caf'), Buffer.from([0xe9]), Buffer.from('"\nprint(name)\n')]));
  const notices: string[] = [];
  const context = readFileContext(file, undefined, (message) => notices.push(message));
  assert.equal(context.selection?.text, 'name = "caf\ufffd"\nprint(name)', 'the rest of the file is kept');
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /latin1\.py is not valid UTF-8: 1 invalid byte sequence on line 1, the first at line 1, byte 12 of the line \(0xe9\)/);
  assert.match(notices[0]!, /replaced with U\+FFFD/);
});

test('--file notice lists the lines', () => {
  const file = join(dir, 'many.py');
  writeFileSync(file, Buffer.concat(Array.from({ length: 8 }, () => Buffer.from([0x61, 0xff, 0x0a]))));
  const notices: string[] = [];
  const context = readFileContext(file, '8', (message) => notices.push(message));
  assert.equal(context.selection?.text, 'a\ufffd');
  assert.match(notices[0] ?? '', /8 invalid byte sequences on lines 1, 2, 3, 4, 5 and 3 more, the first at line 1, byte 2 of the line \(0xff\)/);
});

test('--file in UTF-8 gets no notice', () => {
  const file = join(dir, 'utf8.py');
  writeFileSync(file, 'print("café 😀")\n');
  const notices: string[] = [];
  assert.equal(readFileContext(file, undefined, (message) => notices.push(message)).selection?.text, 'print("café 😀")');
  assert.deepEqual(notices, []);
});

describe('invalid UTF-8 sequences', () => {
  const cases: [string, number[], { offset: number; length: number; line: number; column: number }[]][] = [
    ['valid two, three and four bytes', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], []],
    ['stray continuation byte', [0x61, 0x80], [{ offset: 1, length: 1, line: 1, column: 2 }]],
    ['lead byte cut off at the end', [0x61, 0x0a, 0xc3], [{ offset: 2, length: 1, line: 2, column: 1 }]],
    ['three-byte sequence cut short', [0xe2, 0x82, 0x78], [{ offset: 0, length: 2, line: 1, column: 1 }]],
    ['overlong form', [0xc0, 0xaf], [{ offset: 0, length: 1, line: 1, column: 1 }, { offset: 1, length: 1, line: 1, column: 2 }]],
    ['surrogate', [0xed, 0xa0, 0x80], [0, 1, 2].map((offset) => ({ offset, length: 1, line: 1, column: offset + 1 }))],
    ['code point over U+10FFFF', [0xf4, 0x90, 0x80, 0x80], [0, 1, 2, 3].map((offset) => ({ offset, length: 1, line: 1, column: offset + 1 }))],
  ];
  for (const [name, bytes, expected] of cases) {
    test(name, () => {
      const buffer = Uint8Array.from(bytes);
      assert.deepEqual(findInvalidUtf8(buffer), expected);
      // Each sequence found is one replacement character in what Node decodes.
      const replacements = [...Buffer.from(buffer).toString('utf8')].filter((char) => char === '\ufffd').length;
      assert.equal(replacements, expected.length);
    });
  }
});
