/**
 * Reader and writer of the signal-head sidecar, a safetensors file next to an
 * EAGLE-3 draft that contains SpecExit's three linear signal heads.
 *
 * Contents:
 *   - tensor "weight", F32 or BF16, shape [3, 3 * hidden_size], row-major.
 *     Row 0 is the confidence logit, row 1 the progress logit, row 2 the log of
 *     the remaining thinking tokens. Column block k (k = 0, 1, 2) reads the
 *     hidden state entering target layer target_layers[k].
 *   - optional tensor "bias", F32 or BF16, shape [3]: added to the three raw
 *     signals before their activations. Format "2" marks a file that has one,
 *     so that a reader of format "1", which knows no bias, rejects it.
 *   - "__metadata__" string values under "specexit.*" (see SignalSidecar).
 *     "specexit.calibration" holds a JSON object with the calibration run's
 *     figures when `specexit calibrate` wrote the file.
 *
 * safetensors layout: u64 little-endian header length N, N bytes of JSON
 * header, then the data section; each tensor's data_offsets are [begin, end)
 * byte offsets into the data section.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

export type SignalActivation = 'sigmoid' | 'exp';

export interface SignalSidecar {
  /** Signal-head weights, [3][3 * hiddenSize] row-major. */
  weight: Float32Array;
  /** Added to the three raw signals before their activations; absent means zeros. */
  bias?: Float32Array;
  /** Calibration run that produced the heads: seed, prompt set, held-out quality, threshold search (free-form JSON). */
  calibration?: Record<string, unknown>;
  /** Target model hidden size H. */
  hiddenSize: number;
  /** Target layer-input indices whose hidden states the three column blocks read (GGUF `eagle3.target_layers` convention). */
  targetLayers: [number, number, number];
  /** Activation turning each raw signal into its value: confidence, progress, remaining tokens. */
  activations: [SignalActivation, SignalActivation, SignalActivation];
  /** Weight of the newest step in the exponentially weighted moving average of the signals, in (0, 1]. */
  ewmaAlpha: number;
  /** Exit needs the smoothed confidence above this, in [0, 1]. */
  confidenceThreshold: number;
  /** Exit needs the smoothed progress above this, in [0, 1]. */
  progressThreshold: number;
  /** Exit needs the smoothed remaining-token estimate below this, in tokens. */
  remainThreshold: number;
}

/** Metadata values used when a sidecar omits the key. */
export const SIGNAL_SIDECAR_DEFAULTS = {
  activations: ['sigmoid', 'sigmoid', 'exp'] as [SignalActivation, SignalActivation, SignalActivation],
  ewmaAlpha: 0.1,
  confidenceThreshold: 0.8,
  progressThreshold: 0.3,
  remainThreshold: 200,
} as const;

export type SignalSidecarDtype = 'F32' | 'BF16';

/** Format of files without a bias tensor, and of files with one. */
const FORMAT_VERSION = '1';
const FORMAT_VERSION_BIAS = '2';
const SIGNAL_COUNT = 3;
const KNOWN_ACTIVATIONS: readonly SignalActivation[] = ['sigmoid', 'exp'];
/** Largest header accepted. A sidecar's header is under 1 KB, so a larger value means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;
const HEADER_LENGTH_BYTES = 8;

const REEXPORT_HINT = 'Re-create the sidecar with `specexit calibrate` or `specexit convert-angelslim`.';

/** Reads and validates a sidecar; BF16 weights are widened to float32. Throws an Error naming the file on invalid input. */
export async function readSignalSidecar(path: string): Promise<SignalSidecar> {
  const file = await readSidecarFile(path);
  const { header, dataSection } = parseSafetensors(path, file);
  const metadata = readMetadata(path, header);

  const hiddenSize = parseHiddenSize(path, metadata);
  const weight = readWeight(path, header, dataSection, hiddenSize);
  const bias = readBias(path, header, dataSection, metadata.get('specexit.format'));
  const calibration = parseCalibration(path, metadata);

  return {
    weight,
    ...(bias && { bias }),
    ...(calibration && { calibration }),
    hiddenSize,
    targetLayers: parseTargetLayers(path, metadata),
    activations: parseActivations(path, metadata),
    ewmaAlpha: parseNumber(path, metadata, 'specexit.ewma_alpha', SIGNAL_SIDECAR_DEFAULTS.ewmaAlpha, {
      min: 0,
      minExclusive: true,
      max: 1,
      range: 'in (0, 1]',
    }),
    confidenceThreshold: parseNumber(path, metadata, 'specexit.confidence_threshold', SIGNAL_SIDECAR_DEFAULTS.confidenceThreshold, {
      min: 0,
      max: 1,
      range: 'in [0, 1]',
    }),
    progressThreshold: parseNumber(path, metadata, 'specexit.progress_threshold', SIGNAL_SIDECAR_DEFAULTS.progressThreshold, {
      min: 0,
      max: 1,
      range: 'in [0, 1]',
    }),
    remainThreshold: parseNumber(path, metadata, 'specexit.remain_threshold', SIGNAL_SIDECAR_DEFAULTS.remainThreshold, {
      min: 0,
      minExclusive: true,
      range: 'above 0',
    }),
  };
}

