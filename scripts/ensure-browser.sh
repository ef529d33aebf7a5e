#!/usr/bin/env bash
# Make headless Chromium available for the report's browser test.
# Installs Debian's `chromium` only where that is clearly wanted (CI, or
# ZSPACE_INSTALL_BROWSER=1) and possible (root with apt-get); elsewhere the
# browser test skips and says why.
set -u
for b in chromium chromium-browser google-chrome; do
  command -v "$b" >/dev/null 2>&1 && exit 0
done
if [ "${CI:-}" = "true" ] || [ "${ZSPACE_INSTALL_BROWSER:-0}" = "1" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the report browser test (Debian package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "could not install chromium; the browser test will skip"
    exit 0
  fi
fi
echo "no chromium found: the report browser test will skip (set ZSPACE_INSTALL_BROWSER=1 as root to install it)"
exit 0
