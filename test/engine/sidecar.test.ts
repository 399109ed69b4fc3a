import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { readSignalSidecar, SIGNAL_SIDECAR_DEFAULTS, writeSignalSidecar, type SignalSidecar } from '../../daemon/engine/sidecar.ts';
import { encodeSafetensors, float32Bytes } from '../fixtures/safetensors-writer.ts';

const HIDDEN_SIZE = 4;
const COLUMNS = 3 * HIDDEN_SIZE;

const REQUIRED_METADATA = {
  'specexit.format': '1',
  'specexit.hidden_size': String(HIDDEN_SIZE),
  'specexit.target_layers': '2,4,5',
};

function sampleSidecar(): SignalSidecar {
  return {
    weight: Float32Array.from({ length: 3 * COLUMNS }, (_, i) => (i - 17) / 8),
    hiddenSize: HIDDEN_SIZE,
    targetLayers: [1, 7, 12],
    activations: ['sigmoid', 'exp', 'exp'],
    ewmaAlpha: 0.25,
    confidenceThreshold: 0.9,
    progressThreshold: 0.5,
    remainThreshold: 64,
  };
}

function validWeight(): Uint8Array {
  return float32Bytes(Array.from({ length: 3 * COLUMNS }, (_, i) => i / 10));
}

