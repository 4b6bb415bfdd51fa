#!/usr/bin/env bash
# Chromium from Debian for the dashboard's browser tests: installed with apt once, nothing after.
# Playwright (playwright-core, which downloads no browser) drives this binary. Prints its path:
# the real binary, not /usr/bin/chromium, which is Debian's launcher script (it exports Debian's
# Google API keys, turns remote extensions on and adds flags from /etc/chromium.d; the harness
# wants none of that, and sets every flag itself).
set -euo pipefail
bin=/usr/lib/chromium/chromium
# Recommends are left out (upower, udev, mesa, notification daemons...); a headless browser needs
# none of them, but screenshots need one font, which the recommends would otherwise have brought.
want=(chromium fonts-dejavu-core)
# A C compiler builds the harness's LD_PRELOAD loopback fence (test/support/loopback-fence.c).
command -v cc >/dev/null 2>&1 || want+=(gcc libc6-dev)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x "$bin" ] || { echo "fetch-chromium: $bin missing after installing chromium" >&2; exit 1; }
echo "$bin"
