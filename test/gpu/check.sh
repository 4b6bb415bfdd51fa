#!/usr/bin/env bash
# The GPU check: the real worker bundle and a real FFmpeg on a machine with (or without) an NVIDIA
# GPU, with nothing installed there: everything comes from .gpu/ (filled by test/gpu/prepare.sh).
#
#   OUT=/some/folder bash test/gpu/check.sh       # from the repo root; needs no network
#
# It records nvidia-smi and the driver libraries, runs the worker's capability probe, makes a 5 s
# 1080p H.264 clip, runs three jobs through the worker (hardware_acceleration auto, nvenc, none),
# ffprobes the outputs and writes $OUT/summary.json (checks and verdict) plus logs: at most 7
# files. Every step runs under `timeout`, all of them inside CHECK_BUDGET_S (default 190 s); the
# summary after them has 30 s more, so a whole run stays under 4 minutes.
# Exit status: 0 when every check passed, 1 when one failed, 2 when it could not start.
set -uo pipefail

if [[ -z ${OUT:-} ]]; then echo 'check.sh: set OUT to the folder for the results' >&2; exit 2; fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
gpu=$repo/.gpu
work=${KUBEFF_GPU_WORK:-${TMPDIR:-/tmp}/kubeff-gpu-check}
budget=${CHECK_BUDGET_S:-190}
mkdir -p "$OUT"

