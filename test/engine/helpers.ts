/** Shared test helpers: the generated fixtures, a loaded engine, and collecting a generation's events. */
import path from 'node:path';

import { Engine } from '../../daemon/engine/engine.ts';
import type { EngineEvent, ExitEvent, GenerationStats, SignalsEvent } from '../../daemon/engine/events.ts';
import type { LoadOptions } from '../../daemon/engine/options.ts';
import { generateFixtures, type FixturePaths } from '../fixtures/generate.ts';

export const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'generated');

let fixtures: Promise<FixturePaths> | undefined;

/** Generates the fixtures once per process (the generator skips files that are already up to date). */
export function getFixtures(): Promise<FixturePaths> {
  fixtures ??= generateFixtures(FIXTURE_DIR);
  return fixtures;
}

/** Quiet logger for tests: llama.cpp's lines would drown the test output. */
export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function loadFixtureEngine(options: Partial<LoadOptions> & { withDraft?: boolean; withSignals?: boolean } = {}): Promise<Engine> {
  const paths = await getFixtures();
  const { withDraft = true, withSignals = true, ...rest } = options;
  return Engine.load({
    targetPath: paths.target,
    draftPath: withDraft ? paths.draft : undefined,
    signalsPath: withSignals ? paths.signals : undefined,
    threads: 1,
    contextSize: 1024,
    gpu: false,
    logger: silentLogger,
    ...rest,
  });
}

export interface Collected {
  events: EngineEvent[];
  thinking: string;
  answer: string;
  tokens: number[];
  signals: SignalsEvent[];
  exits: ExitEvent[];
  stats: GenerationStats;
  reason: string;
  error: string | undefined;
}

export async function collect(stream: AsyncIterable<EngineEvent>): Promise<Collected> {
  const out: Omit<Collected, 'stats' | 'reason'> & { stats?: GenerationStats; reason?: string } = {
    events: [],
    thinking: '',
    answer: '',
    tokens: [],
    signals: [],
    exits: [],
    error: undefined,
  };
  for await (const event of stream) {
    out.events.push(event);
    switch (event.type) {
      case 'delta':
        if (event.phase === 'thinking') out.thinking += event.text;
        else out.answer += event.text;
        break;
      case 'tokens':
        out.tokens.push(...event.tokens);
        break;
      case 'signals':
        out.signals.push(event);
        break;
      case 'exit':
        out.exits.push(event);
        break;
      case 'stats':
        out.stats = event.stats;
        break;
      case 'done':
        out.reason = event.reason;
        out.error = event.error;
        break;
    }
  }
  if (!out.stats || !out.reason) throw new Error('the stream ended without stats and done events');
  return out as Collected;
}

/** Tokenizes a chat prompt whose assistant turn already opened `<think>`, with the fixture's template markers. */
export function chatPrompt(engine: Engine, question: string): Int32Array {
  const head = engine.tokenize('<|im_start|>user\n', { parseSpecial: true });
  const body = engine.tokenize(question);
  const tail = engine.tokenize('<|im_end|>\n<|im_start|>assistant\n<think>\n', { parseSpecial: true });
  return Int32Array.from([...head, ...body, ...tail]);
}

export const QUESTIONS = [
  'What does print(sum(range(4))) print?',
  'x = 3\nfor i in range(2):\n    x += i\nprint(x)',
  'Why does int("a") throw?',
  'def f(n): return n * 2\nprint(f(f(3)))',
];