/**
 * Validates `sidecar` and writes it to `path` (F32 unless `dtype` is BF16, which rounds to nearest even).
 * The file is written next to `path` and renamed over it, so readers never see a partial file.
 */
export async function writeSignalSidecar(
  path: string,
  sidecar: SignalSidecar,
  options: { dtype?: SignalSidecarDtype } = {},
): Promise<void> {
  validateForWrite(path, sidecar);
  const dtype = options.dtype ?? 'F32';
  const encode = dtype === 'F32' ? encodeFloat32 : encodeBfloat16;
  const weightData = encode(sidecar.weight);
  const biasData = sidecar.bias ? encode(sidecar.bias) : undefined;
  const data = biasData ? Buffer.concat([weightData, biasData]) : weightData;

  const header = {
    __metadata__: {
      'specexit.format': biasData ? FORMAT_VERSION_BIAS : FORMAT_VERSION,
      'specexit.hidden_size': String(sidecar.hiddenSize),
      'specexit.target_layers': sidecar.targetLayers.join(','),
      'specexit.activations': sidecar.activations.join(','),
      'specexit.ewma_alpha': String(sidecar.ewmaAlpha),
      'specexit.confidence_threshold': String(sidecar.confidenceThreshold),
      'specexit.progress_threshold': String(sidecar.progressThreshold),
      'specexit.remain_threshold': String(sidecar.remainThreshold),
      ...(sidecar.calibration && { 'specexit.calibration': JSON.stringify(sidecar.calibration) }),
    },
    weight: { dtype, shape: [SIGNAL_COUNT, SIGNAL_COUNT * sidecar.hiddenSize], data_offsets: [0, weightData.length] },
    ...(biasData && { bias: { dtype, shape: [SIGNAL_COUNT], data_offsets: [weightData.length, data.length] } }),
  };

  // Pad the header with spaces so the data section starts 8-byte aligned.
  let headerJson = JSON.stringify(header);
  headerJson += ' '.repeat((8 - (Buffer.byteLength(headerJson) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, 'utf8');
  const lengthBytes = Buffer.alloc(HEADER_LENGTH_BYTES);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const temporaryPath = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporaryPath, Buffer.concat([lengthBytes, headerBytes, data]));
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

function invalid(path: string, problem: string, fix: string): Error {
  return new Error(`Invalid signal sidecar ${path}: ${problem}. ${fix}`);
}

async function readSidecarFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(
        `Signal sidecar not found: ${path}. Check the path in the model settings.`,
        { cause: error },
      );
    }
    throw new Error(`Cannot read signal sidecar ${path}: ${(error as Error).message}. Check that the path is a readable file.`, {
      cause: error,
    });
  }
}

function parseSafetensors(path: string, file: Buffer): { header: Record<string, unknown>; dataSection: Buffer } {
  if (file.length < HEADER_LENGTH_BYTES) {
    throw invalid(
      path,
      `the file is ${file.length} bytes, shorter than the ${HEADER_LENGTH_BYTES}-byte safetensors header length`,
      `The file is truncated or is not a safetensors file. ${REEXPORT_HINT}`,
    );
  }

  const headerLength = file.readBigUInt64LE(0);
  const available = file.length - HEADER_LENGTH_BYTES;
  if (headerLength > BigInt(available)) {
    throw invalid(
      path,
      `the header length is ${headerLength} bytes but only ${available} bytes follow it`,
      `The file is truncated or is not a safetensors file. ${REEXPORT_HINT}`,
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw invalid(path, `the header length is ${headerLength} bytes, above the ${MAX_HEADER_BYTES}-byte limit`, REEXPORT_HINT);
  }

  const headerEnd = HEADER_LENGTH_BYTES + Number(headerLength);
  const headerText = file.subarray(HEADER_LENGTH_BYTES, headerEnd).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    throw invalid(path, `the header is not valid JSON (${(error as Error).message})`, REEXPORT_HINT);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw invalid(path, `the header is ${describeJson(header)}, not a JSON object`, REEXPORT_HINT);
  }

  return { header: header as Record<string, unknown>, dataSection: file.subarray(headerEnd) };
}

