#!/usr/bin/env bash
# Runs every check of the project: installs what is missing, then ruff, mypy and the whole pytest suite
# (core, server on disk and on SeaweedFS S3, engine integration, GUI offscreen). Extra args go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash packaging/system-deps.sh
bash packaging/venv.sh test
export QT_QPA_PLATFORM=offscreen
echo "== ruff";  .venv/bin/ruff check sgsend_desktop tests bench
echo "== mypy";  .venv/bin/mypy sgsend_desktop
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
