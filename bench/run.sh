#!/usr/bin/env bash
# The limit-eval speed benchmark: builds what it needs into build-bench/ (Release, no tests), then
# runs bench/compare.py, which measures everything in one run on this machine and prints the table
# (document encoding vs sentence-transformers, query encoding, retrieval + metrics vs the Python
# path, peak memory, GEMM peak, Google Benchmark micro-benchmarks). See bench/README.md.
#
# Usage: bench/run.sh [--quick] [--binary PATH] [--no-build] [--no-setup] [-- compare.py run options]
#   --quick       a smoke run (DistilBERT on LIMIT-small only, 5,000-document retrieval, short micro-benchmarks)
#   --binary PATH use this limit-eval instead of build-bench/limit-eval (the micro-benchmarks still build)
#   --no-build    build nothing (build-bench/ must hold limit-eval and the *_bench executables)
#   --no-setup    skip scripts/setup.sh (Debian packages and the Python environment are already there)
# Environment: LIMIT_EVAL_BENCH_BUILD_DIR (default build-bench), LIMIT_EVAL_VENV, LIMIT_EVAL_JOBS.
# Output: the table on stdout; build-bench/bench-run/results/<UTC time>.{md,json}; logs in build-bench/bench-run/logs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_BENCH_BUILD_DIR:-$root/build-bench}"
venv="${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}"
binary=""
build=1
setup=1
extra=()
while (($#)); do
  case "$1" in
    --quick)
      extra+=(--models v3-distill --synthetic-docs-distill 0 --retrieval-docs 5000 --skip-breakdown --repeats 1
              --gemm-repeats 3 --micro-repetitions 1 --micro-min-time 0.05 --query-repeats 3 --retrieval-repeats 2)
      shift ;;
    --binary) binary="$(realpath "$2")"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-setup) setup=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[bench] %s\n' "$*" >&2; }

if ((setup)); then
  "$root/scripts/setup.sh"
fi
if ((build)); then
  mkdir -p "$build_dir"
  # Configured every time (incremental): a new bench/*_bench.cpp becomes a target only then.
  log "configuring $build_dir (Release, no tests)"
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DLIMIT_EVAL_BUILD_TESTS=OFF \
    -DLIMIT_EVAL_BUILD_BENCHMARKS=ON >"$build_dir.configure.log" 2>&1 || {
    cat "$build_dir.configure.log" >&2
    exit 1
  }
  targets=()
  for source in "$root"/bench/*_bench.cpp; do
    [ -e "$source" ] && targets+=("$(basename "$source" .cpp)")
  done
  [ -n "$binary" ] || targets+=(limit-eval)
  log "building ${targets[*]} in $build_dir"
  cmake --build "$build_dir" -j"${LIMIT_EVAL_JOBS:-$(nproc)}" --target "${targets[@]}" >&2
fi
binary="${binary:-$build_dir/limit-eval}"
[ -x "$binary" ] || { echo "run.sh: $binary is missing (build it, or pass --binary)" >&2; exit 1; }

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
work="$build_dir/bench-run"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
exec "$venv/bin/python" "$root/bench/compare.py" run --binary "$binary" --bench-dir "$build_dir" --work "$work" \
  --python "$venv/bin/python" --out-md "$work/results/$stamp.md" --out-json "$work/results/$stamp.json" \
  "${extra[@]}"
