import fs from 'node:fs';
import { pcm16ToFloatNative } from '../native/audio';

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Samples of the first channel as float32 in [-1, 1). */
  samples: Float32Array;
}

/**
 * Reads a PCM16 WAV file (RIFF chunks walked, not a fixed 44-byte header).
 * @throws Error when the file is not 16-bit PCM WAV.
 */
export function readWav(file: string): PcmAudio {
  return parseWav(fs.readFileSync(file), file);
}

/** Parses WAV bytes; `name` only labels errors. */
export function parseWav(b: Buffer, name = 'WAV'): PcmAudio {
  const file = name;
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a RIFF/WAVE file`);
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt || fmt.format !== 1 || fmt.bits !== 16) throw new Error(`${file}: only 16-bit PCM WAV is read`);
      const end = Math.min(b.length, body + size);
      return { sampleRate: fmt.rate, channels: fmt.channels, samples: pcm16ToFloat(b.subarray(body, end), fmt.channels) };
    }
    off = body + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

/** Little-endian PCM16 → float32 (first channel), x / 32768: the addon's decoder, the one the streams use. */
export const pcm16ToFloat = pcm16ToFloatNative;

/** Consecutive whole chunks of `size` samples (the tail shorter than size is dropped). */
export function chunks(samples: Float32Array, size: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i + size <= samples.length; i += size) out.push(samples.subarray(i, i + size));
  return out;
}
