#!/usr/bin/env bash
# Builds the real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus helm and nats-server from the Go module proxy, into a cache folder outside
# the repo keyed on the versions. Idempotent: a binary that already exists is not rebuilt.
#
#   bash test/cluster/build.sh            # build what is missing (versions from versions.env)
#   bash test/cluster/build.sh --check    # list newer patches on the module proxy; builds nothing
#   bash test/cluster/build.sh --no-extras  # only etcd + the three Kubernetes components
#   bash test/cluster/build.sh --print    # print the bin folders (no build)
#
# Environment: KUBEFF_CACHE (default $HOME/.cache/kubeff); K8S_VERSION, ETCD_VERSION, HELM_VERSION,
# NATS_VERSION override versions.env; K8S_VERSION=latest picks the newest patch of the pinned minor
# with `go list -m -versions` (and likewise for the others).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODE=build
EXTRAS=1
for arg in "$@"; do
  case "$arg" in
    --check) MODE=check ;;
    --print) MODE=print ;;
    --no-extras) EXTRAS=0 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Pinned versions; the environment wins over the file.
pinned() { sed -n "s/^$1=//p" "$HERE/versions.env"; }
K8S_VERSION=${K8S_VERSION:-$(pinned K8S_VERSION)}
ETCD_VERSION=${ETCD_VERSION:-$(pinned ETCD_VERSION)}
HELM_VERSION=${HELM_VERSION:-$(pinned HELM_VERSION)}
NATS_VERSION=${NATS_VERSION:-$(pinned NATS_VERSION)}

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}

# newest <module> <major.minor prefix, e.g. v1.35.>: newest release (no pre-release) with that prefix.
newest() {
  go list -m -versions "$1" | tr ' ' '\n' | grep -E "^${2//./\\.}[0-9]+$" | sort -V | tail -1
}
minor_of() { echo "$1" | cut -d. -f1,2; }

if [[ $MODE == check ]]; then
  tmpd=$(mktemp -d); trap 'rm -rf "$tmpd"' EXIT; cd "$tmpd"   # outside any module
  printf '%-16s %-10s %s\n' component pinned newest-patch
  printf '%-16s %-10s %s\n' kubernetes "$K8S_VERSION" "$(newest k8s.io/kubernetes "v$(minor_of "$K8S_VERSION").")"
  printf '%-16s %-10s %s\n' etcd "$ETCD_VERSION" "$(newest go.etcd.io/etcd/server/v3 "v$(minor_of "$ETCD_VERSION").")"
  printf '%-16s %-10s %s\n' helm "$HELM_VERSION" "$(newest helm.sh/helm/v3 "v$(minor_of "$HELM_VERSION").")"
  printf '%-16s %-10s %s\n' nats-server "$NATS_VERSION" "$(newest github.com/nats-io/nats-server/v2 "v$(minor_of "$NATS_VERSION").")"
  exit 0
fi

resolve() { # resolve <value> <module> <pinned-from-file>
  if [[ $1 == latest ]]; then
    local pin; pin=$(pinned "$3")
    (cd /tmp && newest "$2" "v$(minor_of "$pin").") | sed 's/^v//'
  else
    echo "$1"
  fi
}
K8S_VERSION=$(resolve "$K8S_VERSION" k8s.io/kubernetes K8S_VERSION)
ETCD_VERSION=$(resolve "$ETCD_VERSION" go.etcd.io/etcd/server/v3 ETCD_VERSION)
HELM_VERSION=$(resolve "$HELM_VERSION" helm.sh/helm/v3 HELM_VERSION)
NATS_VERSION=$(resolve "$NATS_VERSION" github.com/nats-io/nats-server/v2 NATS_VERSION)

CACHE=${KUBEFF_CACHE:-$HOME/.cache/kubeff}
K8S_BIN="$CACHE/bin/k8s-v$K8S_VERSION-etcd-v$ETCD_VERSION"
# helm's default Kubernetes version (for `helm template` and lint) is set by ldflags in official
# builds; ours says the minor it was built for, and the cache folder is keyed on it too.
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
HELM_BIN="$CACHE/bin/helm-v$HELM_VERSION-k8s1.$K8S_MINOR"
NATS_BIN="$CACHE/bin/nats-server-v$NATS_VERSION"
SRC="$CACHE/src"

if [[ $MODE == print ]]; then
  echo "K8S_BIN=$K8S_BIN"; echo "HELM_BIN=$HELM_BIN"; echo "NATS_BIN=$NATS_BIN"; exit 0
fi

