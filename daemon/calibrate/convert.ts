/**
 * `specexit convert-angelslim`: splits an AngelSlim SpecExit checkpoint into a standard EAGLE-3 checkpoint and
 * the signal sidecar.
 *
 * A SpecExit draft widens EAGLE-3's `fc` from [3H] -> [H] to [3H] -> [H + 3]: `fc.weight` has shape [H + 3, 3H'],
 * where H is the draft's hidden size (config.json `hidden_size`) and H' the target's. Rows H..H+2 are the
 * confidence, progress and log-remain heads. The output folder gets every file of the input, with `fc.weight`
 * (and `fc.bias`, if any) cut to its first H rows, so llama.cpp's convert_hf_to_gguf.py converts it like any
 * EAGLE-3 checkpoint. The three extra rows go to `signals.safetensors`.
 */
import { copyFile, mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { SIGNAL_SIDECAR_DEFAULTS, writeSignalSidecar } from '../engine/sidecar.ts';
import { encodeSafetensorsFile, parseSafetensorsFile, toFloat32, type RawTensor } from './safetensors.ts';

export const SIDECAR_FILE = 'signals.safetensors';

export interface ConvertOptions {
  inputDir: string;
  outputDir: string;
  /** Target layer-input indices, when the draft's config.json does not name them. */
  targetLayers?: [number, number, number];
  /** Target layer count, to derive the default layers as llama.cpp's converter does. */
  targetLayerCount?: number;
}

export interface ConvertResult {
  draftHiddenSize: number;
  targetHiddenSize: number;
  targetLayers: [number, number, number];
  /** Where the target layers came from. */
  layerSource: string;
  sidecarPath: string;
  fcFile: string;
}

interface DraftConfig {
  hidden_size?: unknown;
  target_hidden_size?: unknown;
  eagle_aux_hidden_state_layer_ids?: unknown;
  eagle_config?: { eagle_aux_hidden_state_layer_ids?: unknown };
}

function isLayerList(value: unknown): value is [number, number, number] {
  return Array.isArray(value) && value.length === 3 && value.every((id) => Number.isInteger(id) && id >= 0);
}

/**
 * Picks the target layers as llama.cpp's converter (conversion/llama.py, release v0.4.0 of node-llama-cpp 3.21.1)
 * does: the config's `eagle_aux_hidden_state_layer_ids`, else [2, L / 2, L - 3] for a target of L layers. These
 * are layer-input indices, the inputs of layers 2, L/2 and L-3, which are the outputs of layers 1, L/2-1 and L-4.
 */
function chooseTargetLayers(config: DraftConfig, options: ConvertOptions): { layers: [number, number, number]; source: string } {
  if (options.targetLayers) return { layers: options.targetLayers, source: '--target-layers' };
  for (const [ids, source] of [
    [config.eagle_aux_hidden_state_layer_ids, 'config.json eagle_aux_hidden_state_layer_ids'],
    [config.eagle_config?.eagle_aux_hidden_state_layer_ids, 'config.json eagle_config.eagle_aux_hidden_state_layer_ids'],
  ] as const) {
    if (ids === undefined) continue;
    if (!isLayerList(ids)) throw new Error(`${source} is ${JSON.stringify(ids)}; expected three non-negative integers.`);
    return { layers: ids, source };
  }
  const count = options.targetLayerCount;
  if (count === undefined) {
    throw new Error(
      'The draft config names no target layers (eagle_aux_hidden_state_layer_ids); pass --target-model-dir with the target\'s config.json, or --target-layers.',
    );
  }
  if (!Number.isInteger(count) || count < 6) throw new Error(`The target has ${count} layers; an EAGLE-3 target needs at least 6.`);
  return { layers: [2, Math.floor(count / 2), count - 3], source: `the target's ${count} layers` };
}

/** Keeps the first `rows` rows of a row-major tensor. */
function cutRows(tensor: RawTensor, rows: number): RawTensor {
  const rowBytes = tensor.data.length / tensor.shape[0]!;
  return { ...tensor, shape: [rows, ...tensor.shape.slice(1)], data: tensor.data.subarray(0, rows * rowBytes) };
}

async function realPathOrSelf(dir: string): Promise<string> {
  return realpath(dir).catch(() => path.resolve(dir));
}

export async function convertAngelSlim(options: ConvertOptions): Promise<ConvertResult> {
  const { inputDir, outputDir } = options;
  // Real paths, so a link to the input folder is caught; the output must be new or empty, so nothing is overwritten.
  if ((await realPathOrSelf(inputDir)) === (await realPathOrSelf(outputDir))) throw new Error('The output folder must differ from the input folder.');
  const existing = await readdir(outputDir).catch(() => [] as string[]);
  if (existing.length > 0) throw new Error(`The output folder ${outputDir} is not empty; pass a new or empty folder.`);

  const configPath = path.join(inputDir, 'config.json');
  let config: DraftConfig;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as DraftConfig;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${configPath} not found; the input must be an AngelSlim checkpoint folder.` : `Cannot read ${configPath}: ${(error as Error).message}`);
  }
  const draftHiddenSize = config.hidden_size;
  if (!Number.isInteger(draftHiddenSize) || (draftHiddenSize as number) <= 0) {
    throw new Error(`${configPath} has hidden_size ${JSON.stringify(draftHiddenSize)}; expected a positive integer.`);
  }
  const hidden = draftHiddenSize as number;

  // ---- find fc.weight ----
  const entries = await readdir(inputDir);
  const weightFiles = entries.filter((name) => name.endsWith('.safetensors')).sort();
  if (weightFiles.length === 0) {
    throw new Error(`${inputDir} has no .safetensors files; convert PyTorch .bin weights to safetensors first.`);
  }
  let fcFile: string | undefined;
  let fcContents: ReturnType<typeof parseSafetensorsFile> | undefined;
  for (const name of weightFiles) {
    const contents = parseSafetensorsFile(name, await readFile(path.join(inputDir, name)));
    if (contents.tensors.some((tensor) => tensor.name === 'fc.weight')) {
      fcFile = name;
      fcContents = contents;
      break;
    }
  }
  if (!fcFile || !fcContents) throw new Error(`No tensor "fc.weight" in ${weightFiles.join(', ')}; this is not an EAGLE-3 checkpoint.`);

  const fc = fcContents.tensors.find((tensor) => tensor.name === 'fc.weight')!;
  if (fc.shape.length !== 2 || fc.shape[1]! % 3 !== 0) {
    throw new Error(`fc.weight has shape [${fc.shape.join(', ')}]; expected [hidden_size + 3, 3 * target hidden size].`);
  }
  const targetHiddenSize = fc.shape[1]! / 3;
  if (fc.shape[0] === hidden) {
    throw new Error(`fc.weight has shape [${fc.shape.join(', ')}] with hidden_size ${hidden}: this is a plain EAGLE-3 checkpoint without signal heads; give it to convert_hf_to_gguf.py directly, or calibrate heads with specexit calibrate.`);
  }
  if (fc.shape[0] !== hidden + 3) {
    throw new Error(`fc.weight has ${fc.shape[0]} rows; a SpecExit checkpoint with hidden_size ${hidden} has ${hidden + 3}.`);
  }
  if (config.target_hidden_size !== undefined && config.target_hidden_size !== targetHiddenSize) {
    throw new Error(`config.json target_hidden_size is ${JSON.stringify(config.target_hidden_size)} but fc.weight reads ${targetHiddenSize} values per layer.`);
  }
  const { layers, source } = chooseTargetLayers(config, options);

  // ---- the signal rows ----
  const fcValues = toFloat32(fc);
  const columns = fc.shape[1]!;
  const weight = fcValues.slice(hidden * columns);
  const fcBias = fcContents.tensors.find((tensor) => tensor.name === 'fc.bias');
  const bias = fcBias ? toFloat32(fcBias).slice(hidden) : undefined;
  if (fcBias && fcBias.shape[0] !== hidden + 3) throw new Error(`fc.bias has shape [${fcBias.shape.join(', ')}]; expected [${hidden + 3}].`);

  // ---- write the EAGLE-3 folder ----
  await mkdir(outputDir, { recursive: true });
  for (const name of entries) {
    const from = path.join(inputDir, name);
    if (!(await stat(from)).isFile() || name === SIDECAR_FILE) continue;
    if (name === fcFile) {
      const tensors = fcContents.tensors.map((tensor) => (tensor.name === 'fc.weight' || tensor.name === 'fc.bias' ? cutRows(tensor, hidden) : tensor));
      await writeFile(path.join(outputDir, name), encodeSafetensorsFile({ metadata: fcContents.metadata, tensors }));
    } else {
      await copyFile(from, path.join(outputDir, name));
    }
  }

  const sidecarPath = path.join(outputDir, SIDECAR_FILE);
  await writeSignalSidecar(sidecarPath, {
    weight,
    ...(bias && { bias }),
    hiddenSize: targetHiddenSize,
    targetLayers: layers,
    activations: [...SIGNAL_SIDECAR_DEFAULTS.activations],
    ewmaAlpha: SIGNAL_SIDECAR_DEFAULTS.ewmaAlpha,
    confidenceThreshold: SIGNAL_SIDECAR_DEFAULTS.confidenceThreshold,
    progressThreshold: SIGNAL_SIDECAR_DEFAULTS.progressThreshold,
    remainThreshold: SIGNAL_SIDECAR_DEFAULTS.remainThreshold,
    calibration: { tool: 'specexit convert-angelslim', source: path.basename(path.resolve(inputDir)), targetLayerSource: source },
  });
  return { draftHiddenSize: hidden, targetHiddenSize, targetLayers: layers, layerSource: source, sidecarPath, fcFile };
}

const HELP = `Usage: specexit convert-angelslim <in-dir> <out-dir> [--target-model-dir DIR | --target-layers A,B,C]

Splits an AngelSlim SpecExit checkpoint (fc.weight of shape [H+3, 3H']) into a
standard EAGLE-3 checkpoint in <out-dir> (fc.weight cut to H rows, every other
file copied) and the signal sidecar <out-dir>/${SIDECAR_FILE}, with SpecExit's
default thresholds (confidence > 0.8, progress > 0.3, remain < 200, alpha 0.1).
Then convert <out-dir> with llama.cpp's convert_hf_to_gguf.py (see docs/calibrate.md).

Options:
  --target-model-dir DIR   the target's Hugging Face folder; its config.json gives the layer count
                           when the draft config has no eagle_aux_hidden_state_layer_ids
  --target-layers A,B,C    target layer-input indices, overriding the config
  -h, --help               show this help
`;

/** Runs `specexit convert-angelslim` with `argv` (the arguments after the command) and returns the exit code. */
export async function runConvertCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'target-model-dir': { type: 'string' }, 'target-layers': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.positionals.length !== 2) {
    process.stderr.write(`Expected <in-dir> and <out-dir>, got ${parsed.positionals.length} arguments.\n\n${HELP}`);
    return 2;
  }
  try {
    const options: ConvertOptions = { inputDir: parsed.positionals[0]!, outputDir: parsed.positionals[1]! };
    const layersText = parsed.values['target-layers'];
    if (layersText !== undefined) {
      const layers = layersText.split(',').map(Number);
      if (!isLayerList(layers)) throw new Error(`Expected --target-layers to be three non-negative integers, got "${layersText}".`);
      options.targetLayers = layers;
    }
    const targetDir = parsed.values['target-model-dir'];
    if (targetDir !== undefined) {
      const targetConfig = JSON.parse(await readFile(path.join(targetDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      const text = (targetConfig['text_config'] ?? {}) as Record<string, unknown>;
      options.targetLayerCount = (text['num_hidden_layers'] ?? targetConfig['num_hidden_layers']) as number;
    }
    const result = await convertAngelSlim(options);
    process.stdout.write(
      `wrote the EAGLE-3 checkpoint to ${options.outputDir} (fc.weight cut to ${result.draftHiddenSize} rows in ${result.fcFile})\n` +
        `wrote ${result.sidecarPath}: target hidden size ${result.targetHiddenSize}, target layers ${result.targetLayers.join(',')} (from ${result.layerSource})\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`specexit convert-angelslim: ${(error as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  runConvertCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
