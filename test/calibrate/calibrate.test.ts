import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runCalibration, type CalibrateOptions } from '../../daemon/calibrate/calibrate.ts';
import { runCalibrateCli } from '../../daemon/calibrate/index.ts';
import { readPromptFile } from '../../daemon/calibrate/prompts.ts';
import { fileFingerprint } from '../../daemon/calibrate/traces.ts';
import { readSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { chatPrompt, collect, getFixtures, loadFixtureEngine, silentLogger } from '../engine/helpers.ts';

const PROMPTS = path.join(__dirname, '..', 'fixtures', 'prompts.jsonl');

function captureStream() {
  const stream = { text: '', isTTY: false, write: (chunk: string) => ((stream.text += chunk), true) };
  return stream;
}

describe('specexit calibrate on the fixtures', () => {
  let dir: string;
  let options: CalibrateOptions;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-calibrate-'));
    const fixtures = await getFixtures();
    options = {
      targetPath: fixtures.target,
      draftPath: fixtures.draft,
      promptsPath: PROMPTS,
      prompts: await readPromptFile(PROMPTS),
      outPath: path.join(dir, 'signals.safetensors'),
      workDir: path.join(dir, 'work'),
      seed: 3,
      maxTokens: 60,
      answerTokens: 3,
      answerPrefix: '',
      features: 'segment',
      l2Grid: [1e-2, 1e-1],
      validationFraction: 0.2,
      heldoutFraction: 0.2,
      maxAccuracyLossPoints: 1,
      alpha: 0.1,
      includeUnfinished: true,
      threads: 1,
      contextSize: 512,
      gpu: false,
      logger: silentLogger,
    };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes a sidecar the engine loads', async () => {
    const progress = captureStream();
    const report = await runCalibration({ ...options, progress });
    assert.ok(report);
    assert.equal(report.traces.total, 8);
    assert.equal(report.traces.used, 8, 'every fixture trace is unfinished and --include-unfinished keeps them');
    assert.equal(report.split.train + report.split.validation + report.split.heldout, 8);
    assert.ok(report.samples.train > 0);
    assert.ok(report.smoothing.tokensPerStep > 1, 'measured with the draft');
    assert.match(progress.text, /tracing 8\/8/);

    const sidecar = await readSignalSidecar(options.outPath);
    assert.equal(sidecar.hiddenSize, 64);
    assert.ok(sidecar.bias);
    assert.equal(sidecar.confidenceThreshold, report.thresholds.confidence);
    assert.equal((sidecar.calibration as { seed: number }).seed, 3);
    assert.equal((sidecar.calibration as { tool: string }).tool, 'specexit calibrate');

    const engine = await loadFixtureEngine({ signalsPath: options.outPath });
    try {
      const run = await collect(engine.generate(chatPrompt(engine, 'x'), { mode: 'specexit', maxTokens: 40, startInThinking: true }));
      assert.equal(run.reason, 'max_tokens');
      assert.ok(run.signals.length > 0);
    } finally {
      engine.dispose();
    }
  });

  test('resumes and is deterministic', async () => {
    const tracesPath = path.join(options.workDir, 'traces.jsonl');
    const traces = await readFile(tracesPath, 'utf8');
    const sidecar = await readFile(options.outPath);

    // A run stopped while writing leaves a partial last line: that prompt is traced again.
    const lines = traces.trimEnd().split('\n');
    await writeFile(tracesPath, `${lines.slice(0, -1).join('\n')}\n${lines.at(-1)!.slice(0, 50)}`);
    const progress = captureStream();
    await runCalibration({ ...options, progress });
    assert.match(progress.text, /resumed, 7 already traced/);
    assert.equal(await readFile(tracesPath, 'utf8'), traces);
    assert.deepEqual(await readFile(options.outPath), sidecar, 'the same traces and seed give the same sidecar');
  });

  test('--out never replaces another file', async () => {
    const notes = path.join(dir, 'notes.txt');
    await writeFile(notes, 'keep me');
    await assert.rejects(runCalibration({ ...options, outPath: notes }), /exists and is not a signal sidecar/);
    assert.equal(await readFile(notes, 'utf8'), 'keep me');
  });

  test('other settings do not resume', async () => {
    await assert.rejects(runCalibration({ ...options, maxTokens: 70 }), /contains traces made with other settings/);
  });

  test('a retrained target of the same size does not resume', async () => {
    // Same name and size, one weight byte changed: what a retrained model of the same shape looks like.
    const retrained = path.join(dir, 'retrained', path.basename(options.targetPath));
    await mkdir(path.dirname(retrained));
    const bytes = await readFile(options.targetPath);
    bytes[bytes.length - 2]! ^= 0x01;
    await writeFile(retrained, bytes);
    assert.notEqual(await fileFingerprint(retrained), await fileFingerprint(options.targetPath));
    await assert.rejects(runCalibration({ ...options, targetPath: retrained }), /contains traces made with other settings/);
  });

  test('stops when aborted and continues later', async () => {
    const controller = new AbortController();
    const progress = { ...captureStream(), write: (chunk: string) => (chunk.includes('tracing 1/') && controller.abort(), true) };
    const workDir = path.join(dir, 'work-abort');
    const report = await runCalibration({ ...options, workDir, signal: controller.signal, progress });
    assert.equal(report, undefined);
    const traced = (await readFile(path.join(workDir, 'traces.jsonl'), 'utf8')).trim().split('\n').length;
    assert.ok(traced >= 1, `${traced} traces`);
    assert.ok(traced < 8, `${traced} traces`);
  });
});

describe('calibrate command line', () => {
  test('help and missing options', async () => {
    const write = process.stdout.write;
    const writeError = process.stderr.write;
    let output = '';
    process.stdout.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stderr.write;
    try {
      assert.equal(await runCalibrateCli(['--help']), 0);
      assert.match(output, /Usage: specexit calibrate/);
      assert.equal(await runCalibrateCli(['--model', 'a.gguf']), 2);
      assert.match(output, /Missing --draft/);
      assert.equal(await runCalibrateCli(['--model', 'a', '--draft', 'b', '--prompts', 'c', '--out', 'd', '--seed', '1.5']), 2);
      assert.match(output, /Expected --seed to be an integer/);
      assert.equal(await runCalibrateCli(['--bogus']), 2);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeError;
    }
  });
});
