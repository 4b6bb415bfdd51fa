#!/usr/bin/env bash
# Starts the test control plane in the foreground and prints `export KUBECONFIG=...` on stdout.
#   bash test/cluster/up.sh [--keep]
# In another shell: paste the export line, then kubectl get --raw /readyz, kubectl apply -f crds/...
# Ctrl-C stops every component and removes the temporary folder (unless --keep).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# Node 24 from the project's devDependencies (plain `node` may be older).
export PATH="$ROOT/node_modules/.bin:$PATH"
bash test/cluster/build.sh --no-extras >&2
exec node test/cluster/up.ts "$@"
