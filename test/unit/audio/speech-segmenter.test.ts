import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpeechSegmenter } from '../../../src/audio/speech-segmenter';

/** Feeds probabilities of consecutive 96 ms windows; returns every event. */
function run(probs: number[], minSilenceWindows = 3) {
  const s = new SpeechSegmenter({ on: 0.5, off: 0.35, minSilenceWindows });
  const ev = probs.flatMap((p, k) => s.push(p, k));
  return [...ev, ...s.finish(probs.length)];
}

test('hysteresis: starts at ≥ 0.5, ends after 3 windows below 0.35, at the first of them', (t) => {
  assert.deepStrictEqual(run([0.1, 0.6, 0.9, 0.2, 0.1, 0.1, 0.1]), [{ type: 'speech_start', t: 1 }, { type: 'speech_end', t: 3 }]);
  // Between the thresholds keeps speech going; a short dip does not end it.
  assert.deepStrictEqual(run([0.6, 0.4, 0.4, 0.2, 0.2, 0.4, 0.2, 0.2, 0.2]), [{ type: 'speech_start', t: 0 }, { type: 'speech_end', t: 6 }]);
  // 0.45 never starts speech.
  assert.deepStrictEqual(run([0.45, 0.45, 0.3]), []);
});

test('open speech ends with the stream: at its trailing silence, or at the end', (t) => {
  assert.deepStrictEqual(run([0.9, 0.9]), [{ type: 'speech_start', t: 0 }, { type: 'speech_end', t: 2 }]);
  assert.deepStrictEqual(run([0.9, 0.1]), [{ type: 'speech_start', t: 0 }, { type: 'speech_end', t: 1 }]);
  assert.throws(() => new SpeechSegmenter({ on: 0.3, off: 0.5, minSilenceWindows: 1 }), RangeError);
});
