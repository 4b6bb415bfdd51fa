#!/usr/bin/env bash
# Builds versitygw (an S3 server, for the storage tests) from the Go module proxy into a cache
# folder outside the repo keyed on the version, and prints the binary's path. Idempotent: an
# existing binary is not rebuilt. test/support/s3.ts runs this on demand; CI runs it up front.
#
#   bash test/support/build-versitygw.sh     # prints e.g. ~/.cache/kubeff/bin/versitygw-v1.8.0/versitygw
#
# Environment: KUBEFF_CACHE (default $HOME/.cache/kubeff), VERSITYGW_VERSION (default below).
set -euo pipefail
VERSION=${VERSITYGW_VERSION:-v1.8.0}
CACHE=${KUBEFF_CACHE:-$HOME/.cache/kubeff}
DIR="$CACHE/bin/versitygw-$VERSION"
BIN="$DIR/versitygw"
if [[ -x $BIN ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$DIR"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
# Built into a temporary folder and moved into place, so an interrupted build leaves no binary.
TMP=$(mktemp -d "$DIR/.build-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
T0=$(date +%s)
(cd /tmp && GOBIN="$TMP" go install -trimpath -ldflags='-s -w' "github.com/versity/versitygw/cmd/versitygw@$VERSION") >&2
mv "$TMP/versitygw" "$BIN"
echo "build-versitygw.sh: built versitygw $VERSION in $(( $(date +%s) - T0 )) s" >&2
echo "$BIN"
