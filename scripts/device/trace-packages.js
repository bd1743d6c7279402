// Preloaded with NODE_OPTIONS="--require …/trace-packages.js" by pack.sh: appends the name of
// every node_modules package a process (and its children, which inherit NODE_OPTIONS) loads
// to $INFERA_TRACE_PACKAGES, so the device bundle carries only what the runs need.
const fs = require('node:fs');
const Module = require('node:module');

const out = process.env.INFERA_TRACE_PACKAGES;
const seen = new Set();
function note(file) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (out && m && !seen.has(m[1])) {
    seen.add(m[1]);
    fs.appendFileSync(out, `${m[1]}\n`);
  }
}
const load = Module._load;
Module._load = function traced(request, parent, isMain) {
  const result = load.apply(this, arguments);
  try {
    note(Module._resolveFilename(request, parent, isMain));
  } catch {
    /* a builtin or an unresolvable name: nothing to carry */
  }
  return result;
};
process.on('exit', () => Object.keys(require.cache).forEach(note));
