#!/usr/bin/env bash
# Runs scripts/export_model.py with the project's Python environment, the one scripts/setup.sh
# builds with torch and sentence-transformers ($LIMIT_EVAL_VENV, default ~/.cache/limit-eval/venv),
# from any folder. The arguments go to export_model.py unchanged.
#
# Usage: scripts/export_model.sh SOURCE --output DIR [--name NAME] [...]
#        scripts/export_model.sh --all [--only NAME ...] [--models-dir DIR] [...]
#        scripts/export_model.sh --help      (every option of export_model.py)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "export_model.sh: no Python environment at $venv (set LIMIT_EVAL_VENV, or build it: $here/setup.sh)" >&2
  exit 2
fi
exec "$venv/bin/python" "$here/export_model.py" "$@"
