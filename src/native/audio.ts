/**
 * The audio front end in C++ (native/src/audio/): PCM16 → float32 and resampling to 16 kHz
 * with a polyphase windowed-sinc filter designed like SoX's default `rate -h` (linear phase,
 * -3 dB at 95% of the lower Nyquist frequency, 125 dB rejection; within one 16-bit LSB of
 * sox on real speech at 8 and 48 kHz, see test/unit/native/audio.test.ts). The addon is
 * loaded by binding.ts.
 */
import { loadBinding } from './binding';

/** Raw addon exports of the audio front end. */
export interface AudioBinding {
  pcm16ToFloat(bytes: Uint8Array, channels?: number): Float32Array;
  resampleTo16k(samples: Float32Array, rate: number): Promise<Float32Array>;
  resampleTo16kSync(samples: Float32Array, rate: number): Float32Array;
  createStreamResampler(rate: number): StreamResamplerHandle;
  streamResamplerPush(handle: StreamResamplerHandle, bytes: Uint8Array, format: 'pcm16' | 'f32'): Float32Array;
  streamResamplerFlush(handle: StreamResamplerHandle): Float32Array;
}

export type StreamResamplerHandle = { readonly __streamResampler: unique symbol };

/** The rate every audio model input runs at. */
export const TARGET_RATE = 16000;

/** Below this many input samples resampling runs inline (an AsyncWorker round trip costs ~20 µs). */
export const RESAMPLE_SYNC_MAX_SAMPLES = 2048;

/**
 * Little-endian PCM16 → float32 of the first channel, x / 32768 (as src/audio/wav.ts).
 * @returns a new Float32Array of floor(bytes / (2 · channels)) samples.
 * @throws TypeError when bytes is not a Uint8Array; RangeError for channels outside 1..64.
 */
export function pcm16ToFloatNative(bytes: Uint8Array, channels = 1): Float32Array {
  return loadBinding().pcm16ToFloat(bytes, channels);
}

/**
 * [async] Resamples mono float audio at `rate` Hz to 16 kHz (16 kHz input is copied). Output
 * sample j is at j / 16000 s (no delay); floor(n · 16000 / rate) samples. The filter for a
 * rate is designed on its first use (on the calling thread) and cached. Inline below
 * {@link RESAMPLE_SYNC_MAX_SAMPLES}; `samples` must not change until the promise settles.
 * @returns a Promise of the 16 kHz samples.
 * @throws TypeError (as a rejection) when samples is not a Float32Array; RangeError when rate
 *   is not an integer in 1..384000.
 */
export function resampleTo16kNative(samples: Float32Array, rate: number): Promise<Float32Array> {
  try {
    const b = loadBinding();
    return (samples?.length ?? 0) < RESAMPLE_SYNC_MAX_SAMPLES ? Promise.resolve(b.resampleTo16kSync(samples, rate)) : b.resampleTo16k(samples, rate);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The same on the calling thread.
 * @returns the 16 kHz samples.
 * @throws TypeError / RangeError as {@link resampleTo16kNative} rejects.
 */
export function resampleTo16kNativeSync(samples: Float32Array, rate: number): Float32Array {
  return loadBinding().resampleTo16kSync(samples, rate);
}

/**
 * One stream's audio front end: little-endian pcm16 or f32 frames at `rate` Hz in, 16 kHz
 * float samples out, decoded and resampled in one native call per frame. Invariant (the
 * addon's): frames pushed in any split, then flush(), equal resampleTo16kNativeSync of the
 * whole decoded recording bit for bit.
 */
export class StreamResampler {
  private readonly handle: StreamResamplerHandle;

  /** @throws RangeError when rate is not an integer in 1..384000. */
  constructor(readonly rate: number) {
    this.handle = loadBinding().createStreamResampler(rate);
  }

  /**
   * Adds one frame.
   * @returns the 16 kHz samples whose filter window is now complete (often fewer than the frame's).
   * @throws RangeError naming the partial or non-finite sample; TypeError after flush().
   */
  push(bytes: Uint8Array, format: 'pcm16' | 'f32'): Float32Array {
    return loadBinding().streamResamplerPush(this.handle, bytes, format);
  }

  /**
   * The end of the input.
   * @returns the remaining samples (the input continued by zeros).
   * @throws TypeError when called twice.
   */
  flush(): Float32Array {
    return loadBinding().streamResamplerFlush(this.handle);
  }
}
