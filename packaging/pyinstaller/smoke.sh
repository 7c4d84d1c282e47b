#!/usr/bin/env bash
# Smoke test of the built bundle (dist/sgsend-desktop, from build.sh): runs the frozen executables the
# way a user does, from another folder and in a bare environment (nothing from the venv or the repo),
# loopback only:
#   layout      executables, icon, .desktop, VERSION; no broken symlinks; every library resolves
#   budget      disk usage within bundle.py's BUDGET_MB
#   self-test   `sgsend-desktop --self-test` offscreen, under Xvfb, and with stdout/stderr closed
#   cli         frozen `sgsend serve`, then `sgsend send` -> `sgsend get` through it, bytes compared
#   handoff     the app runs (Xvfb); a second launch with the link hands it over and exits; the
#               running app downloads the file
#   install     packaging/linux/install.sh into a throwaway HOME, the installed `sgsend` runs, then
#               uninstall.sh leaves nothing behind
# Installs what it needs (Xvfb, xauth, xdg-utils, desktop-file-utils) through packaging/system-deps.sh
# and apt. Ends with "N passed, N failed"; exit status 0 only if all passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dist="$root/dist/sgsend-desktop"
here="$root/packaging/pyinstaller"
[ -x "$dist/sgsend-desktop" ] || { echo "smoke: no bundle; run: bash packaging/pyinstaller/build.sh" >&2; exit 1; }

