/** Prompts for calibration and benchmarks: one user turn through the model's chat template, with thinking on. */
import { ChatTemplate, type PromptTokenizer, type RenderedPrompt } from '../prompt/chat-template.ts';

/**
 * Renders `question` as the user turn and opens the thinking block. Templates that leave `<think>` to the model
 * (Qwen3's does) get `<think>\n` appended when the vocabulary has the token, so that every prompt of a calibration
 * or benchmark run thinks and the runs compare like with like.
 */
export function renderThinkingPrompt(template: ChatTemplate, tokenizer: PromptTokenizer, question: string): RenderedPrompt {
  const rendered = template.render(question, true);
  if (rendered.startInThinking || tokenizer.description.thinkStartToken < 0) return rendered;
  const opening = tokenizer.tokenize(`${tokenizer.detokenize([tokenizer.description.thinkStartToken], { special: true })}\n`, { parseSpecial: true });
  return { tokens: Int32Array.from([...rendered.tokens, ...opening]), startInThinking: true };
}

export { ChatTemplate };
