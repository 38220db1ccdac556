#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when one is missing (a warm run costs a dpkg query).
set -euo pipefail
# chromium + chromium-driver: the ui's browser test (tests/e2e/ui), driven by Selenium.
PACKAGES=(postgresql postgresql-contrib btrfs-progs openssl chromium chromium-driver)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "[setup] installing Debian packages: ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
