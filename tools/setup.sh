#!/usr/bin/env bash
# Installs what Simply needs on Debian 12 and builds the release binary.
# Usage: bash tools/setup.sh        (root, or a user with sudo)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenblas-dev libzstd-dev libssl-dev libopenmpi-dev openmpi-bin pkg-config zstd binutils librsvg2-bin)
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
if ! command -v swift >/dev/null; then
  echo "setup: no swift on PATH or in /opt/swift: install a Swift 6 toolchain (README: Quick start)" >&2
  exit 1
fi
log=$(mktemp)
start=$SECONDS
echo "building simply (release; 2-4 minutes on 2 cores the first time)..." >&2
# Progress: the compile step on one line on a terminal, a line every 10 steps in a log.
set +e
swift build -c release --product simply 2>&1 | tee "$log" | while IFS= read -r line; do
  case "$line" in
    \[*/*\]*)
      step=${line%%]*}; step=${step#[}
      if [ -t 2 ]; then printf '\r  [%s] %-60.60s' "$step" "${line#*] }" >&2
      elif [ "${step%%/*}" -gt 0 ] && [ $(( ${step%%/*} % 10 )) -eq 0 ]; then echo "  [$step]" >&2; fi ;;
  esac
done
status=${PIPESTATUS[0]}
set -e
[ -t 2 ] && printf '\r%-72s\r' "" >&2
if [ "$status" -ne 0 ]; then
  grep -E "error" "$log" | head -40 >&2 || tail -40 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "built .build/release/simply in $((SECONDS - start)) s" >&2

# `simply` on PATH: a link in /usr/local/bin (as root, or with sudo), else the line to add.
bin="$(pwd)/.build/release/simply"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "${SIMPLY_SETUP_NO_LINK:-}" ]; then
  :   # tools/doctest.sh: the clone's binary is on PATH already
elif { [ -z "$SUDO" ] || sudo -n true 2>/dev/null; } && $SUDO ln -sf "$bin" /usr/local/bin/simply 2>/dev/null; then
  echo "simply is on PATH: /usr/local/bin/simply -> $bin" >&2
else
  echo "to put simply on PATH: export PATH=\"$(pwd)/.build/release:\$PATH\"" >&2
fi
