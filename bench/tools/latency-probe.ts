/**
 * A minimal closed-loop latency probe over raw keep-alive sockets: N connections each send
 * one request, wait for the answer, send the next. No autocannon, no body rotation: the
 * cheapest possible client, for A/B runs of one server setting against another.
 *
 *   taskset -c 1 node dist/bench/tools/latency-probe.js <port> <path> <body.json> <seconds> [connections]
 *
 * Prints one JSON line: requests measured (after a 1 s warm-up), req/s, p50/p90/p99/p99.9/max ms, non-2xx.
 */
import net from 'node:net';
import fs from 'node:fs';

const [port, urlPath, bodyFile, secs, conns = '1'] = process.argv.slice(2);
if (!port || !urlPath || !bodyFile || !secs) {
  console.error('usage: latency-probe <port> <path> <body.json> <seconds> [connections]');
  process.exit(2);
}
const body = fs.readFileSync(bodyFile);
const request = Buffer.concat([Buffer.from(`POST ${urlPath} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
const latencies: number[] = [];
let non2xx = 0;
const end = Date.now() + Number(secs) * 1000;
const warmEnd = Date.now() + 1000;

function connection(): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1');
    s.setNoDelay(true);
    let buf = '';
    let t0 = 0n;
    const send = () => {
      t0 = process.hrtime.bigint();
      s.write(request);
    };
    s.on('connect', send);
    s.on('error', reject);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const m = /content-length: *(\d+)/i.exec(buf.slice(0, headEnd));
        const len = m ? Number(m[1]) : 0;
        if (buf.length < headEnd + 4 + len) return;
        const status = buf.slice(9, 12);
        buf = buf.slice(headEnd + 4 + len);
        const now = Date.now();
        if (now > warmEnd) {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (status[0] !== '2') non2xx++;
        }
        if (now > end) {
          s.destroy();
          resolve();
          return;
        }
        send();
      }
    });
  });
}

async function main(): Promise<void> {
  await Promise.all(Array.from({ length: Number(conns) }, connection));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(3);
  console.log(JSON.stringify({ n: latencies.length, rps: Math.round(latencies.length / (Number(secs) - 1)), p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: latencies[latencies.length - 1].toFixed(2), non2xx }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
