import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { loadNative } from '../../daemon/engine/native.ts';

const { addon } = loadNative({ gpu: false });

function pieces(bytes: Buffer, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('UTF-8 deltas', () => {
  const text = 'héllo → 世界 🎉 wörld';
  const bytes = Buffer.from(text, 'utf8');

  for (const size of [1, 2, 3, 5]) {
    test(`pieces of ${size} bytes never split a character`, () => {
      const deltas = addon.utf8Deltas(pieces(bytes, size));
      for (const delta of deltas) assert.ok(!delta.includes('\uFFFD'), `delta ${JSON.stringify(delta)}`);
      assert.equal(deltas.join(''), text);
    });
  }

  test('incomplete character waits for its rest', () => {
    const emoji = Buffer.from('🎉', 'utf8');
    const deltas = addon.utf8Deltas([emoji.subarray(0, 1), emoji.subarray(1, 3), emoji.subarray(3)]);
    assert.deepEqual(deltas, ['', '', '🎉', '']);
  });

  test('truncated character at the end is flushed', () => {
    const deltas = addon.utf8Deltas([Buffer.from('ok'), Buffer.from([0xe4, 0xb8])]);
    assert.equal(deltas[0], 'ok');
    assert.equal(deltas[1], '');
    assert.equal(deltas[2], '\uFFFD');
  });

  test('invalid bytes pass through as replacement characters', () => {
    const deltas = addon.utf8Deltas([Buffer.from([0x61, 0xff, 0x62])]);
    assert.equal(deltas.join(''), 'a\uFFFDb');
  });
});
