/**
 * A larger fixture for the engine benchmark: a Qwen3 target with hidden size
 * 512, 24 layers and a 32768-token vocabulary, its EAGLE-3 draft and a signal
 * sidecar.
 *
 * The models work like the test fixtures (test/fixtures/target-model.ts and
 * draft-model.ts): the target greedily follows the fixture's token chain and
 * the draft agrees with it at about three quarters of the chain states. The
 * test builders have their sizes fixed (TARGET_HPARAMS, DRAFT_HPARAMS), so the
 * model builders here take the sizes as parameters and reuse the test
 * fixtures' vocabulary, token chain, embedding and GGUF writer.
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
import { chooseDisagreeingStates } from '../test/fixtures/draft-model.ts';
import { GgufWriter } from '../test/fixtures/gguf-writer.ts';
import { SeededRandom } from '../test/fixtures/seeded-random.ts';
import { ALIAS_NOISE, ones, OUTPUT_GAIN } from '../test/fixtures/target-model.ts';
import { buildTokenChain, buildTokenEmbedding, type TokenChain } from '../test/fixtures/token-chain.ts';
import { buildFixtureVocabulary, writeTokenizerMetadata, type FixtureVocabulary } from '../test/fixtures/tokenizer.ts';

/** Sizes of a Qwen3-style transformer, target or draft. */
export interface ModelSizes {
  hiddenSize: number;
  layerCount: number;
  headCount: number;
  kvHeadCount: number;
  headDim: number;
  feedForwardSize: number;
  vocabularySize: number;
}

/**
 * The large target: about 92 M parameters in its layers and output head and
 * 219 MB in f16. Qwen3-0.6B has 28 layers of hidden size 1024, twice this width.
 */
export const LARGE_TARGET_SIZES: ModelSizes = {
  hiddenSize: 512,
  layerCount: 24,
  headCount: 8,
  kvHeadCount: 4,
  headDim: 64,
  feedForwardSize: 1536,
  vocabularySize: 32768,
};

/** The large draft: one block of the target's width, as EAGLE-3 drafts have, over a draft vocabulary of 8192 tokens. */
const LARGE_DRAFT_SIZES: ModelSizes = { ...LARGE_TARGET_SIZES, layerCount: 1, vocabularySize: 8192 };

export const LARGE_FIXTURE_DESCRIPTION = 'Qwen3, hidden 512, 24 layers, vocabulary 32768, f16';

const LARGE_FIXTURE_SEED = 20251204;
const CONTEXT_LENGTH = 4096;
const ROPE_FREQ_BASE = 10000;
const RMS_NORM_EPS = 1e-6;

/**
 * Norm each random sublayer adds to the residual stream, as a share of the
 * residual's norm sqrt(hidden size). The test fixture adds 0.3 to a norm of 8.
 */
const SUBLAYER_OUTPUT_SHARE = 0.3 / 8;
/** Standard deviation of output.weight rows that no chain state predicts. */
const UNUSED_ROW_STD = 0.01;
const SIGNAL_WEIGHT_STD = 0.05;

export interface LargeFixturePaths {
  target: string;
  draft: string;
  signals: string;
}

/** Writes the large target, draft and sidecar into `dir` unless they exist, and returns their paths. */
export async function generateLargeFixtures(dir: string, seed = LARGE_FIXTURE_SEED): Promise<LargeFixturePaths> {
  const { hiddenSize, layerCount, vocabularySize } = LARGE_TARGET_SIZES;
  const tag = `h${hiddenSize}-l${layerCount}-v${vocabularySize}-d${LARGE_DRAFT_SIZES.vocabularySize}-s${seed}`;
  const paths = {
    target: path.join(dir, `target-${tag}.gguf`),
    draft: path.join(dir, `draft-${tag}.gguf`),
    signals: path.join(dir, `signals-${tag}.safetensors`),
  };
  if (Object.values(paths).every((file) => existsSync(file))) {
    return paths;
  }
  await mkdir(dir, { recursive: true });

  const stream = (index: number) => new SeededRandom(seed * 31 + index);
  const baseVocabularySize = buildFixtureVocabulary().tokens.length;
  if (vocabularySize < baseVocabularySize) {
    throw new Error(`the large fixture's vocabulary of ${vocabularySize} is smaller than the fixture tokenizer's ${baseVocabularySize} tokens`);
  }
  const vocabulary = buildFixtureVocabulary(vocabularySize - baseVocabularySize);
  const chain = buildTokenChain(vocabulary, hiddenSize, stream(0));
  const disagreeingStates = chooseDisagreeingStates(chain, stream(1));
  const embedding = buildTokenEmbedding(chain, vocabularySize, hiddenSize, ALIAS_NOISE, stream(2));

  const targetLayers: [number, number, number] = [2, layerCount / 2, layerCount - 3];
  await writeAtomically(paths.target, buildTarget(LARGE_TARGET_SIZES, vocabulary, chain, embedding, stream(3)).toBuffer());
  await writeAtomically(
    paths.draft,
    buildDraft(LARGE_DRAFT_SIZES, vocabulary, chain, disagreeingStates, targetLayers, stream(4)).toBuffer(),
  );
  await writeSignalSidecar(paths.signals, {
    weight: stream(5).normalArray(3 * 3 * hiddenSize, SIGNAL_WEIGHT_STD),
    hiddenSize,
    targetLayers,
    activations: ['sigmoid', 'sigmoid', 'exp'],
    ewmaAlpha: 0.1,
    confidenceThreshold: 0.8,
    progressThreshold: 0.3,
    remainThreshold: 200,
  });
  return paths;
}

