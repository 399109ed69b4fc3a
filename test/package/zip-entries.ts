/**
 * Reads a zip archive (a `.vsix` is one): lists its entries from the central directory and extracts single
 * entries. Supports the classic format only (archives and entries under 4 GiB, no ZIP64 records) and the two
 * methods that vsce writes, stored and deflated.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
  compressedSize: number;
  /** 0 stored, 8 deflated. */
  method: number;
  localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const CENTRAL_DIRECTORY_HEADER_SIGNATURE = 0x02014b50;
const END_RECORD_SIZE = 22;
const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
/** The end record ends with a comment of up to 65535 bytes. */
const MAX_COMMENT_SIZE = 0xffff;
/** A 32-bit field with this value means the real value is in a ZIP64 record. */
const ZIP64_MARKER = 0xffffffff;

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}

/** Lists the entries of `file` in archive order. */
export function readZipEntries(file: string): ZipEntry[] {
  const fd = openSync(file, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const tailSize = Math.min(fileSize, END_RECORD_SIZE + MAX_COMMENT_SIZE);
    const tail = readAt(fd, fileSize - tailSize, tailSize);

    let endRecord = -1;
    for (let offset = tail.length - END_RECORD_SIZE; offset >= 0; offset--) {
      if (tail.readUInt32LE(offset) === END_OF_CENTRAL_DIRECTORY_SIGNATURE) {
        endRecord = offset;
        break;
      }
    }
    if (endRecord < 0) throw new Error(`${file} is not a zip archive: no end-of-central-directory record`);

    const entryCount = tail.readUInt16LE(endRecord + 10);
    const directorySize = tail.readUInt32LE(endRecord + 12);
    const directoryOffset = tail.readUInt32LE(endRecord + 16);
    if (directoryOffset === ZIP64_MARKER || directorySize === ZIP64_MARKER) {
      throw new Error(`${file} is a ZIP64 archive, which this reader does not support`);
    }

    const directory = readAt(fd, directoryOffset, directorySize);
    const entries: ZipEntry[] = [];
    let offset = 0;
    for (let i = 0; i < entryCount; i++) {
      if (offset + CENTRAL_HEADER_SIZE > directory.length || directory.readUInt32LE(offset) !== CENTRAL_DIRECTORY_HEADER_SIGNATURE) {
        throw new Error(`${file}: central directory entry ${i} is invalid at offset ${directoryOffset + offset}`);
      }
      const method = directory.readUInt16LE(offset + 10);
      const compressedSize = directory.readUInt32LE(offset + 20);
      const size = directory.readUInt32LE(offset + 24);
      const nameLength = directory.readUInt16LE(offset + 28);
      const extraLength = directory.readUInt16LE(offset + 30);
      const commentLength = directory.readUInt16LE(offset + 32);
      const localHeaderOffset = directory.readUInt32LE(offset + 42);
      const name = directory.toString('utf8', offset + CENTRAL_HEADER_SIZE, offset + CENTRAL_HEADER_SIZE + nameLength);
      entries.push({ name, size, compressedSize, method, localHeaderOffset });
      offset += CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Returns the uncompressed bytes of the entry `name`; throws when the archive has no such entry. */
export function readZipEntry(file: string, name: string): Buffer {
  const entry = readZipEntries(file).find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`${file} has no entry ${name}`);
  const fd = openSync(file, 'r');
  try {
    const header = readAt(fd, entry.localHeaderOffset, LOCAL_HEADER_SIZE);
    if (header.length < LOCAL_HEADER_SIZE || header.readUInt32LE(0) !== LOCAL_FILE_HEADER_SIGNATURE) {
      throw new Error(`${file}: the local header of ${name} is invalid at offset ${entry.localHeaderOffset}`);
    }
    const dataOffset = entry.localHeaderOffset + LOCAL_HEADER_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
    const data = readAt(fd, dataOffset, entry.compressedSize);
    if (entry.method === METHOD_STORED) return data;
    if (entry.method === METHOD_DEFLATED) return inflateRawSync(data);
    throw new Error(`${file}: ${name} uses compression method ${entry.method}; only stored (0) and deflated (8) are supported`);
  } finally {
    closeSync(fd);
  }
}
