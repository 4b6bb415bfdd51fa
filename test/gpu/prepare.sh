#!/usr/bin/env bash
# Fills .gpu/ (ignored) with what test/gpu/check.sh needs on a bare GPU machine (no FFmpeg, no
# Node, no network): a minimal FFmpeg + ffprobe built here from Debian's source (libx264 linked
# statically, NVDEC/CUVID/NVENC through ffnvcodec, which loads libcuda/libnvcuvid/libnvidia-encode
# from the driver at run time; only glibc is linked dynamically), a Node binary and the worker
# bundle, all xz-compressed. The FFmpeg build is cached in ~/.cache/kubeff/gpu-ffmpeg-<version>/.
#
#   bash test/gpu/prepare.sh            # from the repo root; needs root for apt-get the first time
#
# Environment: KUBEFF_GPU_CACHE (cache root, default ~/.cache/kubeff), JOBS (make -j, default 2),
# GPU_NODE (the node binary to carry, default node_modules/node/bin/node).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cache_root=${KUBEFF_GPU_CACHE:-$HOME/.cache/kubeff}
jobs=${JOBS:-2}
node_bin=${GPU_NODE:-$repo/node_modules/node/bin/node}
dest=$repo/.gpu

log() { printf '[prepare] %s\n' "$*" >&2; }

# --- build dependencies (Debian packages) ---------------------------------------------------
need=()
for p in libffmpeg-nvenc-dev libx264-dev nasm pkg-config xz-utils gcc make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- FFmpeg source: Debian's orig tarball through apt, with a private deb-src list ------------
# A private apt state (sources, lists, cache) so the machine's own apt configuration is untouched.
apt_dir=$cache_root/gpu-apt
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
cat >"$apt_dir/sources.list.d/deb-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")

