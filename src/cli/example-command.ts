/**
 * `infera example vad --wav FILE [--at SECONDS]`: prints a ready-to-post OIP v2 JSON request
 * for the vad model from real audio: one 96 ms window (1536 samples at 16 kHz, resampled by
 * the addon when the file has another rate), zero recurrent state, asking only for the
 * speech probability. examples/vad-request.json is its output for Debian's linphone speech.
 */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type * as WavModule from '../audio/wav';
import { resampleTo16kNativeSync, TARGET_RATE } from '../native/audio';

const WINDOW = 1536;

/** The request body for one window of `file` starting at `atSeconds`. @throws Error for a short or unreadable file. */
export function vadExampleRequest(file: string, atSeconds: number): Record<string, unknown> {
  // Loaded when `example` runs, not with every command (issue 12).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readWav } = require('../audio/wav') as typeof WavModule;
  const wav = readWav(file);
  const samples = wav.sampleRate === TARGET_RATE ? wav.samples : resampleTo16kNativeSync(wav.samples, wav.sampleRate);
  const start = Math.round(atSeconds * TARGET_RATE);
  if (start + WINDOW > samples.length) {
    throw new Error(`${file}: ${(samples.length / TARGET_RATE).toFixed(2)} s of audio; a window at ${atSeconds} s needs ${((start + WINDOW) / TARGET_RATE).toFixed(3)} s`);
  }
  const window = Array.from(samples.subarray(start, start + WINDOW));
  return {
    id: `${file.split('/').pop()}@${atSeconds}s`,
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [1, WINDOW], data: window },
      { name: 'sr', datatype: 'INT64', shape: [], data: [TARGET_RATE] },
      { name: 'h', datatype: 'FP32', shape: [2, 1, 64], data: new Array(128).fill(0) },
      { name: 'c', datatype: 'FP32', shape: [2, 1, 64], data: new Array(128).fill(0) },
    ],
    outputs: [{ name: 'output' }],
  };
}

export function registerExampleCommand(program: Command, print: (text: string) => void = (t) => process.stdout.write(t)): void {
  program
    .command('example')
    .description('print a ready-to-post inference request built from real data')
    .argument('<model>', 'the model the request is for (vad)')
    .requiredOption('--wav <file>', 'a 16-bit PCM WAV file (any rate; resampled to 16 kHz)')
    .addOption(new Option('--at <seconds>', 'where the 96 ms window starts').default(0).argParser((v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--at must be a number of seconds >= 0, got '${v}'`);
      return n;
    }))
    .action((model: string, o: { wav: string; at: number }) => {
      if (model !== 'vad') throw new InvalidArgumentError(`no example for model '${model}'; 'vad' has one (flights-delay: see POST /predict in the README)`);
      print(`${JSON.stringify(vadExampleRequest(o.wav, o.at))}\n`);
    });
}
