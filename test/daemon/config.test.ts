/** The config file, environment overrides and CLI argument helpers. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { parseLineRange } from '../../daemon/cli/ask.ts';
import { ConfigError, loadConfig, readConfigFile } from '../../daemon/config.ts';
import { makeTempDir } from './helpers.ts';

describe('config file', () => {
  const temp = makeTempDir();
  after(() => temp.remove());

  function write(name: string, content: string): string {
    const file = path.join(temp.dir, name);
    writeFileSync(file, content);
    return file;
  }

  test('missing file gives defaults', () => {
    const config = loadConfig(path.join(temp.dir, 'absent.json'));
    assert.deepEqual(config.models, []);
    assert.equal(config.idleTimeoutMs, 600_000);
    assert.equal(config.gpu, true);
  });

  test('relative model paths resolve against the file', () => {
    const file = write('models.json', JSON.stringify({ models: [{ name: 'm', target: 'weights/t.gguf', draft: '/abs/d.gguf' }], idleTimeoutSeconds: 1.5 }));
    const config = readConfigFile(file);
    assert.equal(config.models?.[0]?.target, path.join(temp.dir, 'weights', 't.gguf'));
    assert.equal(config.models?.[0]?.draft, '/abs/d.gguf');
    assert.equal(config.idleTimeoutMs, 1500);
  });

  test('invalid files name the file and field', () => {
    const cases: [string, RegExp][] = [
      ['{ not json', /invalid config file .*bad-0\.json/],
      ['[]', /expected a JSON object/],
      ['{"idle": 3}', /unknown field `idle`/],
      ['{"models": [{"name": "m"}]}', /`models\[0\]\.target` to be a string, got undefined/],
      ['{"models": [{"name": "m", "target": "t", "contextSize": 12}]}', /`models\[0\]\.contextSize` to be an integer of at least 256/],
      ['{"logLevel": "loud"}', /`logLevel` to be one of debug, info, warn, error/],
      ['{"idleTimeoutSeconds": -1}', /`idleTimeoutSeconds` to be a number of seconds of at least 0/],
    ];
    cases.forEach(([content, pattern], index) => {
      const file = write(`bad-${index}.json`, content);
      assert.throws(() => readConfigFile(file), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, pattern);
        assert.ok(error.message.includes(file), error.message);
        return true;
      });
    });
  });

  test('environment and flags override the file', () => {
    const file = write('layered.json', JSON.stringify({ threads: 2, idleTimeoutSeconds: 100 }));
    const saved = { ...process.env };
    try {
      process.env.SPECEXIT_THREADS = '3';
      process.env.SPECEXIT_GPU = '0';
      const config = loadConfig(file, { idleTimeoutMs: 5000 });
      assert.equal(config.threads, 3);
      assert.equal(config.gpu, false);
      assert.equal(config.idleTimeoutMs, 5000);
    } finally {
      process.env = saved;
    }
  });
});

describe('line ranges', () => {
  test('valid ranges', () => {
    assert.deepEqual(parseLineRange('3-7'), { startLine: 3, endLine: 7 });
    assert.deepEqual(parseLineRange('12'), { startLine: 12, endLine: 12 });
  });

  test('invalid ranges', () => {
    for (const value of ['0-2', '5-3', 'a-b', '3-', '']) {
      assert.throws(() => parseLineRange(value), /Expected --lines to be A-B/, value);
    }
  });
});
