/** Finds the byte sequences of a file that are not valid UTF-8, to say where a decoder put U+FFFD. */

export interface InvalidUtf8Sequence {
  /** Offset of the first byte in the buffer. */
  offset: number;
  /** Bytes that one U+FFFD replaces: a stray byte, or the valid start of a sequence that breaks off. */
  length: number;
  /** 1-based line of the first byte; lines end at `\n`. */
  line: number;
  /** 1-based byte column of the first byte in its line. */
  column: number;
}

/**
 * Returns each ill-formed sequence of `bytes`, split as the WHATWG decoder splits them, so that each one is one
 * U+FFFD in `TextDecoder` output: stray continuation bytes, overlong forms, surrogates, code points over U+10FFFF,
 * and sequences cut short.
 */
export function findInvalidUtf8(bytes: Uint8Array): InvalidUtf8Sequence[] {
  const found: InvalidUtf8Sequence[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      if (lead === 0x0a) {
        line++;
        lineStart = i + 1;
      }
      i++;
      continue;
    }

    // The number of continuation bytes, and the range of the first one, which excludes overlong forms,
    // surrogates (ED A0..BF) and code points over U+10FFFF (F4 90..BF).
    let continuations = 0;
    let firstLow = 0x80;
    let firstHigh = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      continuations = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      continuations = 2;
      if (lead === 0xe0) firstLow = 0xa0;
      if (lead === 0xed) firstHigh = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      continuations = 3;
      if (lead === 0xf0) firstLow = 0x90;
      if (lead === 0xf4) firstHigh = 0x8f;
    }

    let length = 1;
    if (continuations > 0) {
      while (length <= continuations) {
        const byte = bytes[i + length];
        const low = length === 1 ? firstLow : 0x80;
        const high = length === 1 ? firstHigh : 0xbf;
        if (byte === undefined || byte < low || byte > high) break;
        length++;
      }
      if (length === continuations + 1) {
        i += length;
        continue;
      }
    }
    found.push({ offset: i, length, line, column: i - lineStart + 1 });
    i += length;
  }
  return found;
}
