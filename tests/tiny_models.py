"""Tiny exported models for the tests, built once per build folder and shared by every test file.

    from tiny_models import tiny_model          # tests/ is on sys.path (see below)
    model = tiny_model("distilbert", "relu")    # extra make_tiny_model.py arguments may follow
    model.exported                              # limit-eval model folder (export_model.py output)
    model.source                                # sentence-transformers folder (make_tiny_model.py output)

`tiny_model(arch, activation, *extra_args)` runs scripts/make_tiny_model.py and
scripts/export_model.py (about a minute) into
`$LIMIT_EVAL_BUILD_DIR/tiny-models/transformers-<version>/<arch>-<activation>[-<extra args>]/` the first
time (one folder per transformers version: the suite runs under two), and
returns that folder afterwards. The folder is rebuilt when either script or the arguments change
(the stamp is the SHA-256 of both scripts and the arguments). An fcntl lock per configuration
makes concurrent test processes wait for one build instead of racing. Without
LIMIT_EVAL_BUILD_DIR (pytest run by hand), the models go to `<temp dir>/limit-eval-tiny-models`.

The folders are shared: treat them as read-only, and copy one before changing it.

Test files in a sub-folder of tests/ import it with

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_models import tiny_model

`tiny_hub()` builds, the same way (once per stamp, under a lock), a local Hugging Face hub cache
holding the registry's models with tiny weights, laid out as the hub repositories are (see its
docstring); tests point HF_HUB_CACHE at it and run `export_model.py --all` offline.
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
from importlib.metadata import version
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


def environment_root() -> Path:
    """Where this Python environment's tiny models go: one folder per transformers version, since the
    suite runs the export tests under two library versions (the exports differ)."""
    return models_root() / f"transformers-{TRANSFORMERS_VERSION}"


TRANSFORMERS_VERSION = version("transformers")
TRANSFORMERS_MAJOR = int(TRANSFORMERS_VERSION.split(".")[0])
GTE_UNDER_TRANSFORMERS_5 = (f"transformers {TRANSFORMERS_VERSION}: GTE's custom code (v3-gte's architecture, "
                            f"Alibaba-NLP/new-impl) does not run under transformers 5 (its rotary position_ids "
                            f"buffer is left uninitialised, and it calls get_extended_attention_mask, which "
                            f"transformers 5 removed); it builds, exports and runs with transformers 4.x only")


def skip_reason(arch: str) -> str | None:
    """Why tiny models of arch cannot be built or exported in this environment; None when they can."""
    return GTE_UNDER_TRANSFORMERS_5 if arch == "gte" and TRANSFORMERS_MAJOR >= 5 else None


def arch_param(value, arch: str, **kwargs):
    """pytest.param(value) skipped, with the reason, where skip_reason(arch) says so."""
    import pytest

    reason = skip_reason(arch)
    return pytest.param(value, marks=pytest.mark.skip(reason=reason) if reason else (), **kwargs)


def _stamp(arguments: list[str]) -> str:
    digest = hashlib.sha256()
    for script in SCRIPTS:
        digest.update(script.read_bytes())
    digest.update(json.dumps(arguments).encode())
    digest.update((SOURCE_DIR / "models" / "registry.json").read_bytes())
    return digest.hexdigest()


def _run(arguments: list[str]) -> None:
    _run_with(sys.executable, arguments)


def _run_with(python: str, arguments: list[str]) -> None:
    completed = subprocess.run([python, *arguments], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
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
    root = environment_root()
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


# --------------------------------------------------------------------------------------------
# A local Hugging Face hub cache holding the registry's models

REGISTRY = SOURCE_DIR / "models" / "registry.json"
GTE_CODE = SOURCE_DIR.parent / "shared" / "third_party" / "gte-new-impl"
GTE_CODE_REPO = "Alibaba-NLP/new-impl"  # where v3-gte's config.json auto_map points
GTE_CODE_FILES = ("configuration.py", "modeling.py")
# make_tiny_model.py --arch of each registry architecture, and each model's seed (distinct weights).
HUB_ARCH = {"BertForMaskedLM": "bert", "DistilBertForMaskedLM": "distilbert", "NewForMaskedLM": "gte"}
# Files stored in the hub's LFS (named by their sha256 in the cache), as the hub's .gitattributes says.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".onnx", ".msgpack")
COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class TinyHub:
    cache: Path                   # HF_HUB_CACHE
    models: dict[str, dict]       # registry short name -> registry entry
    commits: dict[str, str]       # hub repository id -> the commit its snapshot is stored under


def registry_models() -> dict[str, dict]:
    return json.loads(REGISTRY.read_text(encoding="utf-8"))["models"]


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_hub_repository(cache: Path, repo_id: str, files: dict[str, bytes], revision: str | None = None) -> str:
    """Stores files as huggingface_hub's cache holds a downloaded model repository:
    models--ORG--NAME/blobs/<etag> (sha256 for LFS files, the git blob sha1 for the others),
    snapshots/<commit>/<path> relative symlinks onto the blobs, and refs/<branch> holding the commit
    (none when revision is itself a commit sha, as after a download at a pinned commit). The commit
    is revision when that is a sha, else a digest of the files. Returns the commit."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    entries = [(path, hashlib.sha256(data).hexdigest() if path.endswith(LFS_SUFFIXES) else _git_blob_sha1(data), data)
               for path, data in sorted(files.items())]
    pinned = revision is not None and COMMIT.fullmatch(revision) is not None
    commit = revision if pinned else hashlib.sha1(json.dumps([e[:2] for e in entries]).encode()).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for path, blob, data in entries:
        (repo / "blobs" / blob).write_bytes(data)
        link = repo / "snapshots" / commit / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path(*[".."] * (len(Path(path).parts) + 1), "blobs", blob))
    if not pinned:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / (revision or "main")).write_text(commit)
    return commit


