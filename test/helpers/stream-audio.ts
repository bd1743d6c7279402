import fs from 'node:fs';
import { pcm16ToFloat, readWav } from '../../src/audio/wav';
import { resampleTo16kNativeSync as resampleTo16k } from '../../src/native/audio';
import { SpeechEvent, SpeechSegmenter } from '../../src/audio/speech-segmenter';
import { WINDOW } from '../../src/stream/stream-session';
import { ReferenceVad } from './vad';

/** Real recordings and the Debian packages that install them (see .ci/run). */
export const AUDIO = {
  hello16k: { file: '/usr/share/sounds/linphone/hello16000.wav', pkg: 'linphone-common' },
  hello8k: { file: '/usr/share/sounds/linphone/hello8000.wav', pkg: 'linphone-common' },
  /** Non-speech: ALSA's speaker-test noise, 48 kHz. */
  noise48k: { file: '/usr/share/sounds/alsa/Noise.wav', pkg: 'alsa-utils' },
  /** "Front center", 48 kHz. */
  front48k: { file: '/usr/share/sounds/alsa/Front_Center.wav', pkg: 'alsa-utils' },
  /** An Asterisk prompt, 8 kHz. */
  prompt8k: { file: '/usr/share/asterisk/sounds/en_US_f_Allison/auth-incorrect.wav', pkg: 'asterisk-core-sounds-en-wav' },
  /** Codec2's reference speech, raw 8 kHz s16le, first 10 s. */
  ve9qrp8k: { file: '/usr/share/codec2/raw/ve9qrp_10s.raw', pkg: 'codec2-examples', rawRate: 8000 },
} as const;

export interface Audio {
  samples: Float32Array;
  rate: number;
}

/** Loads a recording of AUDIO; fails naming the package when it is not installed. */
export function loadAudio(a: { file: string; pkg: string; rawRate?: number }): Audio {
  if (!fs.existsSync(a.file)) throw new Error(`${a.file} is missing: apt-get install ${a.pkg}`);
  if (a.rawRate) return { samples: pcm16ToFloat(fs.readFileSync(a.file)), rate: a.rawRate };
  const w = readWav(a.file);
  return { samples: w.samples, rate: w.sampleRate };
}

export interface WindowResult {
  seq: number;
  t0: number;
  t1: number;
  probability: number;
}

const round6 = (s: number) => Math.round(s * 1e6) / 1e6;

/**
 * What a stream should answer, computed offline: resampleTo16k of the whole recording,
 * windows of 1536 (the last zero-padded), onnxruntime in process with the state carried.
 */
export async function offlineStream(ref: ReferenceVad, audio: Audio): Promise<{ windows: WindowResult[]; events: SpeechEvent[] }> {
  const y = resampleTo16k(audio.samples, audio.rate);
  let h: Float32Array = new Float32Array(128), c: Float32Array = new Float32Array(128);
  const seg = new SpeechSegmenter();
  const windows: WindowResult[] = [];
  const events: SpeechEvent[] = [];
  for (let k = 0; k * WINDOW < y.length; k++) {
    const w = new Float32Array(WINDOW);
    const part = y.subarray(k * WINDOW, (k + 1) * WINDOW);
    w.set(part);
    const r = await ref.run(w, h, c);
    h = r.hn;
    c = r.cn;
    const t0 = round6((k * WINDOW) / 16000);
    windows.push({ seq: k, t0, t1: round6((k * WINDOW + part.length) / 16000), probability: r.output[0] });
    events.push(...seg.push(r.output[0], t0));
  }
  events.push(...seg.finish(round6(y.length / 16000)));
  return { windows, events };
}
