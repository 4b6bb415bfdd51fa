#!/usr/bin/env bash
# Schemathesis (the OpenAPI fuzzer npm test runs against a real server) in a virtual environment
# outside the repository, keyed on its version: installed from PyPI once, nothing after.
# Prints the path of its command.
set -euo pipefail
version=4.32.5
dir="${KUBEFF_CACHE:-$HOME/.cache/kubeff}/schemathesis-$version"
if [ ! -x "$dir/bin/schemathesis" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  # Built in place (a venv's scripts name their interpreter by path); bin/schemathesis is written
  # last, so an interrupted install is never taken for a finished one.
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" >&2 || { rm -rf "$dir"; exit 1; }
fi
echo "$dir/bin/schemathesis"
