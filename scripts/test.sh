#!/usr/bin/env bash
# Runs every test: sets up the machine, builds, then CTest (GoogleTest suites and the Python
# oracle/CLI tests, which run from the project's virtual environment); then builds build-asan/
# (scripts/build_asan.sh) and runs its CTest: the GoogleTest suites, the CLI tests that need no
# libtorch and a few that load the neural plugin under AddressSanitizer + UndefinedBehaviorSanitizer,
# and every fuzz target briefly.
# Usage: scripts/test.sh [ctest options for both runs, e.g. -R bm25]
# Environment: LIMIT_EVAL_SANITIZE_TESTS=0 skips build-asan; LIMIT_EVAL_FUZZ_TEST_SECONDS (default
# 10) is how long each fuzz target runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
status=0
ctest --test-dir "$build_dir" --output-on-failure -j"${LIMIT_EVAL_JOBS:-$(nproc)}" "$@" || status=$?
if [ "${LIMIT_EVAL_SANITIZE_TESTS:-1}" != 0 ]; then
  # The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (a subset of the neural
  # plugin's), and each fuzz target for LIMIT_EVAL_FUZZ_TEST_SECONDS seconds (scripts/build_asan.sh).
  asan_dir="${LIMIT_EVAL_ASAN_BUILD_DIR:-$root/build-asan}"
  LIMIT_EVAL_ASAN_BUILD_DIR="$asan_dir" "$root/scripts/build_asan.sh"
  ctest --test-dir "$asan_dir" --output-on-failure -j"${LIMIT_EVAL_JOBS:-$(nproc)}" "$@" || status=$?
fi
exit "$status"
