#!/bin/sh
# Runs Chromium ($KUBEFF_CHROMIUM_BIN) with its --disable-features and --enable-features switches
# merged. Chromium keeps only the last of each it is given (measured on 156), and Playwright passes
# its own lists before ours: without this, ours would silently switch Playwright's back on.
# exec keeps the process id and the DevTools pipe (fds 3 and 4) that Playwright handed over.
set -eu
bin="${KUBEFF_CHROMIUM_BIN:?KUBEFF_CHROMIUM_BIN names the Chromium binary}"
disable=
enable=
for arg do
  shift
  case $arg in
    --disable-features=*) disable="${disable:+$disable,}${arg#--disable-features=}" ;;
    --enable-features=*) enable="${enable:+$enable,}${arg#--enable-features=}" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "$bin" ${disable:+"--disable-features=$disable"} ${enable:+"--enable-features=$enable"} "$@"