tarball=$(ls "$cache_root"/gpu-ffmpeg-*/ffmpeg_*.orig.tar.xz 2>/dev/null | sort -V | tail -1 || true)
if [[ -z $tarball ]]; then
  log 'fetching the FFmpeg source package (deb-src)'
  apt-get "${apt_opts[@]}" update -qq
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get "${apt_opts[@]}" source --download-only -qq ffmpeg >/dev/null)
  orig=$(ls "$tmp"/ffmpeg_*.orig.tar.xz)
  ver=$(basename "$orig" .orig.tar.xz); ver=${ver#ffmpeg_}
  mkdir -p "$cache_root/gpu-ffmpeg-$ver"
  mv "$tmp"/ffmpeg_* "$cache_root/gpu-ffmpeg-$ver/"
  rm -rf "$tmp"
  tarball=$cache_root/gpu-ffmpeg-$ver/ffmpeg_$ver.orig.tar.xz
fi
ver=$(basename "$tarball" .orig.tar.xz); ver=${ver#ffmpeg_}
work=$cache_root/gpu-ffmpeg-$ver
bin=$work/bin

# --- the build ------------------------------------------------------------------------------
# What the worker's plans and check.sh use, and nothing else. NVENC encoders are built in on
# purpose: on a GPU without NVENC (H100) they are listed but fail, the path the worker must handle.
configure_flags=(
  --disable-everything --disable-autodetect --disable-doc --disable-debug --disable-ffplay
  --disable-network --enable-gpl --enable-libx264
  --enable-ffnvcodec --enable-cuda --enable-cuvid --enable-nvdec --enable-nvenc
  --enable-indev=lavfi
  --enable-protocol=file,pipe
  --enable-demuxer=mov,h264,hevc,aac,wav,mpegts
  --enable-muxer=mp4,mov,ipod,null,h264,hevc,adts,wav,mpegts
  --enable-decoder=h264,hevc,aac,h264_cuvid,hevc_cuvid,rawvideo,wrapped_avframe,pcm_s16le
  --enable-encoder=libx264,h264_nvenc,hevc_nvenc,aac,rawvideo,wrapped_avframe,pcm_s16le
  --enable-hwaccel=h264_nvdec,hevc_nvdec
  --enable-parser=h264,hevc,aac
  --enable-bsfs
  --enable-filter=testsrc2,testsrc,sine,anullsrc,null,anull,nullsink,anullsink,scale,format,aformat,aresample,hwupload,hwdownload,hwupload_cuda,fps,setpts,asetpts,trim,atrim,split,asplit,copy,crop,pad
)
stamp=$(printf '%s\n' "${configure_flags[@]}" | sha256sum | cut -c1-16)
if [[ ! -x $bin/ffmpeg || ! -x $bin/ffprobe || $(cat "$bin/.flags" 2>/dev/null) != "$stamp" ]]; then
  log "building FFmpeg $ver in $work (make -j$jobs)"
  rm -rf "$work/src" "$bin"
  mkdir -p "$work/src" "$work/x264/lib/pkgconfig" "$bin"
  tar -xJf "$tarball" -C "$work/src" --strip-components=1
  # libx264 statically: a pkg-config file that names only the archive.
  cp /usr/lib/x86_64-linux-gnu/libx264.a "$work/x264/lib/"
  x264_version=$(pkg-config --modversion x264)
  cat >"$work/x264/lib/pkgconfig/x264.pc" <<EOF
Name: x264
Description: H.264 encoder library (static)
Version: $x264_version
Libs: -L$work/x264/lib -l:libx264.a -lpthread -lm -ldl
Cflags: -I/usr/include
EOF
  (
    cd "$work/src"
    PKG_CONFIG_PATH=$work/x264/lib/pkgconfig ./configure "${configure_flags[@]}" \
      --extra-version=kubeff-gpu-check >"$work/configure.log" 2>&1 || { tail -n 30 "$work/configure.log" ffbuild/config.log >&2; exit 1; }
    make -j"$jobs" ffmpeg ffprobe >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
    strip -o "$bin/ffmpeg" ffmpeg
    strip -o "$bin/ffprobe" ffprobe
  )
  echo "$stamp" >"$bin/.flags"
  rm -rf "$work/src"
fi

# Only glibc may be linked dynamically: the GPU machine has nothing else we can count on.
for b in ffmpeg ffprobe; do
  extra=$(ldd "$bin/$b" | awk '{print $1}' | grep -vE '^(linux-vdso|/lib64/ld-linux-x86-64)|^lib(c|m|dl|pthread|rt)\.so' || true)
  if [[ -n $extra ]]; then log "$b links more than glibc: $extra"; exit 1; fi
done
"$bin/ffmpeg" -hide_banner -encoders | grep -q libx264 || { log 'no libx264 in the build'; exit 1; }
"$bin/ffmpeg" -hide_banner -hwaccels | grep -qx cuda || { log 'no cuda hwaccel in the build'; exit 1; }

# --- the worker bundle ----------------------------------------------------------------------
export PATH=$repo/node_modules/.bin:$PATH
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log 'building the worker bundle (npm run build)'
  npm run --silent build
fi

# --- fill .gpu/ -----------------------------------------------------------------------------
grep -qxF '/.gpu/' "$repo/.git/info/exclude" 2>/dev/null || { mkdir -p "$repo/.git/info"; echo '/.gpu/' >>"$repo/.git/info/exclude"; }
rm -rf "$dest"
mkdir -p "$dest"
xz_to() { xz -T2 -9e -c "$1" >"$2"; }
xz_to "$bin/ffmpeg" "$dest/ffmpeg.xz"
xz_to "$bin/ffprobe" "$dest/ffprobe.xz"
# Node: a node binary that is not already xz-compressed under the same version is recompressed.
node_version=$("$node_bin" --version)
node_xz=$cache_root/gpu-node-$node_version.xz
[[ -f $node_xz ]] || { log "compressing node $node_version"; xz_to "$node_bin" "$node_xz.tmp" && mv "$node_xz.tmp" "$node_xz"; }
cp "$node_xz" "$dest/node.xz"
# The worker bundle: its entry and the chunks it loads on demand.
rm -f "$dest"/*.mjs
cp "$repo"/worker-image/dist/*.mjs "$dest/"
# The worker's capability probe alone (test/gpu/caps.ts), bundled the same way as the worker.
esbuild test/gpu/caps.ts --bundle --platform=node --format=esm --target=node22 --log-level=warning \
  --outfile="$dest/caps.mjs" --banner:js="import { createRequire as __kubeffRequire } from 'node:module'; const require = __kubeffRequire(import.meta.url);"
{
  echo "ffmpeg $ver ($("$bin/ffmpeg" -version | head -1))"
  echo "node $node_version"
  echo "worker $(git -C "$repo" rev-parse --short HEAD) (+$(git -C "$repo" status --porcelain -- worker-image crds | wc -l) uncommitted files in worker-image/ crds/) bundle $(sha256sum "$dest/kubeff-worker.mjs" | cut -c1-16)"
  echo "prepared $(date -u +%FT%TZ)"
} >"$dest/MANIFEST"
(cd "$dest" && sha256sum ffmpeg.xz ffprobe.xz node.xz ./*.mjs >SHA256SUMS)
log "$(du -sh --apparent-size "$dest" | cut -f1) in $dest:"
ls -l "$dest" >&2