function addArchitectureMetadata(writer: GgufWriter, architecture: string, name: string, sizes: ModelSizes): void {
  writer
    .addString('general.name', name)
    .addUint32(`${architecture}.context_length`, CONTEXT_LENGTH)
    .addUint32(`${architecture}.embedding_length`, sizes.hiddenSize)
    .addUint32(`${architecture}.block_count`, sizes.layerCount)
    .addUint32(`${architecture}.feed_forward_length`, sizes.feedForwardSize)
    .addUint32(`${architecture}.attention.head_count`, sizes.headCount)
    .addUint32(`${architecture}.attention.head_count_kv`, sizes.kvHeadCount)
    .addUint32(`${architecture}.attention.key_length`, sizes.headDim)
    .addUint32(`${architecture}.attention.value_length`, sizes.headDim)
    .addFloat32(`${architecture}.rope.freq_base`, ROPE_FREQ_BASE)
    .addFloat32(`${architecture}.attention.layer_norm_rms_epsilon`, RMS_NORM_EPS);
}

/**
 * Builds a Qwen3 target whose greedy output follows the chain: the output row
 * of each state's successor is that state's vector times OUTPUT_GAIN, and the
 * random layers move the residual stream only slightly off the token's state.
 */
function buildTarget(
  sizes: ModelSizes,
  vocabulary: FixtureVocabulary,
  chain: TokenChain,
  embedding: Float32Array,
  random: SeededRandom,
): GgufWriter {
  const { hiddenSize, layerCount, headCount, kvHeadCount, headDim, feedForwardSize, vocabularySize } = sizes;
  const writer = new GgufWriter('qwen3');
  addArchitectureMetadata(writer, 'qwen3', 'specexit-bench-large-target', sizes);
  writeTokenizerMetadata(writer, vocabulary);

  writer
    .addTensor('token_embd.weight', 'f16', [vocabularySize, hiddenSize], embedding)
    .addTensor('output_norm.weight', 'f32', [hiddenSize], ones(hiddenSize))
    .addTensor('output.weight', 'f16', [vocabularySize, hiddenSize], buildTargetHead(chain, vocabularySize, hiddenSize, random));

  const qSize = headCount * headDim;
  const kvSize = kvHeadCount * headDim;
  const sublayerNorm = SUBLAYER_OUTPUT_SHARE * Math.sqrt(hiddenSize);
  // Inputs to every projection have RMS 1 after normalization, so std 1/sqrt(fan_in) keeps activations near RMS 1.
  const inputStd = 1 / Math.sqrt(hiddenSize);
  const attentionOutputStd = sublayerNorm / Math.sqrt(hiddenSize * qSize);
  // silu(gate) * up has RMS of about 0.6 for unit-variance gate and up.
  const ffnDownStd = sublayerNorm / (0.6 * Math.sqrt(hiddenSize * feedForwardSize));

  for (let layer = 0; layer < layerCount; layer++) {
    const prefix = `blk.${layer}`;
    writer
      .addTensor(`${prefix}.attn_norm.weight`, 'f32', [hiddenSize], ones(hiddenSize))
      .addTensor(`${prefix}.attn_q.weight`, 'f16', [qSize, hiddenSize], random.normalArray(qSize * hiddenSize, inputStd))
      .addTensor(`${prefix}.attn_k.weight`, 'f16', [kvSize, hiddenSize], random.normalArray(kvSize * hiddenSize, inputStd))
      .addTensor(`${prefix}.attn_v.weight`, 'f16', [kvSize, hiddenSize], random.normalArray(kvSize * hiddenSize, inputStd))
      .addTensor(`${prefix}.attn_q_norm.weight`, 'f32', [headDim], ones(headDim))
      .addTensor(`${prefix}.attn_k_norm.weight`, 'f32', [headDim], ones(headDim))
      .addTensor(`${prefix}.attn_output.weight`, 'f16', [hiddenSize, qSize], random.normalArray(hiddenSize * qSize, attentionOutputStd))
      .addTensor(`${prefix}.ffn_norm.weight`, 'f32', [hiddenSize], ones(hiddenSize))
      .addTensor(`${prefix}.ffn_gate.weight`, 'f16', [feedForwardSize, hiddenSize], random.normalArray(feedForwardSize * hiddenSize, inputStd))
      .addTensor(`${prefix}.ffn_up.weight`, 'f16', [feedForwardSize, hiddenSize], random.normalArray(feedForwardSize * hiddenSize, inputStd))
      .addTensor(`${prefix}.ffn_down.weight`, 'f16', [hiddenSize, feedForwardSize], random.normalArray(hiddenSize * feedForwardSize, ffnDownStd));
  }
  return writer;
}

