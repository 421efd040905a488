"""Tiny exported models for the tests, built once per build folder and shared by every test file.

    from tiny_models import tiny_model          # tests/ is on sys.path (see below)
    model = tiny_model("distilbert", "relu")    # extra make_tiny_model.py arguments may follow
    model.exported                              # limit-eval model folder (export_model.py output)
    model.source                                # sentence-transformers folder (make_tiny_model.py output)

`tiny_model(arch, activation, *extra_args)` runs scripts/make_tiny_model.py and
scripts/export_model.py (about a minute) into
`$LIMIT_EVAL_BUILD_DIR/tiny-models/<arch>-<activation>[-<extra args>]/` the first time, and
returns that folder afterwards. The folder is rebuilt when either script or the arguments change
(the stamp is the SHA-256 of both scripts and the arguments). An fcntl lock per configuration
makes concurrent test processes wait for one build instead of racing. Without
LIMIT_EVAL_BUILD_DIR (pytest run by hand), the models go to `<temp dir>/limit-eval-tiny-models`.

The folders are shared: treat them as read-only, and copy one before changing it.

Test files in a sub-folder of tests/ import it with

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_models import tiny_model
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[1]))
SCRIPTS = (SOURCE_DIR / "scripts" / "make_tiny_model.py", SOURCE_DIR / "scripts" / "export_model.py")
BUILD_TIMEOUT_S = 1200


@dataclass(frozen=True)
class TinyModel:
    config: str     # e.g. "distilbert-relu"
    source: Path    # sentence-transformers SparseEncoder folder
    exported: Path  # limit-eval model folder (manifest.json, document_encoder.pt, ...)


def models_root() -> Path:
    build_dir = os.environ.get("LIMIT_EVAL_BUILD_DIR")
    if build_dir:
        return Path(build_dir) / "tiny-models"
    return Path(tempfile.gettempdir()) / "limit-eval-tiny-models"


def _stamp(arguments: list[str]) -> str:
    digest = hashlib.sha256()
    for script in SCRIPTS:
        digest.update(script.read_bytes())
    digest.update(json.dumps(arguments).encode())
    digest.update((SOURCE_DIR / "models" / "registry.json").read_bytes())
    return digest.hexdigest()


def _run(arguments: list[str]) -> None:
    completed = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed ({completed.returncode}):\n{completed.stdout}\n"
                           f"{completed.stderr}")


def registry_loading(arch: str) -> dict:
    """SparseEncoder loading options of the architecture's real model in the registry (GTE:
    v3-gte's trust_remote_code, model_kwargs and config_kwargs); {} for the others."""
    if arch != "gte":
        return {}
    entry = json.loads((SOURCE_DIR / "models" / "registry.json").read_text(encoding="utf-8"))["models"]["v3-gte"]
    return {"trust_remote_code": True, "model_kwargs": entry["model_kwargs"], "config_kwargs": entry["config_kwargs"]}


def registry_loading_options(arch: str) -> list[str]:
    """registry_loading(arch) as export_model.py options."""
    load = registry_loading(arch)
    if not load:
        return []
    return ["--trust-remote-code", "--model-kwargs", json.dumps(load["model_kwargs"]),
            "--config-kwargs", json.dumps(load["config_kwargs"])]


def tiny_model(arch: str = "distilbert", activation: str = "relu", *extra_args: str,
               trainable: bool = False) -> TinyModel:
    """trainable: exported with --trainable (the train-mode module `limit-eval finetune` needs)."""
    config = "-".join([arch, activation, *(re.sub(r"[^A-Za-z0-9._]+", "_", a.lstrip("-")) for a in extra_args)])
    config += "-trainable" if trainable else ""
    make_arguments = ["--arch", arch, "--activation", activation, *extra_args]
    export_arguments = ["--trainable"] if trainable else []
    stamp = _stamp(make_arguments + export_arguments)
    root = models_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / config
    model = TinyModel(config, folder / "source", folder / "exported")
    stamp_file = folder / "stamp"

    with open(root / f"{config}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp_file.is_file() and stamp_file.read_text() == stamp and (model.exported / "manifest.json").is_file():
            return model
        staging = root / f"{config}.building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            _run([str(SCRIPTS[0]), *make_arguments, "--output", str(staging / "source")])
            _run([str(SCRIPTS[1]), str(staging / "source"), "--output", str(staging / "exported"),
                  "--name", f"tiny-{config}", *registry_loading_options(arch), *export_arguments])
            (staging / "stamp").write_text(stamp)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return model
