#!/usr/bin/env bash
# Installs the SGraph Send Desktop bundle for the current user (no root needed):
#
#   ~/.local/opt/sgsend-desktop/             the bundle (replaced as a whole on reinstall/upgrade)
#   ~/.local/bin/sgsend-desktop, sgsend      links to its two executables
#   ~/.local/share/applications/sgsend-desktop.desktop   menu entry, handler of sgsend:// links
#   ~/.local/share/icons/hicolor/{scalable,256x256}/apps/sgsend-desktop.{svg,png}
#
# Usage: ./install.sh [BUNDLE_DIR]   (default: the folder holding this script, i.e. the unpacked
# sgsend-desktop-VERSION-linux-x86_64.tar.gz). PREFIX (default ~/.local) and XDG_DATA_HOME move it.
# Undo with uninstall.sh (kept in the installed folder too); your transfers and settings are not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${1:-$here}" && pwd)
prefix=${PREFIX:-$HOME/.local}
opt="$prefix/opt/sgsend-desktop"
bin="$prefix/bin"
data=${XDG_DATA_HOME:-$HOME/.local/share}
say() { echo "install: $*"; }

for file in sgsend-desktop sgsend _internal sgsend-desktop.desktop sgsend-desktop.svg; do
  [ -e "$src/$file" ] || { say "$src is not an unpacked bundle (no $file)" >&2; exit 1; }
done

mkdir -p "$prefix/opt" "$bin" "$data/applications" "$data/icons/hicolor/scalable/apps" \
  "$data/icons/hicolor/256x256/apps"
if [ "$src" != "$opt" ]; then
  rm -rf "$opt.new"
  cp -a "$src" "$opt.new"  # copy first, then swap: a failed copy leaves the old install in place
  rm -rf "$opt"
  mv "$opt.new" "$opt"
fi
ln -sfn "$opt/sgsend-desktop" "$bin/sgsend-desktop"
ln -sfn "$opt/sgsend" "$bin/sgsend"

# the menu entry runs the installed executable by its full path (~/.local/bin may not be on the
# desktop session's PATH)
quoted="\"$opt/sgsend-desktop\""
sed -e "s|^Exec=sgsend-desktop |Exec=$quoted |" -e "s|^TryExec=.*|TryExec=$opt/sgsend-desktop|" \
  "$opt/sgsend-desktop.desktop" >"$data/applications/sgsend-desktop.desktop"
install -m644 "$opt/sgsend-desktop.svg" "$data/icons/hicolor/scalable/apps/sgsend-desktop.svg"
[ -e "$opt/sgsend-desktop.png" ] &&
  install -m644 "$opt/sgsend-desktop.png" "$data/icons/hicolor/256x256/apps/sgsend-desktop.png"

# register: menu cache, icon cache, and this app as the handler of sgsend:// links
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 &&
  gtk-update-icon-cache -q -t -f "$data/icons/hicolor" >/dev/null 2>&1 || true
if command -v xdg-mime >/dev/null 2>&1; then
  xdg-mime default sgsend-desktop.desktop x-scheme-handler/sgsend
else
  say "xdg-mime not found (package xdg-utils): sgsend:// links may not open this app until it is there"
fi

version=$(head -1 "$opt/VERSION" 2>/dev/null || echo "SGraph Send Desktop")
say "$version installed in $opt"
say "commands: $bin/sgsend-desktop and $bin/sgsend; menu entry: SGraph Send"
case ":$PATH:" in
  *":$bin:"*) ;;
  *) say "note: $bin is not on your PATH; add it to run sgsend and sgsend-desktop by name" ;;
esac
