#!/usr/bin/env bash
# Installs what Simply needs on Debian 12 and builds the release binary.
# Usage: bash tools/setup.sh        (root, or a user with sudo)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenblas-dev libzstd-dev libssl-dev libopenmpi-dev openmpi-bin pkg-config zstd binutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
log=$(mktemp)
echo "building simply (release)..." >&2
if ! swift build -c release --product simply >"$log" 2>&1; then
  grep -E "error" "$log" | head -40 >&2 || tail -40 "$log" >&2
  exit 1
fi
rm -f "$log"
