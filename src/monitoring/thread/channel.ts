/**
 * Calls and notices between the main thread and the monitoring thread, over one port.
 *   channel.call(method, ...args)   → Promise of the other side's answer (its error rejects)
 *   channel.notify(method, ...args) → no answer (observations, alerts, log lines)
 * Both sides run the same class; each answers with its own handler. Arguments and answers
 * are structured-cloned (typed arrays and NaN survive; functions do not).
 */
import type { MessagePort, Worker } from 'node:worker_threads';

type Port = Pick<MessagePort | Worker, 'postMessage' | 'on'>;
export type Handler = (method: string, args: unknown[]) => unknown;

type Message =
  | { k: 'call'; id: number; m: string; a: unknown[] }
  | { k: 'note'; m: string; a: unknown[] }
  | { k: 'reply'; id: number; ok: true; v: unknown }
  | { k: 'reply'; id: number; ok: false; e: { message: string; code?: string } };

export class ThreadChannel {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly port: Port, private readonly handle: Handler) {
    port.on('message', (msg: Message) => this.receive(msg));
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.port.postMessage({ k: 'call', id, m: method, a: args } satisfies Message);
      } catch (e) {
        this.waiting.delete(id);
        reject(e as Error);
      }
    });
  }

  notify(method: string, ...args: unknown[]): void {
    this.port.postMessage({ k: 'note', m: method, a: args } satisfies Message);
  }

  /** Rejects every call still waiting (the other side is gone). */
  fail(reason: string): void {
    for (const w of this.waiting.values()) w.reject(new Error(reason));
    this.waiting.clear();
  }

  private receive(msg: Message): void {
    if (msg.k === 'reply') {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.v);
      else w.reject(Object.assign(new Error(msg.e.message), msg.e.code ? { code: msg.e.code } : {}));
      return;
    }
    if (msg.k === 'note') {
      // A notice has nobody to answer to: a failing handler must not take the thread down.
      try {
        const r = this.handle(msg.m, msg.a);
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        /* counted or logged by the handler itself */
      }
      return;
    }
    const id = msg.id;
    const answer = (r: Message) => this.port.postMessage(r);
    Promise.resolve()
      .then(() => this.handle(msg.m, msg.a))
      .then(
        (v) => answer({ k: 'reply', id, ok: true, v }),
        (e: { message?: string; code?: string }) => answer({ k: 'reply', id, ok: false, e: { message: String(e?.message ?? e), ...(e?.code ? { code: e.code } : {}) } }),
      );
  }
}
