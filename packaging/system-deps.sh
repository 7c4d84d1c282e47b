#!/usr/bin/env bash
# Installs the Debian packages the app and its tests need on a bare machine (Qt's runtime libraries,
# Xvfb for screenshots, Node.js for the Web Crypto interop tests). Does nothing when they are present;
# needs root (or sudo) only when something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wanted=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  wanted+=("$pkg")
done < <(cat "$here/debian-runtime-packages.txt" 2>/dev/null; echo xvfb; echo xauth)
command -v node >/dev/null 2>&1 || wanted+=(nodejs)

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu system; install these yourself: ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
