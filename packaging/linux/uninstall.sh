#!/usr/bin/env bash
# Removes what install.sh put in place (same PREFIX / XDG_DATA_HOME / XDG_CONFIG_HOME). Quit the app
# first. Your transfers journal, local server data and settings stay: they live in
# ~/.local/share/sgsend-desktop and ~/.config/SGraph; delete those yourself to remove every trace.
set -euo pipefail
prefix=${PREFIX:-$HOME/.local}
opt="$prefix/opt/sgsend-desktop"
bin="$prefix/bin"
data=${XDG_DATA_HOME:-$HOME/.local/share}
config=${XDG_CONFIG_HOME:-$HOME/.config}
say() { echo "uninstall: $*"; }

for name in sgsend-desktop sgsend; do
  link="$bin/$name"
  # only our own links: another sgsend on PATH (a pip install, say) stays
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$opt/$name" ]; then
    rm -f "$link"
  fi
done
rm -f "$data/applications/sgsend-desktop.desktop" \
  "$data/icons/hicolor/scalable/apps/sgsend-desktop.svg" \
  "$data/icons/hicolor/256x256/apps/sgsend-desktop.png"
for list in "$config/mimeapps.list" "$data/applications/mimeapps.list"; do
  [ -f "$list" ] && sed -i '/^x-scheme-handler\/sgsend=sgsend-desktop\.desktop;\?$/d' "$list"
done
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 &&
  gtk-update-icon-cache -q -t -f "$data/icons/hicolor" >/dev/null 2>&1 || true
rm -rf "$opt" "$opt.new"
say "SGraph Send Desktop removed from $prefix (your transfers and settings were kept)"
