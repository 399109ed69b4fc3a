/** Prompt sets in JSONL: one `{"prompt": "...", "answer": "..."}` object per line, `answer` optional. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface PromptItem {
  /** Line position in the file, counted from 0 over non-empty lines. */
  index: number;
  prompt: string;
  /** Reference answer text, compared through extractFinalAnswer. */
  answer?: string;
  /** SHA-256 of the prompt text, first 16 hex digits: a resumed run checks it to find an edited prompt file. */
  hash: string;
}

/** Reads and validates a prompt file. Throws an Error naming the file and line for invalid input. */
export async function readPromptFile(path: string): Promise<PromptItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT' ? `Prompt file not found: ${path}. Pass a JSONL file with --prompts.` : `Cannot read prompt file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parsePromptLines(path, text);
}

export function parsePromptLines(path: string, text: string): PromptItem[] {
  const items: PromptItem[] = [];
  const lines = text.split('\n');
  for (const [lineIndex, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const where = `${path}:${lineIndex + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`Invalid prompt file ${where}: the line is not valid JSON (${(error as Error).message}).`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`Invalid prompt file ${where}: expected an object like {"prompt": "...", "answer": "..."}.`);
    }
    const { prompt, answer } = value as Record<string, unknown>;
    if (typeof prompt !== 'string' || prompt.trim() === '') {
      throw new Error(`Invalid prompt file ${where}: "prompt" must be a non-empty string.`);
    }
    if (answer !== undefined && answer !== null && typeof answer !== 'string') {
      throw new Error(`Invalid prompt file ${where}: "answer" must be a string when present.`);
    }
    items.push({
      index: items.length,
      prompt,
      ...(typeof answer === 'string' && { answer }),
      hash: createHash('sha256').update(prompt).digest('hex').slice(0, 16),
    });
  }
  if (items.length === 0) {
    throw new Error(`Prompt file ${path} has no prompts.`);
  }
  return items;
}
