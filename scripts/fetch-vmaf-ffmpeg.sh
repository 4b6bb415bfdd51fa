#!/usr/bin/env bash
# A current FFmpeg with libvmaf 3 for quality measurement (target VMAF, quality gates, per-title
# ladders, analyze). Debian's FFmpeg has no libvmaf, and the static build shipped by the npm
# package @ffmpeg-installer/linux-x64 (2018, libvmaf 1.3.7) computes VMAF about 6× slower
# (1080p: 4.8 against 30 frames/s on 2 cores), which would make every quality feature cost more
# than the encode it measures. PyPI's imageio-ffmpeg wheel carries a static FFmpeg 9 built with
# libvmaf: the wheel is fetched with pip (a registry this project may use), checked by SHA-256,
# and its binary kept in the cache, keyed on the version. The worker finds it there
# (worker-image/src/tools.ts); without it, VMAF falls back to the 2018 build.
#   bash scripts/fetch-vmaf-ffmpeg.sh          # idempotent; prints the binary's path
set -euo pipefail
VERSION=0.8.1
FFMPEG_VERSION=9.0.2
WHEEL=imageio_ffmpeg-${VERSION}-py3-none-manylinux_2_28_x86_64.whl
WHEEL_SHA256=050d6850601c3b3890bd2b28306f3b842b3daea390a561101174375a1c460bda
BIN_SHA256=0d709a0bed1a43f24cd2c420878c63afea4580671b6949ad19ed124572f3bc3d
CACHE=${KUBEFF_CACHE:-$HOME/.cache/kubeff}
DEST=$CACHE/bin/ffmpeg-vmaf-$FFMPEG_VERSION
if [ -x "$DEST/ffmpeg" ]; then echo "$DEST/ffmpeg"; exit 0; fi
if [ "$(uname -m)" != x86_64 ]; then echo "fetch-vmaf-ffmpeg: only x86_64 is fetched; VMAF uses another build" >&2; exit 0; fi
mkdir -p "$CACHE/bin"
tmp=$(mktemp -d "$CACHE/bin/.ffmpeg-vmaf-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
  --dest "$tmp" "imageio-ffmpeg==${VERSION}" >&2
echo "${WHEEL_SHA256}  $tmp/${WHEEL}" | sha256sum -c --quiet -
python3 - "$tmp/${WHEEL}" "$tmp/ffmpeg" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open('imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v9.0.2') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst)
PY
echo "${BIN_SHA256}  $tmp/ffmpeg" | sha256sum -c --quiet -
chmod 755 "$tmp/ffmpeg"
mkdir -p "$tmp/out" && mv "$tmp/ffmpeg" "$tmp/out/ffmpeg"
rm -rf "$DEST" && mv "$tmp/out" "$DEST"
echo "$DEST/ffmpeg"
