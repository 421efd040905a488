#!/usr/bin/env bash
# Runs the sweep of the reference study: every model on every dataset, one limit-eval run each,
# then writes the results page (limit-eval report).
#
# Usage: scripts/run_experiments.sh [--models "bm25 v1 ..."] [--datasets "limit-small limit"]
#                                   [--model PATH ...] [--results-dir DIR] [--logs-dir DIR] [--run-files]
#                                   [-- extra limit-eval options, e.g. --device cuda --dtype bf16]
#   --models     short names (default: bm25 v1 v2-distill v3-distill v3-gte)
#   --datasets   dataset names under the data root, or dataset folders (default: limit-small limit)
#   --model      an exported model folder to add to the sweep (repeatable)
#   --results-dir  where <dataset>/<model>.json and README.md go (default: $LIMIT_EVAL_RESULTS_DIR,
#                  else results/)
#   --logs-dir   where each run's log <model>_<dataset>.log goes (default: $LIMIT_EVAL_LOGS_DIR,
#                else logs/)
#   --run-files  also write each run's ranking as a TREC run file, <results-dir>/<dataset>/<model>.trec
#                (limit-eval --run-file; for trec_eval, ranx, or limit-eval compare --qrels)
# A model's name is its manifest's "name" (bm25 for BM25), as in the results JSON and the report;
# a dataset's name is its folder's name.
# What is missing is skipped with a one-line reason and the command that fetches it: a model not
# exported (<models root>/<name>/manifest.json absent), a dataset whose corpus.jsonl is absent.
# Exit status: 0 when nothing failed (skips are not failures), 1 when a run or the report failed,
# 2 for a usage error.
# Environment: LIMIT_EVAL_BIN (default build/limit-eval), LIMIT_EVAL_MODELS_ROOT, LIMIT_EVAL_DATA_ROOT.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LIMIT_EVAL_BIN:-$root/build/limit-eval}"
models="bm25 v1 v2-distill v3-distill v3-gte"
datasets="limit-small limit"
model_folders=()
results_dir="${LIMIT_EVAL_RESULTS_DIR:-$root/results}"
logs_dir="${LIMIT_EVAL_LOGS_DIR:-$root/logs}"
run_files=0
extra=()

# The comment block at the top of this file, without its "#".
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
need_value() { [ $# -ge 2 ] || { echo "run_experiments.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --models) need_value "$@"; models="$2"; shift 2 ;;
    --datasets) need_value "$@"; datasets="$2"; shift 2 ;;
    --model) need_value "$@"; model_folders+=("$2"); shift 2 ;;
    --results-dir) need_value "$@"; results_dir="$2"; shift 2 ;;
    --logs-dir) need_value "$@"; logs_dir="$2"; shift 2 ;;
    --run-files) run_files=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_experiments.sh: unknown option '$1' (limit-eval options go after --)" >&2; usage >&2; exit 2 ;;
  esac
done

# Where limit-eval will look, so that what is checked here is what it will use.
models_root="${LIMIT_EVAL_MODELS_ROOT:-$root/models}"
data_root="${LIMIT_EVAL_DATA_ROOT:-$root/data}"
for ((i = 0; i < ${#extra[@]}; i++)); do
  case "${extra[$i]}" in
    --models-root) models_root="${extra[$((i + 1))]:-$models_root}" ;;
    --models-root=*) models_root="${extra[$i]#*=}" ;;
    --data-root) data_root="${extra[$((i + 1))]:-$data_root}" ;;
    --data-root=*) data_root="${extra[$i]#*=}" ;;
  esac
done

if [ ! -x "$bin" ]; then
  echo "run_experiments.sh: $bin is not an executable: build first (scripts/build.sh) or set LIMIT_EVAL_BIN" >&2
  exit 2
fi
mkdir -p "$results_dir" "$logs_dir" || exit 1

ran=()
skipped=()
failed=()

# The name limit-eval gives a model folder: its manifest's "name"; the folder's name when the
# manifest cannot be read (limit-eval then fails on it and says why).
manifest_name() {  # folder
  local name
  name="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["name"])' \
          "$1/manifest.json" 2>/dev/null)" && [ -n "$name" ] && { echo "$name"; return; }
  basename "$1"
}

# name|folder-or-empty of every model to run; the reason to skip it, if any.
model_entries=()
for name in $models; do model_entries+=("$name|"); done
for folder in "${model_folders[@]}"; do model_entries+=("$(manifest_name "$folder")|$folder"); done

