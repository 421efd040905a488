#!/usr/bin/env bash
# Builds build-asan/: everything, the libtorch plugin included (libtorch itself is not instrumented),
# with clang, AddressSanitizer + UndefinedBehaviorSanitizer (asserts on) and the libFuzzer targets of
# tests/fuzz/ (LIMIT_EVAL_SANITIZE, LIMIT_EVAL_SANITIZE_NEURAL, LIMIT_EVAL_FUZZ). scripts/test.sh runs
# its CTest after the main suite.
# Usage: scripts/build_asan.sh [extra CMake -D options]
# Environment: LIMIT_EVAL_ASAN_BUILD_DIR (default build-asan), LIMIT_EVAL_FUZZ_TEST_SECONDS (seconds
# each fuzz target runs as a CTest test; default 10), LIMIT_EVAL_JOBS (default: all cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_ASAN_BUILD_DIR:-$root/build-asan}"
CC=clang CXX=clang++ LIMIT_EVAL_BUILD_DIR="$build_dir" "$root/scripts/build.sh" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIMIT_EVAL_FUZZ=ON -DLIMIT_EVAL_SANITIZE_NEURAL=ON -DLIMIT_EVAL_BUILD_BENCHMARKS=OFF \
  -DLIMIT_EVAL_FUZZ_TEST_SECONDS="${LIMIT_EVAL_FUZZ_TEST_SECONDS:-10}" "$@"