function buildTargetHead(chain: TokenChain, vocabularySize: number, hiddenSize: number, random: SeededRandom): Float32Array {
  const head = random.normalArray(vocabularySize * hiddenSize, UNUSED_ROW_STD);
  chain.cycle.forEach((_, state) => {
    const successor = chain.cycle[(state + 1) % chain.cycle.length]!;
    const vector = chain.stateVectors[state]!;
    for (let i = 0; i < hiddenSize; i++) {
      head[successor * hiddenSize + i] = OUTPUT_GAIN * vector[i]!;
    }
  });
  return head;
}

/**
 * Builds an EAGLE-3 draft of the target's width. fc averages the three target
 * layers, which stay close to the current token's state vector. The
 * feed-forward block is a lookup table that moves the state one step along
 * the chain. output.weight predicts the successor of that state, or the token
 * after it at a disagreeing state. test/fixtures/draft-model.ts explains the
 * construction in detail. The draft vocabulary is target ids 0 to
 * `sizes.vocabularySize - 1`, which d2t maps to themselves.
 */
function buildDraft(
  sizes: ModelSizes,
  vocabulary: FixtureVocabulary,
  chain: TokenChain,
  disagreeingStates: readonly number[],
  targetLayers: readonly [number, number, number],
  random: SeededRandom,
): GgufWriter {
  const { hiddenSize, headCount, kvHeadCount, headDim, feedForwardSize } = sizes;
  const draftVocabularySize = sizes.vocabularySize;
  if (Math.max(...chain.cycle) >= draftVocabularySize) {
    throw new Error(`the draft vocabulary of ${draftVocabularySize} tokens misses chain tokens, so it must cover ids up to ${Math.max(...chain.cycle)}`);
  }
  const writer = new GgufWriter('eagle3');
  addArchitectureMetadata(writer, 'eagle3', 'specexit-bench-large-draft', sizes);
  writer
    .addUint32('eagle3.vocab_size', vocabulary.tokens.length)
    .addInt32Array('eagle3.target_layers', targetLayers)
    .addUint32('eagle3.target_hidden_size', hiddenSize)
    .addBool('eagle3.norm_before_residual', false);
  writeTokenizerMetadata(writer, vocabulary);

  const qSize = headCount * headDim;
  const kvSize = kvHeadCount * headDim;
  // q, k and v read the normalized token embedding and the normalized g, concatenated.
  const attentionInputSize = 2 * hiddenSize;
  const attentionInputStd = 1 / Math.sqrt(attentionInputSize);
  const attentionOutputStd = (SUBLAYER_OUTPUT_SHARE * Math.sqrt(hiddenSize)) / Math.sqrt(hiddenSize * qSize);
  const lookup = buildStateLookup(chain, hiddenSize, feedForwardSize);

  const draftToTarget = new BigInt64Array(draftVocabularySize);
  for (let id = 0; id < draftVocabularySize; id++) draftToTarget[id] = BigInt(id);

  // No token_embd: the draft reads the target's through llama.cpp's ctx_other.
  writer
    .addTensor('fc.weight', 'f16', [hiddenSize, 3 * hiddenSize], buildLayerAverage(hiddenSize))
    .addTensor('output_norm.weight', 'f32', [hiddenSize], ones(hiddenSize))
    .addTensor('output.weight', 'f16', [draftVocabularySize, hiddenSize], buildDraftHead(chain, disagreeingStates, draftVocabularySize, hiddenSize, random))
    .addTensor('d2t', 'i64', [draftVocabularySize], draftToTarget)
    .addTensor('blk.0.attn_norm.weight', 'f32', [hiddenSize], ones(hiddenSize))
    .addTensor('blk.0.attn_norm_2.weight', 'f32', [hiddenSize], ones(hiddenSize))
    .addTensor('blk.0.attn_q.weight', 'f16', [qSize, attentionInputSize], random.normalArray(qSize * attentionInputSize, attentionInputStd))
    .addTensor('blk.0.attn_k.weight', 'f16', [kvSize, attentionInputSize], random.normalArray(kvSize * attentionInputSize, attentionInputStd))
    .addTensor('blk.0.attn_v.weight', 'f16', [kvSize, attentionInputSize], random.normalArray(kvSize * attentionInputSize, attentionInputStd))
    .addTensor('blk.0.attn_output.weight', 'f16', [hiddenSize, qSize], random.normalArray(hiddenSize * qSize, attentionOutputStd))
    .addTensor('blk.0.ffn_norm.weight', 'f32', [hiddenSize], ones(hiddenSize))
    .addTensor('blk.0.ffn_gate.weight', 'f16', [feedForwardSize, hiddenSize], lookup.gate)
    .addTensor('blk.0.ffn_up.weight', 'f16', [feedForwardSize, hiddenSize], lookup.up)
    .addTensor('blk.0.ffn_down.weight', 'f16', [hiddenSize, feedForwardSize], lookup.down);
  return writer;
}

