#!/usr/bin/env bash
# Installs SGraph Send Desktop into .venv (and the Debian libraries Qt needs) and starts it.
# With no server configured it runs its own local server on this computer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/packaging/system-deps.sh"
bash "$root/packaging/venv.sh"
exec "$root/.venv/bin/sgsend-desktop" "$@"
