#!/usr/bin/env bash
# The prepared GPU check (issue: the GPU path proven in one run). Runs on the lent GPU machine in one
# device call, or anywhere as a CPU dry run (tiny sizes) that the test suite runs.
#
# Usage: bench/gpu/run.sh [--dry-run] [--bundle DIR] [--python PY] [--deadline SECONDS] OUTDIR [-- DRIVER OPTIONS]
#   OUTDIR            gets gpu_bench.json (every figure), gpu_bench.md (the tables) and gpu_bench.log
#   --bundle DIR      what scripts/package_gpu_bundle.sh wrote (default: build-gpu-bundle/)
#   --dry-run         CPU, tiny models and corpus: checks the script end to end without a GPU
#   --python PY       the Python with torch + sentence-transformers (default: python3; the project
#                     venv for --dry-run)
#   --deadline S      stop starting new stages after S seconds (default 420: one device call < 8 min)
#
# On the GPU machine (device tool, carry ["build-gpu-bundle"]):
#   bench/gpu/run.sh --bundle build-gpu-bundle "$OUT"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bundle="$root/build-gpu-bundle"
python=""
dry_run=0
deadline=420
outdir=""
extra=()
while (($#)); do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    --bundle) bundle="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --deadline) deadline="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) echo "bench/gpu/run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$outdir" ] || { echo "bench/gpu/run.sh: one OUTDIR only" >&2; exit 2; }; outdir="$1"; shift ;;
  esac
done
[ -n "$outdir" ] || { echo "bench/gpu/run.sh: OUTDIR missing (see --help)" >&2; exit 2; }
[ -f "$bundle/bundle.json" ] || { echo "bench/gpu/run.sh: $bundle is not a bundle (scripts/package_gpu_bundle.sh)" >&2; exit 2; }
if [ -z "$python" ]; then
  if ((dry_run)); then python="${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}/bin/python"; else python=python3; fi
fi
mkdir -p "$outdir"
args=(--bundle "$bundle" --root "$root" --output "$outdir" --deadline "$deadline")
# GTE's code needs transformers < 5; a machine with 5.x gets the bundle's 4.56 wheels in a side folder.
tf_major="$("$python" -c 'import transformers; print(transformers.__version__.split(".")[0])' 2>/dev/null || echo 0)"
if [ "$tf_major" -ge 5 ] && compgen -G "$bundle/wheels/*.whl" >/dev/null; then
  site="$(mktemp -d)/site-tf4"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$bundle"/wheels/*.whl
  args+=(--compat-site "$site")
fi
((dry_run)) && args+=(--dry-run)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
set -o pipefail
"$python" "$here/gpu_bench.py" "${args[@]}" "${extra[@]}" 2>&1 | tee "$outdir/gpu_bench.log"
