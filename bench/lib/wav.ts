/**
 * The benchmark's real speech input: hello16000.wav (Debian linphone-common) cut
 * into consecutive VAD chunks with the server's own WAV reader, plus its hash.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chunks as chunkSamples, readWav } from '../../src/audio/wav';

export const DEFAULT_SPEECH_WAV = '/usr/share/sounds/linphone/hello16000.wav';
export const VAD_CHUNK_SAMPLES = 1536;

export interface SpeechInput {
  path: string;
  sha256: string;
  sampleRate: number;
  totalSamples: number;
  chunkSamples: number;
  chunks: Float32Array[];
}

export function loadSpeechChunks(path = DEFAULT_SPEECH_WAV, size = VAD_CHUNK_SAMPLES): SpeechInput {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read speech WAV ${path} (${(e as Error).message}); install it with: apt-get install -y linphone-common`);
  }
  const wav = readWav(path);
  if (wav.channels !== 1) throw new Error(`expected mono WAV, got ${wav.channels} channels`);
  const chunks = chunkSamples(wav.samples, size).map((c) => c.slice());
  if (chunks.length === 0) throw new Error(`${path} is shorter than one ${size}-sample chunk`);
  return { path, sha256: createHash('sha256').update(buf).digest('hex'), sampleRate: wav.sampleRate, totalSamples: wav.samples.length, chunkSamples: size, chunks };
}
