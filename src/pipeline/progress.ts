/**
 * Training progress on stderr: a redrawn bar when stderr is a TTY, otherwise periodic
 * plain log lines (CI logs and files must not fill with carriage returns).
 */
import type { TrainProgress } from './trainer';

export interface ProgressOptions {
  /** Defaults to process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Seconds between plain log lines when not a TTY (default 10). */
  logEverySeconds?: number;
}

function bar(fraction: number, width: number): string {
  const full = Math.round(fraction * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function rate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : `${(r / 1e3).toFixed(1)}k`;
}

/** Returns the onProgress callback for `train`, and `end` to close the line. */
export function progressReporter(label: string, opts: ProgressOptions = {}): { onProgress: (p: TrainProgress) => void; end: () => void } {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const every = (opts.logEverySeconds ?? 10) * 1000;
  let lastDraw = Date.now();
  let lastEpoch = 0;
  let drawn = false;
  const line = (p: TrainProgress) =>
    `${label} epoch ${p.epoch}/${p.epochs} ${(100 * p.rowsDone / p.rowsPerEpoch).toFixed(0).padStart(3)}% ` +
    `${rate(p.rowsPerSecond)} rows/s loss ${p.loss.toFixed(4)}`;
  return {
    onProgress(p) {
      const now = Date.now();
      const epochDone = p.rowsDone === p.rowsPerEpoch;
      if (tty) {
        if (now - lastDraw < 100 && !epochDone) return;
        lastDraw = now;
        const frac = (p.epoch - 1 + p.rowsDone / p.rowsPerEpoch) / p.epochs;
        stream.write(`\r${bar(frac, 24)} ${line(p)}\x1b[K`);
        drawn = true;
      } else if (epochDone || now - lastDraw >= every) {
        if (epochDone && p.epoch === lastEpoch) return;
        lastDraw = now;
        if (epochDone) lastEpoch = p.epoch;
        stream.write(`${line(p)}${epochDone ? ' (epoch done)' : ''}\n`);
      }
    },
    end() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
