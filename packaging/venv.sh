#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs the project into it. Usage: venv.sh [EXTRAS], e.g. "test".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
[ -n "$python" ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
[ -x "$root/.venv/bin/python" ] || "$python" -m venv "$root/.venv"
spec="$root"
[ -n "${1:-}" ] && spec="$root[$1]"
"$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
  | grep -v -E "^WARNING: Location|^$" || true
