#!/usr/bin/env bash
# The reference study's fine-tuning experiment in one command: builds the training set when it is
# missing (limit-eval build-train-set), fine-tunes the model on 2 and on all samples (the seed's
# recipe, limit-eval finetune), evaluates the zero-shot and both fine-tuned models on the test
# dataset(s), and writes the results page, whose (Finetune) table and figure show the three rows
# beside the seed's published values (limit-eval report).
#
# Usage: scripts/run_finetune.sh [--model NAME|PATH] [--datasets "limit"] [--samples "2 all"]
#                                [--results-dir DIR] [--train-set-options "OPTIONS"]
#                                [-- extra limit-eval finetune options]
#   --model        the model to fine-tune: a short name or an exported folder written with
#                  scripts/export_model.py --trainable (default: v3-gte)
#   --datasets     test datasets (default: limit; limit-small is quicker)
#   --samples      sample counts to train on (default: "2 all")
#   --results-dir  where <dataset>/<model>.json and README.md go (default: results/)
#   --train-set-options  limit-eval build-train-set options used when the training set is built
#                  (default: none, the seed's set; e.g. "--documents 300 --queries 10" for a quick try)
# Fine-tuned models are written to <models root>/<model name>-limit-<samples>/ (kept when present:
# remove one to train it again).
# Environment: LIMIT_EVAL_BIN (default build/limit-eval), LIMIT_EVAL_MODELS_ROOT, LIMIT_EVAL_DATA_ROOT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LIMIT_EVAL_BIN:-$root/build/limit-eval}"
model="v3-gte"
datasets="limit"
samples="2 all"
results_dir="${LIMIT_EVAL_RESULTS_DIR:-$root/results}"
train_set_options=""
extra=()

usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
need_value() { [ $# -ge 2 ] || { echo "run_finetune.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --model) need_value "$@"; model="$2"; shift 2 ;;
    --datasets) need_value "$@"; datasets="$2"; shift 2 ;;
    --samples) need_value "$@"; samples="$2"; shift 2 ;;
    --results-dir) need_value "$@"; results_dir="$2"; shift 2 ;;
    --train-set-options) need_value "$@"; train_set_options="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_finetune.sh: unknown option '$1' (limit-eval finetune options go after --)" >&2; usage >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "run_finetune.sh: $bin not found: build it with scripts/build.sh" >&2; exit 2; }

models_root="${LIMIT_EVAL_MODELS_ROOT:-$root/models}"
data_root="${LIMIT_EVAL_DATA_ROOT:-$root/data}"
if [ -d "$model" ]; then folder="$model"; else folder="$models_root/$model"; fi
[ -f "$folder/manifest.json" ] || {
  echo "run_finetune.sh: $folder is not an exported model: scripts/export_model.py ... --output $folder --trainable" >&2
  exit 2
}
name="$(basename "$folder")"

if [ ! -f "$data_root/limit-train/qrels.jsonl" ]; then
  # shellcheck disable=SC2086  # the options are words
  "$bin" build-train-set --output "$data_root/limit-train" $train_set_options
fi

trained=()
for count in $samples; do
  output="$models_root/$name-limit-$count"
  if [ ! -f "$output/manifest.json" ]; then
    "$bin" finetune --model "$folder" --train "$data_root/limit-train" --samples "$count" --output "$output" \
      ${extra[@]+"${extra[@]}"}
  fi
  trained+=("$output")
done

for dataset in $datasets; do
  for evaluated in "$folder" "${trained[@]}"; do
    evaluated_name="$(basename "$evaluated")"
    "$bin" --model "$evaluated" --dataset "$dataset" --data-root "$data_root" \
      --output "$results_dir/$dataset/$evaluated_name.json"
  done
done
"$bin" report --results "$results_dir"
