/** The code context of a question about the editor's selection, as the daemon's `CodeContext`. */
import type { CodeContext } from '../daemon/protocol.ts';
import type { CodeLocation } from '../media/turn.ts';

/** Lines sent above and below the selection. The daemon cuts them, never the selection, when the prompt is too long. */
export const SURROUNDING_LINES = 200;

/** The parts of `vscode.TextDocument` this module reads. */
export interface DocumentLike {
  languageId: string;
  lineCount: number;
  lineAt(line: number): { text: string };
}

/** A selection with 0-based lines and characters, as in `vscode.Selection`. */
export interface SelectionLike {
  isEmpty: boolean;
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/**
 * Builds the context of a question. With a selection, the selected text plus up to `SURROUNDING_LINES` lines on
 * each side. Without one, the whole file as the lines before the (empty) selection, so the daemon cuts it from
 * the top when it does not fit.
 */
export function buildCodeContext(document: DocumentLike, selection: SelectionLike, path: string, getText: (range?: SelectionLike) => string): { context: CodeContext; location: CodeLocation } {
  if (selection.isEmpty) {
    return {
      context: { path, languageId: document.languageId, before: getText() },
      location: { file: path, languageId: document.languageId, startLine: 1, endLine: document.lineCount },
    };
  }

  // A selection that ends at column 0 of a line does not include that line.
  const endLine = selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line - 1 : selection.end.line;
  const firstBefore = Math.max(0, selection.start.line - SURROUNDING_LINES);
  const lastAfter = Math.min(document.lineCount - 1, endLine + SURROUNDING_LINES);
  const before = linesOf(document, firstBefore, selection.start.line - 1);
  const after = linesOf(document, endLine + 1, lastAfter);
  const text = getText(selection);
  return {
    context: {
      path,
      languageId: document.languageId,
      selection: { text, startLine: selection.start.line + 1, endLine: endLine + 1 },
      ...(before ? { before } : {}),
      ...(after ? { after } : {}),
    },
    location: { file: path, languageId: document.languageId, startLine: selection.start.line + 1, endLine: endLine + 1 },
  };
}

/** Returns lines `first` to `last` (0-based, inclusive) joined by newlines, or '' when the range is empty. */
function linesOf(document: DocumentLike, first: number, last: number): string {
  const lines: string[] = [];
  for (let line = first; line <= last; line++) lines.push(document.lineAt(line).text);
  return lines.join('\n');
}