# A name as part of a file name, as limit-eval writes it (core/file_name.hpp): a manifest's name
# comes from whoever exported the model, and must not steer a log or result out of its folder.
file_name_part() {  # name
  local part
  part="$(printf '%s' "$1" | LC_ALL=C tr -c 'A-Za-z0-9._-' '_')"
  if [ -z "$part" ] || [ "${part:0:1}" = "." ]; then part="_$part"; fi
  printf '%s\n' "${part:0:100}"
}

# A command for a message: each word quoted for the shell when it needs it.
quoted() { local out="" word; for word in "$@"; do out+="${out:+ }$(printf '%q' "$word")"; done; echo "$out"; }

model_skip_reason() {  # name folder
  local name="$1" folder="$2"
  if [ -n "$folder" ]; then
    [ -f "$folder/manifest.json" ] || echo "$folder has no manifest.json (not an exported model folder)"
  elif [ "$name" != "bm25" ] && [ ! -f "$models_root/$name/manifest.json" ]; then
    echo "not exported ($models_root/$name/manifest.json missing; export it: $(quoted "$root/scripts/export_model.sh" \
      --all --only "$name" --models-dir "$(cd "$models_root" 2>/dev/null && pwd || echo "$models_root")"))"
  fi
}

dataset_skip_reason() {  # dataset
  local dataset="$1" folder
  if [[ "$dataset" == */* ]]; then folder="$dataset"; else folder="$data_root/$dataset"; fi
  if [ ! -f "$folder/corpus.jsonl" ]; then
    if [ "$(basename "$dataset")" = "limit" ]; then
      local parent command
      parent="$(cd "$(dirname "$folder")" 2>/dev/null && pwd || dirname "$folder")"
      command="$(quoted "$root/scripts/download_data.sh" limit)"
      [ "$parent" = "$root/data" ] || command="LIMIT_EVAL_DATA_ROOT=$(printf '%q' "$parent") $command"
      echo "$folder/corpus.jsonl missing (download it: $command)"
    else
      echo "$folder/corpus.jsonl missing"
    fi
  fi
}

declare -A dataset_reason
for dataset in $datasets; do
  reason="$(dataset_skip_reason "$dataset")"
  dataset_reason[$dataset]="$reason"
  if [ -n "$reason" ]; then
    echo "skip dataset $dataset: $reason" >&2
    skipped+=("dataset $dataset: $reason")
  fi
done

for entry in "${model_entries[@]}"; do
  name="${entry%%|*}"
  folder="${entry#*|}"
  reason="$(model_skip_reason "$name" "$folder")"
  if [ -n "$reason" ]; then
    echo "skip model $name: $reason" >&2
    skipped+=("model $name: $reason")
    continue
  fi
  for dataset in $datasets; do
    [ -z "${dataset_reason[$dataset]}" ] || continue
    dataset_name="$(basename "$dataset")"
    log="$logs_dir/$(file_name_part "$name")_$(file_name_part "$dataset_name").log"
    output="$results_dir/$(file_name_part "$dataset_name")/$(file_name_part "$name").json"
    run_file=()
    ((run_files)) && run_file=(--run-file "$results_dir/$(file_name_part "$dataset_name")/$(file_name_part "$name").trec")
    echo "run $name on $dataset_name (log: $log)" >&2
    start=$SECONDS
    "$bin" --model "${folder:-$name}" --dataset "$dataset" --output "$output" "${run_file[@]}" "${extra[@]}" >"$log" 2>&1
    status=$?
    if [ $status -eq 0 ]; then
      ran+=("$name on $dataset_name ($((SECONDS - start)) s) -> $output")
    else
      failed+=("$name on $dataset_name: exit status $status, see $log")
      echo "FAILED $name on $dataset_name (exit status $status); last lines of $log:" >&2
      tail -n 5 "$log" | sed 's/^/    /' >&2
    fi
  done
done

report_log="$logs_dir/report.log"
echo "report: $bin report --results $results_dir" >&2
if [ -z "$(find "$results_dir" -name '*.json' -type f -print -quit)" ]; then
  report_line="report: skipped (no result file in $results_dir)"
elif "$bin" report --results "$results_dir" --output "$results_dir/README.md" >"$report_log" 2>&1; then
  report_line="report: $results_dir/README.md"
else
  failed+=("report: see $report_log")
  report_line="report: FAILED (see $report_log)"
  tail -n 5 "$report_log" | sed 's/^/    /' >&2
fi

print_list() {  # title items...
  local title="$1"; shift
  echo "$title ($#):"
  local item
  for item in "$@"; do echo "  $item"; done
}
echo
echo "Sweep summary"
print_list "ran" "${ran[@]}"
print_list "skipped" "${skipped[@]}"
print_list "failed" "${failed[@]}"
echo "$report_line"
[ ${#failed[@]} -eq 0 ]