mkdir -p "$K8S_BIN" "$SRC"
log() { printf '[build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
T0=$(date +%s)
# Serialize concurrent runs (two test runs starting together).
exec 9>"$CACHE/.build.lock"
flock 9

have() { local d=$1; shift; for b in "$@"; do [[ -x "$d/$b" ]] || return 1; done; }

# --- kube-apiserver, kube-controller-manager, kube-scheduler --------------------------------
# `go install k8s.io/kubernetes/cmd/...@vX` fails because k8s.io/kubernetes' go.mod replaces its
# staging modules (k8s.io/api, k8s.io/apiserver, ...) with ./staging folders. A throwaway main
# module that requires k8s.io/kubernetes and replaces each staging module with its published
# v0.MINOR.PATCH works.
if have "$K8S_BIN" kube-apiserver kube-controller-manager kube-scheduler; then
  log "kubernetes v$K8S_VERSION: already built in $K8S_BIN"
else
  log "kubernetes v$K8S_VERSION: building (cold builds take many minutes on 2 cores)"
  MOD="$SRC/k8s-v$K8S_VERSION"
  rm -rf "$MOD"; mkdir -p "$MOD"; cd "$MOD"
  go mod init local/k8sbin >/dev/null 2>&1
  GOMOD=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f $GOMOD ]] || { echo "build.sh: could not download k8s.io/kubernetes@v$K8S_VERSION's go.mod" >&2; exit 1; }
  # Same GODEBUG defaults as upstream's own build (its go.mod's godebug lines); a main module made
  # by `go mod init` with Go 1.26 would otherwise get go1.26 defaults.
  if grep -q '^godebug' "$GOMOD"; then
    sed -n '/^godebug (/,/^)/p; /^godebug [^(]/p' "$GOMOD" >> go.mod
  fi
  STAGING=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$GOMOD")
  [[ -n $STAGING ]] || { echo "build.sh: no staging replaces found in $GOMOD" >&2; exit 1; }
  for m in $STAGING; do go mod edit "-replace=$m=$m@v0.${K8S_VERSION#1.}"; done
  go mod edit "-require=k8s.io/kubernetes@v$K8S_VERSION"
  VF="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  VF="$VF -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
  VF="$VF -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1"
  VF="$VF -X k8s.io/client-go/pkg/version.gitMinor=$K8S_MINOR -X k8s.io/client-go/pkg/version.gitTreeState=clean"
  TMP=$(mktemp -d "$K8S_BIN/.tmp.XXXXXX")
  t=$(date +%s)
  go build -trimpath -ldflags="-s -w $VF" -o "$TMP/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  mv "$TMP"/kube-* "$K8S_BIN/"; rmdir "$TMP"
  log "kubernetes v$K8S_VERSION: built in $(( $(date +%s) - t ))s"
fi

# --- etcd -----------------------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is `package main` at its root but has local replaces too: same trick.
if have "$K8S_BIN" etcd; then
  log "etcd v$ETCD_VERSION: already built"
else
  log "etcd v$ETCD_VERSION: building"
  MOD="$SRC/etcd-v$ETCD_VERSION"
  rm -rf "$MOD"; mkdir -p "$MOD"; cd "$MOD"
  go mod init local/etcdbin >/dev/null 2>&1
  go mod edit "-require=go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  TMP=$(mktemp -d "$K8S_BIN/.tmp.XXXXXX")
  t=$(date +%s)
  go build -trimpath -ldflags="-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3
  mv "$TMP/etcd" "$K8S_BIN/etcd"; rmdir "$TMP"
  log "etcd v$ETCD_VERSION: built in $(( $(date +%s) - t ))s"
fi

# --- helm, nats-server (plain go install works) ----------------------------------------------
goinstall() { # goinstall <bin-dir> <binary> <pkg@version> [ldflags]
  local dir=$1 bin=$2 pkg=$3 ldf=${4:-}
  if have "$dir" "$bin"; then log "$bin: already built in $dir"; return; fi
  log "$bin: building $pkg"
  mkdir -p "$dir"
  local tmp t; tmp=$(mktemp -d "$dir/.tmp.XXXXXX"); t=$(date +%s)
  (cd /tmp && GOFLAGS=-buildvcs=false GOBIN="$tmp" go install -trimpath -ldflags="-s -w $ldf" "$pkg")
  mv "$tmp/$bin" "$dir/$bin"; rmdir "$tmp"
  log "$bin: built in $(( $(date +%s) - t ))s"
}
if [[ $EXTRAS == 1 ]]; then
  # helm reads its version from helm.sh/helm/v3/internal/version.version (default "v3.x-dev"-like).
  goinstall "$HELM_BIN" helm "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
     -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$K8S_MINOR \
     -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$K8S_MINOR"
  goinstall "$NATS_BIN" nats-server "github.com/nats-io/nats-server/v2@v$NATS_VERSION"
fi

log "done in $(( $(date +%s) - T0 ))s"
echo "K8S_BIN=$K8S_BIN"
[[ $EXTRAS == 1 ]] && { echo "HELM_BIN=$HELM_BIN"; echo "NATS_BIN=$NATS_BIN"; }
"$K8S_BIN/kube-apiserver" --version
"$K8S_BIN/etcd" --version | sed -n 1p   # sed reads it all: head would SIGPIPE etcd, and pipefail fail the build
exit 0
