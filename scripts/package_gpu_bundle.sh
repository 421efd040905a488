#!/usr/bin/env bash
# Packs what the lent GPU machine needs to run bench/gpu/run.sh into one self-contained folder
# (ignored by git, kept under the 64 MiB a device call can carry):
#
#   BUNDLE/bin/limit-eval, BUNDLE/bin/liblimit_eval_neural.so   built here against the venv's libtorch
#   BUNDLE/lib/                the shared libraries they need that are neither glibc nor libtorch
#                              (fmt, spdlog, utf8proc, sentencepiece, protobuf-lite, ...)
#   BUNDLE/lib/fallback/       libstdc++ and libgcc_s, used only when the machine's own are too old
#   BUNDLE/models/tiny-bert/   a tiny random-weight BERT export for the correctness check
#   BUNDLE/third_party/gte-new-impl/   the GTE code (from ../shared) for the GTE-geometry model
#   BUNDLE/wheels/             transformers 4.56 + sentence-transformers 5.1 (+ tokenizers, hub) for
#                              Python 3.12: GTE's code does not run under transformers 5
#   BUNDLE/bundle.json         what is inside, with versions and sizes
#
# On the GPU machine the binary loads that machine's torch libraries (same torch version: checked by
# bench/gpu/run.sh) through LD_LIBRARY_PATH; LIMIT-small and the scripts travel with the working tree.
#
# Usage: scripts/package_gpu_bundle.sh [--output DIR] [--build-dir DIR] [--no-build] [--no-wheels]
#   --output DIR     bundle folder (default: build-gpu-bundle/ in the repository; replaced)
#   --build-dir DIR  the build to take the binary from (default: $LIMIT_EVAL_BUILD_DIR, else build/)
#   --no-build       do not run scripts/build.sh first
#   --no-wheels      leave the transformers 4.56 wheels out (a CPU dry run does not need them)
# Then, with the device tool: run `bench/gpu/run.sh --bundle build-gpu-bundle "$OUT"` with
# carry ["build-gpu-bundle"].
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output="$root/build-gpu-bundle"
build_dir="${LIMIT_EVAL_BUILD_DIR:-$root/build}"
do_build=1
do_wheels=1
while (($#)); do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --no-wheels) do_wheels=0; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package_gpu_bundle.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
log() { printf '[bundle] %s\n' "$*" >&2; }

if ((do_build)); then
  LIMIT_EVAL_BUILD_DIR="$build_dir" "$root/scripts/build.sh" >&2
fi
binary="$build_dir/limit-eval"
plugin="$build_dir/liblimit_eval_neural.so"
for f in "$binary" "$plugin"; do
  [ -f "$f" ] || { echo "package_gpu_bundle.sh: $f missing (build with libtorch first: scripts/build.sh)" >&2; exit 1; }
done
venv="${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}"
python="$venv/bin/python"
torch_lib="$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
torch_version="$("$python" -c 'import torch; print(torch.__version__)')"

staging="$(mktemp -d "${output%/}.tmp-XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin" "$staging/lib/fallback" "$staging/models" "$staging/third_party"
cp "$binary" "$plugin" "$staging/bin/"
strip --strip-unneeded "$staging/bin/limit-eval" "$staging/bin/liblimit_eval_neural.so"

# Every library the two need, except glibc's own, the C++ runtime (fallback only) and libtorch's
# (torch, c10, CUDA, gomp: the GPU machine's torch wheel provides them).
is_system() {
  case "$(basename "$1")" in
    libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|linux-vdso*|libutil.so*|libresolv.so*) return 0 ;;
  esac
  return 1
}
while read -r name path; do
  [ -n "$path" ] || continue
  case "$path" in "$torch_lib"/*|*/site-packages/nvidia/*|*/site-packages/torch/*) continue ;; esac
  is_system "$name" && continue
  case "$name" in
    libstdc++.so*|libgcc_s.so*) cp -L "$path" "$staging/lib/fallback/$name" ;;
    *) cp -L "$path" "$staging/lib/$name" ;;
  esac
done < <(LD_LIBRARY_PATH="$torch_lib" ldd "$staging/bin/limit-eval" "$staging/bin/liblimit_eval_neural.so" \
           | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u)
if LD_LIBRARY_PATH="$torch_lib" ldd "$staging/bin/liblimit_eval_neural.so" | grep -q "not found"; then
  echo "package_gpu_bundle.sh: unresolved libraries:" >&2
  LD_LIBRARY_PATH="$torch_lib" ldd "$staging/bin/liblimit_eval_neural.so" | grep "not found" >&2
  exit 1
fi

# The correctness model: tiny BERT (2 layers, hidden 64), built and exported here.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
scratch="$(mktemp -d)"
trap 'rm -rf "$staging" "$scratch"' EXIT
"$python" "$root/scripts/make_tiny_model.py" --arch bert --activation relu --output "$scratch/tiny-bert-st" >&2
"$python" "$root/scripts/export_model.py" "$scratch/tiny-bert-st" --output "$staging/models/tiny-bert" \
  --name tiny-bert >&2

# GTE's code (v3-gte's pinned revision) calls get_extended_attention_mask, which transformers 5 removed:
# the GPU machine (transformers 5.x) builds and runs the GTE-geometry model with the seed's stack,
# carried as wheels for its Python 3.12 (bench/gpu/run.sh installs them into a scratch folder).
((do_wheels)) && mkdir -p "$staging/wheels" && "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$staging/wheels" transformers==4.56.0 sentence-transformers==5.1.0 tokenizers==0.22.0 \
  huggingface_hub==0.34.4 >&2

gte_code="$root/../shared/third_party/gte-new-impl"
if [ -f "$gte_code/modeling.py" ]; then
  mkdir -p "$staging/third_party/gte-new-impl"
  cp "$gte_code"/*.py "$gte_code/README.md" "$staging/third_party/gte-new-impl/"
else
  log "no $gte_code: the GTE-geometry speed rows will be skipped on the GPU machine"
fi

"$python" - "$staging" "$torch_version" <<'PY'
import json, os, sys, datetime
staging, torch_version = sys.argv[1], sys.argv[2]
files = {}
for base, _, names in os.walk(staging):
    for name in names:
        path = os.path.join(base, name)
        files[os.path.relpath(path, staging)] = os.path.getsize(path)
total = sum(files.values())
json.dump({"format": "limit-eval-gpu-bundle/1", "torch_version": torch_version,
           "built_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
           "bytes": total, "files": dict(sorted(files.items()))}, open(os.path.join(staging, "bundle.json"), "w"),
          indent=2)
print(f"[bundle] {len(files)} files, {total / 2**20:.1f} MiB", file=sys.stderr)
if total > 60 * 2**20:
    sys.exit("package_gpu_bundle.sh: the bundle is over 60 MiB; a device call carries at most 64 MiB")
PY
rm -rf "$output"
mv "$staging" "$output"
trap 'rm -rf "$scratch"' EXIT
log "wrote $output (torch $torch_version)"
echo "$output"