/** Builds fc.weight [hidden, 3 * hidden], the mean of the three target layers. */
function buildLayerAverage(hiddenSize: number): Float32Array {
  const inputSize = 3 * hiddenSize;
  const fusion = new Float32Array(hiddenSize * inputSize);
  for (let row = 0; row < hiddenSize; row++) {
    for (let block = 0; block < 3; block++) {
      fusion[row * inputSize + block * hiddenSize + row] = 1 / 3;
    }
  }
  return fusion;
}

/**
 * Builds the lookup feed-forward block: unit j fires when the normalized
 * input points along state j, and its down column adds
 * sqrt(hidden) * (state j+1 - state j), divided by the unit's activation at an
 * aligned input. Units past the chain's cycle stay zero.
 */
function buildStateLookup(
  chain: TokenChain,
  hiddenSize: number,
  feedForwardSize: number,
): { gate: Float32Array; up: Float32Array; down: Float32Array } {
  const stateCount = chain.cycle.length;
  if (stateCount > feedForwardSize) {
    throw new Error(`the draft lookup needs ${stateCount} feed-forward units but has ${feedForwardSize}`);
  }
  const residualNorm = Math.sqrt(hiddenSize);
  const alignedActivation = silu(residualNorm) * residualNorm;

  const gate = new Float32Array(feedForwardSize * hiddenSize);
  const up = new Float32Array(feedForwardSize * hiddenSize);
  const down = new Float32Array(hiddenSize * feedForwardSize);
  for (let state = 0; state < stateCount; state++) {
    const current = chain.stateVectors[state]!;
    const next = chain.stateVectors[(state + 1) % stateCount]!;
    for (let i = 0; i < hiddenSize; i++) {
      gate[state * hiddenSize + i] = current[i]!;
      up[state * hiddenSize + i] = current[i]!;
      down[i * feedForwardSize + state] = (residualNorm * (next[i]! - current[i]!)) / alignedActivation;
    }
  }
  return { gate, up, down };
}

function buildDraftHead(
  chain: TokenChain,
  disagreeingStates: readonly number[],
  vocabularySize: number,
  hiddenSize: number,
  random: SeededRandom,
): Float32Array {
  const cycleLength = chain.cycle.length;
  const disagreeing = new Set(disagreeingStates);
  const head = random.normalArray(vocabularySize * hiddenSize, UNUSED_ROW_STD);
  const predictingStates = new Map<number, number[]>();
  chain.cycle.forEach((_, state) => {
    const predicted = chain.cycle[(state + (disagreeing.has(state) ? 2 : 1)) % cycleLength]!;
    predictingStates.set(predicted, [...(predictingStates.get(predicted) ?? []), state]);
  });
  for (const [tokenId, states] of predictingStates) {
    for (let i = 0; i < hiddenSize; i++) {
      head[tokenId * hiddenSize + i] = states.reduce((sum, state) => sum + OUTPUT_GAIN * chain.stateVectors[state]![i]!, 0);
    }
  }
  return head;
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
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
