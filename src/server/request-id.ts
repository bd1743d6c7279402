/**
 * Request ids the server makes up when a /predict request brings none: UUIDv7 (RFC 9562),
 * time-ordered, with a 12-bit counter in `rand_a` so that ids from this process are strictly
 * increasing (method 1 of the RFC: the counter restarts each millisecond; past 4,096 ids in one
 * millisecond the time field moves on by one).
 *
 * Why not random (v4) ids: the prediction log keys every row by its id, and a random key lands
 * anywhere in a B-tree that holds up to a million rows, so each insert costs a few cache
 * misses more as the log fills: 5.1 µs a row at 64k rows, 16.9 µs at 640k, against a flat
 * 2.4–3.6 µs with these ids (`node dist/bench/tools/prediction-log-insert.js`: in-memory
 * SQLite, real flights' feature dicts, 64-row transactions, one core).
 */
import crypto from 'node:crypto';

export class RequestIds {
  private lastMs = 0;
  private counter = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      if (++this.counter > 0xfff) {
        ms = ++this.lastMs;
        this.counter = 0;
      }
    } else {
      this.lastMs = ms;
      this.counter = 0;
    }
    const t = ms.toString(16).padStart(12, '0');
    // randomUUID's last 17 characters: "-" + the variant nibble and 62 random bits after it.
    return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${this.counter.toString(16).padStart(3, '0')}${crypto.randomUUID().slice(18)}`;
  }
}
