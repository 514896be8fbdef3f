#!/usr/bin/env bash
# Installs the Debian packages a make target needs, only those that are missing.
#   scripts/ensure-packages.sh "why they are needed" pkg1 pkg2 ...
# Prints what it installs and why; does no apt work at all when everything is present.
set -euo pipefail
why=$1
shift
missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "[setup] installing ${missing[*]} (needed for $why)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "[setup] not root and no sudo: install ${missing[*]} by hand" >&2; exit 1; }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Try with the package lists the machine has; refresh them once if that fails.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/fw-apt.log 2>&1; then
    echo "[setup] refreshing the package lists (apt-get update)"
    $SUDO apt-get update -q >>/tmp/fw-apt.log 2>&1 || true
    if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/fw-apt.log 2>&1; then
        tail -20 /tmp/fw-apt.log >&2
        echo "[setup] could not install ${missing[*]}; see /tmp/fw-apt.log" >&2
        exit 1
    fi
fi
echo "[setup] installed ${missing[*]}"
