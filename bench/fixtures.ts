/**
 * A larger fixture for the engine benchmark: a Qwen3 target with hidden size
 * 512, 24 layers and a 32768-token vocabulary, its EAGLE-3 draft and a signal
 * sidecar.
 *
 * The test fixtures' builders (test/fixtures/target-model.ts and
 * draft-model.ts) make the models at these sizes, so the target greedily
 * follows the fixture's token chain and the draft agrees with it at about
 * three quarters of the chain states. Here both models store their matrices
 * in f16.
 *
 * Unlike the test fixture's draft, this draft is shaped like released EAGLE-3
 * drafts: it borrows the target's token embedding and predicts over a reduced
 * vocabulary (the first 8192 token ids, mapped back by d2t), so that one draft
 * token costs about a tenth of a target token, not a third.
 *
 * Run directly (`node --import tsx bench/fixtures.ts`) to write them to
 * bench/out/fixtures/. Files that exist are kept, since generation takes a
 * while; the file names carry the sizes, so changed sizes get new files.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { writeSignalSidecar } from '../daemon/engine/sidecar.ts';
import { buildDraftGguf, type DraftHparams } from '../test/fixtures/draft-model.ts';
import { describeFixtureModels, randomSignalSidecar, randomStream } from '../test/fixtures/generate.ts';
import { ALIAS_NOISE, buildTargetGguf, type TargetHparams } from '../test/fixtures/target-model.ts';
import { buildTokenEmbedding } from '../test/fixtures/token-chain.ts';

/**
 * The large target: about 92 M parameters in its layers and output head and
 * 219 MB in f16. Qwen3-0.6B has 28 layers of hidden size 1024, twice this width.
 */
export const LARGE_TARGET_HPARAMS: Readonly<TargetHparams> = {
  hiddenSize: 512,
  layerCount: 24,
  headCount: 8,
  kvHeadCount: 4,
  headDim: 64,
  feedForwardSize: 1536,
  contextLength: 4096,
  ropeFreqBase: 10000,
  rmsNormEps: 1e-6,
  vocabularySize: 32768,
};

/** The large draft: one block of the target's width, as EAGLE-3 drafts have, over a draft vocabulary of 8192 tokens. */
const LARGE_DRAFT_HPARAMS: Readonly<DraftHparams> = {
  hiddenSize: 512,
  headCount: 8,
  kvHeadCount: 4,
  headDim: 64,
  feedForwardSize: 1536,
  vocabularySize: 8192,
};

export const LARGE_FIXTURE_DESCRIPTION = 'Qwen3, hidden 512, 24 layers, vocabulary 32768, f16';

const LARGE_FIXTURE_SEED = 20251204;

export interface LargeFixturePaths {
  target: string;
  draft: string;
  signals: string;
}

/** Writes the large target, draft and sidecar into `dir` unless they exist, and returns their paths. */
export async function generateLargeFixtures(dir: string, seed = LARGE_FIXTURE_SEED): Promise<LargeFixturePaths> {
  const { hiddenSize, layerCount, vocabularySize } = LARGE_TARGET_HPARAMS;
  const tag = `h${hiddenSize}-l${layerCount}-v${vocabularySize}-d${LARGE_DRAFT_HPARAMS.vocabularySize}-s${seed}`;
  const paths = {
    target: path.join(dir, `target-${tag}.gguf`),
    draft: path.join(dir, `draft-${tag}.gguf`),
    signals: path.join(dir, `signals-${tag}.safetensors`),
  };
  if (Object.values(paths).every((file) => existsSync(file))) {
    return paths;
  }
  await mkdir(dir, { recursive: true });

  // Random streams as in test/fixtures/generate.ts: 0 and 1 for the chain and
  // the disagreeing states, 2 for the embedding, 3 for the target, 4 for the
  // draft. Stream 5 is the sidecar's.
  const { vocabulary, chain, disagreeingStates } = describeFixtureModels(seed, LARGE_TARGET_HPARAMS);
  const embedding = buildTokenEmbedding(chain, vocabulary.tokens.length, hiddenSize, ALIAS_NOISE, randomStream(seed, 2));

  const target = buildTargetGguf(vocabulary, chain, embedding, randomStream(seed, 3), {
    name: 'specexit-bench-large-target',
    hparams: LARGE_TARGET_HPARAMS,
    vocabularyMatrixType: 'f16',
  });
  await writeAtomically(paths.target, target.toBuffer());

  const targetLayers: [number, number, number] = [2, layerCount / 2, layerCount - 3];
  const draft = buildDraftGguf(vocabulary, chain, disagreeingStates, randomStream(seed, 4), {
    name: 'specexit-bench-large-draft',
    hparams: LARGE_DRAFT_HPARAMS,
    target: LARGE_TARGET_HPARAMS,
    targetLayers,
    matrixType: 'f16',
  });
  await writeAtomically(paths.draft, draft.toBuffer());

  await writeSignalSidecar(paths.signals, randomSignalSidecar(randomStream(seed, 5), hiddenSize, targetLayers));
  return paths;
}

/** Writes `bytes` next to `file` and renames it into place, so a reader never sees a partial model. */
async function writeAtomically(file: string, bytes: Buffer): Promise<void> {
  const temporaryPath = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporaryPath, bytes);
    await rename(temporaryPath, file);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

if (require.main === module) {
  const dir = path.join(__dirname, 'out', 'fixtures');
  generateLargeFixtures(dir).then(
    (paths) => console.log(`large fixture: ${Object.values(paths).join(', ')}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