function readMetadata(path: string, header: Record<string, unknown>): Map<string, string> {
  const raw = header['__metadata__'];
  const metadata = new Map<string, string>();
  if (raw === undefined) {
    return metadata;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(path, `"__metadata__" is ${describeJson(raw)}, not an object of strings`, REEXPORT_HINT);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') {
      throw invalid(path, `metadata "${key}" is ${describeJson(value)}, not a string`, 'Store every metadata value as a string, as safetensors requires.');
    }
    metadata.set(key, value);
  }

  const format = metadata.get('specexit.format');
  if (format !== undefined && format !== FORMAT_VERSION && format !== FORMAT_VERSION_BIAS) {
    throw invalid(
      path,
      `metadata "specexit.format" is "${format}" but this version reads formats "${FORMAT_VERSION}" and "${FORMAT_VERSION_BIAS}"`,
      'Update SpecExit, or re-create the sidecar with this version.',
    );
  }
  return metadata;
}

function parseHiddenSize(path: string, metadata: Map<string, string>): number {
  const text = metadata.get('specexit.hidden_size');
  if (text === undefined) {
    throw invalid(
      path,
      'metadata "specexit.hidden_size" is missing',
      'Set it to the target model\'s hidden size (GGUF "<arch>.embedding_length").',
    );
  }
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw invalid(path, `metadata "specexit.hidden_size" is "${text}", not a positive integer`, 'Set it to the target model\'s hidden size.');
  }
  return Number(text);
}

function parseTargetLayers(path: string, metadata: Map<string, string>): [number, number, number] {
  const text = metadata.get('specexit.target_layers');
  const fix = 'Set it to three comma-separated layer-input indices, for example "2,16,29" (the draft\'s eagle3.target_layers).';
  if (text === undefined) {
    throw invalid(path, 'metadata "specexit.target_layers" is missing', fix);
  }
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length !== SIGNAL_COUNT || parts.some((part) => !/^\d+$/.test(part))) {
    throw invalid(path, `metadata "specexit.target_layers" is "${text}", not three non-negative integers`, fix);
  }
  const [first, second, third] = parts.map(Number) as [number, number, number];
  return [first, second, third];
}

function parseActivations(
  path: string,
  metadata: Map<string, string>,
): [SignalActivation, SignalActivation, SignalActivation] {
  const text = metadata.get('specexit.activations');
  if (text === undefined) {
    return [...SIGNAL_SIDECAR_DEFAULTS.activations];
  }
  const fix = `Use three of ${KNOWN_ACTIVATIONS.join(', ')}, comma-separated; the default is "${SIGNAL_SIDECAR_DEFAULTS.activations.join(',')}".`;
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length !== SIGNAL_COUNT) {
    throw invalid(path, `metadata "specexit.activations" is "${text}", not three activations`, fix);
  }
  for (const part of parts) {
    if (!KNOWN_ACTIVATIONS.includes(part as SignalActivation)) {
      throw invalid(path, `metadata "specexit.activations" has unknown activation "${part}"`, fix);
    }
  }
  return parts as [SignalActivation, SignalActivation, SignalActivation];
}

interface NumberRange {
  min: number;
  minExclusive?: boolean;
  max?: number;
  /** The range in words, for the error message. */
  range: string;
}

function parseNumber(path: string, metadata: Map<string, string>, key: string, fallback: number, range: NumberRange): number {
  const text = metadata.get(key);
  if (text === undefined) {
    return fallback;
  }
  const value = text.trim() === '' ? Number.NaN : Number(text);
  const belowMin = range.minExclusive ? value <= range.min : value < range.min;
  const aboveMax = range.max !== undefined && value > range.max;
  if (!Number.isFinite(value) || belowMin || aboveMax) {
    throw invalid(path, `metadata "${key}" is "${text}", not a number ${range.range}`, `Set it to a number ${range.range} (default ${fallback}).`);
  }
  return value;
}

