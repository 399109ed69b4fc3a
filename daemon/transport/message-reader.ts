/**
 * A JSON-RPC message reader for LSP framing (`Content-Length` headers) that survives bad input.
 *
 * vscode-jsonrpc's own reader drops malformed JSON without a reply and accepts any size. This one replies to
 * each bad message with a JSON-RPC error and goes on reading: a body over the size cap is skipped unread, invalid
 * UTF-8 and malformed JSON get -32700, and a message that is not a request, notification or response gets
 * -32600. Only an unparseable header block ends the connection, because the next message's start is then unknown.
 */
import type { Readable } from 'node:stream';

import { AbstractMessageReader, Disposable, type DataCallback, type Message } from 'vscode-jsonrpc';

/** Header blocks longer than this end the connection. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n', 'ascii');

export const ErrorCodes = { parseError: -32700, invalidRequest: -32600, invalidParams: -32602 } as const;

/** A message the reader rejected; `id` is the request's id when it could be read, else null. */
export interface RejectedMessage {
  id: string | number | null;
  code: number;
  message: string;
}

export interface GuardedReaderOptions {
  maxMessageBytes: number;
  /** Called for each rejected message; the caller sends the error response. */
  onReject(rejected: RejectedMessage): void;
}

export class GuardedMessageReader extends AbstractMessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** Body bytes of an oversized message still to discard. */
  private skipBytes = 0;
  private callback: DataCallback | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly readable: Readable,
    private readonly options: GuardedReaderOptions,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer) => this.onData(chunk);
    const onError = (error: Error) => this.fireError(error);
    const onClose = () => this.fireClose();
    this.readable.on('data', onData);
    this.readable.on('error', onError);
    this.readable.on('close', onClose);
    this.readable.on('end', onClose);
    return Disposable.create(() => {
      this.callback = undefined;
      this.readable.off('data', onData);
      this.readable.off('error', onError);
      this.readable.off('close', onClose);
      this.readable.off('end', onClose);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.skipBytes > 0) {
      const skipped = Math.min(this.skipBytes, chunk.length);
      this.skipBytes -= skipped;
      chunk = chunk.subarray(skipped);
    }
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.drain();
  }

  /** Handles every complete message in the buffer. */
  private drain(): void {
    while (this.callback && this.skipBytes === 0) {
      const headerEnd = this.buffer.indexOf(HEADER_END);
      if (headerEnd < 0) {
        if (this.buffer.length > MAX_HEADER_BYTES) {
          this.fail(`no end of the header block within ${MAX_HEADER_BYTES} bytes`);
        }
        return;
      }
      const length = this.parseHeaders(this.buffer.subarray(0, headerEnd).toString('ascii'));
      if (length === undefined) return;
      const bodyStart = headerEnd + HEADER_END.length;

      if (length > this.options.maxMessageBytes) {
        this.options.onReject({
          id: null,
          code: ErrorCodes.parseError,
          message: `the message body of ${length} bytes exceeds the limit of ${this.options.maxMessageBytes} bytes, so it was skipped`,
        });
        const available = this.buffer.length - bodyStart;
        this.skipBytes = Math.max(0, length - available);
        this.buffer = this.buffer.subarray(Math.min(this.buffer.length, bodyStart + length));
        continue;
      }
      if (this.buffer.length < bodyStart + length) return;

      const body = this.buffer.subarray(bodyStart, bodyStart + length);
      this.buffer = this.buffer.subarray(bodyStart + length);
      const message = this.parseBody(body);
      if (message) this.callback(message);
    }
  }

  /** Returns the Content-Length, or undefined after failing the connection on a bad header block. */
  private parseHeaders(text: string): number | undefined {
    let length: number | undefined;
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.fail(`invalid header line ${JSON.stringify(line.slice(0, 100))}`);
        return undefined;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) {
          this.fail(`invalid Content-Length ${JSON.stringify(value.slice(0, 100))}`);
          return undefined;
        }
        length = Number(value);
      } else if (name === 'content-type' && /charset=/i.test(value) && !/charset=["']?utf-?8/i.test(value)) {
        this.fail(`unsupported Content-Type ${JSON.stringify(value)}; only utf-8 is accepted`);
        return undefined;
      }
    }
    if (length === undefined) {
      this.fail('the header block has no Content-Length');
      return undefined;
    }
    return length;
  }

  private parseBody(body: Buffer): Message | undefined {
    let text: string;
    try {
      text = this.decoder.decode(body);
    } catch {
      this.options.onReject({ id: null, code: ErrorCodes.parseError, message: 'the message body is not valid UTF-8' });
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.options.onReject({ id: null, code: ErrorCodes.parseError, message: `the message body is not valid JSON: ${(error as Error).message}` });
      return undefined;
    }
    return this.checkMessage(value);
  }

  /** Returns the value when it is a JSON-RPC 2.0 message with by-name or no params, else rejects it. */
  private checkMessage(value: unknown): Message | undefined {
    if (Array.isArray(value)) {
      this.options.onReject({ id: null, code: ErrorCodes.invalidRequest, message: 'batch messages are not supported; send one message per frame' });
      return undefined;
    }
    if (typeof value !== 'object' || value === null) {
      this.options.onReject({ id: null, code: ErrorCodes.invalidRequest, message: `expected a JSON-RPC message object, got ${JSON.stringify(value).slice(0, 100)}` });
      return undefined;
    }
    const message = value as Record<string, unknown>;
    const rawId = message.id;
    const id = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
    const reject = (code: number, text: string) => {
      // A notification (no id) gets no response, as JSON-RPC requires, unless the message is unreadable.
      if ('id' in message || !('method' in message)) this.options.onReject({ id, code, message: text });
      return undefined;
    };

    if (message.jsonrpc !== '2.0') return reject(ErrorCodes.invalidRequest, `expected "jsonrpc": "2.0", got ${JSON.stringify(message.jsonrpc)}`);
    if ('id' in message && rawId !== null && id === null) return reject(ErrorCodes.invalidRequest, `expected the id to be a string, number or null, got ${JSON.stringify(rawId)}`);
    if ('method' in message) {
      if (typeof message.method !== 'string') return reject(ErrorCodes.invalidRequest, `expected the method to be a string, got ${JSON.stringify(message.method)}`);
      if (message.params !== undefined && (typeof message.params !== 'object' || message.params === null || Array.isArray(message.params))) {
        return reject(ErrorCodes.invalidParams, `the params of ${message.method} must be an object (by name), got ${JSON.stringify(message.params).slice(0, 100)}`);
      }
      return message as unknown as Message;
    }
    if ('id' in message && ('result' in message || 'error' in message)) return message as unknown as Message;
    return reject(ErrorCodes.invalidRequest, 'the message is neither a request, a notification nor a response');
  }

  private fail(reason: string): void {
    this.callback = undefined;
    this.buffer = Buffer.alloc(0);
    this.options.onReject({ id: null, code: ErrorCodes.parseError, message: `${reason}; closing the connection` });
    this.fireError(new Error(`unreadable message header: ${reason}`));
  }
}
