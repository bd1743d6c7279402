/**
 * Where alerts go: the server log (pino, warn level) and a webhook (JSON POST, retried
 * with exponential backoff on network errors, timeouts, 429 and 5xx; other 4xx are the
 * receiver refusing the payload and are not retried).
 */
import type { Logger } from '../config/logger';
import type { Alert, AlertSink } from './alerts';
import type { WebhookConfig } from './config';
import type { MonitoringMetrics } from './metrics';

export class LogSink implements AlertSink {
  readonly name = 'log';

  constructor(private readonly log: Logger) {}

  async send(alert: Alert): Promise<void> {
    this.log.warn({ alert }, `alert ${alert.rule}: ${alert.message}`);
  }
}

export class WebhookError extends Error {
  constructor(message: string, readonly attempts: number) {
    super(message);
    this.name = 'WebhookError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;

  constructor(private readonly cfg: WebhookConfig, private readonly metrics?: MonitoringMetrics) {
    this.timeoutMs = cfg.timeout_ms ?? 5000;
    this.maxAttempts = cfg.max_attempts ?? 5;
    this.backoffMs = cfg.backoff_ms ?? 250;
  }

  /** @throws WebhookError after the last failed attempt. */
  async send(alert: Alert): Promise<void> {
    const body = JSON.stringify(alert);
    let last = '';
    let attempt = 1;
    for (; attempt <= this.maxAttempts; attempt++) {
      try {
        const res = await fetch(this.cfg.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'infera-alerts' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer();
        if (res.ok) {
          this.metrics?.webhookDeliveries.inc({ outcome: 'delivered' });
          return;
        }
        last = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429) break;
      } catch (e) {
        last = (e as Error).message;
      }
      if (attempt < this.maxAttempts) await sleep(this.backoffMs * 2 ** (attempt - 1));
    }
    this.metrics?.webhookDeliveries.inc({ outcome: 'failed' });
    throw new WebhookError(`webhook ${this.cfg.url}: ${last}`, Math.min(attempt, this.maxAttempts));
  }
}
