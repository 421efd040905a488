#!/usr/bin/env bash
# Runs every test: sets up the machine, builds, then CTest (GoogleTest suites and the Python
# oracle/CLI tests, which run from the project's virtual environment).
# Usage: scripts/test.sh [ctest options, e.g. -R bm25]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
ctest --test-dir "$build_dir" --output-on-failure -j"${LIMIT_EVAL_JOBS:-$(nproc)}" "$@"
