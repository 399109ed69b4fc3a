/** Builds an ask's prompt tokens, cutting the surrounding lines when the prompt does not fit the context. */
import { ResponseError } from 'vscode-jsonrpc';

import { SpecExitErrorCodes, type CodeContext } from '../protocol.ts';
import type { ChatTemplate, RenderedPrompt } from './chat-template.ts';
import { composeUserMessage, splitLines, type ContextWindow } from './user-message.ts';

export interface BuiltPrompt extends RenderedPrompt {
  /** Set when surrounding lines were cut. */
  trimmed?: { beforeLinesRemoved: number; afterLinesRemoved: number };
}

/**
 * Renders the prompt and, when it has more than `tokenLimit` tokens, keeps the largest window of surrounding
 * lines around the selection that fits: lines farthest from the selection go first, and the selection and
 * question are never cut. Throws `promptTooLong` when even those alone do not fit.
 */
export function buildPrompt(
  template: ChatTemplate,
  question: string,
  context: CodeContext | undefined,
  thinking: boolean,
  tokenLimit: number,
): BuiltPrompt {
  const full = template.render(composeUserMessage(question, context), thinking);
  if (full.tokens.length <= tokenLimit) return full;

  const beforeCount = splitLines(context?.before).length;
  const afterCount = splitLines(context?.after).length;
  const renderWindow = (size: number) => {
    const window: ContextWindow = { beforeLines: Math.min(size, beforeCount), afterLines: Math.min(size, afterCount) };
    return { window, prompt: template.render(composeUserMessage(question, context, window), thinking) };
  };

  const bare = renderWindow(0);
  if (bare.prompt.tokens.length > tokenLimit) {
    throw new ResponseError(
      SpecExitErrorCodes.promptTooLong,
      `the question and selection take ${bare.prompt.tokens.length} prompt tokens, but the context leaves room for ${tokenLimit} ` +
        '(context size less maxTokens); select less code, lower maxTokens, or use a model with a larger contextSize',
      { promptTokens: bare.prompt.tokens.length, promptTokenLimit: tokenLimit },
    );
  }

  // Binary search for the largest window that fits: size `low` fits, size `high` does not.
  let low = 0;
  let high = Math.max(beforeCount, afterCount);
  let best = bare;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    const candidate = renderWindow(middle);
    if (candidate.prompt.tokens.length <= tokenLimit) {
      low = middle;
      best = candidate;
    } else {
      high = middle;
    }
  }
  return {
    ...best.prompt,
    trimmed: { beforeLinesRemoved: beforeCount - best.window.beforeLines, afterLinesRemoved: afterCount - best.window.afterLines },
  };
}