main() {
  local t_start=$SECONDS
  rm -rf "$work"
  mkdir -p "$work/bin" "$work/storage/in" "$work/jobs" "$work/cache" "$work/caps-cache" "$work/probes"
  : >"$work/steps.tsv"

  # step [--out FILE | --stdout FILE] NAME LIMIT_S CMD... : runs CMD under timeout, never past
  # the budget, its output to FILE if given; records the exit status and the time taken.
  step() {
    local redirect='' file=''
    if [[ $1 == --out || $1 == --stdout ]]; then redirect=$1 file=$2; shift 2; fi
    local name=$1 limit=$2
    shift 2
    local left=$((budget - (SECONDS - t_start)))
    if ((left < 5)); then
      echo "== $name: skipped, out of time"
      printf '%s\t%s\t%s\n' "$name" skipped 0 >>"$work/steps.tsv"
      return 124
    fi
    ((limit > left)) && limit=$left
    echo "== $name (limit ${limit}s)"
    local t0=$SECONDS rc=0
    case $redirect in
      --out) timeout -k 5 "$limit" "$@" >"$file" 2>&1 || rc=$? ;;
      --stdout) timeout -k 5 "$limit" "$@" >"$file" || rc=$? ;;
      *) timeout -k 5 "$limit" "$@" || rc=$? ;;
    esac
    echo "== $name: rc=$rc in $((SECONDS - t0))s"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" >>"$work/steps.tsv"
    return "$rc"
  }

  echo "kubeff GPU check: repo $repo, work $work, out $OUT, budget ${budget}s"
  if [[ ! -f $gpu/SHA256SUMS ]]; then
    echo "no $gpu/SHA256SUMS: run 'bash test/gpu/prepare.sh' first and carry .gpu"
    return 2
  fi
  cat "$gpu/MANIFEST" 2>/dev/null

  # --- unpack (xz, or Python's lzma where xz is missing) ---------------------------------------
  unpack() {
    (cd "$gpu" && sha256sum -c --quiet SHA256SUMS) || return 1
    local f
    for f in ffmpeg ffprobe node; do
      if command -v xz >/dev/null 2>&1; then
        xz -dc "$gpu/$f.xz" >"$work/bin/$f" || return 1
      else
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$gpu/$f.xz" "$work/bin/$f" || return 1
      fi
      chmod +x "$work/bin/$f"
    done
    cp "$gpu"/*.mjs "$work/"
    "$work/bin/ffmpeg" -version | head -1 && "$work/bin/ffprobe" -version | head -1 && "$work/bin/node" --version
  }
  export gpu work
  step unpack 90 bash -c "$(declare -f unpack); unpack" || { echo 'cannot unpack .gpu/'; return 2; }
  local FF=$work/bin/ffmpeg FP=$work/bin/ffprobe NODE=$work/bin/node
  export PATH="$work/bin:$PATH"

  # --- the machine: nvidia-smi, driver libraries --------------------------------------------
  {
    if command -v nvidia-smi >/dev/null 2>&1; then
      timeout -k 5 20 nvidia-smi
      echo
      timeout -k 5 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,pci.bus_id --format=csv
      echo
      timeout -k 5 30 nvidia-smi -q
    else
      echo 'nvidia-smi: not found'
    fi
  } >"$OUT/nvidia-smi.txt" 2>&1
  timeout -k 5 20 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >"$work/gpu-name.txt" 2>/dev/null || true

  # FFmpeg dlopens libcuda.so.1, libnvcuvid.so.1 and libnvidia-encode.so.1: find them if the
  # loader does not, and say where they were.
  local libdirs=() lib d
  for lib in libcuda.so.1 libnvcuvid.so.1 libnvidia-encode.so.1; do
    if ! ldconfig -p 2>/dev/null | grep -q " $lib "; then
      for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib64 /usr/lib/x86_64-linux-gnu /run/nvidia/driver/usr/lib/x86_64-linux-gnu /usr/lib/wsl/lib; do
        [[ -e $d/$lib ]] && { libdirs+=("$d"); break; }
      done
    fi
  done
  if ((${#libdirs[@]})); then
    export LD_LIBRARY_PATH="$(printf '%s:' "${libdirs[@]}")${LD_LIBRARY_PATH:-}"
  fi
  {
    echo "# date"; date -u +%FT%TZ
    echo "# uname"; uname -a
    echo "# os"; grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release 2>/dev/null
    echo "# cpus"; nproc
    echo "# glibc"; ldd --version 2>&1 | head -1
    echo "# /proc/driver/nvidia/version"; cat /proc/driver/nvidia/version 2>&1
    echo "# /dev/nvidia*"; ls -l /dev/nvidia* 2>&1
    echo "# NVIDIA_* / CUDA_* environment"; env | grep -E '^(NVIDIA_|CUDA_VERSION|CUDA_HOME|LD_LIBRARY_PATH)' | sort
    echo "# driver libraries known to the loader (ldconfig -p)"
    ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvcuvid|libnvidia-encode' || echo '(none)'
    echo "# driver library files anywhere (find, 20 s at most)"
    timeout -k 2 20 find / -xdev \( -name 'libnvcuvid.so*' -o -name 'libnvidia-encode.so*' -o -name 'libcuda.so*' \) 2>/dev/null | sort | head -40
    echo "# added to LD_LIBRARY_PATH by check.sh"; printf '%s\n' "${libdirs[@]:-(nothing)}"
    echo "# carried binaries (ldd)"
    ldd "$FF" "$FP" "$NODE" 2>&1
    echo "# carried MANIFEST"; cat "$gpu/MANIFEST" 2>&1
    echo "# FFmpeg build"; "$FF" -hide_banner -buildconf 2>&1 | head -60
  } >"$OUT/environment.txt" 2>&1

  # --- a 5 s 1080p H.264 + AAC clip, made here --------------------------------------------
  local clip=$work/storage/in/clip.mp4
  step make-clip 60 "$FF" -hide_banner -nostdin -v error -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=5 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=5 -map 0:v -map 1:a \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 -c:a aac -b:a 128k -movflags +faststart "$clip"
  "$FP" -v error -print_format json -show_format -show_streams "$clip" >"$work/clip.ffprobe.json" 2>&1 || true

  # --- FFmpeg alone on the GPU: the same trials the worker makes, verbose, plus timings ----------
  probe() {
    local name=$1
    shift
    local rc=0
    step --out "$work/probes/$name.log" "ffmpeg-$name" 40 "$FF" -hide_banner -nostdin "$@" || rc=$?
    echo "$rc" >"$work/probes/$name.rc"
  }
  probe nvenc-h264 -v verbose -f lavfi -i testsrc2=size=320x240:rate=25:duration=0.2 -c:v h264_nvenc -f null -
  probe nvenc-hevc -v verbose -f lavfi -i testsrc2=size=320x240:rate=25:duration=0.2 -c:v hevc_nvenc -f null -
  probe nvdec-hwaccel -v info -nostats -benchmark -hwaccel cuda -hwaccel_output_format cuda -i "$clip" -vf hwdownload,format=nv12 -f null -
  probe cuvid-decoder -v info -nostats -benchmark -c:v h264_cuvid -i "$clip" -f null -
  probe cpu-decode -v info -nostats -benchmark -i "$clip" -f null -
  {
    local f
    for f in "$work"/probes/*.log; do
      echo "===== $(basename "$f" .log): rc=$(cat "${f%.log}.rc")"
      tail -n 60 "$f"
    done
  } >"$OUT/ffmpeg-probes.log"

  # --- the worker's capability probe (its own code, bundled from test/gpu/caps.ts) ----------------
  step --stdout "$OUT/capabilities.json" capabilities 90 env KUBEFF_CACHE_DIR="$work/caps-cache" "$NODE" "$work/caps.mjs" "$FF"
  cat "$OUT/capabilities.json"

  # --- three jobs through the real worker --------------------------------------------------
  job() {
    local name=$1 accel=$2
    cat >"$work/jobs/$name.spec.json" <<EOF
{"type":"convert","input":{"path":"/storage/in/clip.mp4"},
 "output":{"path":"/storage/out/$name.mp4","format":"mp4","video":{"codec":"h264","width":1280,"height":720,"preset":"veryfast"}},
 "operations":[],"options":{"priority":"normal","hardwareAcceleration":"$accel"}}
EOF
    local rc=0
    step "job-$name" 90 env -C "$work" -u NATS_URL KUBEFF_STORAGE_ROOT="$work/storage" FFMPEG_PATH="$FF" FFPROBE_PATH="$FP" \
      KUBEFF_CACHE_DIR="$work/cache" "$NODE" "$work/kubeff-worker.mjs" --spec "$work/jobs/$name.spec.json" \
      --result "$work/jobs/$name.result.json" --events "$work/jobs/$name.events.jsonl" --job-id "gpu-check-$name" || rc=$?
    echo "$rc" >"$work/jobs/$name.rc"
    echo "job $name: exit $rc; result: $(cat "$work/jobs/$name.result.json" 2>/dev/null)"
    if [[ -f $work/storage/out/$name.mp4 ]]; then
      "$FP" -v error -print_format json -show_format -show_streams "$work/storage/out/$name.mp4" >"$work/jobs/$name.ffprobe.json" 2>&1
    fi
  }
  job auto auto
  job nvenc nvenc
  job none none

  # --- the verdict -------------------------------------------------------------------------
  # Outside the budget, so that a run that used it all still says what happened.
  echo "== summarize ($((SECONDS - t_start))s so far)"
  timeout -k 5 30 "$NODE" "$repo/test/gpu/summarize.mjs" "$work" "$OUT" "$((SECONDS - t_start))" "$budget"
}

main 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"
