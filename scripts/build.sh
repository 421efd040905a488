#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh) and builds limit-eval into build/ (binary: build/limit-eval).
# Usage: scripts/build.sh [extra CMake -D options]
# Environment: LIMIT_EVAL_BUILD_DIR (default build), LIMIT_EVAL_JOBS (default: all cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$build_dir.configure.log" 2>&1 || {
  cat "$build_dir.configure.log" >&2
  exit 1
}
grep -E "^-- limit-eval:" "$build_dir.configure.log" >&2 || true
cmake --build "$build_dir" -j"${LIMIT_EVAL_JOBS:-$(nproc)}"