def _hub_files(folder: Path, arch: str) -> dict[str, bytes]:
    """A make_tiny_model.py folder as the hub repository of the model holds it. GTE: the model's
    config.json points at the code repository (auto_map "Alibaba-NLP/new-impl--modeling.NewForMaskedLM",
    as v3-gte's does) instead of carrying the code."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    if arch != "gte":
        return files
    files = {path: data for path, data in files.items() if Path(path).name not in GTE_CODE_FILES}
    for path, data in list(files.items()):
        if Path(path).name == "config.json":
            config = json.loads(data)
            if config.get("model_type") == "new":
                config["auto_map"] = {key: f"{GTE_CODE_REPO}--{value}" for key, value in config["auto_map"].items()}
                files[path] = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    return files


def _hub_stamp(python: str) -> str:
    import inspect

    digest = hashlib.sha256()
    for path in (SCRIPTS[0], REGISTRY, *(GTE_CODE / name for name in GTE_CODE_FILES)):
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    for function in (add_hub_repository, _hub_files, tiny_hub):  # the code that lays the hub out
        digest.update(inspect.getsource(function).encode())
    digest.update(json.dumps([HUB_ARCH, LFS_SUFFIXES, GTE_CODE_REPO, python]).encode())
    return digest.hexdigest()


def hub_python() -> str:
    """The Python that builds the tiny hub: $LIMIT_EVAL_HUB_PYTHON (CTest gives the project venv's
    to the tests run under another library version, so that both read the same repositories, saved
    as the real ones were by transformers 4 / sentence-transformers 5), else this one."""
    return os.environ.get("LIMIT_EVAL_HUB_PYTHON") or sys.executable


def tiny_hub() -> TinyHub:
    """A Hugging Face hub cache (the folder HF_HUB_CACHE names) holding every model of
    models/registry.json at its registry revision (main when null), as the hub repositories are laid
    out: sentence-transformers SparseEncoder Router folders (modules.json, router_config.json,
    config_sentence_transformers.json, query_0_SparseStaticEmbedding/, document_0_MLMTransformer/,
    document_1_SpladePooling/), saved by make_tiny_model.py with the registry's architecture and
    activation, and, for custom-code models, the code repository Alibaba-NLP/new-impl at the
    registry's code_revision only (so that code loaded at any other revision fails offline).
    Built under `<models root>/hub/` once per stamp (make_tiny_model.py, the registry, GTE's code,
    the code that lays it out, the building Python); read-only for the tests."""
    models = registry_models()
    python = hub_python()
    stamp = _hub_stamp(python)
    root = models_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "hub"
    with open(root / "hub.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = folder / "stamp"
        if not (stamp_file.is_file() and stamp_file.read_text() == stamp):
            staging = root / f"hub.building-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                commits = {}
                for seed, (short, entry) in enumerate(models.items(), start=11):
                    arch = HUB_ARCH.get(entry["architecture"])
                    if arch is None:
                        raise RuntimeError(f"tiny_hub: no tiny architecture for {short}'s {entry['architecture']}")
                    saved = staging / "saved" / short
                    _run_with(python, [str(SCRIPTS[0]), "--arch", arch, "--activation", entry["activation"],
                                       "--seed", str(seed), "--output", str(saved)])
                    commits[entry["hf_id"]] = add_hub_repository(staging / "cache", entry["hf_id"],
                                                                 _hub_files(saved, arch), entry.get("revision"))
                    if entry.get("trust_remote_code"):
                        code = {name: (GTE_CODE / name).read_bytes() for name in GTE_CODE_FILES}
                        commits[GTE_CODE_REPO] = add_hub_repository(staging / "cache", GTE_CODE_REPO, code,
                                                                    entry.get("code_revision"))
                shutil.rmtree(staging / "saved")
                (staging / "commits.json").write_text(json.dumps(commits, indent=2))
                (staging / "stamp").write_text(stamp)
                shutil.rmtree(folder, ignore_errors=True)
                staging.rename(folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return TinyHub(folder / "cache", models, json.loads((folder / "commits.json").read_text()))
