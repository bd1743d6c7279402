/**
 * Speech start/end events from a stream of per-window speech probabilities, with
 * hysteresis as in Silero's VADIterator:
 * - silence → speech when a window's probability ≥ `on` (0.5); the event time is that
 *   window's start;
 * - speech → silence after `minSilenceWindows` consecutive windows below `off` (0.35);
 *   the event time is the start of the first of them. A window at or above `off`
 *   while in speech resets the count (probabilities between the thresholds keep the
 *   current state);
 * - at the end of the stream, open speech ends at the first trailing silent window's
 *   start, or at the end of the audio.
 * Default minSilenceWindows = 3 windows of 96 ms (288 ms): shorter pauses inside a
 * sentence do not split it.
 */
export interface SegmenterOptions {
  on: number;
  off: number;
  minSilenceWindows: number;
}

export const DEFAULT_SEGMENTER: SegmenterOptions = { on: 0.5, off: 0.35, minSilenceWindows: 3 };

export type SpeechEvent = { type: 'speech_start'; t: number } | { type: 'speech_end'; t: number };

export class SpeechSegmenter {
  private speaking = false;
  private silent = 0;
  private silenceStart = 0;

  constructor(private readonly opts: SegmenterOptions = DEFAULT_SEGMENTER) {
    if (!(opts.off <= opts.on)) throw new RangeError(`off threshold ${opts.off} must not exceed on threshold ${opts.on}`);
    if (!(opts.minSilenceWindows >= 1)) throw new RangeError('minSilenceWindows must be at least 1');
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** One window [t0, t1) with its probability; returns the events it causes (0 or 1). */
  push(p: number, t0: number): SpeechEvent[] {
    if (!this.speaking) {
      if (p >= this.opts.on) {
        this.speaking = true;
        this.silent = 0;
        return [{ type: 'speech_start', t: t0 }];
      }
      return [];
    }
    if (p >= this.opts.off) {
      this.silent = 0;
      return [];
    }
    if (this.silent === 0) this.silenceStart = t0;
    this.silent += 1;
    if (this.silent >= this.opts.minSilenceWindows) {
      this.speaking = false;
      this.silent = 0;
      return [{ type: 'speech_end', t: this.silenceStart }];
    }
    return [];
  }

  /** The end of the stream at time tEnd: closes open speech. */
  finish(tEnd: number): SpeechEvent[] {
    if (!this.speaking) return [];
    this.speaking = false;
    const t = this.silent > 0 ? this.silenceStart : tEnd;
    this.silent = 0;
    return [{ type: 'speech_end', t }];
  }
}
