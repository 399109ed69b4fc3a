/** Writes the user turn of the chat: the question, then the code it is about. */
import type { CodeContext } from '../protocol.ts';

/** How much of the surrounding lines to keep, counted outward from the selection. */
export interface ContextWindow {
  /** Lines of `context.before` kept, taken from its end. */
  beforeLines: number;
  /** Lines of `context.after` kept, taken from its start. */
  afterLines: number;
}

/** Splits surrounding text into lines, without a trailing empty line for a final newline. */
export function splitLines(text: string | undefined): string[] {
  if (!text) return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function fence(code: string): string {
  // A fence longer than any backtick run inside the code keeps the block closed.
  const longestRun = Math.max(2, ...[...code.matchAll(/`+/g)].map((match) => match[0].length));
  return '`'.repeat(longestRun + 1);
}

function codeBlock(code: string, languageId: string | undefined): string {
  const marks = fence(code);
  return `${marks}${languageId ?? ''}\n${code}\n${marks}`;
}

/**
 * Returns the user message: the question, the file's name and language, the surrounding lines that fit
 * (`window`), and the selection with its line range. User text is copied verbatim; the caller tokenizes it as
 * text, so control-token strings in it stay plain text.
 */
export function composeUserMessage(question: string, context: CodeContext | undefined, window?: ContextWindow): string {
  const parts = [question.trim()];
  if (!context) return parts[0]!;

  const { path, languageId, selection } = context;
  const before = splitLines(context.before);
  const after = splitLines(context.after);
  const keptBefore = before.slice(before.length - Math.min(window?.beforeLines ?? before.length, before.length));
  const keptAfter = after.slice(0, window?.afterLines ?? after.length);
  const file = path ? `\`${path}\`` : 'the file';

  if (selection) {
    const range = selection.startLine === selection.endLine ? `line ${selection.startLine}` : `lines ${selection.startLine}-${selection.endLine}`;
    if (keptBefore.length > 0) {
      const cut = keptBefore.length < before.length ? ' (earlier lines omitted)' : '';
      parts.push(`Code before the selection in ${file}${cut}:\n${codeBlock(keptBefore.join('\n'), languageId)}`);
    }
    parts.push(`Selected code, ${range} of ${file}:\n${codeBlock(selection.text.replace(/\r?\n$/, ''), languageId)}`);
    if (keptAfter.length > 0) {
      const cut = keptAfter.length < after.length ? ' (later lines omitted)' : '';
      parts.push(`Code after the selection${cut}:\n${codeBlock(keptAfter.join('\n'), languageId)}`);
    }
  } else if (keptBefore.length > 0 || keptAfter.length > 0) {
    parts.push(`Code from ${file}:\n${codeBlock([...keptBefore, ...keptAfter].join('\n'), languageId)}`);
  } else if (path) {
    parts.push(`The question is about ${file}${languageId ? ` (${languageId})` : ''}.`);
  }
  return parts.join('\n\n');
}
