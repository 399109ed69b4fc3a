/** Final-answer extraction, shared by calibration labels and benchmark accuracy. */

/**
 * Returns the final answer in a model's answer text: the content of the first backticked span (the embedded model
 * answers like "It prints `42`."), else the whole text. The result is trimmed. A span opens and closes with the
 * same number of backticks, so a fenced block counts too, and the fence's language tag is dropped.
 */
export function extractFinalAnswer(text: string): string {
  const match = /(`+)([\s\S]+?)\1/.exec(text);
  if (match) {
    const fenced = match[1]!.length >= 3;
    const content = (fenced ? match[2]!.replace(/^[\w+-]*\n/, '') : match[2]!).trim();
    if (content !== '') return content;
  }
  return text.trim();
}

/** True when both texts have the same final answer and it is not empty. */
export function sameFinalAnswer(a: string, b: string): boolean {
  const answer = extractFinalAnswer(a);
  return answer !== '' && answer === extractFinalAnswer(b);
}
