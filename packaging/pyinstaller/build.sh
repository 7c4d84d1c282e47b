#!/usr/bin/env bash
# Builds the PyInstaller bundle of SGraph Send Desktop from this working tree:
#
#   dist/sgsend-desktop/                          sgsend-desktop (windowed) + sgsend (console), one runtime
#   dist/sgsend-desktop-VERSION-linux-x86_64.tar.gz   the same folder, with the icon, the .desktop entry,
#                                                 VERSION and install.sh / uninstall.sh (Linux)
#
# Installs what it needs itself: binutils if missing (apt), and its own build venv
# (packaging/pyinstaller/.venv: PyInstaller + the app's runtime dependencies). Fails when the folder is
# over the size budget (packaging/pyinstaller/bundle.py). Then: bash packaging/pyinstaller/smoke.sh
# Environment: PYTHON (interpreter for the build venv), BUILD_CLEAN=1 (drop PyInstaller's cache first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/packaging/pyinstaller"
venv="$here/.venv"
cd "$root"
start=$(date +%s)
say() { echo "build: $*" >&2; }

# strip/readelf/objdump: PyInstaller and the spec use them on Linux
if [ "$(uname -s)" = Linux ] && ! command -v objdump >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing binutils"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq binutils >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  python=${PYTHON:-}
  if [ -z "$python" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 &&
         "$candidate" -c 'import sys, sysconfig; sys.exit(sys.version_info < (3, 11) or not sysconfig.get_config_var("Py_ENABLE_SHARED"))' 2>/dev/null; then
        python=$candidate; break
      fi
    done
  fi
  [ -n "$python" ] || { say "need Python >= 3.11 built with a shared libpython (PyInstaller needs it)"; exit 1; }
  say "creating the build venv with $python"
  "$python" -m venv "$venv"
fi
say "installing PyInstaller and the app's dependencies into $venv"
"$venv/bin/python" - "$root/pyproject.toml" >"$venv/requirements-app.txt" <<'EOF'
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
EOF
nice -n 10 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
  -r "$here/requirements.txt" -r "$venv/requirements-app.txt" 2>&1 | grep -v -E "^WARNING: Location|^$" || true

clean=()
[ -n "${BUILD_CLEAN:-}" ] && clean=(--clean)
say "running PyInstaller (packaging/pyinstaller/sgsend.spec)"
rm -rf "$root/dist/sgsend-desktop"
nice -n 10 "$venv/bin/pyinstaller" --noconfirm "${clean[@]}" --log-level WARN \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" "$here/sgsend.spec"

dist="$root/dist/sgsend-desktop"
version=$("$venv/bin/python" -c "import sys; sys.path.insert(0, '$here'); import bundle; print(bundle.version())")
budget=$("$venv/bin/python" -c "import sys; sys.path.insert(0, '$here'); import bundle; print(bundle.BUDGET_MB)")

if [ "$(uname -s)" = Linux ]; then
  install -m644 resources/sgsend-desktop.desktop resources/icons/sgsend-desktop.svg \
    resources/icons/sgsend-desktop.png "$dist/"
  install -m755 packaging/linux/install.sh packaging/linux/uninstall.sh "$dist/"
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ] && commit="$commit+changes"
  {
    echo "SGraph Send Desktop $version"
    echo "commit: $commit"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -sm), glibc $(ldd --version | head -1 | grep -oE '[0-9.]+$')"
    "$venv/bin/python" -c "import sys, PySide6, PyInstaller; print(f'Python {sys.version.split()[0]}, PySide6 {PySide6.__version__}, PyInstaller {PyInstaller.__version__}')"
  } >"$dist/VERSION"
fi

# the budget: disk usage of the folder, in MB of 10^6 bytes
bytes=$(du -s --block-size=1 "$dist" | cut -f1)
mb=$(( (bytes + 999999) / 1000000 ))
files=$(find "$dist" | wc -l)
say "dist/sgsend-desktop: $mb MB on disk, $files files and folders (budget $budget MB)"
if [ "$mb" -gt "$budget" ]; then
  say "FAILED: over the size budget of $budget MB (see packaging/pyinstaller/bundle.py for what is left out)"
  exit 1
fi

if [ "$(uname -s)" = Linux ]; then
  arch=$(uname -m)
  tarball="$root/dist/sgsend-desktop-$version-linux-$arch.tar.gz"
  tar -C "$root/dist" --owner=0 --group=0 --numeric-owner -czf "$tarball" sgsend-desktop
  say "$(basename "$tarball"): $(( $(stat -c %s "$tarball") / 1000000 )) MB"
fi
say "done in $(( $(date +%s) - start )) s; check it with: bash packaging/pyinstaller/smoke.sh"
