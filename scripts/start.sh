#!/usr/bin/env bash
# npm start: installs what is missing on a fresh machine, then runs kubeff standalone.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kubeff: installing FFmpeg (apt-get)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
  else
    echo "kubeff: FFmpeg is missing; install it (e.g. 'sudo apt-get install ffmpeg') or set FFMPEG_PATH/FFPROBE_PATH" >&2
    exit 1
  fi
fi
if [ ! -x node_modules/.bin/node ]; then
  echo "kubeff: installing npm packages..." >&2
  npm ci --no-audit --no-fund >&2
fi
# VMAF at a usable speed (quality features, analyze); without it the 2018 npm build is used.
bash scripts/fetch-vmaf-ffmpeg.sh >/dev/null || echo "kubeff: could not fetch the FFmpeg with libvmaf 3; VMAF uses the slower 2018 build" >&2
if [ ! -f worker-image/dist/kubeff-worker.mjs ] || [ -n "$(find worker-image/src crds/src -newer worker-image/dist/kubeff-worker.mjs -name '*.ts' -print -quit)" ]; then
  npm run --silent build >&2
fi
# The service: the whole API on this machine (standalone mode), port 8000 unless PORT is set.
exec node_modules/.bin/node gateway/src/server.ts
