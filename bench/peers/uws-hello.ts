/**
 * HTTP ceiling peer: a uWebSockets.js "hello world". Every POST is read to the
 * end and answered with a fixed JSON body whose size matches the real server's
 * response; no parsing, no inference.
 *
 *   node dist/bench/peers/uws-hello.js --port 8082 [--host 127.0.0.1]
 *        [--body-b64 <base64 of a real response body> | --body-bytes N]
 */
import * as uws from 'uWebSockets.js';
import { argValue, hostFrom, portFrom } from './args';

/** A JSON object of exactly n bytes (n >= 12). */
export function paddedJson(n: number): string {
  const head = '{"pad":"';
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, n - head.length - tail.length)) + tail;
}

function responseBody(): Buffer {
  const b64 = argValue('body-b64') ?? process.env.BODY_B64;
  if (b64) return Buffer.from(b64, 'base64');
  return Buffer.from(paddedJson(Number(argValue('body-bytes') ?? process.env.BODY_BYTES ?? 128)));
}

function main(): void {
  const body = responseBody();
  const port = portFrom();
  const app = uws.App();
  app.get('/v2/health/ready', (res) => {
    res.end('{}');
  });
  app.post('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, isLast) => {
      if (isLast && !aborted) {
        res.cork(() => {
          res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(body);
        });
      }
    });
  });
  app.listen(hostFrom(), port, (token) => {
    if (!token) {
      console.error(`uws-hello: cannot listen on port ${port}`);
      process.exit(1);
    }
  });
}

if (require.main === module) main();
