#!/usr/bin/env bash
# Make headless Chromium available for the report's browser tests (they run the
# `chromium` binary directly with --dump-dom / --screenshot: no WebDriver, so no
# chromium-driver).
#
# On CI (CI=true) or where asked (ZSPACE_INSTALL_BROWSER=1) it installs Debian's
# `chromium` and exits non-zero, saying why, where that is impossible: there the
# browser tests must run, not skip. Elsewhere a missing browser is only reported
# and the browser tests skip and say why.
set -uo pipefail

find_browser() {
  for b in chromium chromium-browser google-chrome; do
    command -v "$b" 2>/dev/null && return 0
  done
  return 1
}

if browser=$(find_browser); then
  exit 0
fi
if [ "${CI:-}" != "true" ] && [ "${ZSPACE_INSTALL_BROWSER:-0}" != "1" ]; then
  echo "no chromium found: the report browser tests will skip (as root, ZSPACE_INSTALL_BROWSER=1 installs it)"
  exit 0
fi

fail() {
  echo "ensure-browser: error: $1; the report browser tests need headless Chromium on CI" >&2
  exit 1
}
[ "$(id -u)" = "0" ] || fail "chromium is missing and installing it needs root (running as uid $(id -u))"
command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and there is no apt-get to install it with"
echo "installing chromium for the report browser tests (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || fail "apt-get update failed"
apt-get install -y -qq chromium >/dev/null || fail "apt-get install -y chromium failed"
browser=$(find_browser) || fail "apt-get installed chromium but no chromium binary is on PATH"
"$browser" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1 \
  || fail "$browser was installed but does not start ($browser --version failed)"
echo "installed $("$browser" --version 2>/dev/null)"
