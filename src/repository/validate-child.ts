/**
 * The disposable process that opens a new model version before any serving worker does
 * (src/repository/sandbox.ts): creates an onnxruntime session, reads its inputs and
 * outputs, and runs it once on zeros (symbolic dimensions as 1). Prints one JSON line
 * {inputs, outputs, warm} and exits 0. An onnxruntime crash, hang or memory blow-up ends
 * this process, never the server.
 *
 *   node validate-child.js <model.onnx> <intraOpThreads> [--test-failure abort|hang|allocate]
 *
 * A warm run the graph refuses (an ONNX error, not a crash) is reported in `warm`, not
 * failed: symbolic dimensions set to 1 may be shapes a model cannot take (Silero VAD needs
 * more than 1 sample).
 */
import { allocData, elementCount } from '../protocol/datatypes';
import { OrtSession } from '../runtime/ort-session';

async function main(): Promise<void> {
  const [modelPath, intra, flag, failure] = process.argv.slice(2);
  // Test switch: the failure modes the parent must survive, produced in this process.
  if (flag === '--test-failure') {
    if (failure === 'abort') process.abort();
    if (failure === 'hang') for (;;);
    if (failure === 'allocate') {
      // 16 MiB every 10 ms: steady growth the parent's 50 ms memory check sees long before
      // the machine runs short.
      const hold: Buffer[] = [];
      setInterval(() => hold.push(Buffer.alloc(16 * 1024 * 1024, 1)), 10);
      return;
    }
  }
  const session = OrtSession.create(modelPath, Number(intra) || 1);
  const { inputs, outputs } = session;
  let warm = 'ok';
  try {
    const feeds = inputs.map((t) => {
      const shape = (t.shape ?? []).map((d) => (d < 0 ? 1 : d));
      return { name: t.name, datatype: t.datatype, shape, data: allocData(t.datatype, elementCount(shape)) };
    });
    session.run(feeds, outputs.map((o) => o.name));
  } catch (e) {
    warm = `refused: ${(e as Error).message.slice(0, 300)}`;
  }
  session.release();
  process.stdout.write(`${JSON.stringify({ inputs, outputs, warm })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message ?? String(e)}\n`);
  process.exit(1);
});
