/**
 * Answers anchored at the code they are about, as comment threads. The thread shows the question and the
 * streamed answer; the thinking stays collapsed into the answer's label, and the full thinking block is one
 * click away in the chat. A reply in the thread asks a follow-up about the same code.
 */
import * as vscode from 'vscode';

import type { CodeContext } from '../daemon/protocol.ts';
import { describeExit, summarizeThinking } from '../media/turn-text.ts';
import type { CodeLocation, Turn } from '../media/turn.ts';
import type { ChatController } from './chat-controller.ts';

export const INLINE_CONTROLLER_ID = 'specexit.inline';
/** Minimum time between two updates of a streaming answer comment, in ms. */
const UPDATE_INTERVAL_MS = 150;
/** Characters of an earlier answer repeated in a follow-up question. */
const FOLLOW_UP_ANSWER_CHARS = 4000;

interface Exchange {
  question: string;
  answer: string;
}

/** The code of a thread and its exchanges so far, kept for follow-up questions. */
interface ThreadState {
  context: CodeContext;
  location: CodeLocation;
  exchanges: Exchange[];
}

export class InlineAnswers implements vscode.Disposable {
  private readonly controller: vscode.CommentController;
  private readonly threads = new Map<vscode.CommentThread, ThreadState>();

  constructor(private readonly chat: ChatController) {
    this.controller = vscode.comments.createCommentController(INLINE_CONTROLLER_ID, 'SpecExit');
    this.controller.options = { prompt: 'Ask a follow-up about this code', placeHolder: 'Ask a follow-up…' };
  }

  /** Opens a thread at `range` and streams the answer into it. Resolves when the answer is complete. */
  async ask(uri: vscode.Uri, range: vscode.Range, question: string, context: CodeContext, location: CodeLocation): Promise<Turn> {
    const thread = this.controller.createCommentThread(uri, range, []);
    thread.label = 'SpecExit';
    thread.canReply = true;
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
    const state: ThreadState = { context, location, exchanges: [] };
    this.threads.set(thread, state);
    return this.askInThread(thread, state, question, question);
  }

  /** Handles a reply typed into one of this controller's threads. */
  async reply(reply: vscode.CommentReply): Promise<void> {
    const state = this.threads.get(reply.thread);
    const text = reply.text.trim();
    if (!state || !text) return;
    await this.askInThread(reply.thread, state, text, composeFollowUp(state.exchanges, text));
  }

  dispose(): void {
    this.controller.dispose();
    this.threads.clear();
  }

  private async askInThread(thread: vscode.CommentThread, state: ThreadState, shownQuestion: string, question: string): Promise<Turn> {
    const questionComment: vscode.Comment = {
      body: new vscode.MarkdownString(escapeText(shownQuestion)),
      mode: vscode.CommentMode.Preview,
      author: { name: 'You' },
    };
    const earlier = [...thread.comments];
    const answerComment: vscode.Comment = {
      body: new vscode.MarkdownString('_Waiting for the model…_'),
      mode: vscode.CommentMode.Preview,
      author: { name: 'SpecExit' },
      contextValue: 'specexit.answer',
    };
    thread.comments = [...earlier, questionComment, answerComment];

    let lastUpdate = 0;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const render = (turn: Turn) => {
      lastUpdate = Date.now();
      answerComment.body = answerBody(turn);
      answerComment.label = answerLabel(turn);
      thread.comments = [...earlier, questionComment, answerComment];
    };
    const onChange = (turn: Turn) => {
      if (pending !== undefined) return;
      const wait = Math.max(0, UPDATE_INTERVAL_MS - (Date.now() - lastUpdate));
      pending = setTimeout(() => {
        pending = undefined;
        render(turn);
      }, wait);
    };

    const turn = await this.chat.ask({ question, shownQuestion, context: state.context, location: state.location }, onChange);
    if (pending !== undefined) clearTimeout(pending);
    render(turn);
    state.exchanges.push({ question: shownQuestion, answer: turn.answer });
    return turn;
  }
}
/** Returns the comment body: the answer, or a live line while the model reads the prompt or thinks. */
function answerBody(turn: Turn): vscode.MarkdownString {
  if (turn.answer) return new vscode.MarkdownString(turn.answer);
  if (turn.status === 'error') return new vscode.MarkdownString(`Failed: ${escapeText(turn.error ?? 'unknown error')}`);
  if (turn.status === 'stopped') return new vscode.MarkdownString('_Stopped._');
  if (turn.status === 'prefill' && turn.prefill) return new vscode.MarkdownString(`_Reading the prompt: ${turn.prefill.processed} of ${turn.prefill.total} tokens…_`);
  if (turn.status === 'thinking') return new vscode.MarkdownString(`_${summarizeThinking(turn, turn.thinkingEndMs ?? Date.now() - turn.createdAt)}_`);
  return new vscode.MarkdownString('_Waiting for the model…_');
}

/** Returns the collapsed thinking, one line: how long it took and where an early exit cut it. */
function answerLabel(turn: Turn): string | undefined {
  if (!turn.thinking && !turn.exit) return undefined;
  const exit = describeExit(turn);
  return exit ? `${summarizeThinking(turn)} · ${exit}` : summarizeThinking(turn);
}

/**
 * Returns the question for a follow-up: the earlier exchanges of the thread, then the new question.
 * NOTE: the protocol has no conversation field, so earlier turns travel inside the question text.
 */
export function composeFollowUp(exchanges: readonly Exchange[], question: string): string {
  if (exchanges.length === 0) return question;
  const history = exchanges.map((exchange) => {
    const answer = exchange.answer.length > FOLLOW_UP_ANSWER_CHARS ? `${exchange.answer.slice(0, FOLLOW_UP_ANSWER_CHARS)}…` : exchange.answer;
    return `Earlier question: ${exchange.question}\nYour earlier answer: ${answer}`;
  });
  return `${history.join('\n\n')}\n\nFollow-up question: ${question}`;
}

/** Escapes markdown so user text shows as typed. */
function escapeText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (character) => `\\${character}`);
}