bash "$root/packaging/system-deps.sh" >&2 || true
if command -v apt-get >/dev/null 2>&1; then
  extra=()
  command -v xdg-mime >/dev/null 2>&1 || extra+=(xdg-utils)
  command -v desktop-file-validate >/dev/null 2>&1 || extra+=(desktop-file-utils)
  if [ ${#extra[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${extra[@]}" >/dev/null 2>&1 ||
      echo "smoke: could not install ${extra[*]}; their checks are skipped" >&2
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sgsend-smoke.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "[ok] $*"; }
fail() { failed=$((failed + 1)); echo "[FAIL] $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
elapsed() { echo $(( $(date +%s%N) / 1000000 - $1 )); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# a bare environment: a fresh HOME, no venv, no repo on any path, no display unless given
bare() {
  local home=$1; shift
  mkdir -p "$home" "$home/.run"
  chmod 700 "$home/.run"
  env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 XDG_RUNTIME_DIR="$home/.run" \
    PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring "$@"
}
bare_exec() {  # the same, replacing the (background) subshell: $! is then the program's own pid
  local home=$1; shift
  mkdir -p "$home" "$home/.run"
  chmod 700 "$home/.run"
  exec env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 XDG_RUNTIME_DIR="$home/.run" \
    PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring "$@"
}
cd "$work" || exit 1  # never the repo: the bundle must not need it

echo "== layout"
for file in sgsend-desktop sgsend _internal sgsend-desktop.desktop sgsend-desktop.svg sgsend-desktop.png VERSION \
    install.sh uninstall.sh _internal/sgsend_desktop/server/static/download.html \
    _internal/sgsend_desktop/gui/resources/sgsend-desktop.svg; do
  [ -e "$dist/$file" ] || absent="${absent:-} $file"
done
check "bundle layout ($(head -1 "$dist/VERSION" 2>/dev/null))${absent:+, missing:$absent}" test -z "${absent:-}"
broken=$(find "$dist" -xtype l)
check "no broken symlinks${broken:+: $broken}" test -z "$broken"
# PyInstaller leaves the Wayland client libraries to the system: a Wayland session has them, and only
# Qt's wayland platform plugin loads them
missing=$(find "$dist/_internal" -type f -name '*.so*' -print0 |
  LD_LIBRARY_PATH="$dist/_internal" xargs -0 ldd 2>/dev/null | grep "not found" | awk '{print $1}' | sort -u)
unresolved=$(grep -v '^libwayland-' <<<"$missing" | xargs)
wayland=$(grep '^libwayland-' <<<"$missing" | xargs)
check "every shared library resolves${unresolved:+ (missing: $unresolved)}${wayland:+ (Wayland libraries not on this machine: $wayland)}" \
  test -z "$unresolved"

echo "== budget"
budget=$(grep -oP '^BUDGET_MB = \K\d+' "$here/bundle.py")
bytes=$(du -s --block-size=1 "$dist" | cut -f1)
mb=$(( (bytes + 999999) / 1000000 ))
files=$(find "$dist" | wc -l)
check "size: $mb MB on disk, $files files and folders (budget $budget MB)" test "$mb" -le "$budget"

echo "== self-test"
self_test() {  # name, log, then the command prefix
  local name=$1 log=$2; shift 2
  local start; start=$(now_ms)
  "$@" "$dist/sgsend-desktop" --self-test >"$log" 2>&1
  local code=$?
  local shown; shown=$(grep -o "window shown.*" "$log" | head -1)
  if [ $code -eq 0 ] && tail -1 "$log" | grep -qx "self-test passed"; then
    ok "self-test $name: $(grep -c '^\[ok\]' "$log") steps in $(elapsed "$start") ms (${shown:-no window line})"
  else
    fail "self-test $name (exit $code):"; sed 's/^/    /' "$log"
  fi
}
self_test offscreen "$work/self-test-offscreen.log" bare "$work/home-offscreen" QT_QPA_PLATFORM=offscreen
grep -q "server pages and static files answer 200" "$work/self-test-offscreen.log" &&
  grep -q "app icon renders" "$work/self-test-offscreen.log" &&
  grep -q "CLI command modules import" "$work/self-test-offscreen.log" ||
  fail "the self-test did not check the icon, the pages and the CLI modules"
self_test xvfb "$work/self-test-xvfb.log" \
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" env -u QT_QPA_PLATFORM \
  HOME="$work/home-xvfb" PATH=/usr/bin:/bin LANG=C.UTF-8 PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring
grep -q "Qt xcb platform ready" "$work/self-test-xvfb.log" || fail "the Xvfb self-test did not use the xcb platform"
start=$(now_ms)
bare "$work/home-closed" QT_QPA_PLATFORM=offscreen "$dist/sgsend-desktop" --self-test >&- 2>&-
code=$?
check "self-test with stdout and stderr closed: exit $code in $(elapsed "$start") ms" test $code -eq 0

echo "== cli"
cli() { bare "$work/home-cli" SGSEND_DATA_DIR="$work/cli-data" "$dist/sgsend" "$@"; }
version=$(cli --version 2>&1)
check "sgsend --version: $version" grep -q "^sgsend $(head -1 "$dist/VERSION" | awk '{print $NF}')$" <<<"$version"
bare_exec "$work/home-serve" "$dist/sgsend" serve --host 127.0.0.1 --port 0 --data-dir "$work/served" \
  >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
url=""
for _ in $(seq 150); do
  url=$(grep -oE 'Serving on http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | awk '{print $3}')
  [ -n "$url" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
link=""
if [ -z "$url" ]; then
  fail "sgsend serve did not start:"; sed 's/^/    /' "$work/serve.log"
else
  ok "sgsend serve listens on $url"
  head -c $((7 * 1024 * 1024 + 12345)) /dev/urandom >"$work/payload.bin"  # > 5 MiB: multipart
  expected=$(sha256sum "$work/payload.bin" | cut -d' ' -f1)
  start=$(now_ms)
  link=$(cli send "$work/payload.bin" --server "$url" 2>"$work/send.err" | tail -1)
  if [[ "$link" == "$url"/* ]]; then
    ok "sgsend send: a link in $(elapsed "$start") ms"
    start=$(now_ms)
    mkdir -p "$work/got"
    if cli get "$link" -o "$work/got" >"$work/get.log" 2>&1 &&
       [ "$(sha256sum "$work/got/payload.bin" 2>/dev/null | cut -d' ' -f1)" = "$expected" ]; then
      ok "sgsend get: identical bytes in $(elapsed "$start") ms"
    else
      fail "sgsend get:"; sed 's/^/    /' "$work/get.log"
    fi
  else
    fail "sgsend send printed no link ($link):"; sed 's/^/    /' "$work/send.err"
    link=""
  fi
fi

echo "== handoff"
if [ -n "$link" ]; then
  cat >"$work/handoff.sh" <<'EOF'
#!/usr/bin/env bash
# under xvfb-run: start the app, hand it a link from a second launch, wait for the download
set -u
dist=$1 link=$2 expected=$3 work=$4
downloads="$HOME/Downloads"
mkdir -p "$downloads"
"$dist/sgsend-desktop" >"$work/app.log" 2>&1 &
app=$!
for _ in $(seq 300); do  # until it serves: its local server writes running.json
  [ -n "$(find "$SGSEND_DATA_DIR" -name running.json 2>/dev/null)" ] && break
  kill -0 $app 2>/dev/null || { echo "the app exited early"; exit 1; }
  sleep 0.1
done
start=$(date +%s%N)
timeout 30 "$dist/sgsend-desktop" "$link" >"$work/second.log" 2>&1
code=$?
echo "second launch: exit $code after $(( ($(date +%s%N) - start) / 1000000 )) ms"
[ $code -eq 0 ] || exit 1
kill -0 $app 2>/dev/null || { echo "the running app is gone"; exit 1; }
got=""
for _ in $(seq 600); do
  for file in "$downloads"/payload*.bin; do
    [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$expected" ] && got=$file
  done
  [ -n "$got" ] && break
  sleep 0.1
done
echo "the running app downloaded: ${got:-nothing}"
kill -TERM $app
for _ in $(seq 200); do kill -0 $app 2>/dev/null || break; sleep 0.1; done
if kill -0 $app 2>/dev/null; then echo "the app did not quit on SIGTERM"; kill -KILL $app; exit 1; fi
wait $app
echo "the app quit on SIGTERM: exit $?"
[ -n "$got" ]
EOF
  if xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" env HOME="$work/home-app" PATH=/usr/bin:/bin \
      LANG=C.UTF-8 PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring SGSEND_DATA_DIR="$work/app-data" \
      bash "$work/handoff.sh" "$dist" "$link" "$expected" "$work" >"$work/handoff.log" 2>&1; then
    ok "second launch handed the link to the running app, which downloaded it ($(grep -o 'exit 0 after [0-9]* ms' "$work/handoff.log" | head -1))"
  else
    fail "handoff:"; sed 's/^/    /' "$work/handoff.log"; sed 's/^/    app: /' "$work/app.log" 2>/dev/null | tail -20
  fi
else
  fail "handoff skipped: no link from the cli step"
fi
if [ -n "${serve_pid:-}" ] && kill -0 "$serve_pid" 2>/dev/null; then
  kill -TERM "$serve_pid"
  wait "$serve_pid"
  check "sgsend serve stopped on SIGTERM (exit $?)" test "$?" -eq 0
fi

echo "== install"
ihome="$work/home-install"
mkdir -p "$ihome/.config"
inst() { bare "$ihome" XDG_CONFIG_HOME="$ihome/.config" XDG_DATA_DIRS=/usr/share "$@"; }
if inst bash "$dist/install.sh" >"$work/install.log" 2>&1; then
  missing=""
  for file in .local/opt/sgsend-desktop/sgsend-desktop .local/bin/sgsend-desktop .local/bin/sgsend \
      .local/share/applications/sgsend-desktop.desktop \
      .local/share/icons/hicolor/scalable/apps/sgsend-desktop.svg \
      .local/share/icons/hicolor/256x256/apps/sgsend-desktop.png; do
    [ -e "$ihome/$file" ] || missing="$missing $file"
  done
  check "install.sh put everything in place${missing:+ (missing:$missing)}" test -z "$missing"
  inst "$ihome/.local/bin/sgsend" --version >/dev/null 2>&1
  check "the installed sgsend runs through its ~/.local/bin link" test $? -eq 0
  grep -q "^Exec=\"$ihome/.local/opt/sgsend-desktop/sgsend-desktop\" %U$" \
    "$ihome/.local/share/applications/sgsend-desktop.desktop"
  check "the menu entry runs the installed app by its full path" test $? -eq 0
  if command -v desktop-file-validate >/dev/null 2>&1; then
    check "desktop-file-validate accepts the entry" \
      desktop-file-validate "$ihome/.local/share/applications/sgsend-desktop.desktop"
  fi
  if command -v xdg-mime >/dev/null 2>&1; then
    handler=$(inst xdg-mime query default x-scheme-handler/sgsend 2>/dev/null)
    check "sgsend:// links open sgsend-desktop.desktop (xdg-mime: ${handler:-none})" \
      test "$handler" = "sgsend-desktop.desktop"
  fi
  inst bash "$ihome/.local/opt/sgsend-desktop/uninstall.sh" >>"$work/install.log" 2>&1
  left=$(cd "$ihome" && find . -type f -o -type l | grep -v -E '^\./\.(config/mimeapps\.list|run|cache)|icon-theme\.cache|mimeinfo\.cache' | head -5)
  check "uninstall.sh removed it all${left:+ (left: $left)}" test -z "$left"
  ! grep -q "sgsend" "$ihome/.config/mimeapps.list" 2>/dev/null
  check "uninstall.sh dropped the sgsend:// handler" test $? -eq 0
else
  fail "install.sh:"; sed 's/^/    /' "$work/install.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