function readWeight(path: string, header: Record<string, unknown>, dataSection: Buffer, hiddenSize: number): Float32Array {
  const tensorNames = Object.keys(header).filter((key) => key !== '__metadata__');
  const entry = header['weight'];
  const shapeFix = `Export the signal heads as tensor "weight" of shape [3, 3 * hidden_size] in F32 or BF16. ${REEXPORT_HINT}`;
  if (entry === undefined) {
    const found = tensorNames.length > 0 ? tensorNames.map((name) => `"${name}"`).join(', ') : 'none';
    throw invalid(path, `there is no tensor named "weight" (tensors found: ${found})`, shapeFix);
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw invalid(path, `tensor "weight" is described by ${describeJson(entry)}, not an object`, shapeFix);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;

  if (dtype !== 'F32' && dtype !== 'BF16') {
    throw invalid(path, `tensor "weight" has dtype ${describeJson(dtype)}; expected "F32" or "BF16"`, shapeFix);
  }

  const expectedShape = [SIGNAL_COUNT, SIGNAL_COUNT * hiddenSize];
  if (!Array.isArray(shape) || shape.length !== 2 || shape[0] !== expectedShape[0] || shape[1] !== expectedShape[1]) {
    throw invalid(
      path,
      `tensor "weight" has shape ${describeShape(shape)}; expected [${expectedShape.join(', ')}] for specexit.hidden_size ${hiddenSize}`,
      shapeFix,
    );
  }

  const bytesPerValue = dtype === 'F32' ? 4 : 2;
  const expectedBytes = expectedShape[0]! * expectedShape[1]! * bytesPerValue;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && (offset as number) >= 0)
  ) {
    throw invalid(path, `tensor "weight" has data_offsets ${describeJson(offsets)}, not two non-negative integers`, REEXPORT_HINT);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSection.length) {
    throw invalid(
      path,
      `tensor "weight" has data_offsets [${begin}, ${end}] outside the ${dataSection.length}-byte data section`,
      `The file is truncated or its header is wrong. ${REEXPORT_HINT}`,
    );
  }
  if (end - begin !== expectedBytes) {
    throw invalid(
      path,
      `tensor "weight" has data_offsets [${begin}, ${end}] covering ${end - begin} bytes; shape [${expectedShape.join(', ')}] in ${dtype} needs ${expectedBytes}`,
      REEXPORT_HINT,
    );
  }

  const bytes = dataSection.subarray(begin, end);
  const weight = dtype === 'F32' ? decodeFloat32(bytes) : decodeBfloat16(bytes);
  const badIndex = weight.findIndex((value) => !Number.isFinite(value));
  if (badIndex >= 0) {
    const row = Math.floor(badIndex / expectedShape[1]!);
    const column = badIndex % expectedShape[1]!;
    throw invalid(path, `tensor "weight" contains ${weight[badIndex]} at [${row}, ${column}]`, `The signal heads must be finite. ${REEXPORT_HINT}`);
  }
  return weight;
}

/** Reads the optional "bias" tensor; a format "2" file must have one, and an older one must not. */
function readBias(path: string, header: Record<string, unknown>, dataSection: Buffer, format: string | undefined): Float32Array | undefined {
  const entry = header['bias'];
  const fix = `Export the bias as tensor "bias" of shape [3] in F32 or BF16 with "specexit.format" "${FORMAT_VERSION_BIAS}". ${REEXPORT_HINT}`;
  if (entry === undefined) {
    if (format === FORMAT_VERSION_BIAS) {
      throw invalid(path, `metadata "specexit.format" is "${FORMAT_VERSION_BIAS}" but there is no tensor named "bias"`, fix);
    }
    return undefined;
  }
  if (format !== FORMAT_VERSION_BIAS) {
    throw invalid(path, `there is a tensor "bias" but metadata "specexit.format" is ${describeJson(format)}`, fix);
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw invalid(path, `tensor "bias" is described by ${describeJson(entry)}, not an object`, fix);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (dtype !== 'F32' && dtype !== 'BF16') {
    throw invalid(path, `tensor "bias" has dtype ${describeJson(dtype)}; expected "F32" or "BF16"`, fix);
  }
  if (!Array.isArray(shape) || shape.length !== 1 || shape[0] !== SIGNAL_COUNT) {
    throw invalid(path, `tensor "bias" has shape ${describeShape(shape)}; expected [${SIGNAL_COUNT}]`, fix);
  }
  const expectedBytes = SIGNAL_COUNT * (dtype === 'F32' ? 4 : 2);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((offset) => Number.isSafeInteger(offset) && (offset as number) >= 0)) {
    throw invalid(path, `tensor "bias" has data_offsets ${describeJson(offsets)}, not two non-negative integers`, REEXPORT_HINT);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSection.length || end - begin !== expectedBytes) {
    throw invalid(
      path,
      `tensor "bias" has data_offsets [${begin}, ${end}]; expected ${expectedBytes} bytes inside the ${dataSection.length}-byte data section`,
      REEXPORT_HINT,
    );
  }
  const bytes = dataSection.subarray(begin, end);
  const bias = dtype === 'F32' ? decodeFloat32(bytes) : decodeBfloat16(bytes);
  if (bias.some((value) => !Number.isFinite(value))) {
    throw invalid(path, 'tensor "bias" contains a value that is not finite', `The signal heads must be finite. ${REEXPORT_HINT}`);
  }
  return bias;
}

