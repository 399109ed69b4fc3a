/**
 * Renders the model's chat template (the Jinja text in the GGUF's `tokenizer.chat_template`) and tokenizes the
 * result so that only the template's own markup can become control tokens.
 *
 * The user message is rendered as a placeholder. The text around the placeholder is tokenized with special
 * tokens parsed, the user message itself without, so a `<|im_end|>` or `</think>` the user pasted stays text.
 */
import { randomBytes } from 'node:crypto';

import { Template } from '@huggingface/jinja';

/** The part of the engine the prompt builder needs; `Engine` satisfies it. */
export interface PromptTokenizer {
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(tokens: Int32Array | number[], options?: { special?: boolean }): string;
  readonly description: {
    chatTemplate: string;
    bosToken: number;
    eosToken: number;
    thinkStartToken: number;
    thinkEndToken: number;
  };
}

/** ChatML, for models whose GGUF has no template. Qwen and many others use this format. */
const CHATML_TEMPLATE = [
  '{%- for message in messages %}',
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}",
  '{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
].join('\n');

export interface RenderedPrompt {
  tokens: Int32Array;
  /** The prompt ends inside an open `<think>`, so generation starts in the thinking phase. */
  startInThinking: boolean;
}

export class ChatTemplate {
  private readonly template: Template;
  /** True when the model has no template and ChatML is used instead. */
  readonly isFallback: boolean;
  private readonly bosText: string;
  private readonly thinkStartText: string | undefined;
  private readonly thinkEndText: string | undefined;

  constructor(private readonly tokenizer: PromptTokenizer) {
    const { chatTemplate, bosToken, thinkStartToken, thinkEndToken } = tokenizer.description;
    this.isFallback = chatTemplate.trim() === '';
    this.template = new Template(this.isFallback ? CHATML_TEMPLATE : chatTemplate);
    const tokenText = (token: number) => (token >= 0 ? tokenizer.detokenize([token], { special: true }) : undefined);
    this.bosText = tokenText(bosToken) ?? '';
    this.thinkStartText = tokenText(thinkStartToken);
    this.thinkEndText = tokenText(thinkEndToken);
  }

  /**
   * Renders one user turn and the generation prompt. The template gets `enable_thinking`. When the vocabulary
   * has the thinking tokens and the template did not write `<think>`, the prompt gets `<think>\n` appended, or
   * an empty thinking block when `thinking` is false.
   */
  render(userMessage: string, thinking: boolean): RenderedPrompt {
    const placeholder = `\u0001specexit-user-${randomBytes(8).toString('hex')}\u0001`;
    const text = this.template.render({
      messages: [{ role: 'user', content: placeholder }],
      add_generation_prompt: true,
      enable_thinking: thinking,
      bos_token: this.bosText,
      eos_token: this.tokenizer.detokenize([this.tokenizer.description.eosToken], { special: true }),
    });
    const pieces = text.split(placeholder);
    if (pieces.length !== 2) {
      throw new Error(`the chat template placed the user message ${pieces.length - 1} times, expected once; the model's tokenizer.chat_template is not supported`);
    }
    const head = pieces[0]!;
    let tail = pieces[1]!;
    if (this.thinkStartText && this.thinkEndText && !tail.includes(this.thinkStartText)) {
      // Open the thinking block the template left to the model, so the stream starts in the thinking phase.
      // With thinking off, close it at once.
      tail += thinking ? `${this.thinkStartText}\n` : `${this.thinkStartText}\n\n${this.thinkEndText}\n\n`;
    }

    // A template that writes the BOS text itself must not get a second BOS from tokenization.
    const addSpecial = this.bosText === '' || !head.startsWith(this.bosText);
    const tokens = Int32Array.from([
      ...this.tokenizer.tokenize(head, { addSpecial, parseSpecial: true }),
      ...this.tokenizer.tokenize(userMessage, { parseSpecial: false }),
      ...this.tokenizer.tokenize(tail, { parseSpecial: true }),
    ]);
    const startInThinking = this.thinkStartText !== undefined && tail.trimEnd().endsWith(this.thinkStartText);
    return { tokens, startInThinking };
  }
}
