#!/usr/bin/env bash
# The Debian packages the tests need (run before `npm test` as its pretest, and by .ci/run):
# real speech recordings (linphone-common, alsa-utils, codec2-examples, asterisk prompts),
# promtool (prometheus), onnx.checker (python3-onnx), headless chromium (report page), wrk
# (the bench harness's optional closed-loop generator), clang-14 + libfuzzer-14-dev
# (+ libclang-rt-14-dev: the sanitizer runtimes) for the short libFuzzer run (test/fuzz/),
# postgresql and redis-server (the replica tests start their own throwaway servers from these).
# As root, missing packages are installed; otherwise one line names them and the command.
set -euo pipefail
apt_packages=(linphone-common alsa-utils codec2-examples asterisk-core-sounds-en-wav prometheus python3-onnx chromium wrk clang-14 libfuzzer-14-dev libclang-rt-14-dev postgresql redis-server)
command -v dpkg >/dev/null 2>&1 || { echo "test prerequisites: not a Debian system (no dpkg); install the equivalents of: ${apt_packages[*]}" >&2; exit 1; }
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "npm test needs Debian packages that are missing: ${missing[*]}; install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing the test prerequisites: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
