#!/usr/bin/env bash
# Debian packages the test suite needs, installed when missing (idempotent; run as root, e.g. from
# .ci/run before the tests):
#   chromium, chromium-driver  headless browser for tests/test_serve_browser.py (under CI=true those
#                              tests fail, not skip, when the browser cannot start)
#   hydrogen-data              Hydrogen's drumkit.xsd, against which the kit tests validate drumkit.xml
#   fonts-dejavu-core          a font for the page in the browser tests
set -euo pipefail

PACKAGES=(chromium chromium-driver hydrogen-data fonts-dejavu-core)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "ci_deps: all present (${PACKAGES[*]})"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ci_deps: missing ${missing[*]}; run as root (apt-get install)" >&2
    exit 1
fi
echo "ci_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
chromium --version