describe('signal sidecar', () => {
  let dir: string;
  let fileCount = 0;

  /** Writes `bytes` to a new file in the test directory and returns its path. */
  const fileWith = async (bytes: Uint8Array | string): Promise<string> => {
    const file = path.join(dir, `case-${fileCount++}.safetensors`);
    await writeFile(file, bytes);
    return file;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-sidecar-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('round-trips f32', async () => {
    const file = path.join(dir, 'round-trip.safetensors');
    const written = sampleSidecar();
    await writeSignalSidecar(file, written);

    const read = await readSignalSidecar(file);
    assert.deepEqual(read, written);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((name) => name.endsWith('.tmp'))), []);
  });

  test('writes the documented header', async () => {
    const file = path.join(dir, 'header.safetensors');
    await writeSignalSidecar(file, sampleSidecar());

    const bytes = await readFile(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + headerLength) % 8, 0, 'data section is 8-byte aligned');
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    assert.deepEqual(header.weight, { dtype: 'F32', shape: [3, COLUMNS], data_offsets: [0, 3 * COLUMNS * 4] });
    assert.deepEqual(header.__metadata__, {
      'specexit.format': '1',
      'specexit.hidden_size': '4',
      'specexit.target_layers': '1,7,12',
      'specexit.activations': 'sigmoid,exp,exp',
      'specexit.ewma_alpha': '0.25',
      'specexit.confidence_threshold': '0.9',
      'specexit.progress_threshold': '0.5',
      'specexit.remain_threshold': '64',
    });
  });

  test('reads bf16 as f32', async () => {
    // 0x3fc0 is 1.5, 0xbe80 is -0.25, 0x4040 is 3 in bfloat16.
    const values = [0x3fc0, 0xbe80, 0x4040];
    const data = Buffer.alloc(3 * COLUMNS * 2);
    for (let i = 0; i < 3 * COLUMNS; i++) {
      data.writeUInt16LE(values[i % 3]!, i * 2);
    }
    const file = await fileWith(encodeSafetensors({ weight: { dtype: 'BF16', shape: [3, COLUMNS], data } }, REQUIRED_METADATA));

    const read = await readSignalSidecar(file);
    assert.deepEqual([...read.weight.slice(0, 6)], [1.5, -0.25, 3, 1.5, -0.25, 3]);
    assert.equal(read.weight.length, 3 * COLUMNS);
  });

  test('writes bf16 rounded to nearest even', async () => {
    const file = path.join(dir, 'bf16.safetensors');
    const sidecar = sampleSidecar();
    // 1 + 2^-8 lies halfway between two bfloat16 values and rounds to even (1); 1 + 3 * 2^-8 rounds up.
    sidecar.weight[0] = 1 + 2 ** -8;
    sidecar.weight[1] = 1 + 3 * 2 ** -8;
    await writeSignalSidecar(file, sidecar, { dtype: 'BF16' });

    const read = await readSignalSidecar(file);
    assert.equal(read.weight[0], 1);
    assert.equal(read.weight[1], 1 + 4 * 2 ** -8);
    assert.equal(read.weight[2], sidecar.weight[2]);
  });

  test('missing optional metadata takes defaults', async () => {
    const file = await fileWith(
      encodeSafetensors({ weight: { dtype: 'F32', shape: [3, COLUMNS], data: validWeight() } }, {
        'specexit.hidden_size': String(HIDDEN_SIZE),
        'specexit.target_layers': '2,4,5',
      }),
    );

    const read = await readSignalSidecar(file);
    assert.deepEqual(read.targetLayers, [2, 4, 5]);
    assert.deepEqual(read.activations, SIGNAL_SIDECAR_DEFAULTS.activations);
    assert.equal(read.ewmaAlpha, 0.1);
    assert.equal(read.confidenceThreshold, 0.8);
    assert.equal(read.progressThreshold, 0.3);
    assert.equal(read.remainThreshold, 200);
  });

  describe('invalid input names the file', () => {
    const withMetadata = (metadata: Record<string, unknown>): Buffer =>
      encodeSafetensors({ weight: { dtype: 'F32', shape: [3, COLUMNS], data: validWeight() } }, metadata);

    const validFile = withMetadata(REQUIRED_METADATA);
    const validHeaderLength = Number(validFile.readBigUInt64LE(0));

    const cases: { name: string; bytes: () => Uint8Array | string; message: RegExp }[] = [
      { name: 'truncated file', bytes: () => Buffer.from([1, 2, 3]), message: /3 bytes, shorter than the 8-byte/ },
      {
        name: 'header length past the end',
        bytes: () => validFile.subarray(0, 8 + validHeaderLength - 5),
        message: new RegExp(`header length is ${validHeaderLength} bytes but only ${validHeaderLength - 5} bytes follow`),
      },
      {
        name: 'bad JSON',
        bytes: () => {
          const header = Buffer.from('{"weight": ');
          const length = Buffer.alloc(8);
          length.writeBigUInt64LE(BigInt(header.length));
          return Buffer.concat([length, header]);
        },
        message: /header is not valid JSON/,
      },
      {
        name: 'header not an object',
        bytes: () => {
          const length = Buffer.alloc(8);
          length.writeBigUInt64LE(2n);
          return Buffer.concat([length, Buffer.from('[]')]);
        },
        message: /header is \[\], not a JSON object/,
      },
      {
        name: 'missing weight',
        bytes: () => encodeSafetensors({ weights: { dtype: 'F32', shape: [3, COLUMNS], data: validWeight() } }, REQUIRED_METADATA),
        message: /no tensor named "weight" \(tensors found: "weights"\)/,
      },
      {
        name: 'wrong dtype',
        bytes: () => encodeSafetensors({ weight: { dtype: 'F16', shape: [3, COLUMNS], data: new Uint8Array(3 * COLUMNS * 2) } }, REQUIRED_METADATA),
        message: /dtype "F16"; expected "F32" or "BF16"/,
      },
      {
        name: 'shape against hidden size',
        bytes: () => encodeSafetensors({ weight: { dtype: 'F32', shape: [3, 100], data: new Uint8Array(1200) } }, REQUIRED_METADATA),
        message: /shape \[3, 100\]; expected \[3, 12\] for specexit.hidden_size 4/,
      },
      {
        name: 'wrong row count',
        bytes: () => encodeSafetensors({ weight: { dtype: 'F32', shape: [2, COLUMNS], data: new Uint8Array(2 * COLUMNS * 4) } }, REQUIRED_METADATA),
        message: /shape \[2, 12\]/,
      },
      {
        name: 'data offsets outside the file',
        bytes: () => validFile.subarray(0, validFile.length - 16),
        message: /data_offsets \[0, 144\] outside the 128-byte data section/,
      },
      {
        name: 'data offsets of the wrong length',
        bytes: () => {
          const header = JSON.stringify({ __metadata__: REQUIRED_METADATA, weight: { dtype: 'F32', shape: [3, COLUMNS], data_offsets: [0, 8] } });
          const length = Buffer.alloc(8);
          length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
          return Buffer.concat([length, Buffer.from(header), new Uint8Array(144)]);
        },
        message: /covering 8 bytes; shape \[3, 12\] in F32 needs 144/,
      },
      {
        name: 'non-numeric ewma alpha',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.ewma_alpha': 'fast' }),
        message: /"specexit.ewma_alpha" is "fast", not a number in \(0, 1\]/,
      },
      {
        name: 'threshold out of range',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.confidence_threshold': '1.5' }),
        message: /"specexit.confidence_threshold" is "1.5", not a number in \[0, 1\]/,
      },
      {
        name: 'empty remain threshold',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.remain_threshold': '' }),
        message: /"specexit.remain_threshold" is "", not a number above 0/,
      },
      {
        name: 'missing hidden size',
        bytes: () => withMetadata({ 'specexit.target_layers': '2,4,5' }),
        message: /"specexit.hidden_size" is missing/,
      },
      {
        name: 'non-integer hidden size',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.hidden_size': '4.5' }),
        message: /"specexit.hidden_size" is "4.5", not a positive integer/,
      },
      {
        name: 'missing target layers',
        bytes: () => withMetadata({ 'specexit.hidden_size': String(HIDDEN_SIZE) }),
        message: /"specexit.target_layers" is missing/,
      },
      {
        name: 'two target layers',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.target_layers': '2,4' }),
        message: /"specexit.target_layers" is "2,4", not three non-negative integers/,
      },
      {
        name: 'unknown activation',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.activations': 'sigmoid,relu,exp' }),
        message: /unknown activation "relu"/,
      },
      {
        name: 'non-string metadata',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.ewma_alpha': 0.1 }),
        message: /"specexit.ewma_alpha" is 0.1, not a string/,
      },
      {
        name: 'unsupported format',
        bytes: () => withMetadata({ ...REQUIRED_METADATA, 'specexit.format': '3' }),
        message: /"specexit.format" is "3" but this version reads formats "1" and "2"/,
      },
      {
        name: 'non-finite weight',
        bytes: () => {
          const values = Array.from({ length: 3 * COLUMNS }, () => 0);
          values[COLUMNS + 2] = Number.NaN;
          return encodeSafetensors({ weight: { dtype: 'F32', shape: [3, COLUMNS], data: float32Bytes(values) } }, REQUIRED_METADATA);
        },
        message: /contains NaN at \[1, 2\]/,
      },
    ];

    for (const { name, bytes, message } of cases) {
      test(name, async () => {
        const file = await fileWith(bytes());
        await assert.rejects(readSignalSidecar(file), (error: Error) => {
          assert.ok(error.message.includes(file), `message does not name the file: ${error.message}`);
          assert.match(error.message, message);
          return true;
        });
      });
    }

    test('missing file', async () => {
      const file = path.join(dir, 'absent.safetensors');
      await assert.rejects(readSignalSidecar(file), (error: Error) => {
        assert.match(error.message, /Signal sidecar not found/);
        assert.ok(error.message.includes(file));
        assert.match(error.message, /Check the path/);
        return true;
      });
    });

    test('a directory', async () => {
      await assert.rejects(readSignalSidecar(dir), (error: Error) => {
        assert.ok(error.message.includes(`Cannot read signal sidecar ${dir}`), error.message);
        return true;
      });
    });
  });

  test('writer rejects a weight of the wrong length', async () => {
    const file = path.join(dir, 'short.safetensors');
    const sidecar = { ...sampleSidecar(), weight: new Float32Array(5) };
    await assert.rejects(writeSignalSidecar(file, sidecar), (error: Error) => {
      assert.ok(error.message.includes(file));
      assert.match(error.message, /weight has 5 values; shape \[3, 12\] needs 36/);
      return true;
    });
    await assert.rejects(readFile(file), { code: 'ENOENT' });
  });

  test('writer rejects an unknown activation', async () => {
    const file = path.join(dir, 'activation.safetensors');
    const sidecar = { ...sampleSidecar(), activations: ['sigmoid', 'tanh', 'exp'] as unknown as SignalSidecar['activations'] };
    await assert.rejects(writeSignalSidecar(file, sidecar), /activations is \[sigmoid, tanh, exp\]/);
  });
});
