/**
 * A general safetensors reader and writer for checkpoint conversion: every tensor's dtype, shape and raw bytes,
 * in file order. Layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
 */

export interface RawTensor {
  name: string;
  /** safetensors dtype string, such as "F32", "BF16", "F16" or "I64". */
  dtype: string;
  shape: number[];
  /** Little-endian bytes, `product(shape) * bytes per value` long. */
  data: Buffer;
}

export interface SafetensorsFile {
  metadata: Record<string, string> | undefined;
  tensors: RawTensor[];
}

const BYTES_PER_VALUE: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1, U16: 2, U32: 4, U64: 8,
};

/** Parses a safetensors file. Throws an Error naming `source` when the structure is invalid. */
export function parseSafetensorsFile(source: string, file: Buffer): SafetensorsFile {
  const fail = (problem: string) => new Error(`Invalid safetensors file ${source}: ${problem}.`);
  if (file.length < 8) throw fail(`it is ${file.length} bytes long, shorter than the 8-byte header length`);
  const headerLength = Number(file.readBigUInt64LE(0));
  if (headerLength > file.length - 8) throw fail(`the header length ${headerLength} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw fail(`the header is not valid JSON (${(error as Error).message})`);
  }
  const data = file.subarray(8 + headerLength);
  const tensors: RawTensor[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in BYTES_PER_VALUE)) throw fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) throw fail(`tensor "${name}" has an invalid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2) throw fail(`tensor "${name}" has invalid data_offsets`);
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((product, size) => product * size, 1) * BYTES_PER_VALUE[dtype]!;
    if (!(begin >= 0 && end >= begin && end <= data.length && end - begin === expected)) {
      throw fail(`tensor "${name}" has data_offsets [${begin}, ${end}], expected ${expected} bytes inside the ${data.length}-byte data section`);
    }
    tensors.push({ name, dtype, shape: shape as number[], data: data.subarray(begin, end) });
  }
  const metadata = header['__metadata__'] as Record<string, string> | undefined;
  return { metadata, tensors };
}

/** Encodes tensors in order, with the header padded by spaces so the data section starts 8-byte aligned. */
export function encodeSafetensorsFile(file: SafetensorsFile): Buffer {
  const header: Record<string, unknown> = {};
  if (file.metadata) header['__metadata__'] = file.metadata;
  let offset = 0;
  for (const tensor of file.tensors) {
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.data.length] };
    offset += tensor.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json, 'utf8'), ...file.tensors.map((tensor) => tensor.data)]);
}

/** Widens F32, F16 or BF16 tensor data to float32. */
export function toFloat32(tensor: RawTensor): Float32Array {
  const count = tensor.data.length / BYTES_PER_VALUE[tensor.dtype]!;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (tensor.dtype) {
      case 'F32':
        out[i] = tensor.data.readFloatLE(i * 4);
        break;
      case 'BF16':
        out[i] = bfloat16ToFloat(tensor.data.readUInt16LE(i * 2));
        break;
      case 'F16':
        out[i] = halfToFloat(tensor.data.readUInt16LE(i * 2));
        break;
      default:
        throw new Error(`Tensor "${tensor.name}" has dtype ${tensor.dtype}; expected F32, F16 or BF16.`);
    }
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));

function bfloat16ToFloat(bits: number): number {
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

/** Converts IEEE 754 binary16 bits to a number, subnormals and infinities included. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