function parseCalibration(path: string, metadata: Map<string, string>): Record<string, unknown> | undefined {
  const text = metadata.get('specexit.calibration');
  if (text === undefined) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(path, `metadata "specexit.calibration" is not valid JSON (${(error as Error).message})`, REEXPORT_HINT);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(path, `metadata "specexit.calibration" is ${describeJson(value)}, not a JSON object`, REEXPORT_HINT);
  }
  return value as Record<string, unknown>;
}

function validateForWrite(path: string, sidecar: SignalSidecar): void {
  const fail = (problem: string): Error => new Error(`Cannot write signal sidecar ${path}: ${problem}.`);
  const { hiddenSize } = sidecar;
  if (!Number.isInteger(hiddenSize) || hiddenSize <= 0) {
    throw fail(`hiddenSize is ${hiddenSize}; expected a positive integer`);
  }

  const expectedLength = SIGNAL_COUNT * SIGNAL_COUNT * hiddenSize;
  if (sidecar.weight.length !== expectedLength) {
    throw fail(`weight has ${sidecar.weight.length} values; shape [3, ${3 * hiddenSize}] needs ${expectedLength}`);
  }
  if (sidecar.weight.some((value) => !Number.isFinite(value))) {
    throw fail('weight contains a value that is not finite');
  }
  if (sidecar.bias && (sidecar.bias.length !== SIGNAL_COUNT || sidecar.bias.some((value) => !Number.isFinite(value)))) {
    throw fail(`bias is [${Array.from(sidecar.bias).join(', ')}]; expected three finite numbers`);
  }

  if (sidecar.targetLayers.length !== SIGNAL_COUNT || !sidecar.targetLayers.every((layer) => Number.isInteger(layer) && layer >= 0)) {
    throw fail(`targetLayers is [${sidecar.targetLayers.join(', ')}]; expected three non-negative integers`);
  }
  if (sidecar.activations.length !== SIGNAL_COUNT || !sidecar.activations.every((name) => KNOWN_ACTIVATIONS.includes(name))) {
    throw fail(`activations is [${sidecar.activations.join(', ')}]; expected three of ${KNOWN_ACTIVATIONS.join(', ')}`);
  }

  if (!(sidecar.ewmaAlpha > 0 && sidecar.ewmaAlpha <= 1)) {
    throw fail(`ewmaAlpha is ${sidecar.ewmaAlpha}; expected a number in (0, 1]`);
  }
  if (!(sidecar.confidenceThreshold >= 0 && sidecar.confidenceThreshold <= 1)) {
    throw fail(`confidenceThreshold is ${sidecar.confidenceThreshold}; expected a number in [0, 1]`);
  }
  if (!(sidecar.progressThreshold >= 0 && sidecar.progressThreshold <= 1)) {
    throw fail(`progressThreshold is ${sidecar.progressThreshold}; expected a number in [0, 1]`);
  }
  if (!(sidecar.remainThreshold > 0 && Number.isFinite(sidecar.remainThreshold))) {
    throw fail(`remainThreshold is ${sidecar.remainThreshold}; expected a finite number above 0`);
  }
}

function decodeFloat32(bytes: Buffer): Float32Array {
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) {
    values[i] = bytes.readFloatLE(i * 4);
  }
  return values;
}

/** Widens bfloat16 values: a bfloat16 is the upper 16 bits of a float32. */
function decodeBfloat16(bytes: Buffer): Float32Array {
  const bits = new Uint32Array(bytes.length / 2);
  for (let i = 0; i < bits.length; i++) {
    bits[i] = bytes.readUInt16LE(i * 2) << 16;
  }
  return new Float32Array(bits.buffer);
}

function encodeFloat32(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes;
}

/** Narrows float32 values to bfloat16, rounding to nearest even (inputs are finite). */
function encodeBfloat16(values: Float32Array): Buffer {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const bytes = Buffer.alloc(values.length * 2);
  bits.forEach((value, i) => {
    const rounded = value + 0x7fff + ((value >>> 16) & 1);
    bytes.writeUInt16LE((rounded >>> 16) & 0xffff, i * 2);
  });
  return bytes;
}

function describeShape(shape: unknown): string {
  if (Array.isArray(shape) && shape.every((size) => typeof size === 'number')) {
    return `[${shape.join(', ')}]`;
  }
  return describeJson(shape);
}

function describeJson(value: unknown): string {
  if (value === undefined) {
    return 'missing';
  }
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
