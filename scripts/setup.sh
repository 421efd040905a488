#!/usr/bin/env bash
# Installs everything limit-eval needs, idempotently:
#   - Debian packages for the C++ build (compiler, CMake, libraries; the Snowball stemmer is not one
#     of them: CMake fetches Snowball 3, see cmake/snowball.cmake; clang and its sanitizer and
#     libFuzzer runtimes for build-asan/, see scripts/build_asan.sh);
#   - a Python virtual environment for scripts/ and the test oracles (pinned in
#     scripts/requirements.txt), which also provides libtorch;
#   - a second one with the current transformers / sentence-transformers releases (pinned in
#     scripts/requirements-tf5.txt), which reuses the first one's packages (torch, ...) through a
#     .pth file: the test suite runs the export and parity tests under both.
# Usage: scripts/setup.sh [--no-python]
# Environment: LIMIT_EVAL_VENV (default ~/.cache/limit-eval/venv) and LIMIT_EVAL_VENV_TF5 (default
# ~/.cache/limit-eval/venv-tf5) choose the venv folders.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
want_python=1
for arg in "$@"; do
  case "$arg" in
    --no-python) want_python=0 ;;
    -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }

apt_packages=(
  build-essential cmake pkg-config git ca-certificates
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libutf8proc-dev libsentencepiece-dev libssl-dev
  python3-venv
  clang libclang-rt-14-dev llvm
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

if ((want_python)); then
  venv="${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}"
  stamp="$venv/.limit-eval-requirements.sha256"
  want_hash="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_hash" ]; then
    log "Python environment up to date: $venv"
  else
    log "building Python environment in $venv (first run downloads torch; several minutes)"
    python="${PYTHON:-python3}"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
    echo "$want_hash" > "$stamp"
  fi

  # The second environment: the same interpreter, the first environment's site-packages appended to
  # its path (a .pth file, read after its own site-packages, so what it installs shadows the first's),
  # and only what requirements-tf5.txt changes installed into it. Rebuilt when either list changes.
  venv_tf5="${LIMIT_EVAL_VENV_TF5:-$HOME/.cache/limit-eval/venv-tf5}"
  stamp_tf5="$venv_tf5/.limit-eval-requirements.sha256"
  want_hash_tf5="$(cat "$here/requirements.txt" "$here/requirements-tf5.txt" | sha256sum | cut -d' ' -f1)"
  if [ -x "$venv_tf5/bin/python" ] && [ -f "$stamp_tf5" ] && [ "$(cat "$stamp_tf5")" = "$want_hash_tf5" ]; then
    log "second Python environment up to date: $venv_tf5"
  else
    log "building the second Python environment (transformers 5) in $venv_tf5"
    # An existing environment is completed in place, never deleted: pip leaves what already matches.
    [ -x "$venv_tf5/bin/python" ] || "$venv/bin/python" -m venv "$venv_tf5"
    site_packages() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
    site_packages "$venv/bin/python" > "$(site_packages "$venv_tf5/bin/python")/zz-base-venv.pth"
    "$venv_tf5/bin/python" -m pip install -q -r "$here/requirements-tf5.txt"
    "$venv_tf5/bin/python" -c 'import torch, transformers, sentence_transformers' || {
      echo "setup.sh: the second Python environment in $venv_tf5 does not import torch/transformers" >&2
      exit 1
    }
    echo "$want_hash_tf5" > "$stamp_tf5"
  fi
fi
