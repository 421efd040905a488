#!/usr/bin/env bash
# Renders SVG figures to PNG with headless Chromium, to look at them as a browser shows them
# (the report's figures are hand-written SVG; this is how their legibility is checked).
# Usage: scripts/render_figures.sh [--output-dir DIR] [SVG file or folder ...]
#   default input: results/figures; each PNG is written beside its SVG unless --output-dir is given.
# Needs chromium (Debian: apt-get install -y chromium; not installed by scripts/setup.sh: it is large).
# Environment: CHROMIUM (default: chromium, else chromium-browser, else google-chrome).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output_dir=""
inputs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --output-dir) output_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[ ${#inputs[@]} -gt 0 ] || inputs=("$root/results/figures")

browser="${CHROMIUM:-}"
if [ -z "$browser" ]; then
  for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then browser="$candidate"; break; fi
  done
fi
if [ -z "$browser" ]; then
  echo "render_figures.sh: chromium not found (apt-get install -y chromium, or set CHROMIUM)" >&2
  exit 3
fi

svgs=()
for input in "${inputs[@]}"; do
  if [ -d "$input" ]; then
    while IFS= read -r -d '' file; do svgs+=("$file"); done < <(find "$input" -maxdepth 1 -name '*.svg' -print0 | sort -z)
  elif [ -f "$input" ]; then
    svgs+=("$input")
  else
    echo "render_figures.sh: no such file or folder: $input" >&2
    exit 2
  fi
done
[ ${#svgs[@]} -gt 0 ] || { echo "render_figures.sh: no SVG file in ${inputs[*]}" >&2; exit 2; }

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
for svg in "${svgs[@]}"; do
  # The window takes the figure's own size (its width/height attributes), so nothing is cropped.
  width=$(grep -o -m1 '<svg[^>]* width="[0-9.]*"' "$svg" | sed -E 's/.* width="([0-9.]*)"/\1/')
  height=$(grep -o -m1 '<svg[^>]* height="[0-9.]*"' "$svg" | sed -E 's/.* height="([0-9.]*)"/\1/')
  width=${width%.*}; height=${height%.*}
  png_dir="${output_dir:-$(dirname "$svg")}"
  mkdir -p "$png_dir"
  png="$png_dir/$(basename "${svg%.svg}").png"
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size="${width:-800},${height:-600}" --screenshot="$png" "file://$(realpath "$svg")" >/dev/null 2>&1
  [ -s "$png" ] || { echo "render_figures.sh: $browser wrote no image for $svg" >&2; exit 1; }
  echo "$png"
done
