#!/usr/bin/env bash
# Fuzzes a parser of outside input with libFuzzer: the target tests/fuzz/fuzz_TARGET.cpp, from the
# seeds tests/fuzz/make_seeds.py generates, for SECONDS seconds (all: every target in turn).
# Usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options, e.g. -jobs=2 -workers=2]
#        scripts/fuzz.sh --list
# Builds build-asan/ first (scripts/build_asan.sh) unless LIMIT_EVAL_FUZZ_NO_BUILD=1.
# Environment: LIMIT_EVAL_FUZZ_BUILD_DIR (default build-asan), LIMIT_EVAL_FUZZ_SEED (libFuzzer's
# -seed, default 1), LIMIT_EVAL_FUZZ_TMPDIR (where the targets write each input as a file, in a
# folder of each run's own that this script removes afterwards; default /dev/shm when writable, else
# TMPDIR: on this project's VM a memory-backed folder runs the file-reading targets about 4x faster
# than its disk).
# Output in the build folder: fuzz-corpus/TARGET/ (inputs that reached new code; later runs start
# from them too), fuzz-artifacts/ (the input of a crash, leak, timeout or sanitizer report).
# Exit status: 0 when no target found anything, else 1 (the log above names the input).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LIMIT_EVAL_FUZZ_BUILD_DIR:-$root/build-asan}"
targets=(corpus_jsonl queries_jsonl qrels_jsonl qrels_tsv trec_run wordpiece sentencepiece bm25_analyzer
         model_manifest model_registry vector_chunk result_file)
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  --list) printf '%s\n' "${targets[@]}"; exit 0 ;;
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
target="$1"
seconds="$2"
shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }
if [ "$target" = all ]; then
  selected=("${targets[@]}")
elif printf '%s\n' "${targets[@]}" | grep -qx -- "$target"; then
  selected=("$target")
else
  echo "fuzz.sh: unknown target '$target' (targets: ${targets[*]})" >&2
  exit 2
fi
if [ "${LIMIT_EVAL_FUZZ_NO_BUILD:-0}" != 1 ]; then
  LIMIT_EVAL_ASAN_BUILD_DIR="$build_dir" "$root/scripts/build_asan.sh"
fi
seeds="$build_dir/fuzz-seeds"
python3 "$root/tests/fuzz/make_seeds.py" "$seeds" "${selected[@]}"
mkdir -p "$build_dir/fuzz-artifacts"
if [ -z "${LIMIT_EVAL_FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  LIMIT_EVAL_FUZZ_TMPDIR=/dev/shm
fi
# libFuzzer ends without running the targets' exit handlers, which would remove their files.
work="$(mktemp -d "${LIMIT_EVAL_FUZZ_TMPDIR:-${TMPDIR:-/tmp}}/limit-eval-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for name in "${selected[@]}"; do
  corpus="$build_dir/fuzz-corpus/$name"
  mkdir -p "$corpus"
  log="$build_dir/fuzz-artifacts/$name.log"
  echo "fuzz.sh: $name for $seconds s (log: $log)" >&2
  started=$SECONDS
  if "$build_dir/fuzz/fuzz_$name" -max_total_time="$seconds" -seed="${LIMIT_EVAL_FUZZ_SEED:-1}" -timeout=30 \
       -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$build_dir/fuzz-artifacts/$name-" "$@" \
       "$corpus" "$seeds/$name" >"$log" 2>&1; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    echo "fuzz.sh: $name: ${runs:-?} executions in $((SECONDS - started)) s, no finding" >&2
  else
    status=1
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $name: FINDING (input saved under $build_dir/fuzz-artifacts/$name-*)" >&2
  fi
done
exit "$status"
